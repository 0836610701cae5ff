"""Acknowledgements of events by repairs on the store line (``Envtrail-Acknowledges-
Event``): which repair names which event for which rule, whether an admin signed it, and
the time floor a writer dates a new event by, passing over events dated ahead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from envtrail.audit import signature
from envtrail.audit.history import parse_record
from envtrail.audit.record import PREFIX, Record
from envtrail.audit.repairs import EVENT_ACK, admin_at_newest, event_acks, signature_state
from envtrail.audit.verify import AHEAD
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError


@dataclass(frozen=True)
class EventAck:
    """A repair's acknowledgement of one event dated ahead."""

    repair: str
    admin: str
    reason: str
    time: datetime  # the repair's committer time
    rule: str = "7"

    def covers(self, when: datetime) -> bool:
        """Whether an event dated ``when`` is one this acknowledgement may name: for its
        date (rule 7), dated ahead of the repair (over 10 minutes after it), judged by the
        two commits' dates alone, so that every clone, early or late, judges it alike."""
        return self.rule != "7" or when > self.time + AHEAD


def acknowledgements(view: StoreView, line: Sequence[str],
                     skip: frozenset[str] = frozenset(),
                     repairs: Sequence[str] | None = None) -> dict[tuple[str, str], EventAck]:
    """(event, rule) -> the first repair on the store line (``line``, oldest first) that
    names it in ``Envtrail-Acknowledges-Event``, signed by an admin with a key valid where the
    walk judges that repair. Repairs in ``skip`` (states a later repair acknowledged as
    forged, or after a finding) count for nothing. The line's walk has judged the rest
    of each repair; this keeps a forged one from counting before it does (sync judges
    a remote's events line before its store line). ``repairs``: the line's repairs that
    name events, oldest first, where a walk of the whole line has parsed every commit
    (else git finds the candidates by their message, and each is parsed here)."""
    if not line:
        return {}
    git = view.git
    if repairs is None:
        listed = git.first_parents_saying(line[-1], f"^{PREFIX}{EVENT_ACK}: ")
        repairs = list(reversed(listed)) if listed is not None else line
    on_line = set(line)
    candidates = [c for c in repairs if c in on_line and c not in skip]
    out: dict[tuple[str, str], EventAck] = {}
    for commit in candidates:
        info = git.info(commit)
        rec = parse_record(info)
        if rec is None or rec.action != "repair" or not event_acks(rec) \
                or not by_an_admin(view, info, rec):
            continue
        for event, rule in sorted(event_acks(rec)):
            out.setdefault((event, rule), EventAck(commit, rec.actor, rec.reason,
                                                   info.committer_time, rule))
    return out


def by_an_admin(view: StoreView, info, rec: Record) -> bool:
    """Whether a repair is signed by an admin, judged as the line walk judges it."""
    clean = signature_state(view, info, rec) or (info.parents[0] if info.parents else None)
    if clean is None:
        return False
    try:
        verdict = signature.check(view, info, trust_at=clean)
    except IntegrityError:
        return False
    return verdict.good and verdict.admin and verdict.principal == rec.actor and \
        admin_at_newest(view, info, rec, verdict, clean)


def floor_for(view: StoreView, parent: str | None, store_head: str | None, now: datetime,
              tainted: frozenset[str] = frozenset()) -> datetime | None:
    """The time an event written on ``parent`` (the events head) may not go below: that
    event's, passing over events a repair on the store line up to ``store_head``
    acknowledged as dated ahead (a writer dates by its own clock past them)."""
    git = view.git
    if parent is None:
        return None
    when = git.info(parent).committer_time
    if when <= now or store_head is None:
        return when  # nothing dated ahead to pass over: no need to look for repairs
    acks = acknowledgements(view, git.oldest_first(store_head), tainted)
    current: str | None = parent
    while current is not None:
        info = git.info(current)
        ack = acks.get((current, "7"))
        if ack is None or not ack.covers(info.committer_time):
            return info.committer_time
        current = info.parents[0] if info.parents else None
    return None
