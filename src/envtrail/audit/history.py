"""History of an environment rebuilt from commits, without any decryption key."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit import record
from envtrail.audit.record import Record
from envtrail.errors import IntegrityError
from envtrail.format import envfile
from envtrail.gitstore.repo import CommitInfo, GitRepo


@dataclass(frozen=True)
class LastChange:
    """The commit that last changed one variable's ciphertext."""

    key: str
    commit: CommitInfo
    record: Record | None  # None: a commit envtrail did not make (unattested)


def _values_at(git: GitRepo, commit: str | None, path: str) -> dict[str, str]:
    data = git.read(commit, path)
    if data is None:
        return {}
    try:
        return dict(envfile.parse(data, path).values)
    except IntegrityError:
        return {}


def parse_record(info: CommitInfo) -> Record | None:
    """The envtrail record of a commit, or None if it has none or a malformed one."""
    try:
        return record.parse(info.message)
    except ValueError:
        return None


def last_changes(git: GitRepo, head: str, environment: str) -> dict[str, LastChange]:
    """For each variable present at ``head``, the newest commit that changed it."""
    path = envfile.path_for(environment)
    pending = set(_values_at(git, head, path))
    found: dict[str, LastChange] = {}
    for info in git.walk_touching(head, (path,)):
        if not pending:
            break
        mine = _values_at(git, info.id, path)
        parents = [_values_at(git, p, path) for p in info.parents] or [{}]
        for key in list(pending):
            # A merge only "changes" a value it took from neither parent.
            if key in mine and all(p.get(key) != mine[key] for p in parents):
                found[key] = LastChange(key, info, parse_record(info))
                pending.discard(key)
    return found
