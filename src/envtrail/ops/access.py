"""Membership: granting access to an environment (admins only)."""

from __future__ import annotations

from pathlib import Path

from envtrail.audit.record import Record
from envtrail.crypto.keys import Identity, KeyFormatError, PublicKey
from envtrail.errors import NotFoundError, UsageError
from envtrail.format import envfile, signers
from envtrail.format.envfile import Member
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_env_name, check_principal, check_reason
from envtrail.ops.rules import authorize_write, require_admin
from envtrail.ops.store import SIGNERS, Snapshot, open_keys, whoami
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime


def parse_pubkey(text: str, rt: Runtime) -> PublicKey:
    """A public key from an ``ssh-ed25519 AAAA...`` line or a path to a .pub file."""
    line = text.strip()
    if not line.startswith("ssh-"):
        path = (rt.cwd / line).expanduser()
        try:
            line = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            raise NotFoundError(f"no public key file at {Path(line)}") from None
    try:
        return PublicKey.parse(line)[0]
    except KeyFormatError as exc:
        raise UsageError(f"not a usable public key: {exc}") from None


def grant(git: GitRepo, rt: Runtime, identity: Identity, principal: str, pubkey: PublicKey,
          environment: str, reason: str | None) -> Written:
    """Seal ``environment``'s keys to ``principal``; add them as a signer if new."""
    check_principal(principal)
    check_env_name(environment)
    text = check_reason(reason)

    def build(snap: Snapshot) -> Plan | None:
        acting = whoami(snap, identity, rt)
        require_admin(acting.signer, "grant access")
        authorize_write(snap.policy, environment, acting.signer, text)
        env = snap.env(environment)
        keys = open_keys(env, identity)
        existing = env.members.get(principal)
        if existing is not None and existing.key.split()[:2] == pubkey.openssh.split():
            return None
        changes: dict[str, bytes | None] = {}
        current = list(snap.signers)
        known = [s for s in current if s.principal == principal]
        if any(s.key != pubkey.openssh for s in known):
            raise UsageError(f"{principal} is already a signer with another key",
                             hint="revoke the old key first")
        if not known:
            current.append(signers.Signer(principal, pubkey.openssh))
            changes[SIGNERS] = signers.render(current)
        members = dict(env.members)
        members[principal] = Member(principal, pubkey.openssh, keys.seal_to(pubkey))
        changes[envfile.path_for(environment)] = envfile.render(env.with_members(members))
        rec = Record("grant", acting.principal, text, (environment,), context=context_for(rt),
                     extra=(("Member", f"+ {principal}"),))
        return Plan(changes, rec)

    return transact(git, rt, identity, build)
