"""Walking the store line: one chain of single-parent commits from the genesis to the head.

Commits are checked oldest first, each against its parent's state, so the
walk can carry what only the line knows: the time floor, which findings a
later ``repair`` acknowledged, and whether the genesis is the pinned one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from envtrail.audit import signature
from envtrail.audit.breakglass import Glass
from envtrail.audit.effect import keys_until
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.ledger import Ledger
from envtrail.audit.parallel import Judgement, judgements
from envtrail.audit.repairs import (
    CLEAN,
    FROM,
    SweepPlan,
    acknowledged,
    event_acks,
    sweep_plan,
    swept,
)
from envtrail.audit.verify import AHEAD, Finding, Verifier
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import CommitInfo


@dataclass(frozen=True)
class Acknowledged:
    """A finding that an admin's signed ``repair`` commit named and accepted."""

    finding: Finding
    repair: str
    admin: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {**self.finding.as_dict(), "repair": self.repair, "admin": self.admin,
                "reason": self.reason}


@dataclass(frozen=True)
class Swept:
    """An honest commit whose value changes an admin's ``repair`` undid along with the
    findings it acknowledged (it lay after the first of them, on a forged state)."""

    commit: str
    repair: str
    admin: str
    reason: str

    def said(self) -> str:
        """``its value changes undone by ADMIN in REPAIR: REASON`` (the repair's id
        shortened): how show, log and status mark the commit."""
        return f"its value changes undone by {self.admin} in {self.repair[:10]}: {self.reason}"

    def line(self) -> str:
        """How verify and status name it: the commit, then :meth:`said` in brackets."""
        return f"{self.commit[:10]} ({self.said()})"

    def as_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {"commit": self.commit, "repair": self.repair, "admin": self.admin,
                "reason": self.reason}


@dataclass
class LineReport:
    """The outcome of walking (part of) the line."""

    head: str | None
    genesis: str | None = None
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    swept: list[Swept] = field(default_factory=list)  # honest commits a repair undid
    # What repairs acknowledged that this walk had no key to see: shown, but never
    # enough to lift a refusal a keyed walk made (ops.gate.lifts reads ``acknowledged``).
    unseen: list[Acknowledged] = field(default_factory=list)
    floor: datetime | None = None
    unkeyed: set[str] = field(default_factory=set)
    walked: list[str] = field(default_factory=list)  # ids, oldest first
    times: list[int] = field(default_factory=list)  # their committer times, in seconds
    # Commits from an acknowledged finding up to the repair: never a state to read or restore.
    tainted: set[str] = field(default_factory=set)
    since: str | None = None  # where the walk started (exclusive)
    ahead: dict[str, int] = field(default_factory=dict)  # newly seen commits dated ahead
    # Commits whose only time finding is a date before the floor (a repair that names the
    # commit dated ahead that raised it may settle it: audit.repairs.sweep_plan).
    behind: set[str] = field(default_factory=set)
    glass: list[Glass] = field(default_factory=list)  # unreviewed break-glass commits walked
    # Repairs walked that name events (Envtrail-Acknowledges-Event), oldest first.
    event_repairs: list[str] = field(default_factory=list)
    # Every environment public key the line has used up to the head (from the genesis).
    keys: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """No unacknowledged finding."""
        return not self.findings


@dataclass(frozen=True)
class Trust:
    """What the line must agree with: the pinned genesis and commits it must contain."""

    pin: str | None = None
    roots: frozenset[str] = frozenset()


def line_ids(view: StoreView, head: str, since: str | None) -> tuple[list[str], bool]:
    """First-parent ids from ``head`` back to ``since`` (or the genesis), oldest first.

    IntegrityError when the chain is cut off (shallow or grafted repository, a
    missing parent): a commit whose parent is missing is never a genesis. The
    ids may come from git itself: :func:`walk` checks every link as it reads.
    """
    git = view.git
    if git.is_shallow():
        raise IntegrityError("this clone is shallow or grafted; envtrail reads only a complete "
                             "store line", hint="run `git fetch --unshallow`, then retry")
    if git.is_partial():
        # Refused before the walk: a file it lacks would otherwise read as a finding
        # on an honest commit, one a repair could then acknowledge.
        raise IntegrityError("this is a partial clone (git clone --filter); envtrail reads "
                             "every version of the store's files",
                             hint="clone the store again without --filter, then retry")
    try:
        ids, met = git.first_parents(head, since, links_checked=True)
    except KeyError:
        raise IntegrityError("a commit of the store line is missing from this clone",
                             hint="fetch the whole store branch, then retry") from None
    ids.reverse()
    return ids, met


def walk(view: StoreView, head: str, *, keyring: Keyring | None = None,
         since: str | None = None, floor: datetime | None = None, trust: Trust = Trust(),
         now: datetime, seen_ahead: dict[str, int] | None = None, workers: int = 1,
         on_commit: Callable[[int], None] | None = None,
         tainted: frozenset[str] = frozenset(),
         keys: frozenset[str] | None = None) -> LineReport:
    """Check the line from just after ``since`` (or from the genesis) up to ``head``.

    ``since`` must be on the line (the caller checked it); ``floor`` is the
    time floor there, ``keys`` the environment public keys used up to it (None:
    read from the line). Every finding comes back; acknowledged ones separately.
    """
    ids, _ = line_ids(view, head, since)
    if keys is None:
        keys = keys_until(view, since)
    report = LineReport(head, walked=ids, since=since, keys=set(keys))
    if since is None and ids:
        report.genesis = ids[0]
        if trust.pin is not None and trust.pin != ids[0]:
            report.findings.append(Finding(ids[0], 8, f"another genesis: this clone pinned "
                                                      f"{trust.pin[:12]}"))
    walked = set(ids)
    for root in sorted(trust.roots):
        if root not in walked and not (since is not None and view.git.first_parents(since, root)[1]):
            report.findings.append(Finding(head, 8, f"the line does not contain the trust root "
                                                    f"{root[:12]} (rewound or replaced)"))
    verifier = Verifier(view, keyring)
    ledger = Ledger(view)
    if since is not None:
        ledger.resume(since)
    seen = dict(seen_ahead or {})
    floors = _Floor(floor)
    now_seen = datetime.fromtimestamp(int(now.timestamp()), now.tzinfo)  # as a clone records it
    for position, judged in _linked(judgements(verifier, ids, workers), ids, since):
        info, rec, verdict = judged.info, judged.rec, judged.verdict
        info_id = info.id
        if judged.need_known:
            ledger.known[info_id] = judged.need
        clean, plan = None, None
        if rec is not None and rec.action == "repair":
            if event_acks(rec):
                report.event_repairs.append(info_id)
            # A change a repair follows unapproved is one of the findings it names.
            report.findings += [Finding(c, 9, message) for c, message in ledger.close()]
            settled = _repair_clean(view, report, info, rec, position, tainted,
                                    lambda c: _unchecked(view, verifier.keyring, c))
            clean, plan = settled if settled is not None else (None, None)
        if clean is not None:
            try:  # a repair is judged by its clean point's signers, not its parent's
                verdict = signature.check(view, info, trust_at=clean)
            except IntegrityError:
                verdict = None  # the verifier reports the unreadable allowed_signers
        found = list(judged.findings) if judged.findings is not None else \
            verifier.check_record(info, rec, verdict, repair_clean=clean)
        # Rule 5: a new key pair is new. One the line used before (a retired pair, another
        # environment's) opens to whoever held it, whoever the members now are (attack33
        # K1, K1b). Every commit's pairs count as used, a repair's and those of commits
        # with findings too, their holders unknown (attack34 N4); only a repair may bring
        # one back, its clean point's (audit.repairs holds it to that state).
        repairing = rec is not None and rec.action == "repair"
        for env, key in judged.keys:
            if key in report.keys and not repairing:
                found.append(Finding(info_id, 5, f"{env}: a key pair the store line used "
                                                 "before; a new key pair must be new"))
            report.keys.add(key)
        # Rule 9 speaks of earlier commits (a change left short) before this one's own
        # findings, so that a repair can acknowledge what it follows.
        for commit, message in ledger.step(info, rec, verdict):
            (found if commit == info_id else report.findings).append(Finding(commit, 9, message))
        if not found and clean is not None:
            # A repair's time findings stop counting toward the floor in every clone,
            # including those that never saw the commit dated ahead as ahead.
            floors.drop({c for c, rule in acknowledged(rec) if rule == "7"})
        first_seen = now_seen if info_id not in seen else \
            datetime.fromtimestamp(seen[info_id], now.tzinfo)
        timing = check_time(info, floors.value, first_seen)
        if len(timing) == 1 and floors.value is not None and info.committer_time < floors.value:
            report.behind.add(info_id)
        if any("first saw" in f.message for f in timing) and info_id not in seen:
            seen[info_id] = report.ahead[info_id] = int(now.timestamp())
        found += timing
        if not timing:
            floors.raise_to(info_id, info.committer_time)
        if not found and clean is not None and plan is not None:
            _acknowledge(report, info, rec, clean, position, plan)
        report.findings.extend(found)
        report.times.append(int(info.committer_time.timestamp()))
        report.checked += 1
        if on_commit is not None:
            on_commit(report.checked)
    report.findings += [Finding(commit, 9, message) for commit, message in ledger.close()]
    report.unkeyed = verifier.unkeyed
    report.floor = floors.value
    report.glass = ledger.unreviewed()
    return report


def reaches_back(view: StoreView, report: LineReport) -> bool:
    """Whether a walk that started after the genesis refused a repair whose clean point
    lies before where it started: it cannot judge that repair, a walk from the genesis can
    (a clone that checked past the clean point must agree with one that did not)."""
    if report.since is None:
        return False
    walked = set(report.walked)
    for finding in report.findings:
        if finding.commit not in walked:
            continue
        rec = parse_record(view.git.info(finding.commit))
        clean = rec.extra_value(CLEAN) if rec is not None and rec.action == "repair" else None
        if clean is not None and clean not in walked:
            return True
    return False


def _linked(judged: Iterator[Judgement], ids: list[str],
            since: str | None) -> Iterator[tuple[int, Judgement]]:
    """Each judgement with its position, once its commit's first parent is the one
    before it on the line (the ids may be git's word; this is the commits' own)."""
    for position, judgement in enumerate(judged):
        parents = judgement.info.parents
        if (parents[0] if parents else None) != (ids[position - 1] if position else since):
            raise IntegrityError("git and the commits disagree about the store line",
                                 hint="run `git fsck`; a commit-graph file may be damaged")
        yield position, judgement


def _repair_clean(view: StoreView, report: LineReport, info, rec, position: int,
                  tainted: frozenset[str],
                  unchecked: Callable[[str], bool]) -> tuple[str, SweepPlan] | None:
    """The clean point of a repair, if the line gives it that authority; else None.

    The clean point must be a verified commit (walked or the walk's start, never
    tainted) before every finding the repair names, and every commit from it up
    to the repair must be one the repair acknowledges for a finding this walk has
    pending, or for rule 7 when it is dated after every commit before it the repair
    does not so name (a clone that met it later no longer sees it as ahead), or one
    it names as swept: honest, after the first acknowledged finding, and a change of
    values only (a date before the floor only because of a commit the repair names
    as ahead is no finding then; :func:`sweep_plan` decides, for the writer too).
    So a repair can only undo
    what the line itself reported and the values written on top of it: never skip
    back over a revocation, never restore a state (or values from one) already
    acknowledged as forged, never keep a finding as the clean state.
    """
    clean = rec.extra_value(CLEAN)
    before = report.walked[:position]
    if clean == report.since and clean is not None:
        start = 0
    elif clean in before:
        start = before.index(clean) + 1
    else:
        return None
    if clean in report.tainted or clean in tainted:
        return None
    restored = rec.extra_value(FROM)
    if restored is not None and (restored in report.tainted or restored in tainted):
        return None  # values from a state a repair acknowledged as forged
    between = before[start:]
    named = acknowledged(rec)
    if not between:
        # A repair that only acknowledges events dated ahead (audit.eventline) restores
        # its parent, as is: judged there, which must be a state with nothing pending.
        if named or not event_acks(rec) or report.findings:
            return None
        return clean, SweepPlan()
    if any(commit not in between for commit, _ in named):
        return None  # a finding at or before its clean point: that state is not clean
    pending = {(f.commit, str(f.rule)) for f in report.findings}
    plan = sweep_plan(view, between, named, pending, rec.actor, reason=rec.reason,
                      unchecked=unchecked, behind=frozenset(report.behind))
    wanted = swept(rec)
    if plan is None or set(plan.swept) != set(wanted) or len(wanted) != len(plan.swept):
        return None
    return clean, plan


def _unchecked(view: StoreView, keyring, commit: str) -> bool:
    """Whether a walk with ``keyring`` could not check ``commit``'s fingerprints: it
    changed values of an environment the keyring opens on neither side or one side."""
    info = view.git.info(commit)
    parent = info.parents[0] if info.parents else None
    before, after = view.env_blobs(parent), view.env_blobs(commit)
    for env in sorted(e for e in before.keys() | after.keys() if before.get(e) != after.get(e)):
        try:
            sides = (view.env_at(parent, env), view.env_at(commit, env))
        except IntegrityError:
            continue
        if any(side is not None and keyring.keys(side) is None for side in sides):
            return True
    return False


_UNSEEN = {
    "3": "a fingerprint finding only a walk with a key sees: not checked here",
    "7": "dated after the line before it, ahead only for a clone that met it early: "
         "not checked here",
}


def _acknowledge(report: LineReport, info, rec, clean: str, position: int,
                 plan: SweepPlan) -> None:
    """A valid repair moves the findings it names to acknowledged (and those this walk
    could not see, said so), lists what it swept, and taints every commit from its
    clean point (exclusive) up to itself."""
    named = acknowledged(rec)
    keep = []
    for finding in report.findings:
        if (finding.commit, str(finding.rule)) in named:
            report.acknowledged.append(Acknowledged(finding, info.id, rec.actor, rec.reason))
        elif finding.rule != 7 or finding.commit not in plan.settled:
            keep.append(finding)  # (a settled date was behind only a date named ahead)
    report.findings = keep
    report.unseen += [Acknowledged(Finding(c, int(rule), _UNSEEN[rule]), info.id, rec.actor,
                                   rec.reason) for c, rule in plan.unseen]
    report.swept += [Swept(c, info.id, rec.actor, rec.reason) for c in plan.swept]
    start = report.walked.index(clean) + 1 if clean in report.walked else 0
    report.tainted.update(report.walked[start:position])


class _Floor:
    """The line's time floor, remembering which commits raised it, so that a repair can
    take back the ones it acknowledged as dated ahead."""

    def __init__(self, start: datetime | None) -> None:
        self._raisers: list[tuple[datetime, str | None]] = [(start, None)] if start else []

    @property
    def value(self) -> datetime | None:
        """The floor now (raisers are kept in ascending order)."""
        return self._raisers[-1][0] if self._raisers else None

    def raise_to(self, commit: str, when: datetime) -> None:
        """Count ``commit``'s time if it is above the floor."""
        if not self._raisers or when > self._raisers[-1][0]:
            self._raisers.append((when, commit))

    def drop(self, commits: set[str]) -> None:
        """Forget the times of ``commits``."""
        if commits:
            self._raisers = [r for r in self._raisers if r[1] not in commits]


def check_time(info: CommitInfo, floor: datetime | None, seen: datetime | None) -> list[Finding]:
    """Rule 7: not before the line's time floor, not dated over 10 minutes after first seen,
    and a time git and envtrail can read at all."""
    out = [Finding(info.id, 7, why) for kind, why in info.flaws if kind == "time"]
    if floor is not None and info.committer_time < floor:
        out.append(Finding(info.id, 7, "committer time goes backwards on the line "
                                       f"({info.committer_time.isoformat()} < {floor.isoformat()})"))
    if seen is not None and info.committer_time > seen + AHEAD:
        out.append(Finding(info.id, 7, f"dated {info.committer_time.isoformat()}, more than 10 "
                                       f"minutes after this clone first saw it ({seen.isoformat()})"))
    return out
