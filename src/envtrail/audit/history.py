"""History of an environment rebuilt from commits, without any decryption key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from envtrail.audit import record
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.repo import CommitInfo, GitRepo

# Actions that re-encrypt every value under a new key without changing any:
# their Envtrail-Change lines map fingerprints across the rotation. (The log
# reads the label, which verify holds to the tree; history, blame and revert
# read the tree itself, so an unverified relabelled commit cannot hide there.)
REENCRYPTING = frozenset({"rotate", "revoke"})
REENCRYPTED = "re-encrypted"
# Actions that may span several environments, naming variables ENV:KEY.
QUALIFIED = frozenset({"repair"})


def qualified(rec: Record, environment: str, name: str) -> str:
    """How a commit's trailers name a variable: ``ENV:KEY`` where the action spans
    environments, else ``KEY``."""
    return f"{environment}:{name}" if rec.action in QUALIFIED else name


def rekeys(old: EnvFile | None, new: EnvFile | None) -> bool:
    """Whether going from ``old`` to ``new`` replaced the environment's key pair: a
    rotation, whose new ciphertexts hold the old values (verify rule 5), not a value change."""
    return old is not None and new is not None and old.public_key != new.public_key


def rotation_at(view: StoreView, info: CommitInfo, environment: str) -> bool:
    """Whether ``info`` re-encrypted ``environment`` under a new key pair, read from the
    tree (never from the commit's label)."""
    parent = info.parents[0] if info.parents else None
    return rekeys(_env(view, parent, environment), _env(view, info.id, environment))


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


def _env(view: StoreView, commit: str | None, environment: str) -> EnvFile | None:
    try:
        return view.env_at(commit, environment)
    except IntegrityError:
        return None


def _values_at(view: StoreView, commit: str | None, environment: str) -> dict[str, str]:
    env = _env(view, commit, environment)
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
        if rotation_at(view, info, environment):
            continue
        rec = parse_record(info)
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
        new = _env(view, info.id, environment)
        old = _env(view, info.parents[0] if info.parents else None, environment)
        mine = new.values.get(key) if new else None
        before = old.values.get(key) if old else None
        if mine == before:
            continue
        rec = parse_record(info)
        if before is None:
            change = "+"
        elif mine is None:
            change = "-"
        else:
            change = REENCRYPTED if rekeys(old, new) else "~"
        yield Version(info, rec, change, _fingerprint(rec, key, change))


def value_changes(git: GitRepo, head: str | None, environment: str) -> Iterator[CommitInfo]:
    """Commits that changed a value of ``environment`` (not rotations, not membership), newest first."""
    view = StoreView(git)
    for info in git.walk_touching(head, (envfile.path_for(environment),)):
        if rotation_at(view, info, environment):
            continue
        before = _values_at(view, info.parents[0] if info.parents else None, environment)
        if _values_at(view, info.id, environment) != before:
            yield info


def recorded_fingerprint(view: StoreView, head: str,
                         env: EnvFile) -> tuple[str, str, str] | None:
    """(commit, variable, fingerprint): the newest commit up to ``head`` that wrote (or
    re-encrypted) a value ``env`` still holds, and the fingerprint its record gave that
    value; None where no such commit recorded one (no values, or none envtrail wrote).

    Read as the line reads repairs: a repair puts back its clean point, so it writes only
    what differs from that point (and records it), and the walk goes on from the clean
    point. The values it restored were written before it; what the commits it
    acknowledges said about them is no record (attack37 B1, B2).
    """
    from envtrail.audit.repairs import CLEAN, signature_state

    path = envfile.path_for(env.environment)
    name_of = {token: name for name, token in env.values.items()}
    start: str | None = head
    while start is not None and name_of:
        after, start = start, None
        for info in view.git.walk_touching(after, (path,), saying=f"{record.PREFIX}{CLEAN}: "):
            rec = parse_record(info)
            clean = signature_state(view, info, rec)
            new = _values_at(view, info.id, env.environment)
            base = _env(view, clean or (info.parents[0] if info.parents else None),
                        env.environment)
            old = dict(base.values) if base else {}
            for token, name in sorted(name_of.items(), key=lambda item: item[1]):
                if new.get(name) != token or old.get(name) == token:
                    continue
                fingerprint = _fingerprint(rec, qualified(rec, env.environment, name), "+") \
                    if rec is not None else None
                if fingerprint not in (None, "?"):
                    return info.id, name, fingerprint
                # Written here with nothing recorded: a commit envtrail did not make may
                # have put back an earlier one, whose record is looked for further back.
            if base is None or base.public_key != env.public_key:
                return None  # no token of this key pair is older than the key pair
            if clean is not None:
                start = clean
                break
    return None
