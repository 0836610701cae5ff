"""``history``: every version of one variable, for the question "what was it, when, and who?"."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from envtrail.audit.acknowledgements import Acknowledgement
from envtrail.audit.credit import Credits
from envtrail.audit.history import REENCRYPTED, versions
from envtrail.audit.line import Swept
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, NotFoundError
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret, check_env_name, check_var_name
from envtrail.ops.gate import open_line
from envtrail.ops.revert import values_at
from envtrail.ops.suggest import did_you_mean
from envtrail.ops.verifiedline import Line
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class HistoryRow:
    """One version of a variable. ``value`` only with --reveal, and only where readable."""

    commit: str
    time: datetime
    actor: str | None
    action: str
    reason: str
    change: str
    fingerprint: str | None
    value: Secret | None = None
    readable: bool = True
    # Whether a key checked the trailer's fingerprint against the value: without one,
    # a member's lying fingerprint (a "restore" that restores nothing) cannot be seen.
    fingerprint_checked: bool = False
    verified: bool = True  # ``actor`` signed it (log's ✓); else only the record claims so
    # A commit a repair acknowledged as a finding: never a verified version (nor read).
    acknowledged: Acknowledgement | None = None
    # An honest commit a repair undid with the findings: its state was never verified either.
    swept: Swept | None = None

    @property
    def reencrypted(self) -> bool:
        """A rotation: a new ciphertext of the same value."""
        return self.change == REENCRYPTED

    def as_dict(self, reveal: bool = False) -> dict[str, object]:
        """The JSON form; plaintext only with ``reveal``."""
        d: dict[str, object] = {
            "commit": self.commit, "time": self.time.isoformat(), "actor": self.actor,
            "action": self.action, "reason": self.reason, "change": self.change,
            "reencrypted": self.reencrypted, "fingerprint": self.fingerprint,
            "fingerprint_checked": self.fingerprint_checked, "verified": self.verified,
            "acknowledged": self.acknowledged.as_dict() if self.acknowledged else None,
            "swept_by": self.swept.as_dict() if self.swept else None}
        if reveal:
            d["value"] = self.value.reveal() if self.value is not None else None
            d["readable"] = self.readable
        return d


def history(git: GitRepo, rt: Runtime, identity: Identity | None, environment: str, key: str,
            reveal: bool = False) -> list[HistoryRow]:
    """Every version of ``key`` in ``environment``, newest first (no key needed unless ``reveal``).

    ``identity`` (whenever the reader has one) checks with its key what the line gained
    since this clone's checkpoint, so a forged fingerprint is refused (exit 5) and not
    shown; each row says whether its fingerprint was checked with a key.
    """
    check_env_name(environment)
    check_var_name(key)
    # Like every read, history answers from the verified line only: a forged commit
    # must not show up as a version under the name in its trailers, nor a lying
    # fingerprint as a restored value: the reader's key checks what it opens.
    line = open_line(git, rt, identity)
    head = line.head
    if head is None:
        raise NotFoundError("the store has no commits yet")
    snap = line.view.at(head)
    credits = Credits(line.view, head, line.tainted)
    rows = []
    for v in versions(git, head, environment, key):
        rec = v.record
        credit = credits.of(v.commit, rec)
        rows.append(HistoryRow(
            v.commit.id, v.commit.committer_time, credit.actor,
            rec.action if rec else "unattested",
            rec.reason if rec else v.commit.message.split("\n", 1)[0], v.change, v.fingerprint,
            # A walk stops at an acknowledged commit's first finding: nothing else was checked.
            fingerprint_checked=credit.finding is None and
            line.key_checked(identity, environment, v.commit),
            verified=credit.verified, acknowledged=credit.finding, swept=credit.swept))
    if not rows:
        if environment not in snap.environments():
            raise NotFoundError(f"no environment {environment!r}"
                                + did_you_mean(environment, snap.environments()))
        names = list(snap.env(environment).values)
        raise NotFoundError(f"{environment} has never had a variable {key}"
                            + did_you_mean(key, names))
    if reveal and identity is not None:
        rows = [_revealed(line, rt, identity, environment, key, r) for r in rows]
    return rows


def _revealed(line: Line, rt: Runtime, identity: Identity, environment: str, key: str,
              row: HistoryRow) -> HistoryRow:
    if row.change == "-":
        return row
    if row.acknowledged is not None or row.swept is not None:
        # Not a verified state (a swept commit stood on a forged one): its value is never
        # shown, and the verified versions still are.
        return replace(row, readable=False)
    try:
        plain = values_at(line.view.at(line.resolve(rt, row.commit)), identity,
                          environment)[key]
    except AccessDenied:
        return replace(row, readable=False)
    return replace(row, value=Secret(plain))
