"""History of an environment rebuilt from commits, without any decryption key."""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit import record
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.format import envfile
from envtrail.gitstore.repo import CommitInfo, GitRepo


@dataclass(frozen=True)
class LastChange:
    """The commit that last changed one variable's ciphertext."""

    key: str
    commit: CommitInfo
    record: Record | None  # None: a commit envtrail did not make (unattested)


def _values_at(view: StoreView, commit: str | None, environment: str) -> dict[str, str]:
    try:
        env = view.env_at(commit, environment)
    except IntegrityError:
        return {}
    return dict(env.values) if env else {}


def parse_record(info: CommitInfo) -> Record | None:
    """The envtrail record of a commit, or None if it has none or a malformed one."""
    try:
        return record.parse(info.message)
    except ValueError:
        return None


def last_changes(git: GitRepo, head: str, environment: str) -> dict[str, LastChange]:
    """For each variable present at ``head``, the newest commit that changed it."""
    # The view parses each file version once: a commit's file is its child's parent's.
    view = StoreView(git)
    pending = set(_values_at(view, head, environment))
    found: dict[str, LastChange] = {}
    for info in git.walk_touching(head, (envfile.path_for(environment),)):
        if not pending:
            break
        mine = _values_at(view, info.id, environment)
        parents = [_values_at(view, p, environment) for p in info.parents] or [{}]
        for key in list(pending):
            # A merge only "changes" a value it took from neither parent.
            if key in mine and all(p.get(key) != mine[key] for p in parents):
                found[key] = LastChange(key, info, parse_record(info))
                pending.discard(key)
    return found
