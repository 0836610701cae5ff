"""Re-making this clone's unpushed commits on a newer remote head (``sync`` by replay).

A commit is replayed as the change it made, not as its files: what each
variable, member, signer and policy scope became (values decrypted with the
clone's own key), applied to the new parent's state, re-encrypted to the new
parent's keys and checked against the new parent's signers, membership and
policy. What a commit changed, and what collides with the remote, is
:mod:`envtrail.ops.delta`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from envtrail.audit import record
from envtrail.audit.actions import SIGNER_LINES
from envtrail.audit.history import parse_record
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity, PublicKey
from envtrail.crypto.seal import Decryptor, Encryptor, EnvKeys, unb64
from envtrail.errors import AccessDenied, ConflictError, IntegrityError, UsageError
from envtrail.format import envfile, policy, signers
from envtrail.format.envfile import EnvFile, Member
from envtrail.format.layout import POLICY, SIGNERS
from envtrail.gitstore.commit import Author, create_commit, not_before
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change, Secret
from envtrail.ops.access import closing_key, granted_lines, marked, rotated
from envtrail.ops.delta import Delta, Item, Unreadable, env_file
from envtrail.ops.members import decrypt_one, open_keys
from envtrail.ops.rules import authorize_write, require_admin
from envtrail.ops.setup import new_env_file
from envtrail.ops.store import whoami
from envtrail.ops.txn import oversized, signer_for
from envtrail.runtime import Runtime

REPLAYED = "Replayed"  # the trailer Envtrail-Replayed: <id of the commit it replaces>


def replay(git: GitRepo, rt: Runtime, identity: Identity, original: str, change: Delta,
           drop: set[Item], parent: str) -> str | None:
    """A new signed commit on ``parent`` doing what ``original`` did; None if nothing is left."""
    rec = parse_record(git.info(original))
    if rec is None:
        raise IntegrityError(f"{original[:10]} carries no envtrail record")
    if change.other:
        raise ConflictError(f"{original[:10]} changes {change.other[0]}, which sync cannot "
                            "replay", hint="redo that change by hand on the new head")
    items = {i: v for i, v in chosen(rec, change).items.items() if i not in drop}
    if any(i.kind == "signer" for i in items):
        raise ConflictError(f"{original[:10]} changes allowed_signers as no `{rec.action}` "
                            "does, so sync cannot replay it",
                            hint="redo that change by hand on the new head")
    remark = rec.action == "signers"  # re-made as the admin mark, on the new head's lines
    if not items and not change.rotated and not remark:
        return None
    snap = Snapshot(git, parent)
    acting = whoami(snap, identity, rt)
    if remark or any(i.kind != "value" for i in items):
        require_admin(acting.signer, f"replay {original[:10]} ({rec.action})")
    envs = sorted({i.env or i.name for i in items if i.kind in ("value", "member", "env")}
                  | change.rotated)
    for env in envs:
        authorize_write(snap.policy, env, acting.signer, rec.reason)
    when = not_before(rt.now(), git.info(parent).committer_time).replace(microsecond=0)
    files: dict[str, bytes | None] = {}
    changes: list[Change] = []
    extra = [(k, v) for k, v in rec.extra if k not in (REPLAYED, "Signer-Expired")]
    for env in envs:
        new_env, env_changes = _rebuild_env(snap, identity, acting.principal, env, items,
                                            env in change.rotated)
        files[envfile.path_for(env)] = envfile.render(new_env)
        changes.extend(env_changes)
    if remark:
        sign, _, who = (rec.extra_value("Admin") or "").partition(" ")
        if any(s.principal == who and not s.valid_before for s in snap.signers):
            # Marked on the lines the new head has: never re-opening a key closed meanwhile.
            files[SIGNERS] = signers.render(marked(list(snap.signers), who, sign == "+"))
    elif rec.action == "grant":
        who = (rec.extra_value("Member") or "").removeprefix("+ ")
        seat = next((v for i, v in items.items() if i.kind == "member" and i.name == who
                     and v), None)
        if seat is not None:  # as `access grant` decides on the new head
            try:
                lines = granted_lines(list(snap.signers), who, str(seat), when)
            except UsageError:
                raise ConflictError(f"{who} signs with another key on the remote's line than "
                                    "the one this grant seats; nothing was changed",
                                    hint="one person signs with one key: drop this grant "
                                         f"(sync: `--theirs {rec.environments[0]}:member:"
                                         f"{who}`), then grant the key they agree on") \
                    from None
            files.update({SIGNERS: signers.render(lines)} if lines is not None else {})
    leaving: set[str] = set()
    if rec.action == "revoke":
        member = (rec.extra_value("Member") or "").removeprefix("- ")
        leaving = _leaving(snap, member, items)
        closed = closing_key(snap, member, leaving, when)
        if closed is not None:
            files[SIGNERS] = signers.render(closed)
            extra.append(("Signer-Expired", member))
    policy_items = {i: v for i, v in items.items() if i.kind == "policy"}
    if policy_items:
        files[POLICY] = policy.render(_rebuild_policy(snap.policy, policy_items))
    files = {p: d for p, d in files.items() if d != snap.read(p)}
    if not files:
        return None
    action = rec.action
    if action == "revoke" and not leaving and SIGNERS not in files:
        # Another clone removed the member first (or --theirs kept them): what is left
        # is the rotation, and a revoke that removes nobody would tell log a false story.
        action = "rotate"
        extra = [(k, v) for k, v in extra if k != "Member"]
    extra.append((REPLAYED, rec.extra_value(REPLAYED) or original))
    new_rec = record.Record(action, acting.principal, rec.reason, rec.environments,
                            tuple(sorted(changes, key=lambda c: c.key)), rec.context,
                            tuple(extra))
    too_big = oversized(files)
    if too_big is not None:
        # The two sides fit apart, not together: no commit anyone could read (attack34 N2).
        raise ConflictError(f"{original[:10]} on top of the remote's changes would make "
                            f"{too_big} larger than 64 MiB, which no reader opens",
                            hint="nothing was changed; unset values of that environment (or "
                                 "drop this change), then run `envtrail sync` again")
    author = Author(acting.principal, acting.principal, when)
    return create_commit(git, [parent], files, record.render(new_rec), author,
                         signer_for(identity))


def _rebuild_env(snap: Snapshot, identity: Identity, principal: str, name: str,
                 items: Mapping[Item, object], rotate: bool) -> tuple[EnvFile, list[Change]]:
    """The new parent's environment with this commit's items applied, and its masked diff."""
    path = envfile.path_for(name)
    current = env_file(snap, path)
    if current is None:
        if items.get(Item("env", "", name)) is not True:
            raise ConflictError(f"environment {name} is gone on the remote",
                                hint="redo the change by hand if it is still wanted")
        current = new_env_file(name, principal, identity)
    elif items.get(Item("env", "", name)) is False:
        raise ConflictError(f"replaying the removal of environment {name} is not supported")
    keys = open_keys(current, identity)  # AccessDenied: no member of it on the new head
    dec = Decryptor(keys, name)
    members = dict(current.members)
    removed = False
    for item, key in items.items():
        if item.kind != "member" or item.env != name:
            continue
        if key is None:
            removed = removed or members.pop(item.name, None) is not None
        elif item.name not in members or members[item.name].key != key:
            members[item.name] = Member(item.name, str(key),
                                        keys.seal_to(PublicKey.parse(str(key))[0]))
    changes: dict[str, Change] = {}
    if rotate or removed:
        # A replayed revoke or rotate re-encrypts everything there is now,
        # including what the remote added since.
        env, rotation = rotated(current, identity, members)
        changes.update((c.key, c) for c in rotation)
        # Opened only for a value this commit sets: an admin who revoked themself holds
        # no seat in the new key pair, and their revoke must still replay.
        new_keys: EnvKeys | None = None
    else:
        env, new_keys = current.with_members(members), keys
    enc = Encryptor(unb64(env.public_key, 32), name, env.version)
    values = dict(env.values)
    for item, value in sorted(items.items()):
        if item.kind != "value" or item.env != name:
            continue
        old = decrypt_one(current, keys, dec, item.name) if item.name in current.values else None
        old_fp = keys.fingerprint(current.version, name, item.name, old) if old is not None else None
        if value is None:
            if item.name in values:
                del values[item.name]
                changes[item.name] = Change("-", item.name, old_fp, None)
            continue
        if rotate and isinstance(value, Unreadable):
            # This commit re-keyed the environment to a pair this clone holds no seat in
            # (an admin who revoked themself): a new key pair never changes a value
            # (verify's rule 5), and `rotated` re-encrypted every one above.
            continue
        if not isinstance(value, Secret):
            raise AccessDenied(f"{name}:{item.name} cannot be re-encrypted without its value")
        plain = value.reveal()
        if old == plain and item.name not in changes:
            continue
        values[item.name] = str(enc.encrypt(item.name, plain))
        if new_keys is None:
            new_keys = open_keys(env, identity)
        changes[item.name] = Change("+" if old is None else "~", item.name, old_fp,
                                    new_keys.fingerprint(env.version, name, item.name, plain))
    return env.with_values(values), list(changes.values())


def chosen(rec: record.Record | None, change: Delta) -> Delta:
    """What a commit chose, without what followed from the head it was made on. A
    signer line is only ever changed by a grant, a revoke or an admin mark, and each is
    decided again on the head it is re-made on, as its command decides it there: a grant
    opens the key it seats (or finds it open already), a revoke closes its member's key
    when they are then a member nowhere, a mark is set on the lines the new head has
    (never re-opening one a revoke closed meanwhile). So a signer line is never a
    conflict; any other commit that changes one is not replayed."""
    if rec is None or rec.action not in SIGNER_LINES:
        return change
    return replace(change, items={i: v for i, v in change.items.items() if i.kind != "signer"})


def _leaving(snap: Snapshot, member: str, items: Mapping[Item, object]) -> set[str]:
    """The environments a replayed revoke takes ``member`` out of on the new parent."""
    return {i.env for i, v in items.items()
            if i.kind == "member" and i.name == member and v is None
            and i.env in snap.environments() and member in snap.env(i.env).members}


def _rebuild_policy(current: policy.Policy, items: Mapping[Item, object]) -> policy.Policy:
    defaults = current.defaults
    envs = {k: dict(v) for k, v in current.environments.items()}
    for item, raw in items.items():
        if item.name == "defaults" and isinstance(raw, dict):
            defaults = policy.rule_from(raw)  # every key, approvals included
        elif item.name.startswith("env:"):
            env = item.name[len("env:"):]
            if raw is None:
                envs.pop(env, None)
            else:
                envs[env] = dict(raw)  # type: ignore[call-overload]
    return policy.Policy(defaults, envs)
