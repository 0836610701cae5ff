"""Walking the store line: one chain of single-parent commits from the genesis to the head.

Commits are checked oldest first, each against its parent's state, so the
walk can carry what only the line knows: the time floor, which findings a
later ``repair`` acknowledged, and whether the genesis is the pinned one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from envtrail.audit import signature
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.repairs import ACK, CLEAN
from envtrail.audit.verify import Finding, Verifier, check_time
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError


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


@dataclass
class LineReport:
    """The outcome of walking (part of) the line."""

    head: str | None
    genesis: str | None = None
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    floor: datetime | None = None
    unkeyed: set[str] = field(default_factory=set)
    walked: list[str] = field(default_factory=list)  # ids, oldest first
    # Commits from an acknowledged finding up to the repair: never a state to read or restore.
    tainted: set[str] = field(default_factory=set)
    since: str | None = None  # where the walk started (exclusive)
    ahead: dict[str, int] = field(default_factory=dict)  # newly seen commits dated ahead

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
    missing parent): a commit whose parent is missing is never a genesis.
    """
    git = view.git
    if git.is_shallow():
        raise IntegrityError("this clone is shallow or grafted; envtrail reads only a complete "
                             "store line", hint="run `git fetch --unshallow`, then retry")
    try:
        ids, met = git.first_parents(head, since)
    except KeyError:
        raise IntegrityError("a commit of the store line is missing from this clone",
                             hint="fetch the whole store branch, then retry") from None
    ids.reverse()
    return ids, met


def walk(view: StoreView, head: str, *, keyring: Keyring | None = None,
         since: str | None = None, floor: datetime | None = None, trust: Trust = Trust(),
         now: datetime, seen_ahead: dict[str, int] | None = None, parallel: bool = False,
         on_commit: Callable[[int], None] | None = None) -> LineReport:
    """Check the line from just after ``since`` (or from the genesis) up to ``head``.

    ``since`` must be on the line (the caller checked it); ``floor`` is the
    time floor there. Every finding comes back; acknowledged ones separately.
    """
    ids, _ = line_ids(view, head, since)
    report = LineReport(head, walked=ids, since=since)
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
    seen = dict(seen_ahead or {})
    floors = _Floor(floor)
    for position, (info_id, verdict) in enumerate(zip(ids, _verdicts(view, ids, parallel),
                                                      strict=False)):
        info = view.git.info(info_id)
        found = verifier.check(info, verdict)
        if not found:
            # A repair's time findings stop counting toward the floor in every clone,
            # including those that never saw the commit dated ahead as ahead.
            floors.drop(_named(info, rule="7"))
        first_seen = datetime.fromtimestamp(seen.get(info_id, int(now.timestamp())), now.tzinfo)
        timing = check_time(info, floors.value, first_seen)
        if any("first saw" in f.message for f in timing) and info_id not in seen:
            seen[info_id] = report.ahead[info_id] = int(now.timestamp())
        found += timing
        if not timing:
            floors.raise_to(info_id, info.committer_time)
        if not found:
            _acknowledge(report, info, position)
        report.findings.extend(found)
        report.checked += 1
        if on_commit is not None:
            on_commit(report.checked)
    report.unkeyed = verifier.unkeyed
    report.floor = floors.value
    return report


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


def _named(info, rule: str) -> set[str]:
    """Commits a repair acknowledges for ``rule`` (empty for any other commit)."""
    rec = parse_record(info)
    if rec is None or rec.action != "repair":
        return set()
    return {commit for key, value in rec.extra if key == ACK
            for commit, _, named in [value.partition(" ")] if named.strip() == rule}


def _acknowledge(report: LineReport, info, position: int) -> None:
    """A clean ``repair`` by an admin moves the findings it names to acknowledged, and
    marks every commit from the first of them up to the repair as tainted."""
    rec = parse_record(info)
    if rec is None or rec.action != "repair":
        return  # a repair without findings was signed by an admin (audit.repairs)
    named = set()
    for key, value in rec.extra:
        if key == ACK:
            commit, _, rule = value.partition(" ")
            named.add((commit, rule.strip()))
    keep, accepted = [], []
    for finding in report.findings:
        if (finding.commit, str(finding.rule)) in named:
            accepted.append(Acknowledged(finding, info.id, rec.actor, rec.reason))
        else:
            keep.append(finding)
    order = {c: i for i, c in enumerate(report.walked)}
    first = min((order[f.commit] for f in report.findings
                 if (f.commit, str(f.rule)) in named and f.commit in order), default=None)
    if first is None:
        return
    # The clean point must be what precedes the first acknowledged finding: a repair
    # cannot start its "verified state" inside the damage it acknowledges.
    expected = report.walked[first - 1] if first > 0 else report.since
    if rec.extra_value(CLEAN) != expected:
        return
    report.tainted.update(report.walked[first:position])
    report.acknowledged.extend(accepted)
    report.findings = keep


def _verdicts(view: StoreView, ids: list[str], parallel: bool) -> Iterable[signature.Verdict | None]:
    if not parallel or len(ids) < 64:
        return itertools.repeat(None)
    from envtrail.audit.parallel import verdict_stream  # multiprocessing: only when used

    return verdict_stream(view.git.root, ids)
