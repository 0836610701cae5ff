"""The commits this clone wrote and has not pushed yet: all that ``sync`` may replay.

Every successful write notes its commit and the key that signed it, under
``.git/envtrail/`` (never in history). ``sync`` re-makes on a newer remote
head only commits listed here and signed by the key in use now, so a commit
that arrived from elsewhere (another clone, a hand-made object) is never
re-signed in this user's name. Entries are dropped once a push lands.

Three lists are kept this way: the store line's writes, the events this
clone wrote on the events line, and the proposals it applied (which are not
its own to replay: ``sync`` turns one back into a proposal if its push loses
a race).

This is not the crash journal of gitstore.commit, which covers one write in
flight; this one lives until the commit reaches the remote.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from envtrail.gitstore.discover import state_dir
from envtrail.gitstore.repo import GitRepo

# One line per write, "<commit id> <key type> <key base64>", appended: a
# write costs one small append however many commits wait for a sync.
DEFAULT = "written"
EVENTS = "events-written"  # events this clone wrote on refs/envtrail/events
APPLIED = "applied"  # "<proposal commit> <approval tip>": proposals applied here, unpushed


def _path(git: GitRepo, name: str) -> Path:
    return state_dir(git.root) / name


def written(git: GitRepo, name: str = DEFAULT) -> dict[str, str]:
    """Commit id -> the public key (``ssh-ed25519 AAAA...``) that signed it (for
    ``APPLIED``: proposal commit -> the approval it was applied up to)."""
    try:
        text = _path(git, name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    out = {}
    width = 2 if name == APPLIED else 3
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == width:  # a line cut short by a crash is ignored
            out[parts[0]] = " ".join(parts[1:])
    return out


def remember(git: GitRepo, commit: str, key: str, name: str = DEFAULT) -> None:
    """Note that this clone wrote ``commit``, signed with ``key`` (or, for ``APPLIED``,
    applied the proposal ``commit`` up to the approval ``key``)."""
    path = _path(git, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = " ".join([commit, *key.split()[:2]]) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def forget(git: GitRepo, commits: Iterable[str], name: str = DEFAULT) -> None:
    """Drop entries (their commits reached the remote, or were replaced there)."""
    gone = set(commits)
    current = written(git, name)
    if not gone & set(current):
        return
    path = _path(git, name)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text("".join(f"{c} {k}\n" for c, k in current.items() if c not in gone),
                   encoding="utf-8")
    os.replace(tmp, path)  # a crash leaves the old list, never half of one
