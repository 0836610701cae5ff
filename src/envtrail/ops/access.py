"""Membership: grant, revoke (with rotation), rotate, and admin changes."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity, KeyFormatError, PublicKey, box_twins
from envtrail.crypto.seal import Decryptor, Encryptor, EnvKeys, b64
from envtrail.errors import AccessDenied, NotFoundError, UsageError
from envtrail.format import envfile, signers
from envtrail.format.envfile import EnvFile, Member
from envtrail.format.layout import SIGNERS
from envtrail.gitstore.repo import GitRepo
from envtrail.model import (
    Change,
    check_env_name,
    check_new_principal,
    check_principal,
    check_reason,
)
from envtrail.ops import reach
from envtrail.ops.members import decrypt_one, open_keys
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import authorize_write, require_admin
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime


def parse_pubkey(text: str, rt: Runtime) -> PublicKey:
    """A public key from an ``ssh-ed25519 AAAA...`` line or a path to a .pub file."""
    line = text.strip()
    if not line.startswith("ssh-"):
        # ~ is the injected home (tests and CI set it), never os.environ's.
        path = rt.home / line[2:] if line.startswith("~/") else rt.cwd / line
        try:
            line = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise NotFoundError(f"no public key file at {Path(line)}") from None
    try:
        key = PublicKey.parse(line)[0]
        key.x25519()  # the environment's keys are sealed to it: refused before any write
    except KeyFormatError as exc:
        raise UsageError(f"not a usable public key: {exc}") from None
    return key


def rotated(env: EnvFile, identity: Identity,
            members: dict[str, Member]) -> tuple[EnvFile, tuple[Change, ...]]:
    """``env`` under a fresh key pair and fingerprint key, sealed to ``members``.

    The result is always in the current format (a format 1 file becomes
    format 2 here). Every value is re-encrypted under one new ephemeral key,
    and the masked diff maps each old fingerprint (old key, old format) to
    its new one, so a value can be followed across the rotation.
    """
    old_keys = open_keys(env, identity)
    dec = Decryptor(old_keys, env.environment)
    new_keys = EnvKeys.generate()
    version = envfile.FORMAT_VERSION
    enc = Encryptor(new_keys.public, env.environment, version)
    values, changes = {}, []
    for name in sorted(env.values):
        plain = decrypt_one(env, old_keys, dec, name)
        values[name] = str(enc.encrypt(name, plain))
        changes.append(Change(
            "~", name, old_keys.fingerprint(env.version, env.environment, name, plain),
            new_keys.fingerprint(version, env.environment, name, plain)))
    resealed = {p: Member(p, m.key, new_keys.seal_to(PublicKey.parse(m.key)[0]))
                for p, m in members.items()}
    return EnvFile(env.environment, b64(new_keys.public), resealed, values, version), \
        tuple(changes)


def grant(git: GitRepo, rt: Runtime, identity: Identity, principal: str, pubkey: PublicKey,
          environment: str, reason: str | None, route: Route = DIRECT) -> Written:
    """Seal ``environment``'s keys to ``principal``; add them as a signer if new."""
    check_new_principal(principal)
    check_env_name(environment)
    text = check_reason(reason)

    reopened: list[str] = []

    def build(snap: Snapshot) -> Plan | None:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "grant access")
        reopened[:] = [f"{principal}'s key was closed at {s.valid_before.isoformat()} (an "
                       "offboarding); this grant lets it sign again"
                       for s in snap.signers if s.principal == principal
                       and s.key == pubkey.openssh and s.valid_before is not None
                       and not any(o.principal == principal and o.valid_before is None
                                   for o in snap.signers)]
        authorize_write(snap.policy, environment, acting.signer, text)
        env = snap.env(environment)
        keys = open_keys(env, identity)
        existing = env.members.get(principal)
        if existing is not None and existing.key.split()[:2] == pubkey.openssh.split():
            return None
        changes: dict[str, bytes | None] = {}
        lines = granted_lines(list(snap.signers), principal, pubkey.openssh, rt.now())
        if lines is not None:
            changes[SIGNERS] = signers.render(lines)
        members = dict(env.members)
        members[principal] = Member(principal, pubkey.openssh, keys.seal_to(pubkey))
        changes[envfile.path_for(environment)] = envfile.render(env.with_members(members))
        rec = Record("grant", acting.principal, text, (environment,), context=context_for(rt),
                     extra=(("Member", f"+ {principal}"),))
        return Plan(changes, rec)

    written = transact(git, rt, identity, build, route=route)
    return replace(written, warnings=tuple(reopened)) if written.commit else written


def revoke(git: GitRepo, rt: Runtime, identity: Identity, principal: str, environment: str,
           reason: str | None, route: Route = DIRECT) -> Written:
    """Remove a member and rotate; expire their signing key if they are no member anywhere."""
    check_principal(principal)
    check_env_name(environment)
    text = check_reason(reason)
    warnings: list[str] = []

    def build(snap: Snapshot) -> Plan:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "revoke access")
        authorize_write(snap.policy, environment, acting.signer, text)
        env = snap.env(environment)
        if principal not in env.members:
            raise NotFoundError(f"{principal} is not a member of {environment}")
        remaining = {p: m for p, m in env.members.items() if p != principal}
        if not remaining:
            raise UsageError(f"{principal} is the last member of {environment}",
                             hint="grant someone else first, or nobody could read it")
        closed = closing_key(snap, principal, {environment}, rt.now())
        frozen, lonely = _approvers_left(snap, principal, environment, closed,
                                         acting.principal)
        if frozen and not route.break_glass:
            raise AccessDenied(frozen, hint="grant another approver first, or lower the count "
                                          "with `envtrail policy set` while it can still be "
                                          "approved; in an incident, --break-glass revokes "
                                          "anyway")
        warnings[:] = ([frozen] if frozen else []) + lonely
        new_env, rotation = rotated(env, identity, remaining)
        changes: dict[str, bytes | None] = {envfile.path_for(environment): envfile.render(new_env)}
        extra = [("Member", f"- {principal}")]
        if closed is not None:
            # Said in the record exactly when a key closes: show and log go by it.
            changes[SIGNERS] = signers.render(closed)
            extra.append(("Signer-Expired", principal))
        rec = Record("revoke", acting.principal, text, (environment,), rotation,
                     context_for(rt), tuple(extra))
        return Plan(changes, rec)

    written = transact(git, rt, identity, build, route=route)
    return replace(written, warnings=tuple(warnings))


def _approvers_left(snap: Snapshot, principal: str, environment: str,
                    closed: list[signers.Signer] | None,
                    author: str) -> tuple[str | None, list[str]]:
    """Why, once ``principal`` leaves ``environment`` (``closed``: the signers that leaves,
    if it closes their key), no admin could get a change of policy, signers or members
    approved where one could before (:func:`ops.reach.find_frozen`); and notes where only
    the author's own changes would wait, in each environment whose approvers it changes."""
    rules, lines = snap.policy, closed if closed is not None else list(snap.signers)
    had = reach.approvers_by_env(snap, rules, reach.open_signers(snap.signers))
    have = reach.approvers_by_env(snap, rules, reach.open_signers(lines),
                                  (principal, environment))
    moved = {env for env in have if have[env] != had.get(env)}
    return reach.find_newly_frozen(snap, rules, lines, author, (principal, environment)), \
        reach.find_lonely(rules, have, author, moved)


def closing_key(snap: Snapshot, principal: str, leaving: Collection[str],
                when: datetime) -> list[signers.Signer] | None:
    """``snap``'s allowed_signers with ``principal``'s open lines closed at ``when``, if
    leaving the environments ``leaving`` makes them a member of none; None when no line
    closes. A revoke decides this on the head it lands on (``access revoke``, and sync
    or ``propose --redo`` re-making one on a moved line), and verify holds it to that."""
    if any(principal in snap.env(e).members for e in snap.environments() if e not in leaving):
        return None
    closed = [s.expired(when) if s.principal == principal and not s.valid_before else s
              for s in snap.signers]
    if closed == list(snap.signers):
        return None
    if not any(s.admin and not s.valid_before for s in closed):
        raise UsageError(f"that would close the last admin key ({principal}'s)",
                         hint="make someone else an admin first: `envtrail access admin P`")
    return closed


def granted_lines(lines: list[signers.Signer], principal: str, key: str,
                  when: datetime) -> list[signers.Signer] | None:
    """allowed_signers once ``principal`` is granted with ``key`` (None: unchanged, they
    sign with it already): one new line for someone new, or back with a new key (their
    old lines stay closed); their closed line of that key open again, without the admin
    mark (admin rights come back only by `access admin`, visibly). The re-opened line
    keeps its start, so stock git still accepts what they signed before they left (a line
    holds one window; the line's order, not the window, keeps the gap closed); from
    ``when`` only if they signed with another key since. UsageError while they sign with
    another key, or when the key is another principal's, on an open or a closed line (one
    key speaks for one name: a seat sealed to it would let that other person read)."""
    others = [(s.principal, s.key) for s in lines if s.principal != principal]
    # The same key, or its negation: one bit apart, it opens the very same sealed boxes.
    twins = [a for a, b in box_twins([*others, (principal, key)]) if b == principal]
    owner = next((p for p, k in others if k == key), None) or next(iter(twins), None)
    if owner is not None:
        raise UsageError(f"that key is {owner}'s; one key signs for one name",
                         hint=f"grant the key {principal} signs with")
    known = [s for s in lines if s.principal == principal]
    if any(s.key != key and not s.valid_before for s in known):
        raise UsageError(f"{principal} is already a signer with another key",
                         hint="revoke them first, or grant the key they sign with")
    if any(s.key == key and not s.valid_before for s in known):
        return None
    if not any(s.key == key for s in known):  # valid from now on: never beside an old key
        return [*lines, signers.Signer(principal, key, valid_after=when if known else None)]
    reopened = [replace(s, valid_before=None, admin=False)
                if s.principal == principal and s.key == key else s for s in lines]
    if signers.problems([s for s in reopened if s.principal == principal]):
        # Another key of theirs was valid since: this one signs again only from now.
        reopened = [replace(s, valid_after=when)
                    if s.principal == principal and s.key == key else s for s in reopened]
    return reopened


def marked(lines: list[signers.Signer], principal: str, admin: bool) -> list[signers.Signer]:
    """``lines`` with ``principal``'s admin mark set to ``admin``; UsageError when no open
    admin line would be left (nobody could change signers or policy again)."""
    updated = [replace(s, admin=admin) if s.principal == principal else s for s in lines]
    if not any(s.admin and not s.valid_before for s in updated):
        raise UsageError("that would leave the store without an admin")
    return updated


def rotate(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
           reason: str | None, route: Route = DIRECT) -> Written:
    """New environment key pair and fingerprint key; members unchanged."""
    check_env_name(environment)
    text = check_reason(reason)

    def build(snap: Snapshot) -> Plan:
        acting = whoami(snap, identity, rt)
        # A new key pair is a custody change, which verify asks of an admin (rule 5):
        # a member's rotation would land and then stop every other clone's reads.
        require_admin(acting.signer, "rotate an environment's keys")
        authorize_write(snap.policy, environment, acting.signer, text)
        env = snap.env(environment)
        new_env, rotation = rotated(env, identity, dict(env.members))
        rec = Record("rotate", acting.principal, text, (environment,), rotation, context_for(rt))
        return Plan({envfile.path_for(environment): envfile.render(new_env)}, rec)

    return transact(git, rt, identity, build, route=route)


def set_admin(git: GitRepo, rt: Runtime, identity: Identity, principal: str, admin: bool,
              reason: str | None, route: Route = DIRECT) -> Written:
    """Mark or unmark an allowed signer as admin (an admin's act)."""
    check_principal(principal)
    text = check_reason(reason)

    def build(snap: Snapshot) -> Plan | None:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "change admins")
        if not text:
            raise UsageError("changing admins needs a --reason")
        if not any(s.principal == principal for s in snap.signers):
            raise NotFoundError(f"{principal} is not an allowed signer")
        updated = marked(list(snap.signers), principal, admin)
        if updated == list(snap.signers):
            return None
        # The admin stepping down may be the only one who could still get a change of
        # policy, signers or members approved (attack23 T1).
        frozen = reach.find_newly_frozen(snap, snap.policy, updated, acting.principal)
        if frozen:
            raise AccessDenied(frozen, hint="make another admin first, or lower the counts "
                                          "while this admin can still ask")
        rec = Record("signers", acting.principal, text, (), context=context_for(rt),
                     extra=(("Admin", f"{'+' if admin else '-'} {principal}"),))
        return Plan({SIGNERS: signers.render(updated)}, rec)

    return transact(git, rt, identity, build, route=route)
