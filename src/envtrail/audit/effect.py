"""What a commit's tree does, read from the tree alone, never from its trailers.

A commit's record is its signer's claim; these are the facts it is checked
against (verify) and shown beside (review): which admin files changed, which
allowed_signers lines came and went, and per environment whether it was
created or removed, got a new key pair, which members came, went or were
re-keyed, and which variables' ciphertexts changed (masked: names and
``+ - ~`` only, never a value).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from envtrail.audit.view import StoreView, value_diff
from envtrail.errors import IntegrityError
from envtrail.format import layout
from envtrail.format.envfile import EnvFile
from envtrail.format.signers import Signer

# The store-wide files whose change only an admin may make (with .gitattributes).
WATCHED = (*layout.ADMIN_FILES, layout.ATTRIBUTES)


@dataclass(frozen=True)
class SignerChange:
    """One allowed_signers line that a commit added (``+``) or removed (``-``); a line
    whose options changed shows as both."""

    op: str
    signer: Signer

    def as_dict(self) -> dict[str, object]:
        """The JSON form: principal, key fingerprint, admin mark and validity window."""
        s = self.signer
        return {"change": self.op, "principal": s.principal, "key": key_fingerprint(s.key),
                "admin": s.admin,
                "valid_after": s.valid_after.isoformat() if s.valid_after else None,
                "valid_before": s.valid_before.isoformat() if s.valid_before else None}


@dataclass(frozen=True)
class EnvEffect:
    """What a commit did to one environment's file."""

    environment: str
    created: bool
    removed: bool
    new_key_pair: bool
    values: Mapping[str, str]  # variable -> "+", "-" or "~" (ciphertext changed)
    members: frozenset[str] = frozenset()  # members after the commit
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    rekeyed: tuple[str, ...] = ()  # another public key for the same principal
    resealed: tuple[str, ...] = ()  # same key, another sealed copy of the environment's keys

    @classmethod
    def between(cls, environment: str, old: EnvFile | None, new: EnvFile | None,
                values: Mapping[str, str] | None = None) -> EnvEffect:
        """The effect of going from ``old`` to ``new`` (None: absent); ``values`` is their
        :func:`value_diff` when the caller has it already."""
        values = value_diff(old, new) if values is None else values
        if old is not None and new is not None and custody(old) == custody(new):
            # A value change, which verify asks about for nearly every commit: nothing
            # else can differ.
            return cls(environment, False, False, False, values, frozenset(new.members))
        before = old.members if old else {}
        after = new.members if new else {}
        common = before.keys() & after.keys()
        return cls(
            environment, old is None and new is not None, old is not None and new is None,
            old is not None and new is not None and old.public_key != new.public_key,
            values, frozenset(after),
            tuple(sorted(after.keys() - before.keys())),
            tuple(sorted(before.keys() - after.keys())),
            tuple(sorted(p for p in common if before[p].key != after[p].key)),
            tuple(sorted(p for p in common if before[p].key == after[p].key
                         and before[p].sealed != after[p].sealed)))

    @property
    def custody(self) -> bool:
        """Whether who holds this environment's keys, or the keys themselves, changed."""
        return bool(self.created or self.removed or self.new_key_pair or self.added
                    or self.dropped or self.rekeyed or self.resealed)

    def as_dict(self) -> dict[str, object]:
        """The JSON form (masked: variable names and ``+ - ~`` only)."""
        return {"environment": self.environment, "created": self.created,
                "removed": self.removed, "new_key_pair": self.new_key_pair,
                "members_added": list(self.added), "members_removed": list(self.dropped),
                "members_rekeyed": list(self.rekeyed), "members_resealed": list(self.resealed),
                "values": [{"key": k, "change": op} for k, op in sorted(self.values.items())]}


@dataclass(frozen=True)
class Effect:
    """Everything a commit's tree changed, compared with its parent's."""

    files: tuple[str, ...]  # which of WATCHED changed
    environments: tuple[EnvEffect, ...]
    signers: tuple[SignerChange, ...] = ()
    # Members of any environment after the commit (verify fills it only where a revoke
    # may close a key, which it may only of someone who is a member nowhere any more).
    seated: frozenset[str] = frozenset()
    # Whose rules a policy.yaml change changed ("" for the defaults); None where
    # policy.yaml did not change or one side cannot be read.
    policy_rules: frozenset[str] | None = None
    # allowed_signers after the commit (verify fills it only for the actions that may
    # change lines: a grant opens, a revoke closes, `access admin` re-marks, and each is
    # held to exactly that).
    lines: tuple[Signer, ...] = ()

    def lines_of(self, principal: str | None) -> tuple[Signer, ...]:
        """``principal``'s allowed_signers lines after the commit."""
        return tuple(s for s in self.lines if s.principal == principal)

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"files": list(self.files), "signers": [s.as_dict() for s in self.signers],
                "environments": [e.as_dict() for e in self.environments]}


def custody(env: EnvFile | None) -> tuple:
    """Everything only an admin may change in an environment file: the key pair and each
    member's key and seal (members compare as a mapping, so their order does not matter)."""
    return () if env is None else (env.public_key, env.members)


def signer_changes(before: list[Signer], after: list[Signer]) -> tuple[SignerChange, ...]:
    """The lines of ``before`` that ``after`` lacks (``-``) and the other way round (``+``)."""
    old, new = set(before), set(after)
    return (*(SignerChange("-", s) for s in before if s not in new),
            *(SignerChange("+", s) for s in after if s not in old))


def of_commit(view: StoreView, parent: str | None, commit: str) -> Effect:
    """What ``commit`` changed relative to ``parent`` (None: nothing before it).

    Raises IntegrityError where a changed environment file cannot be read.
    """
    files = tuple(view.git.differing(parent, commit, WATCHED))
    before, after = view.env_blobs(parent), view.env_blobs(commit)
    envs = tuple(EnvEffect.between(env, view.env_at(parent, env), view.env_at(commit, env))
                 for env in sorted(before.keys() | after.keys())
                 if before.get(env) != after.get(env))
    moved: tuple[SignerChange, ...] = ()
    # An unreadable allowed_signers still shows as changed, in ``files``.
    with contextlib.suppress(IntegrityError):
        if layout.SIGNERS in files:
            moved = signer_changes(view.signers(parent), view.signers(commit))
    # (Always seated: a revoke's Signer-Expired trailer alone claims to close a key, and
    # review must flag that as verify does.)
    return Effect(files, envs, moved, seated(view, commit),
                  policy_rules(view, parent, commit) if layout.POLICY in files else None,
                  signer_lines(view, commit))


def new_key_pairs(view: StoreView, parent: str | None, commit: str) -> tuple[tuple[str, str], ...]:
    """(environment, public key) for each environment ``commit`` creates or gives another
    key pair; a file that does not parse is left out (a finding already)."""
    try:
        before, after = view.env_blobs(parent), view.env_blobs(commit)
    except IntegrityError:
        return ()
    out = []
    for env, blob in sorted(after.items()):
        if before.get(env) == blob:
            continue
        try:
            old, new = view.env_at(parent, env), view.env_at(commit, env)
        except IntegrityError:
            continue
        if new is not None and (old is None or old.public_key != new.public_key):
            out.append((env, new.public_key))
    return tuple(out)


def keys_until(view: StoreView, commit: str | None) -> frozenset[str]:
    """Every environment public key the line used up to ``commit`` (none before a
    genesis), read commit by commit: for a walk that starts there without a checkpoint
    that knows them."""
    if commit is None:
        return frozenset()
    try:
        line = view.git.oldest_first(commit)
    except KeyError:  # a damaged clone: one exit 5 error, as where the walk reads the line
        raise IntegrityError("a commit of the store line is missing from this clone",
                             hint="fetch the whole store branch, then retry") from None
    return frozenset(key for parent, child in zip([None, *line], line, strict=False)
                     for _, key in new_key_pairs(view, parent, child))


def policy_rules(view: StoreView, parent: str | None, commit: str) -> frozenset[str] | None:
    """The rules that differ between two policies: environment names, and "" for the
    defaults (None if either policy cannot be read; its reader reports that)."""
    try:
        old, new = view.policy(parent), view.policy(commit)
    except IntegrityError:
        return None
    changed = {e for e in old.environments.keys() | new.environments.keys()
               if old.environments.get(e) != new.environments.get(e)}
    return frozenset(changed | ({""} if old.defaults != new.defaults else set()))


def seated(view: StoreView, commit: str) -> frozenset[str]:
    """Everyone who is a member of some environment at ``commit``."""
    files = (view.env_at(commit, env) for env in view.env_blobs(commit))
    return frozenset(p for file in files if file is not None for p in file.members)


def signer_lines(view: StoreView, commit: str) -> tuple[Signer, ...]:
    """allowed_signers at ``commit``; none where the file cannot be read (its reader
    reports that)."""
    try:
        return tuple(view.signers(commit))
    except IntegrityError:
        return ()


def foreign_seats(view: StoreView, commit: str, effects: list[EnvEffect]) -> list[str]:
    """Members a commit seats (added, or re-keyed) with a key that is not one of their
    open signing keys after it: an offboarded principal reading again (a closed key), or
    one name carried by two keys. Empty where allowed_signers cannot be read (its reader
    reports that)."""
    seating = [e for e in effects if e.added or e.rekeyed]
    if not seating:
        return []
    try:
        open_keys = {(s.principal, " ".join(s.key.split()[:2]))
                     for s in view.signers(commit) if s.valid_before is None}
    except IntegrityError:
        return []
    found = []
    for eff in seating:
        env = view.env_at(commit, eff.environment)
        for p in (*eff.added, *eff.rekeyed):
            member = env.members.get(p) if env is not None else None
            if member is not None and (p, " ".join(member.key.split()[:2])) not in open_keys:
                found.append(f"it seats {p} in {eff.environment} with a key that is not "
                             "their open signing key")
    return found


def key_fingerprint(key: str) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a key line (the line itself if unreadable)."""
    from envtrail.crypto.keys import KeyFormatError, PublicKey

    try:
        return PublicKey.parse(key)[0].fingerprint()
    except KeyFormatError:
        return key
