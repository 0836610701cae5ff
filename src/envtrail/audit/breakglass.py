"""Break-glass: what may land before its approvals, and how it stays flagged until then.

A break-glass commit lands value changes, or an ``access revoke``, at once where the
policy allows it; it carries ``Envtrail-Break-Glass: yes`` and stays an unreviewed
warning (overdue after the policy's review window) until as many approvals of it as
the change needed follow on the line. What it may change is judged here, by what the
tree does: anything else it claims to do is a rule 9 finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.format import layout
from envtrail.format.envfile import EnvFile
from envtrail.format.policy import Policy

if TYPE_CHECKING:
    from envtrail.audit.approvals import Requirement
    from envtrail.format.signers import Signer

BREAK_GLASS = "Break-Glass"


def is_break_glass(rec: Record | None) -> bool:
    """Whether a record carries ``Envtrail-Break-Glass: yes``."""
    return rec is not None and rec.extra_value(BREAK_GLASS) == "yes"


def refusal(view: StoreView, parent: str, commit: str, rec: Record, touched: list[str],
            admin: list[str], scope: list[str]) -> str | None:
    """Why break-glass may not land ``commit``, or None: it lands value changes and
    revocations only, where the policy allows it (``parent``: the state the commit is
    judged at; ``touched``/``admin``: the environments and admin files it changes;
    ``scope``: the environments whose approvals it would need)."""
    if rec.action == "repair":
        # A repair's parent is the forged state it undoes: nothing read there may decide
        # whether it lands unreviewed, and the contract gives break-glass to values and
        # revocations alone.
        return "break-glass never lands a repair"
    why = barred(view.policy(parent), scope)
    if why:
        return why
    if set(admin) - {layout.SIGNERS}:
        return "break-glass never changes policy or config"
    removed: set[str] = set()
    for env in touched:
        old, new = view.env_at(parent, env), view.env_at(commit, env)
        if old is None or new is None or not _values_or_revocation(old, new):
            return f"break-glass changes values or revokes; it changed who can read {env}"
        removed |= set(old.members) - set(new.members)
    if admin:
        expired = _expiries(view.signers(parent), view.signers(commit))
        if expired is None:
            return "break-glass only expires signers, never adds or changes one"
        # As `access revoke` does: only the keys of members it removes, and only once
        # they are members nowhere (else one admin could lock every reviewer out).
        members: set[str] = set()
        for env in view.env_blobs(commit):
            file = view.env_at(commit, env)
            members |= set(file.members) if file else set()
        if not expired <= removed - members:
            return ("break-glass expires only the signing keys of members it revokes "
                    "everywhere")
    return None


def barred(policy: Policy, scope: list[str]) -> str | None:
    """Why ``policy`` bars break-glass in ``scope`` (the environments whose approvals a
    change needs), or None. A write asks it before any prompt (ops.routing) as rule 9
    does of the commit, so what one refuses the other refuses in the same words."""
    refused = [e for e in scope if not policy.rule_for(e).break_glass]
    return f"the policy says break_glass: false for {', '.join(refused)}" if refused else None


def _values_or_revocation(old: EnvFile, new: EnvFile) -> bool:
    if old.public_key == new.public_key:
        return dict(old.members) == dict(new.members)
    kept = set(new.members)
    return kept < set(old.members) and all(old.members[p].key == new.members[p].key
                                           for p in kept)


def _expiries(before: list[Signer], after: list[Signer]) -> set[str] | None:
    """The principals whose open-ended lines ``after`` closes, or None if it changes
    anything else (a line added, dropped or reordered, a key, a flag, a start)."""
    def who(signers: list[Signer]) -> list[tuple]:
        return [(s.principal, s.key, s.admin, s.valid_after) for s in signers]

    if who(before) != who(after):
        return None
    expired = set()
    for b, a in zip(before, after, strict=True):
        if b.valid_before != a.valid_before:
            if b.valid_before is not None or a.valid_before is None:
                return None
            expired.add(b.principal)
    return expired


@dataclass
class Glass:
    """A break-glass commit on the line and who has approved it since."""

    need: Requirement
    approved_by: list[str] = field(default_factory=list)

    @property
    def reviewed(self) -> bool:
        """Enough approvals of it are on the line."""
        return self.need.met(self.approved_by)

    def overdue(self, now: datetime) -> bool:
        """Unreviewed for longer than the policy's review window."""
        return not self.reviewed and now > self.due

    @property
    def due(self) -> datetime:
        """When it turns overdue if nobody has approved it by then."""
        return self.need.time + timedelta(seconds=self.need.review_seconds)

    def warning(self, now: datetime) -> str:
        """One line for ``verify``, ``log`` and ``status``."""
        state = "OVERDUE " if self.overdue(now) else ""
        return (f"{self.need.commit[:10]} {state}unreviewed break-glass change by "
                f"{self.need.author} to {', '.join(self.need.environments)}: "
                f"{len(self.approved_by)} of {self.need.needed} approval(s); an approver runs "
                f"`envtrail approve {self.need.commit[:12]} --reason ...`")
