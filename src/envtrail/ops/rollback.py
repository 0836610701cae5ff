"""Rollback: restore earlier values as a new signed commit, under today's keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import DecryptError, Decryptor
from envtrail.errors import AccessDenied, IntegrityError, NotFoundError
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret, check_env_name, check_reason, check_var_name
from envtrail.ops.gate import open_line
from envtrail.ops.members import decrypt_one, open_keys
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.txn import Plan, Written, transact
from envtrail.ops.values import plan_values
from envtrail.ops.verifiedline import Line
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Restored:
    """What a rollback or revert did: the commit it went back to, the commit made (None
    for a dry run or no change), its record, the proposal if it was proposed, and whether
    it landed by break-glass awaiting approvals."""

    target: str
    commit: str | None
    record: Record | None
    proposal: str | None = None
    flagged: bool = False
    # Values it puts back that someone no longer seated could read: to rotate again.
    warnings: tuple[str, ...] = ()


def restore(git: GitRepo, rt: Runtime, identity: Identity, line: Line, target: str,
            build: Callable[[Snapshot], Plan | None], dry_run: bool, route: Route,
            environment: str) -> Restored:
    """Run a rollback's or revert's plan: only shown for a dry run, else written by
    ``route``; with each value it puts back that someone no longer seated could read,
    judged on the very state it is written on, before anything is written."""
    notes: list[str] = []

    def noted(snap: Snapshot) -> Plan | None:
        plan = build(snap)
        notes[:] = _exposed(snap, identity, environment, plan) if plan else []
        return plan

    if dry_run:
        plan = noted(line.snapshot)
        return Restored(target, None, plan.record if plan else None, warnings=tuple(notes))
    written: Written = transact(git, rt, identity, noted, route=route)
    return Restored(target, written.commit, written.record, written.proposal,
                    written.flagged, tuple(notes))


def _exposed(snap: Snapshot, identity: Identity, environment: str, plan: Plan) -> list[str]:
    """The notes of :func:`note_exposures` for the values ``plan`` puts back."""
    data = plan.changes.get(envfile.path_for(environment))
    if data is None or snap.commit is None:
        return []
    written = envfile.parse(data, envfile.path_for(environment))
    return note_exposures(snap, identity, environment, written, snap.env(environment))


def note_exposures(snap: Snapshot, identity: Identity, environment: str, written: EnvFile,
                   current: EnvFile | None) -> list[str]:
    """For each value ``written`` (an environment file about to replace ``current`` on
    ``snap``) puts back, a value other than ``current``'s, who could read it with a key
    that has no seat in ``written`` (an offboarded member, whose offboarding report asked
    for that very value to be rotated); one note each. Compared by plaintext: a file
    only re-encrypted puts nothing back (review14 R8). Values ``identity`` cannot open
    are not judged."""
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.membership import value_readers
    from envtrail.ops.routing import proposal_tips

    if snap.commit is None:
        return []
    keyring, values = Keyring(identity), {}
    for name, ciphertext in written.values.items():
        if current is not None and current.values.get(name) == ciphertext:
            continue
        plain = keyring.plaintext(written, name)
        try:
            before = keyring.plaintext(current, name) \
                if current is not None and name in current.values else None
        except (DecryptError, ValueError):  # a forged ciphertext: anything put back is new
            before = None
        if plain is not None and plain != before:
            values[name] = plain
    readers = value_readers(snap.view, snap.commit, environment, values, keyring,
                            proposal_tips(snap.git))
    out = []
    for name, who in sorted(readers.items()):
        gone = sorted({p for p, key in who if written.member_with_key(key) is None})
        if gone:
            out.append(f"{name} is back to a value {', '.join(gone)} could read, with a key "
                       f"no longer seated in {environment}: rotate it")
    return out


def replayed_exposures(git: GitRepo, identity: Identity, commits: list[str]) -> list[str]:
    """:func:`note_exposures` for each rollback or revert among ``commits`` (this clone's,
    re-made by sync on another clone's line), judged on the parent it landed on: where
    it was written, the member offboarded since may still have been seated (attack24 U6)."""
    from envtrail.audit.history import parse_record
    from envtrail.audit.view import StoreView

    view, out = StoreView(git), []
    for commit in commits:
        info = git.info(commit)
        rec = parse_record(info)
        if rec is None or rec.action not in ("rollback", "revert") or not info.parents:
            continue
        parent = view.at(info.parents[0])
        for env in rec.environments:
            try:
                written, current = view.env_at(commit, env), view.env_at(parent.commit, env)
            except IntegrityError:
                continue
            if written is not None:
                out += note_exposures(parent, identity, env, written, current)
    return out


def target_values(snap: Snapshot, identity: Identity, environment: str) -> dict[str, str]:
    """Every value of ``environment`` at a snapshot, decrypted (to restore it elsewhere)."""
    target = snap.commit or ""
    env = snap.env(environment)
    try:
        keys = open_keys(env, identity)
    except AccessDenied:
        raise AccessDenied(f"you were not a member of {environment} at {target[:10]}, "
                           "so you cannot read the values to restore") from None
    dec = Decryptor(keys, environment)
    return {name: decrypt_one(env, keys, dec, name) for name in env.values}


def rollback(git: GitRepo, rt: Runtime, identity: Identity, environment: str, to: str,
             only: list[str], reason: str | None, dry_run: bool,
             route: Route = DIRECT) -> Restored:
    """Make ``environment`` (or just the ``only`` variables) equal to its state at ``to``.

    Added variables are removed, removed ones return, changed ones revert; all
    are re-encrypted for today's members with today's key, so nobody revoked
    since regains access. History is not rewritten.
    """
    check_env_name(environment)
    for name in only:
        check_var_name(name)
    text = check_reason(reason)
    line = open_line(git, rt, identity)
    target = line.resolve(rt, to)  # a commit on the verified line only
    old = target_values(line.view.at(target), identity, environment)
    extra = (("Rollback-To", target),)

    def build(snap: Snapshot) -> Plan | None:
        current = set(snap.env(environment).values)
        scope = set(only) if only else current | set(old)
        missing = [n for n in only if n not in old and n not in current]
        if missing:
            raise NotFoundError(f"{environment} has no variable {missing[0]} then or now")
        updates = {n: Secret(old[n]) for n in scope if n in old}
        removals = {n for n in scope if n not in old and n in current}
        return plan_values(snap, rt, identity, environment, updates, removals, text,
                           "rollback", extra)

    return restore(git, rt, identity, line, target, build, dry_run, route, environment)
