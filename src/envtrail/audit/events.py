"""The audit trail: one event per variable change, streamed newest first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from envtrail.audit import context, signature
from envtrail.audit.approvals import approves, is_break_glass
from envtrail.audit.history import REENCRYPTING, parse_record
from envtrail.audit.ledger import approval_refusal, named_requirement
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView, value_diff
from envtrail.errors import IntegrityError
from envtrail.format.layout import STORE_PATHS
from envtrail.gitstore.repo import CommitInfo

if TYPE_CHECKING:
    from envtrail.audit.acknowledgements import Acknowledgement
    from envtrail.audit.line import Swept

UNATTESTED = "unattested"


@dataclass(frozen=True)
class Event:
    """One change of one variable (or a store change with no variable), from one commit."""

    commit: str
    time: datetime
    environment: str | None
    action: str
    actor: str | None
    verified: bool
    signature: str
    reason: str
    context: str
    key: str | None = None
    change: str | None = None
    old_fp: str | None = None
    new_fp: str | None = None
    # The environments the commit names; empty for a store-wide change
    # (policy, signers, a store created without environments).
    environments: tuple[str, ...] = ()
    break_glass: bool = False
    approved_by: tuple[str, ...] = ()
    event: dict[str, object] | None = None  # an events-line marker: kind and the signer's claims
    # The commit an approval names (not in the JSON form: ``approved_by`` of that commit is).
    approves: str | None = None
    # Set when a repair on the verified line acknowledged this commit as a finding.
    acknowledged: Acknowledgement | None = None
    # Set when a repair on the verified line undid this honest commit's value changes.
    swept: Swept | None = None

    @property
    def store_wide(self) -> bool:
        """A change to the store itself (policy, signers, init), not to one environment."""
        return not self.environments and self.key is None

    @property
    def reencrypted(self) -> bool:
        """A rotation's new ciphertext of an unchanged value, not a value change."""
        return self.key is not None and self.action in REENCRYPTING

    def as_dict(self) -> dict[str, object]:
        """The JSON Lines form (DESIGN section 5), ready for a SIEM."""
        return {
            "commit": self.commit, "time": self.time.isoformat(),
            "environment": self.environment, "action": self.action, "actor": self.actor,
            "verified": self.verified, "signature": self.signature, "reason": self.reason,
            "context": context.parse(self.context), "key": self.key, "change": self.change,
            "reencrypted": self.reencrypted, "old_fp": self.old_fp, "new_fp": self.new_fp,
            "break_glass": self.break_glass, "approved_by": list(self.approved_by),
            "event": self.event,
            "acknowledged": self.acknowledged.as_dict() if self.acknowledged else None,
            "swept_by": self.swept.as_dict() if self.swept else None,
        }


@dataclass(frozen=True)
class Filters:
    """What ``log`` selects; None means no restriction."""

    environment: str | None = None
    key: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keep(self, e: Event) -> bool:
        """Whether an event passes every filter.

        A store-wide change (policy, signers, init) concerns every environment,
        so an environment filter keeps it; a key filter does not.
        """
        return ((self.environment is None or e.environment == self.environment
                 or self.environment in e.environments
                 or (self.key is None and e.store_wide))
                and (self.key is None or e.key == self.key)
                and (self.actor is None or e.actor == self.actor)
                and (self.since is None or e.time >= self.since)
                and (self.until is None or e.time <= self.until))


@dataclass(frozen=True)
class VerifiedLine:
    """A line head that ``verify`` (or the gate) checked clean, and the commits below it
    that only stand because a repair acknowledged them."""

    head: str
    tainted: frozenset[str] = frozenset()


def attested(view: StoreView, info: CommitInfo, rec: Record | None,
             vouched: bool = False) -> tuple[signature.Verdict | None, bool]:
    """Whether ``rec``'s actor is the commit's signer (log's ✓), with the signature's
    verdict; ``vouched`` (a verified line commit no repair acknowledged) takes the
    verify's word and checks nothing (verdict None). Every reader that credits a commit
    to its actor (log, history, blame, access log) asks here."""
    if rec is not None and vouched:
        return None, True
    verdict = signature.shown(view, info)
    return verdict, rec is not None and verdict.good and rec.actor == verdict.principal


def commit_events(view: StoreView, info: CommitInfo, vouched: bool = False) -> list[Event]:
    """The events one commit stands for.

    An envtrail commit speaks through its trailers (``verify`` checks they tell
    the truth). Any other commit that touches the store is reported as
    unattested, with the variables whose ciphertext it changed, except a plain
    merge that only combines its parents' values: its branches carry the story.
    ``vouched``: the commit is on a verified line, so its signature was found
    good and its actor to be its signer; it is not checked again.
    """
    rec = parse_record(info)
    named = approves(rec) if rec is not None else None
    verdict, verified = attested(view, info, rec, vouched)
    status = signature.GOOD if verdict is None else verdict.status
    if verdict is not None and named is not None and \
            not (verified and counts(view, info, named, verdict)):
        named = None  # an approval rule 9 does not count approves nothing in log
    if rec is not None:
        base = dict(commit=info.id, time=info.committer_time, action=rec.action,
                    actor=rec.actor, verified=verified, signature=status,
                    reason=rec.reason, context=rec.context, environments=rec.environments,
                    break_glass=is_break_glass(rec), approves=named)
        env = rec.environments[0] if len(rec.environments) == 1 else None
        if not rec.changes:
            return [Event(environment=", ".join(rec.environments) or None, **base)]
        return [Event(environment=env, key=c.key, change=c.op, old_fp=c.old_fp,
                      new_fp=c.new_fp, **base) for c in rec.changes]
    subject = info.message.split("\n", 1)[0][:200]
    base = dict(commit=info.id, time=info.committer_time, action=UNATTESTED, actor=None,
                verified=False, signature=status, reason=subject, context="")
    events = []
    parents = info.parents or (None,)
    before = view.env_blobs(parents[0])
    after = view.env_blobs(info.id)
    for env in sorted(before.keys() | after.keys()):
        if before.get(env) == after.get(env):
            continue
        try:
            ops = value_diff(view.env_at(parents[0], env), view.env_at(info.id, env))
            if len(parents) > 1:
                others = [view.env_at(p, env) for p in parents[1:]]
                mine = view.env_at(info.id, env)
                ops = {k: op for k, op in ops.items() if all(
                    (o.values.get(k) if o else None) != (mine.values.get(k) if mine else None)
                    for o in others)}
        except IntegrityError:
            ops = {}
            events.append(Event(environment=env, environments=(env,), **base))
        events.extend(Event(environment=env, environments=(env,), key=k, change=op, **base)
                      for k, op in sorted(ops.items()))
    if not events and len(parents) == 1:
        events.append(Event(environment=None, **base))
    return events


def stream(view: StoreView, head: str | None, filters: Filters,
           after: str | None = None, verified: VerifiedLine | None = None) -> Iterator[Event]:
    """Events reachable from ``head`` (and not from ``after``), newest first, filtered.

    Holds one commit at a time. Signatures are checked, except on the part of
    the line ``verified`` vouches for: the first-parent chain from its head down.
    """
    if head is None:
        return
    next_on_line: str | None = head  # the line commit the walk meets next
    vouching = False
    for info in view.git.walk_touching(head, STORE_PATHS, hide=after, unchanged=True):
        on_line = info.id == next_on_line
        if on_line:
            next_on_line = info.parents[0] if info.parents else None
            vouching = vouching or (verified is not None and info.id == verified.head)
        vouched = on_line and vouching and verified is not None and \
            info.id not in verified.tainted
        if filters.until is not None and info.committer_time > filters.until:
            continue
        for event in commit_events(view, info, vouched):
            if filters.keep(event):
                yield event


def approvals_of(view: StoreView, commit: str, head: str | None) -> list[str]:
    """Principals whose approval of ``commit`` on the line after it counts, in order."""
    git = view.git
    if head is None or commit == head or not git.is_ancestor(commit, head):
        return []
    ids, _ = git.first_parents(head, commit)
    out: list[str] = []
    for c in reversed(ids):
        info = git.info(c)
        rec = parse_record(info)
        if rec is not None and approves(rec) == commit:
            verdict = signature.check(view, info)
            if verdict.principal not in out and counts(view, info, commit, verdict):
                out.append(verdict.principal or "")
    return out


def counts(view: StoreView, info: CommitInfo, target: str, verdict: signature.Verdict) -> bool:
    """Whether approve commit ``info`` of ``target`` counts as rule 9 counts it: signed
    well, after the change and (unless it is a break-glass change, approved afterwards)
    in the run of approvals directly after it, by one of its approvers other than its
    author with the key listed at its parent. So ``log`` and ``show`` count what
    ``verify`` does."""
    if not verdict.good or not verdict.principal:
        return False
    why, need = named_requirement(view, info, target)
    if why is not None or need is None:
        return False
    if not need.break_glass and info.parents:
        between, _ = view.git.first_parents(info.parents[0], target)
        for commit in between:  # all approvals of the change, or the run was broken
            rec = parse_record(view.git.info(commit))
            if rec is None or approves(rec) != target:
                return False
    return approval_refusal(view, need, info, verdict) is None
