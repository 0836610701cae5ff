"""The commits this clone wrote and has not pushed yet: all that ``sync`` may replay.

Every successful write notes its commit and the key that signed it, under
``.git/envtrail/`` (never in history). ``sync`` re-makes on a newer remote
head only commits listed here and signed by the key in use now, so a commit
that arrived from elsewhere (another clone, a hand-made object) is never
re-signed in this user's name. Entries are dropped once a push lands.

This is not the crash journal of gitstore.commit, which covers one write in
flight; this one lives until the commit reaches the remote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from envtrail.gitstore.discover import state_dir
from envtrail.gitstore.repo import GitRepo

_NAME = "written.json"
_VERSION = 1


def _path(git: GitRepo):
    return state_dir(git.root) / _NAME


def written(git: GitRepo) -> dict[str, str]:
    """Commit id -> the public key (``ssh-ed25519 AAAA...``) that signed it."""
    try:
        doc = json.loads(_path(git).read_text(encoding="utf-8"))
        if doc.get("version") != _VERSION:
            return {}
        return {str(c): str(k) for c, k in doc["commits"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _save(git: GitRepo, commits: dict[str, str]) -> None:
    target = _path(git)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": _VERSION, "commits": commits}, sort_keys=True))
    os.replace(tmp, target)  # a crash leaves the old list, never half of one


def remember(git: GitRepo, commit: str, key: str) -> None:
    """Note that this clone wrote ``commit``, signed with ``key``."""
    commits = written(git)
    commits[commit] = " ".join(key.split()[:2])
    _save(git, commits)


def forget(git: GitRepo, commits: Iterable[str]) -> None:
    """Drop entries (their commits reached the remote, or were replaced there)."""
    current = written(git)
    kept = {c: k for c, k in current.items() if c not in set(commits)}
    if kept != current:
        _save(git, kept)
