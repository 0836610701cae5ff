"""Reading and writing variables: set, unset, import, get, export, list, run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from envtrail.audit.record import Record
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import Decryptor, Encryptor, unb64
from envtrail.errors import NotFoundError, UsageError
from envtrail.format import envfile, layout
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change, Secret, check_env_name, check_reason, check_var_name
from envtrail.ops.gate import open_line
from envtrail.ops.members import decrypt_one, decrypt_values, open_keys
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import authorize_write
from envtrail.ops.store import Snapshot, whoami
from envtrail.ops.txn import Plan, Written, context_for, transact
from envtrail.runtime import Runtime

if TYPE_CHECKING:  # reads only: writes (set) do not pay for importing it
    from envtrail.ops.result import Values


def plan_values(snap: Snapshot, rt: Runtime, identity: Identity, environment: str,
                updates: Mapping[str, Secret], removals: set[str], reason: str,
                action: str, extra: tuple[tuple[str, str], ...] = ()) -> Plan | None:
    """The plan that sets ``updates`` and removes ``removals`` in one environment.

    Only changed values are re-encrypted; every other line keeps its bytes.
    Returns None if nothing would change.
    """
    acting = whoami(snap, identity, rt)
    authorize_write(snap.policy, environment, acting.signer, reason)
    env = snap.env(environment)
    keys = open_keys(env, identity)
    dec = Decryptor(keys, environment)
    enc: Encryptor | None = None

    def fingerprint(name: str, plain: str) -> str:
        return keys.fingerprint(env.version, environment, name, plain)

    values = dict(env.values)
    changes: list[Change] = []
    for name in sorted(removals):
        if name not in values:
            raise NotFoundError(f"{environment} has no variable {name}")
        old_fp = fingerprint(name, decrypt_one(env, keys, dec, name))
        del values[name]
        changes.append(Change("-", name, old_fp, None))
    for name in sorted(updates):
        plain = updates[name].reveal()
        new_fp = fingerprint(name, plain)
        if name in values:
            old_plain = decrypt_one(env, keys, dec, name)
            if old_plain == plain:
                continue
            old_fp, op = fingerprint(name, old_plain), "~"
        else:
            old_fp, op = None, "+"
        # A format 1 file stays format 1 until its next rotation (docs/format.md).
        enc = enc or Encryptor(unb64(env.public_key, 32), environment, env.version)
        values[name] = str(enc.encrypt(name, plain))
        changes.append(Change(op, name, old_fp, new_fp))
    if not changes:
        return None
    changes.sort(key=lambda c: c.key)
    rec = Record(action, acting.principal, reason, (environment,), tuple(changes),
                 context_for(rt), extra)
    return Plan({envfile.path_for(environment): envfile.render(env.with_values(values))}, rec)


def write_values(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
                 updates: Mapping[str, Secret], removals: set[str], reason: str | None,
                 action: str, route: Route = DIRECT) -> Written:
    """Validate names and reason, then commit a set/unset/import."""
    check_env_name(environment)
    for name in [*updates, *removals]:
        check_var_name(name)
    text = check_reason(reason)
    return transact(git, rt, identity, lambda snap: plan_values(
        snap, rt, identity, environment, updates, removals, text, action), route=route)


def import_values(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
                  values: Mapping[str, Secret], reason: str | None, prune: bool,
                  route: Route = DIRECT) -> Written:
    """Import a parsed dotenv file as one commit; with ``prune``, drop variables not in it."""
    check_env_name(environment)
    text = check_reason(reason)

    def build(snap: Snapshot) -> Plan | None:
        removals = set(snap.env(environment).values) - set(values) if prune else set()
        return plan_values(snap, rt, identity, environment, values, removals, text, "import")

    return transact(git, rt, identity, build, route=route)


# -- reads ---------------------------------------------------------------


def read_values(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
                names: list[str] | None = None, at: str | None = None,
                verify: bool = True) -> Values:
    """Decrypt ``names`` (all if None) as committed at the line head or ``at``.

    Through the gate: refused (exit 5) unless the store line verifies, and
    ``at`` must be on it. ``verify=False`` is ``--no-verify``.
    """
    from envtrail.ops.result import Values

    check_env_name(environment)
    for name in names or []:
        check_var_name(name)
    line = open_line(git, rt, identity, verify=verify)
    snap = line.at(rt, at)
    warnings = list(line.warnings)
    out = decrypt_values(snap.env(environment), identity, names)
    path = layout.env_path(environment)
    if at is None and git.worktree_mode() and git.dirty(snap.commit, path):
        warnings.append(f"{path} differs from the store branch; showing the committed values")
    return Values(environment, snap.commit or "", out, tuple(warnings), line.checked)


def parse_assignment_args(keys: list[str]) -> list[str]:
    """Accept ``KEY`` or ``KEY=-``; refuse ``KEY=value`` so values never sit in argv."""
    names = []
    for item in keys:
        name, sep, rest = item.partition("=")
        if sep and rest != "-":
            raise UsageError(
                f"{name[:64]}: values are never taken from the command line",
                hint="pipe the value on stdin, answer the prompt, or use --from-file",
            )
        names.append(check_var_name(name))
    return names
