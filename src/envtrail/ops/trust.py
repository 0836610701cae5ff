"""What the line must agree with, from the process environment (light: no pygit2)."""

from __future__ import annotations

import re

from envtrail.errors import IntegrityError, UsageError
from envtrail.runtime import Runtime

_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
CI_MARKERS = ("CI", "GITHUB_ACTIONS", "GITLAB_CI")


def trust_roots(rt: Runtime, extra: str | None = None) -> frozenset[str]:
    """Commit ids the line must contain: ``ENVTRAIL_TRUST_ROOT`` and ``--trust-root``."""
    found = set()
    for text in (rt.env.get("ENVTRAIL_TRUST_ROOT", ""), extra or ""):
        for item in text.replace(",", " ").split():
            if not _COMMIT_ID.fullmatch(item):
                raise UsageError(f"a trust root is a full commit id, not {item[:80]!r}")
            found.add(item)
    return frozenset(found)


def in_ci(rt: Runtime) -> bool:
    """Whether this process runs in a CI job (where reads require a trust root)."""
    return any(rt.flag(name) for name in CI_MARKERS)


def require_root_in_ci(rt: Runtime, roots: frozenset[str], what: str) -> None:
    """In a CI job, refuse (exit 5) to read or vouch for a line without a trust root.

    A job's clone is always fresh, so without one it would pin whatever genesis
    the remote holds: a history replaced from scratch reads and verifies clean.
    """
    if in_ci(rt) and not roots:
        raise IntegrityError(f"in CI, {what} ENVTRAIL_TRUST_ROOT (a fresh clone cannot "
                             "tell a replaced history from the real one)",
                             hint="set ENVTRAIL_TRUST_ROOT to the genesis id `envtrail init` "
                                  "printed, or a later id `envtrail status` shows")
