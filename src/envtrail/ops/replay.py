"""Re-making this clone's unpushed commits on a newer remote head (``sync`` by replay).

A commit is replayed as the change it made, not as its files: what each
variable, member, signer and policy scope became (values decrypted with the
clone's own key), applied to the new parent's state, re-encrypted to the new
parent's keys and checked against the new parent's signers, membership and
policy. The same item changed on both sides since the common base is a
conflict, settled only by the user (``--mine`` / ``--theirs``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from envtrail.audit import record
from envtrail.audit.actions import SIGNER_LINES
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity, PublicKey
from envtrail.crypto.seal import DecryptError, Decryptor, Encryptor, EnvKeys, unb64
from envtrail.errors import AccessDenied, ConflictError, IntegrityError, UsageError
from envtrail.format import envfile, policy, signers
from envtrail.format.envfile import EnvFile, Member
from envtrail.format.layout import POLICY, SIGNERS, env_of
from envtrail.gitstore.commit import Author, create_commit
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change, Secret
from envtrail.ops.access import closing_key, granted_lines, marked, rotated
from envtrail.ops.members import decrypt_one, open_keys
from envtrail.ops.rules import authorize_write, require_admin
from envtrail.ops.setup import new_env_file
from envtrail.ops.store import whoami
from envtrail.ops.txn import signer_for
from envtrail.runtime import Runtime

REPLAYED = "Replayed"  # the trailer Envtrail-Replayed: <id of the commit it replaces>


@dataclass(frozen=True, order=True)
class Item:
    """One thing a commit can change: a variable, a member, a signer, a policy scope, an env."""

    kind: str  # "value", "member", "signer", "policy" or "env"
    env: str  # "" where the item is store-wide
    name: str

    def label(self) -> str:
        """How errors name it and how ``--mine``/``--theirs`` select it."""
        if self.kind == "value":
            return f"{self.env}:{self.name}"
        if self.kind == "member":
            return f"{self.env}:member:{self.name}"
        return f"{self.kind}:{self.name}"  # signer:P, env:E, policy:defaults, policy:env:E


@dataclass(frozen=True)
class Unreadable:
    """A value this identity cannot decrypt: compared by ciphertext only."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class Delta:
    """What one step of history changed: each item's new state (None: gone)."""

    items: Mapping[Item, object]
    rotated: frozenset[str] = frozenset()
    other: tuple[str, ...] = ()  # paths no replay can carry (config, attributes, code)


def delta(git: GitRepo, keyring: Keyring, a: str, b: str) -> Delta:
    """The items that differ between commits ``a`` and ``b``."""
    sa, sb = Snapshot(git, a), Snapshot(git, b)
    items: dict[Item, object] = {}
    rotations, other = set(), []
    for path in git.changed_paths(a, b):
        name = env_of(path)
        if name is not None:
            ea, eb = _env(sa, path), _env(sb, path)
            if (ea is None) != (eb is None):
                items[Item("env", "", name)] = eb is not None
            if ea is not None and eb is not None and ea.public_key != eb.public_key:
                rotations.add(name)
            items.update(_env_items(keyring, name, ea, eb))
        elif path == SIGNERS:
            before, after = _signer_lines(sa.signers), _signer_lines(sb.signers)
            for p in sorted(before.keys() | after.keys()):
                if before.get(p) != after.get(p):
                    items[Item("signer", "", p)] = after.get(p)
        elif path == POLICY:
            before, after = _scopes(sa.policy), _scopes(sb.policy)
            for scope in sorted(before.keys() | after.keys()):
                if before.get(scope) != after.get(scope):
                    items[Item("policy", "", scope)] = after.get(scope)
        else:
            other.append(path)
    return Delta(items, frozenset(rotations), tuple(other))


def _env(snap: Snapshot, path: str) -> EnvFile | None:
    data = snap.read(path)
    return envfile.parse(data, path) if data is not None else None


def _env_items(keyring: Keyring, name: str, ea: EnvFile | None,
               eb: EnvFile | None) -> dict[Item, object]:
    out: dict[Item, object] = {}
    ma = {p: m.key for p, m in ea.members.items()} if ea else {}
    mb = {p: m.key for p, m in eb.members.items()} if eb else {}
    for p in sorted(ma.keys() | mb.keys()):
        if ma.get(p) != mb.get(p):
            out[Item("member", name, p)] = mb.get(p)
    va = dict(ea.values) if ea else {}
    vb = dict(eb.values) if eb else {}
    for var in sorted(va.keys() | vb.keys()):
        if va.get(var) == vb.get(var):
            continue  # same ciphertext, same value; a rotation re-encrypts every value
        before, after = _plain(keyring, ea, var), _plain(keyring, eb, var)
        if before != after or isinstance(after, Unreadable):
            out[Item("value", name, var)] = after
    return out


def _plain(keyring: Keyring, env: EnvFile | None, var: str) -> object:
    if env is None or var not in env.values:
        return None
    try:
        text = keyring.plaintext(env, var)
    except (DecryptError, ValueError):
        raise IntegrityError(f"{envfile.path_for(env.environment)}: {var} does not "
                             "decrypt") from None
    return Unreadable(env.values[var]) if text is None else Secret(text)


def _signer_lines(lines: Iterable[signers.Signer]) -> dict[str, tuple[signers.Signer, ...]]:
    out: dict[str, tuple[signers.Signer, ...]] = {}
    for s in lines:
        out[s.principal] = (*out.get(s.principal, ()), s)
    return out


def _scopes(pol: policy.Policy) -> dict[str, object]:
    out: dict[str, object] = {"defaults": pol.defaults.as_dict()}
    out.update({f"env:{k}": dict(v) for k, v in pol.environments.items()})
    return out


# -- conflicts -------------------------------------------------------------


def conflicts(ours: Iterable[Delta], theirs: Delta) -> list[Item]:
    """Items both sides changed since the base, to different ends; and seats this clone
    gave someone the remote now has signing with another key, or offboarded (key closed).
    Their signer line is no item (the grant decides it again on the new head), so the
    seat stands for it: ``--theirs`` drops this clone's grant; ``--mine`` ends in the
    replay's refusal (another key) or re-opens the key as `access grant` would there."""
    final: dict[Item, object] = {}
    for d in ours:
        final.update(d.items)
    found = {i for i, v in final.items() if i in theirs.items and theirs.items[i] != v}
    # Per commit, not by the end state: a grant revoked again before the sync is still
    # re-made, and would still meet the remote's other key.
    found.update(i for d in ours for i, v in d.items.items() if _seat_against(i, v, theirs))
    return sorted(found)


def _seat_against(item: Item, key: object, theirs: Delta) -> bool:
    if item.kind != "member" or key is None:
        return False
    lines: Iterable[signers.Signer] = theirs.items.get(Item("signer", "", item.name)) or ()
    seat = str(key).split()[:2]
    same = [s for s in lines if s.key.split() == seat]
    # Another key of theirs open there, or this one left closed (offboarded meanwhile).
    return any(s.key.split() != seat and not s.valid_before for s in lines) or \
        (bool(same) and all(s.valid_before for s in same))


def settle(found: list[Item], mine: Iterable[str], theirs: Iterable[str]) -> set[Item]:
    """The conflicting items to take from the remote; ConflictError if any is unsettled."""
    choice: dict[Item, str] = {}
    for side, names in (("mine", mine), ("theirs", theirs)):
        for name in names:
            for item in _select(found, name):
                if choice.get(item, side) != side:
                    raise UsageError(f"{item.label()} is given to both --mine and --theirs")
                choice[item] = side
    open_ = [i for i in found if i not in choice]
    if open_:
        names = ", ".join(i.label() for i in open_[:8]) + (", ..." if len(open_) > 8 else "")
        first = open_[0].label()
        raise ConflictError(f"changed both here and on the remote: {names}",
                            hint=f"keep one side of each: `envtrail sync --mine {first}` "
                                 f"or `--theirs {first}` ('*' for all)")
    return {i for i, side in choice.items() if side == "theirs"}


def _select(found: list[Item], name: str) -> list[Item]:
    if name == "*":
        return list(found)
    exact = [i for i in found if i.label() == name]
    if exact:
        return exact
    loose = [i for i in found if i.name == name]
    if len(loose) > 1:
        raise UsageError(f"{name[:80]} is in conflict in more than one place",
                         hint="name one as ENV:KEY, e.g. " + loose[0].label())
    if not loose:
        raise UsageError(f"{name[:80]} is not in conflict",
                         hint="run `envtrail sync` without it to see what is")
    return loose


# -- re-making one commit ---------------------------------------------------


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
    when = max(rt.now(), git.info(parent).committer_time).replace(microsecond=0)
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
    author = Author(acting.principal, acting.principal, when)
    return create_commit(git, [parent], files, record.render(new_rec), author,
                         signer_for(identity))


def _rebuild_env(snap: Snapshot, identity: Identity, principal: str, name: str,
                 items: Mapping[Item, object], rotate: bool) -> tuple[EnvFile, list[Change]]:
    """The new parent's environment with this commit's items applied, and its masked diff."""
    path = envfile.path_for(name)
    current = _env(snap, path)
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
