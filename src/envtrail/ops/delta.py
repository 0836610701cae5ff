"""What a stretch of history changed, item by item, and where two sides collide.

``sync`` compares this clone's unpushed commits with what the remote did since
the common base as items (a variable, a member, a signer, a policy scope, an
environment), values decrypted with the clone's own key. The same item changed
on both sides to different ends is a conflict, settled only by the user
(``--mine`` / ``--theirs``); :mod:`envtrail.ops.replay` re-makes the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from envtrail.audit.keyring import Keyring
from envtrail.audit.view import Snapshot
from envtrail.crypto.seal import DecryptError
from envtrail.errors import ConflictError, IntegrityError, UsageError
from envtrail.format import envfile, policy, signers
from envtrail.format.envfile import EnvFile
from envtrail.format.layout import POLICY, SIGNERS, env_of
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret


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
            ea, eb = env_file(sa, path), env_file(sb, path)
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


def env_file(snap: Snapshot, path: str) -> EnvFile | None:
    """The environment file at ``path`` in ``snap``, parsed; None where there is none."""
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
