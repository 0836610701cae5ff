"""Refuse a write before asking for anything: reason, policy, signer and membership.

A write re-checks all of this inside its transaction; checking first means a
person is never asked to type a secret that would then be refused.
"""

from __future__ import annotations

from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, NotFoundError
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name, check_reason
from envtrail.ops.gate import open_line
from envtrail.ops.routing import DIRECT, Route, require_route
from envtrail.ops.rules import authorize_write
from envtrail.ops.store import whoami
from envtrail.runtime import Runtime


def admins(snap: Snapshot) -> str:
    """The principals who can grant access and change policy, for a hint."""
    names = sorted({s.principal for s in snap.signers if s.admin and not s.valid_before})
    return ", ".join(names) or "an admin"


def check_write(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
                reason: str | None, route: Route = DIRECT) -> None:
    """Raise what a write to ``environment`` by ``identity`` would raise, before any prompt."""
    check_env_name(environment)
    text = check_reason(reason)
    line = open_line(git, rt, identity)  # the state the write will build on, verified
    if line.head is None:
        raise NotFoundError("the store has no commits yet")
    snap = line.snapshot
    env = snap.env(environment)
    try:
        acting = whoami(snap, identity, rt)
    except AccessDenied as exc:
        raise AccessDenied(exc.message, hint=f"ask an admin ({admins(snap)}) to run "
                           "`envtrail access grant` with your `envtrail identity show` line") from None
    try:
        authorize_write(snap.policy, environment, acting.signer, text)
    except AccessDenied as exc:
        writers = snap.policy.rule_for(environment).writers
        if "writers:" in exc.message and writers is not None:
            who = ", ".join(f"the admins ({admins(snap)})" if w == "admins" else w
                            for w in writers)
            hint = f"{environment} may be changed by {who}"
        else:
            hint = "give a --reason that the policy accepts (`envtrail policy show`)"
        raise AccessDenied(exc.message, hint=hint) from None
    if env.member_with_key(identity.public.openssh) is None:
        raise AccessDenied(f"you are not a member of environment {environment!r}",
                           hint=f"ask an admin ({admins(snap)}) to run `envtrail access grant`")
    require_route(snap.policy, environment, route)
