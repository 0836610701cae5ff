"""The verified store line a command gets from the gate, and what it asks of it.

A revision or a time on it (``--at``), whether a reader's key checked an
environment's fingerprints, and which seats a reader holds that its key does
not open. Only :mod:`envtrail.ops.gate` makes one, after checking the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from envtrail.audit.view import Snapshot, StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, NotFoundError
from envtrail.gitstore.commit import not_before
from envtrail.gitstore.repo import CommitInfo, GitRepo
from envtrail.runtime import Runtime

if TYPE_CHECKING:  # the walk is imported only when there is something new to check
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.line import LineReport


@dataclass(frozen=True)
class Line:
    """The verified store line: its head, the state there, and what checking it took."""

    git: GitRepo
    view: StoreView
    head: str | None
    checked: int = 0
    floor: datetime | None = None
    warnings: tuple[str, ...] = ()
    verified: bool = True
    report: LineReport | None = None  # set when findings were allowed (repair, verify)
    tainted: frozenset[str] = frozenset()
    # Environments every change of which a key that opens them checked (the checkpoint's).
    keyed: frozenset[str] = frozenset()
    # One keyring per reader key, so a history of many rows unseals each seat once.
    _keyrings: dict[str, Keyring] = field(default_factory=dict, compare=False, repr=False)

    def write_time(self, now: datetime) -> datetime:
        """The date of a commit written on this line now: never before its time floor (a
        writer whose clock runs behind records the floor rather than a backdated commit)."""
        return not_before(now, self.floor)

    @property
    def snapshot(self) -> Snapshot:
        """The store's files at the line head."""
        return self.view.at(self.head)

    def at(self, rt: Runtime, rev: str | None) -> Snapshot:
        """The state at ``--at REV|TIME``: a commit on this verified line (head if None)."""
        return self.view.at(self.resolve(rt, rev))

    def resolve(self, rt: Runtime, rev: str | None) -> str:
        """The line commit for a revision or a time; refused if it is not on the line."""
        if self.head is None:
            raise NotFoundError("the store has no commits yet")
        if rev is None:
            return self.head
        from envtrail.ops.timespec import looks_like_time, parse_time  # only --at needs it

        if looks_like_time(rev):
            commit = self.git.commit_at(parse_time(rev, rt.now()), self.head)
        else:
            try:
                commit = self.git.resolve(_from_line_head(rev, self.head))
            except NotFoundError:  # said as typed, not as counted from the line head
                raise NotFoundError(f"unknown revision {rev[:80]!r}") from None
        if not self.verified:
            return commit
        if not self.git.first_parents(self.head, commit)[1]:
            raise IntegrityError(f"{commit[:10]} is not on the verified store line",
                                 hint="name a commit from `envtrail log`")
        if commit in self.tainted:
            raise IntegrityError(f"{commit[:10]} is a state a repair acknowledged as a finding, "
                                 "not a verified one", hint="name a commit before it or after "
                                                           "the repair")
        return commit

    def key_checked(self, identity: Identity | None, environment: str, info: CommitInfo) -> bool:
        """Whether the fingerprints ``info`` claims for ``environment`` were checked against
        the values with a key: every change of it was (by any key on this clone), or
        ``identity``'s seat opens it at the head and its files on both sides of the commit
        (the gate re-checks with such a key whatever only a keyless walk had vouched for).
        Being listed is not enough: a seat sealed to another key opens nothing, and the
        walk with it checked nothing there."""
        if not self.verified:
            return False
        if environment in self.keyed:
            return True
        if identity is None:
            return False
        keyring = self._keyring(identity)
        sides = (info.id, info.parents[0] if info.parents else None)
        for commit, needed in ((self.head, True), *((c, False) for c in sides)):
            try:
                env = self.view.env_at(commit, environment)
            except IntegrityError:
                return False
            if env is None and not needed:
                continue  # the environment made or removed here: nothing to open
            if env is None or keyring.keys(env) is None:
                return False
        return True

    def unopened(self, identity: Identity | None) -> tuple[str, ...]:
        """The environments at the head where ``identity`` holds a seat its key does not
        open, and which no key on this clone checked: listed there, it checked nothing."""
        if identity is None or self.head is None:
            return ()
        keyring = self._keyring(identity)
        found = []
        for name in sorted(set(self.view.env_blobs(self.head)) - self.keyed):
            try:
                env = self.view.env_at(self.head, name)
            except IntegrityError:
                continue
            if env is not None and keyring.refuses(env):
                found.append(name)
        return tuple(found)

    def _keyring(self, identity: Identity) -> Keyring:
        from envtrail.audit.keyring import Keyring

        key = identity.public.openssh
        if key not in self._keyrings:
            self._keyrings[key] = Keyring(identity)
        return self._keyrings[key]


def seat_at_head(git: GitRepo, identity: Identity | None, environment: str) -> str | None:
    """``"opens"`` or ``"refused"`` (sealed to another key) for the seat ``identity``
    holds in ``environment`` at the store head, None for none: why a reader's
    fingerprints there went unchecked (no key at all, only older commits, a bad seat)."""
    from envtrail.audit.keyring import Keyring

    if identity is None:
        return None
    try:
        env = StoreView(git).env_at(git.store_head(), environment)
    except IntegrityError:
        return None
    keyring = Keyring(identity)
    if keyring.seat(env) is None:
        return None
    return "refused" if keyring.refuses(env) else "opens"


def _from_line_head(rev: str, head: str) -> str:
    """``HEAD`` (or ``@``), and a revision relative to it, counted from the line this command
    verified: not from wherever HEAD points now (a code branch beside the store's own
    branch), nor from a commit another writer made since the check."""
    for name in ("HEAD", "@"):
        if rev == name or (rev.startswith(name) and rev[len(name)] in "~^"):
            return head + rev[len(name):]
    return rev
