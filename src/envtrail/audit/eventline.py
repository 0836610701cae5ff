"""The events line, ``refs/envtrail/events``: signed markers beside the store line.

Deploys, restarts and incident notes are commits that change no file, each
naming the store line commit it follows (``Envtrail-After``). They live on
their own line so that writing one never moves the store branch or races an
``apply``. Each is judged at the store state current at its own date, never one
before the commit it names: the signer must be an allowed signer there and a member
of the event's environment. Where an admin's repair acknowledges that state as one
that may have come after the event (inside the tolerance of its clock), the event is
judged at the commit it names instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from envtrail.audit import signature
from envtrail.audit.eventacks import EventAck, acknowledgements
from envtrail.audit.history import parse_record
from envtrail.audit.line import Acknowledged
from envtrail.audit.record import Record
from envtrail.audit.verify import AHEAD, Finding
from envtrail.audit.view import LineStates, StoreView
from envtrail.errors import IntegrityError
from envtrail.gitstore.refs import EVENTS_REF  # named there for the light push hook

AFTER, KIND, REF, STATUS, START, DURATION = (
    "After", "Event-Kind", "Event-Ref", "Event-Status", "Event-Start", "Event-Duration")
_HEX = frozenset("0123456789abcdef")
# What `event` writes, and so all a reader accepts: claims are shown to people and
# parsed by tools, so a signer may say anything, but only in these forms.
KIND_RE = re.compile(r"\A[a-z][a-z0-9._-]{0,39}\Z")
CLAIM_RE = re.compile(r"\A[\x21-\x7e][\x20-\x7e]{0,199}\Z")  # one printable line
DURATION_RE = re.compile(r"\A([0-9]{1,9}\.[0-9]{3})s\Z")


@dataclass(frozen=True)
class Marker:
    """One event as recorded: what the signer claims, and who signed it."""

    commit: str
    time: datetime
    record: Record
    after: str | None
    kind: str
    verified: bool

    def as_dict(self) -> dict[str, object]:
        """The ``event`` field of ``log --json``: kind, after, and the signer's claims."""
        rec = self.record
        out: dict[str, object] = {"kind": self.kind, "after": self.after}
        for key, name in ((REF, "ref"), (STATUS, "status"), (START, "start"),
                          (DURATION, "duration")):
            value = rec.extra_value(key)
            if value is not None:
                seconds = DURATION_RE.fullmatch(value) if name == "duration" else None
                out[name] = float(seconds.group(1)) if seconds else value
        return out


def markers(view: StoreView, tainted: frozenset[str] = frozenset(),
            vouched: str | None = None) -> list[Marker]:
    """Every event on the events line, oldest first, each verified or not as ``check``
    judges it (``tainted``: line states a repair acknowledged as findings; ``vouched``:
    the events head ``verify`` last found clean against the current store head: when
    it is still the head, nothing is judged again)."""
    git = view.git
    tip = git.ref_target(EVENTS_REF)
    if tip is None:
        return []
    ids, _ = git.first_parents(tip)
    # Shown as verified exactly when verify would find nothing wrong with it.
    bad = set() if vouched == tip else \
        {f.commit for f in check(view, git.store_head(), tip, tainted=tainted)}
    out = []
    for commit in reversed(ids):
        info = git.info(commit)
        rec = parse_record(info)
        if rec is None or rec.action != "event":
            continue
        out.append(Marker(commit, info.committer_time, rec, after_of(rec),
                          rec.extra_value(KIND) or "?", commit not in bad))
    return out


AHEAD_SAID = "10 minutes ahead of this clone's clock"
NOT_ON_LINE = "Envtrail-After names no commit of the store line"
# The findings a repair acknowledges where the event verifies at the commit it names:
# no signer (1) or member (4) at the state current at its date.
NAMED_RULES = (1, 4)
# An event that follows a state a repair acknowledged was judged by nothing that verified
# (its signer counted at a forged state); it is shown unverified, and verify names it.
AFTER_REPAIRED = "follows a state a repair acknowledged as a finding"


@dataclass
class Judged:
    """The events line as :func:`judge` found it."""

    findings: list[Finding] = field(default_factory=list)
    # Events a valid repair on the store line acknowledged as dated ahead.
    acknowledged: list[Acknowledged] = field(default_factory=list)


def check(view: StoreView, store_head: str | None, tip: str | None = None,
          line: Sequence[str] | None = None,
          tainted: frozenset[str] = frozenset(), now: datetime | None = None,
          times: Sequence[int] | None = None,
          repaired: frozenset[str] = frozenset()) -> list[Finding]:
    """Every finding on the events line (:func:`judge`'s findings)."""
    return judge(view, store_head, tip, line, tainted, now, times, repaired=repaired).findings


def judge(view: StoreView, store_head: str | None, tip: str | None = None,
          line: Sequence[str] | None = None,
          tainted: frozenset[str] = frozenset(), now: datetime | None = None,
          times: Sequence[int] | None = None, distrusted: frozenset[str] = frozenset(),
          listed: bool = False, repaired: frozenset[str] = frozenset(),
          repairs: Sequence[str] | None = None) -> Judged:
    """The events line (this clone's, or the one ending at ``tip``) judged against the
    store line up to its head (``line``: its ids, oldest first, if the caller has them,
    and ``times`` their committer times as a walk read them; ``tainted``: its states a
    repair acknowledged as findings; ``now``: events dated over 10 minutes later are
    findings, as on the store line). An event a repair acknowledged as dated ahead
    (:func:`acknowledgements`; none from ``distrusted`` store commits) is listed as
    acknowledged instead, and never raises the time floor of the events after it.
    ``listed``: find the acknowledgements even where no finding asks for them.
    ``repaired``: states a repair acknowledged, at which an event is judged anyway (sync)
    with the trust of the newest state before them that none acknowledged.
    ``repairs``: the repairs on ``line`` that name events, as a walk of it found them."""
    git = view.git
    tip = tip or git.ref_target(EVENTS_REF)
    if tip is None:
        return Judged()
    if line is None:
        line = git.oldest_first(store_head) if store_head else []
    states = LineStates(view, line, times)
    ids = git.oldest_first(tip)
    judged = _judge(view, ids, states, tainted, now, {}, repaired)
    # An acknowledgement only ever takes a finding away (and lowers the floor), so the
    # store line is searched for them only when there is one (or they are listed).
    if listed or judged.findings:
        acks = acknowledgements(view, line, tainted | distrusted, repairs)
        if acks:
            judged = _judge(view, ids, states, tainted, now, acks, repaired)
    return judged


def _judge(view: StoreView, ids: list[str], states: LineStates, tainted: frozenset[str],
           now: datetime | None, acks: dict[tuple[str, str], EventAck],
           repaired: frozenset[str] = frozenset()) -> Judged:
    git = view.git
    out = Judged()
    last_after, floor = None, None
    position = states.position
    for commit in ids:
        info = git.info(commit)
        rec = parse_record(info)
        found = _check_one(view, info, rec, states, tainted, repaired)
        signer = [(f, acks.get((commit, str(f.rule)))) for f in found if f.rule in NAMED_RULES]
        if signer and all(a is not None for _, a in signer) and \
                not _check_one(view, info, rec, states, tainted, repaired, at_named=True):
            # Its signer was no signer or member at the state current at its date, and
            # an admin's repair says that state came after it (attack29 E1: a revocation
            # dated inside a fast clock's tolerance): judged at the commit it names.
            out.acknowledged += [Acknowledged(f, a.repair, a.admin, a.reason)
                                 for f, a in signer if a is not None]
            found = []
        ack = acks.get((commit, "7"))
        if ack is not None and not ack.covers(info.committer_time):
            ack = None  # dated ahead of the repair that names it, or no acknowledgement
        if ack is not None:
            # Alike in every clone, whether its date has passed there or not.
            out.acknowledged.append(Acknowledged(
                Finding(commit, 7, f"dated {info.committer_time.isoformat()}, more than 10 "
                                   "minutes ahead of the repair that acknowledges it"),
                ack.repair, ack.admin, ack.reason))
        elif now is not None and info.committer_time > now + AHEAD:
            # Writers date an event no earlier than the one before it: one dated ahead
            # would drag every later event with it (until a repair acknowledges it).
            found.append(Finding(commit, 7, f"dated {info.committer_time.isoformat()}, more "
                                            f"than {AHEAD_SAID}"))
        after = after_of(rec) if rec else None
        if not found and after is not None:
            if last_after is not None and position[last_after] > position[after]:
                found.append(Finding(commit, 7, "follows an older store commit than the event "
                                                "before it"))
            if floor is not None and info.committer_time < floor:
                found.append(Finding(commit, 7, "committer time goes backwards on the events "
                                                "line"))
            if info.committer_time.timestamp() < states.seconds(position[after]):
                # An event cannot have happened before the change it says it followed
                # (writers and sync's replay date it no earlier than that commit).
                found.append(Finding(commit, 7, "dated before the store commit it follows"))
            last_after = after
            if ack is None:  # an acknowledged date is no floor: writers pass over it too
                floor = max(floor or info.committer_time, info.committer_time)
        out.findings += found
    return out


def is_ahead(finding: Finding) -> bool:
    """Whether an events-line finding is an event dated ahead of this clone's clock: the
    one a repair may acknowledge."""
    return finding.rule == 7 and finding.message.endswith(AHEAD_SAID)


def _check_one(view: StoreView, info, rec: Record | None, states: LineStates,
               tainted: frozenset[str], repaired: frozenset[str] = frozenset(),
               at_named: bool = False) -> list[Finding]:
    git = view.git
    if len(info.parents) > 1:
        return [Finding(info.id, 6, "a merge commit on the events line")]
    if rec is None or rec.action != "event":
        return [Finding(info.id, 6, "not an envtrail event on the events line")]
    after = after_of(rec)
    if after is None or after not in states.position:
        return [Finding(info.id, 6, NOT_ON_LINE)]
    if git.changed_paths(info.parents[0] if info.parents else None, info.id):
        return [Finding(info.id, 4, "an event commit changes files")]
    # Judged at the store state current when it was signed (never before the commit it
    # names): a signer revoked since the commit it names cannot reach back past that.
    state = states.current_at(info.committer_time, after)
    if after in tainted or state in tainted:
        return [Finding(info.id, 6, AFTER_REPAIRED)]

    def unrepaired(state: str) -> str:
        # A repaired state's own signers and members may be the forgery's (attack27 F2):
        # who may write the event comes from the newest state before it no repair named.
        at = states.position[state]
        while at > 0 and states.line[at] in repaired:
            at -= 1
        return states.line[at]

    if not at_named:
        return _judged_at(view, info, rec, unrepaired(state))
    # Acknowledged (attack29 E1): at the commit it names, and at the state current 10
    # minutes before its date, so that only a state dated inside its clock's tolerance
    # stands against it, never a revocation long before it (attack30 A2). (Bounding it
    # by the repair that acknowledged its date instead let a slow admin clock widen the
    # window by hours: attack32 C3.)
    early = states.current_at(info.committer_time - AHEAD, after)
    if early in tainted:
        return [Finding(info.id, 6, AFTER_REPAIRED)]
    return _judged_at(view, info, rec, after) or \
        _judged_at(view, info, rec, unrepaired(early))


def _judged_at(view: StoreView, info, rec: Record, state: str) -> list[Finding]:
    """An event's signature, actor, claims and membership, judged at store ``state``."""
    verdict = _verdict(view, info, state)
    if verdict is None or not verdict.good:
        status = verdict.status if verdict else "unreadable allowed_signers"
        return [Finding(info.id, 1, f"signature {status}")]
    out = []
    problem = claim_problem(rec)
    if problem:
        out.append(Finding(info.id, 3, problem))
    if rec.actor != verdict.principal or info.author != (rec.actor, rec.actor) or \
            info.committer != (rec.actor, rec.actor):
        out.append(Finding(info.id, 2, f"the event is not signed by its actor {rec.actor!r}"))
    if len(rec.environments) != 1:
        out.append(Finding(info.id, 4, "an event names exactly one environment"))
        return out
    env = rec.environments[0]
    try:
        file = view.env_at(state, env)
    except IntegrityError:
        file = None
    if file is None or file.member_with_key(verdict.key or "") is None:
        out.append(Finding(info.id, 4, f"{verdict.principal} wrote an event for {env} without "
                                       "being a member of it"))
    return out


def claim_problem(rec: Record) -> str | None:
    """Why an event's kind or claims are not in the form ``event`` writes, if they are not."""
    if not KIND_RE.fullmatch(rec.extra_value(KIND) or ""):
        return "the event kind is not a short lower-case word"
    for key in (REF, STATUS):
        value = rec.extra_value(key)
        if value is not None and not CLAIM_RE.fullmatch(value):
            return f"Envtrail-{key} is not one printable line of at most 200 characters"
    duration = rec.extra_value(DURATION)
    if duration is not None and not DURATION_RE.fullmatch(duration):
        return "Envtrail-Event-Duration is not a number of seconds such as 12.345s"
    start = rec.extra_value(START)
    if start is not None:
        try:
            datetime.fromisoformat(start)
        except ValueError:
            return "Envtrail-Event-Start is not an ISO 8601 time"
    return None


def after_of(rec: Record) -> str | None:
    """The store commit an event record names (``Envtrail-After``), if it names one."""
    value = rec.extra_value(AFTER)
    return value if value and len(value) == 40 and set(value) <= _HEX else None


def follows(git, commit: str | None) -> str | None:
    """The store commit the event ``commit`` names, or None (no commit, or none named)."""
    rec = parse_record(git.info(commit)) if commit else None
    return after_of(rec) if rec else None


def acknowledgeable(view: StoreView, store_head: str, findings: Sequence[Finding],
                    tainted: frozenset[str] = frozenset()) -> list[Finding]:
    """Those of ``findings`` (rule 1 or 4 on events) a repair may acknowledge: the event
    verifies at the store commit it names and at the state current 10 minutes before its
    date, so only a state dated inside the tolerance of its clock stands against it
    (attack29 E1, attack30 A2). Judged together, as every clone will judge the events
    line once all are acknowledged (attack32 C4: two each fine alone, out of order
    together), dropping any that leaves its event a finding until none does."""
    git = view.git
    line = git.oldest_first(store_head)
    states = LineStates(view, line)
    tip = git.ref_target(EVENTS_REF)
    ids = git.oldest_first(tip) if tip else []
    known = acknowledgements(view, line, tainted)
    chosen = [f for f in findings if f.rule in NAMED_RULES]
    while chosen:
        acks = {**known, **{(f.commit, str(f.rule)): EventAck(
            "", "", "", git.info(f.commit).committer_time, str(f.rule)) for f in chosen}}
        bad = {f.commit for f in _judge(view, ids, states, tainted, None, acks).findings}
        kept = [f for f in chosen if f.commit not in bad]
        if kept == chosen:
            break
        chosen = kept
    return chosen


def signature_of(view: StoreView, info, line: Sequence[str]) -> signature.Verdict:
    """An event's signature as ``check`` judges it: by the allowed_signers of the store
    state current when it was signed (``line``: the store line's ids, oldest first)."""
    rec = parse_record(info)
    after = after_of(rec) if rec is not None else None
    states = LineStates(view, line)
    if after is None or after not in states.position:
        return signature.Verdict(signature.UNKNOWN_KEY)
    return _verdict(view, info, states.current_at(info.committer_time, after)) or \
        signature.Verdict(signature.UNKNOWN_KEY)


def _verdict(view: StoreView, info, after: str | None) -> signature.Verdict | None:
    if after is None or not view.git.has_commit(after):
        return None
    try:
        return signature.check(view, info, trust_at=after)
    except IntegrityError:
        return None
