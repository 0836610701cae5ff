"""History of an environment rebuilt from commits, without any decryption key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from envtrail.audit import record
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.format import envfile
from envtrail.gitstore.repo import CommitInfo, GitRepo

# Actions that re-encrypt every value under a new key without changing any:
# their Envtrail-Change lines map fingerprints across the rotation.
REENCRYPTING = frozenset({"rotate", "revoke"})
REENCRYPTED = "re-encrypted"


def reencrypts(rec: Record | None) -> bool:
    """Whether a commit's record is a rotation (ciphertexts change, values do not)."""
    return rec is not None and rec.action in REENCRYPTING


@dataclass(frozen=True)
class LastChange:
    """The commit that last changed one variable's value."""

    key: str
    commit: CommitInfo
    record: Record | None  # None: a commit envtrail did not make (unattested)


@dataclass(frozen=True)
class Version:
    """One commit that touched one variable: a new value, a removal, or a re-encryption."""

    commit: CommitInfo
    record: Record | None
    change: str  # "+", "-", "~" or REENCRYPTED
    fingerprint: str | None  # the value's fingerprint after the commit (before it, for "-")


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
    """For each variable present at ``head``, the newest commit that changed its value.

    A rotation re-encrypts every value without changing one, so it is passed
    over: "who last set this?" survives an offboarding.
    """
    # The view parses each file version once: a commit's file is its child's parent's.
    view = StoreView(git)
    pending = set(_values_at(view, head, environment))
    found: dict[str, LastChange] = {}
    for info in git.walk_touching(head, (envfile.path_for(environment),)):
        if not pending:
            break
        rec = parse_record(info)
        if reencrypts(rec):
            continue
        mine = _values_at(view, info.id, environment)
        parents = [_values_at(view, p, environment) for p in info.parents] or [{}]
        for key in list(pending):
            # A merge only "changes" a value it took from neither parent.
            if key in mine and all(p.get(key) != mine[key] for p in parents):
                found[key] = LastChange(key, info, rec)
                pending.discard(key)
    return found


def _fingerprint(rec: Record | None, key: str, change: str) -> str | None:
    for c in rec.changes if rec else ():
        if c.key == key:
            return c.old_fp if change == "-" else c.new_fp
    return None


def versions(git: GitRepo, head: str | None, environment: str, key: str) -> Iterator[Version]:
    """Every commit reachable from ``head`` that touched ``key`` in ``environment``, newest first."""
    view = StoreView(git)
    for info in git.walk_touching(head, (envfile.path_for(environment),)):
        mine = _values_at(view, info.id, environment).get(key)
        before = _values_at(view, info.parents[0] if info.parents else None,
                            environment).get(key)
        if mine == before:
            continue
        rec = parse_record(info)
        if before is None:
            change = "+"
        elif mine is None:
            change = "-"
        else:
            change = REENCRYPTED if reencrypts(rec) else "~"
        yield Version(info, rec, change, _fingerprint(rec, key, change))


def value_changes(git: GitRepo, head: str | None, environment: str) -> Iterator[CommitInfo]:
    """Commits that changed a value of ``environment`` (not rotations, not membership), newest first."""
    view = StoreView(git)
    for info in git.walk_touching(head, (envfile.path_for(environment),)):
        if reencrypts(parse_record(info)):
            continue
        before = _values_at(view, info.parents[0] if info.parents else None, environment)
        if _values_at(view, info.id, environment) != before:
            yield info
