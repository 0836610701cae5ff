"""Revert: undo exactly what one commit did to one environment, as a new commit."""

from __future__ import annotations

from envtrail.audit.history import rotation_at, value_changes
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError, IntegrityError, NotFoundError
from envtrail.format import layout
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret, check_env_name, check_reason, check_var_name
from envtrail.ops.gate import open_line
from envtrail.ops.rollback import Restored, restore, target_values
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.txn import Plan
from envtrail.ops.values import plan_values
from envtrail.ops.verifiedline import Line
from envtrail.runtime import Runtime


def values_at(snap: Snapshot, identity: Identity, environment: str) -> dict[str, str]:
    """Plaintext values of ``environment`` in a snapshot of the verified line.

    An environment that did not exist then reads as empty. Callers get the
    snapshot from the gate (``open_line``), so only vouched-for states are read.
    """
    if snap.commit is None or snap.read(layout.env_path(environment)) is None:
        return {}
    return target_values(snap, identity, environment)


def last_change(line: Line, environment: str) -> str:
    """The newest commit that changed a value of ``environment`` (rotations do not count)."""
    found = next(value_changes(line.git, line.head, environment), None)
    if found is None:
        raise NotFoundError(f"no value of {environment} has ever changed")
    return found.id


def revert(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
           commit: str | None, only: list[str], reason: str | None,
           dry_run: bool = False, route: Route = DIRECT) -> Restored:
    """Put back what ``commit`` (default: the environment's last change) replaced.

    Only the variables that commit changed are touched. A variable changed
    again by a later commit is a conflict (exit 6): reverting would silently
    throw that later value away.
    """
    check_env_name(environment)
    for name in only:
        check_var_name(name)
    text = check_reason(reason)
    line = open_line(git, rt, identity)
    if environment not in line.snapshot.environments():
        raise NotFoundError(f"no environment {environment!r}",
                            hint="list them with `envtrail env list`")
    target = line.resolve(rt, commit) if commit else last_change(line, environment)
    info = git.info(target)
    if rotation_at(line.view, info, environment):
        # The same refusal as any other commit that changed no value (exit 3).
        raise NotFoundError(f"{target[:10]} changed no value of {environment}: it only "
                            "re-encrypted it (a key rotation), so there is nothing to revert")
    parent = info.parents[0] if info.parents else None
    if parent is not None and parent in line.tainted:
        # Undoing a repair would put back the state it acknowledged as forged.
        raise IntegrityError(f"{target[:10]} follows a state a repair acknowledged as a finding; "
                             "reverting it would restore that state",
                             hint="use `envtrail rollback --to` a verified commit instead")
    before = values_at(line.view.at(parent), identity, environment)
    after = values_at(line.view.at(target), identity, environment)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    if not changed:
        raise NotFoundError(f"{target[:10]} changed no value of {environment}")
    for name in only:
        if name not in changed:
            raise NotFoundError(f"{target[:10]} did not change {name} in {environment}")
    scope = sorted(set(only) if only else changed)

    def build(snap: Snapshot) -> Plan | None:
        now = values_at(snap, identity, environment)
        for name in scope:
            if now.get(name) != after.get(name):
                raise ConflictError(
                    f"{name} in {environment} was changed again after {target[:10]}; "
                    "reverting would discard the newer value",
                    hint=f"see `envtrail history {name} --env {environment}`, then revert "
                         "the later commit, or leave this variable out with --key")
        updates = {n: Secret(before[n]) for n in scope if n in before}
        removals = {n for n in scope if n not in before}
        return plan_values(snap, rt, identity, environment, updates, removals, text, "revert",
                           (("Revert", target),))

    return restore(git, rt, identity, line, target, build, dry_run, route, environment)
