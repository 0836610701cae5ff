"""Three-way merge of environment files, per variable and per member.

Pure data: no keys are needed when both sides use the base's key pair. When
one side rotated the key pair, the other side's changed values must be
re-encrypted under the new key; this module says which, and the caller (with
a member's identity) does it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from envtrail.format.envfile import EnvFile, Member

_ABSENT = object()


@dataclass(frozen=True)
class Merged:
    """The outcome: a file, or the names that conflict (and why)."""

    env: EnvFile | None
    conflicts: tuple[str, ...] = ()
    # With a rotation on one side: the other side's changed variables, to
    # re-encrypt under the merged (rotated) key pair.
    reencrypt: Mapping[str, str] = field(default_factory=dict)  # name -> ciphertext on old key
    rotated_side: str | None = None  # "ours" or "theirs"


def _pick(base: object, ours: object, theirs: object) -> tuple[bool, object]:
    """(clean, value) of a three-way choice on one item."""
    if ours == theirs:
        return True, ours
    if ours == base:
        return True, theirs
    if theirs == base:
        return True, ours
    return False, None


def merge_maps(base: Mapping, ours: Mapping, theirs: Mapping) -> tuple[dict, list[str]]:
    """Three-way merge of two mappings by key; the keys changed differently on both sides."""
    out, conflicts = {}, []
    for name in sorted(set(base) | set(ours) | set(theirs)):
        clean, value = _pick(base.get(name, _ABSENT), ours.get(name, _ABSENT),
                             theirs.get(name, _ABSENT))
        if not clean:
            conflicts.append(name)
        elif value is not _ABSENT:
            out[name] = value
    return out, conflicts


def _member_view(env: EnvFile | None) -> dict[str, str]:
    return {p: m.key for p, m in env.members.items()} if env else {}


def merge(base: EnvFile | None, ours: EnvFile, theirs: EnvFile) -> Merged:
    """Merge ``theirs`` into ``ours`` against their common ``base``."""
    base_pk = base.public_key if base else None
    empty: dict[str, str] = {}
    rotated = {side for side, env in (("ours", ours), ("theirs", theirs))
               if env.public_key != base_pk}
    if ours.public_key == theirs.public_key:
        rotated = set()
    if len(rotated) == 2:
        return Merged(None, ("both sides changed the environment's key pair",))
    base_values = dict(base.values) if base else empty
    if not rotated:
        values, conflicts = merge_maps(base_values, ours.values, theirs.values)
        members, member_conflicts = merge_maps(
            {p: m for p, m in base.members.items()} if base else {}, ours.members, theirs.members)
        conflicts += [f"member {p}" for p in member_conflicts]
        if conflicts:
            return Merged(None, tuple(conflicts))
        return Merged(EnvFile(ours.environment, ours.public_key, members, values))
    # One side rotated: its file (keys, sealed members, re-encrypted values) is
    # the base of the result; the other side's own changes are carried over.
    new, old = (ours, theirs) if "ours" in rotated else (theirs, ours)
    if _member_view(old) != _member_view(base):
        return Merged(None, ("membership changed on one side while the other rotated the key; "
                             "merge, then grant again",))
    values = dict(new.values)
    carry: dict[str, str] = {}
    conflicts = []
    for name in sorted(set(base_values) | set(old.values)):
        b, o = base_values.get(name, _ABSENT), old.values.get(name, _ABSENT)
        if o == b:
            continue  # not changed on the unrotated side
        if new.values.get(name, _ABSENT) is _ABSENT and b is not _ABSENT:
            conflicts.append(name)  # removed on the rotated side, changed on the other
        elif o is _ABSENT:
            values.pop(name, None)
        else:
            carry[name] = str(o)
    if conflicts:
        return Merged(None, tuple(conflicts))
    members: dict[str, Member] = dict(new.members)
    return Merged(EnvFile(new.environment, new.public_key, members, values), (),
                  carry, "ours" if "ours" in rotated else "theirs")


def merge_problems(mine: EnvFile, parents: list[EnvFile | None]) -> list[str]:
    """What a merge result holds that none of its parents had (rule 6), as sentences."""
    problems = []
    env = mine.environment
    for name in sorted(_all_names(mine, *parents)):
        state = mine.values.get(name)
        if all((p.values.get(name) if p else None) != state for p in parents):
            problems.append(f"{env}: merge introduces a value of {name} that is in neither parent")
    if all(_keying(p) != _keying(mine) for p in parents):
        problems.append(f"{env}: merge changes members or keys beyond both parents")
    return problems


def _keying(env: EnvFile | None) -> tuple:
    if env is None:
        return ()
    return (env.public_key, tuple(sorted((p, m.key, m.sealed) for p, m in env.members.items())))


def _all_names(*envs: EnvFile | None) -> set[str]:
    return {n for e in envs if e is not None for n in e.values}
