"""Where a change was made: host, tool version and CI run, gathered automatically."""

from __future__ import annotations

import re
from collections.abc import Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+-]")
_MAX_VALUE = 120
_PAIR = r"[A-Za-z0-9._:/@+-]+=[A-Za-z0-9._:/@+-]+"
_WRITTEN = re.compile(rf"(?:{_PAIR}(?: {_PAIR})*)?")


def _clean(value: str) -> str:
    # Context lands in a single trailer line of space-separated key=value
    # pairs; anything else in a value would make it ambiguous.
    return _UNSAFE.sub("_", value.strip())[:_MAX_VALUE]


def gather(env: Mapping[str, str], host: str, version: str) -> str:
    """``host=... envtrail=... [ci=... workflow=... run=...] [ENVTRAIL_CONTEXT pairs]``."""
    pairs: list[tuple[str, str]] = [("host", host), ("envtrail", version)]
    if env.get("GITHUB_ACTIONS") == "true":
        pairs.append(("ci", "github-actions"))
        for key, var in (("repo", "GITHUB_REPOSITORY"), ("workflow", "GITHUB_WORKFLOW"),
                         ("run", "GITHUB_RUN_ID"), ("attempt", "GITHUB_RUN_ATTEMPT"),
                         ("ref", "GITHUB_REF"), ("sha", "GITHUB_SHA")):
            if env.get(var):
                pairs.append((key, env[var]))
    elif env.get("GITLAB_CI") == "true":
        pairs.append(("ci", "gitlab-ci"))
        for key, var in (("project", "CI_PROJECT_PATH"), ("pipeline", "CI_PIPELINE_ID"),
                         ("job", "CI_JOB_ID"), ("ref", "CI_COMMIT_REF_NAME"),
                         ("sha", "CI_COMMIT_SHA")):
            if env.get(var):
                pairs.append((key, env[var]))
    extra = env.get("ENVTRAIL_CONTEXT", "")
    for item in extra.split():
        key, sep, value = item.partition("=")
        if sep and key:
            pairs.append((_clean(key), value))
    return " ".join(f"{k}={_clean(v) or '-'}" for k, v in pairs)


def well_formed(text: str) -> bool:
    """Whether ``text`` has the form :func:`gather` writes: ``key=value`` pairs of safe
    characters, one space apart (a signer's own Envtrail-Context could hold anything,
    such as escape sequences for the reader's terminal)."""
    return _WRITTEN.fullmatch(text) is not None


def parse(text: str) -> dict[str, str]:
    """Inverse of :func:`gather` (the first value wins for a repeated key)."""
    out: dict[str, str] = {}
    for item in text.split():
        key, _, value = item.partition("=")
        out.setdefault(key, value)
    return out
