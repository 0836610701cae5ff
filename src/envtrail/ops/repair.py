"""``repair``: an admin acknowledges the line's findings in one signed commit and puts
back the last verified state.

Nothing is rewritten: the findings stay on the line, visible in ``verify``,
``log`` and ``status`` with who acknowledged them and why, and ``verify
--strict`` keeps failing on them. The repair restores the store's files as
they were just before the first finding (the clean point): its whole tree,
entry for entry, so nothing a forged commit did survives (not even a file
beside the store), and no key pair a forged commit introduced is ever
encrypted to. With
``--from REV`` (an earlier line commit) the values come from REV instead,
re-encrypted under the clean point's keys for the clean point's members.

Honest commits made on top of the first finding (members who could not see
it kept working) are undone with it: only changes of values may be, each is
named in the record (``Envtrail-Sweeps``) and reported, by the rule the walk
applies (audit.repairs.sweep_plan). A repair is written only if the walk, with
it on top, would accept it: otherwise nothing moves and it exits 5.

Events dated ahead (rule 7 on ``refs/envtrail/events``, which only goes
forward) are acknowledged too, each named in ``Envtrail-Acknowledges-Event``;
with no store line finding the repair restores its parent as is and only names
them (audit.eventline judges the acknowledgement).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from envtrail.audit import eventacks, eventline
from envtrail.audit.record import Record
from envtrail.audit.repairs import ACK, CLEAN, EVENT_ACK, FROM, SWEEPS
from envtrail.audit.verify import AHEAD, Finding
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError, UsageError
from envtrail.format import layout
from envtrail.gitstore.repo import GitRepo
from envtrail.model import ENV_NAME_RE, Change, Secret, check_reason
from envtrail.ops.gate import open_line
from envtrail.ops.rollback import note_exposures, target_values
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.rules import require_admin
from envtrail.ops.store import whoami
from envtrail.ops.sweeps import SweptChange, handed_out, swept_by
from envtrail.ops.trust import trust_roots
from envtrail.ops.txn import Plan, context_for, transact
from envtrail.ops.values import plan_values
from envtrail.ops.verifiedline import Line
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class RepairResult:
    """What ``repair`` acknowledged and restored, and the commit (None for a dry run)."""

    findings: tuple[Finding, ...]
    clean: str
    restored_from: str
    paths: tuple[str, ...]
    commit: str | None
    record: Record | None
    proposal: str | None = None  # with --propose: the proposal waiting for approvals
    swept: tuple[SweptChange, ...] = ()
    # Environments whose restored key pair a commit it goes back over sealed to someone
    # who is no member at the clean point: (environment, principal, commit).
    handed_out: tuple[tuple[str, str, str], ...] = ()
    # Values it puts back that someone no longer seated could read (as rollback says).
    warnings: tuple[str, ...] = ()
    # Events dated ahead it acknowledges (events line, rule 7).
    events: tuple[Finding, ...] = ()
    # Events dated ahead of this clock that it cannot acknowledge, being dated too close
    # to them itself: (finding, when this clock stops counting it as ahead).
    waiting: tuple[tuple[Finding, datetime], ...] = ()


def repair(git: GitRepo, rt: Runtime, identity: Identity, reason: str | None,
           from_rev: str | None = None, dry_run: bool = False,
           route: Route = DIRECT) -> RepairResult:
    """Acknowledge every current finding and restore the clean point's state, undoing
    with it the honest value changes made on top of the first finding (listed)."""
    text = check_reason(reason)
    line = open_line(git, rt, identity, allow_findings=True)
    findings = tuple(line.report.findings) if line.report else ()
    if not findings:
        # A line that verifies is judged at its head: who may repair it is said first.
        require_admin(whoami(line.view.at(line.head), identity, rt).signer, "repair the store")
    dated, waiting = _events_to_acknowledge(line, rt)
    if not findings and not dated and waiting:
        event, settles = waiting[-1]
        raise UsageError(f"nothing a repair can acknowledge yet: the event {event.commit[:10]} "
                         "is dated ahead of this clock, but too close to the date a repair "
                         f"written now would carry ({line.write_time(rt.now()).isoformat()}) "
                         "for it to acknowledge",
                         hint=f"it stops being a finding at {settles.isoformat()} by this "
                              "clock; run `envtrail verify` then")
    if not findings and not dated:
        raise UsageError("nothing to repair: the store line and the events line verify",
                         hint="`envtrail verify` lists findings when there are any")
    if not findings and from_rev is not None:
        raise UsageError("--from restores values over store line findings, and the store "
                         "line has none (only events dated ahead, which restore nothing)")
    # Only events dated ahead: the repair restores its parent as is, and names them.
    clean = _clean_point(line, findings) if findings else line.head
    assert clean is not None  # open_line refuses an empty store
    clean_state = line.view.at(clean)
    # Judged by the last verified state: the head's signers may be forged.
    acting = whoami(clean_state, identity, rt)
    require_admin(acting.signer, "repair the store")
    sweeps = swept_by(line, clean, findings, acting.principal, text)
    source = _source(line, rt, clean, from_rev)
    changes, masked, paths = _restore(line, rt, identity, clean_state, source, text)
    # A forged file's name is no environment name the record could carry.
    envs = tuple(sorted({e for e in map(layout.env_of, paths)
                         if e and ENV_NAME_RE.fullmatch(e) and e not in {".", ".."}}))
    extra = (*((ACK, f"{f.commit} {f.rule}") for f in findings),
             *((EVENT_ACK, f"{f.commit} {f.rule}") for f in dated),
             *((SWEEPS, s.commit) for s in sweeps), (CLEAN, clean), (FROM, source))
    rec = Record("repair", acting.principal, text, envs, masked, context_for(rt), extra)
    handed = handed_out(line, clean)
    notes = _exposures(line, identity, clean_state, changes) + tuple(
        f"{env} did not exist at {source[:10]}: its values stay as at the clean point "
        f"{clean[:10]}" for env in _kept_as_at_clean(line, clean_state, source, present=False))
    if dry_run:
        return RepairResult(findings, clean, source, paths, None, rec, swept=sweeps,
                            handed_out=handed, warnings=notes, events=dated, waiting=waiting)
    check = _verifies(git, rt, identity, route, {(f.commit, str(f.rule)) for f in dated})
    written = transact(git, rt, identity,
                       lambda snap: Plan(changes, rec, base=clean, check=check),
                       allow_findings=True, route=route)
    return RepairResult(findings, clean, source, paths, written.commit, written.record,
                        written.proposal, sweeps, handed, notes, dated, waiting)


def _events_to_acknowledge(line: Line, rt: Runtime) -> tuple[
        tuple[Finding, ...], tuple[tuple[Finding, datetime], ...]]:
    """The events-line findings a repair acknowledges (``Envtrail-Acknowledges-Event``)
    that no repair has yet: events dated ahead of this clock (rule 7), and events whose
    signer the state current at their date no longer counts though they verify at the
    commit they name and 10 minutes before their date (rule 1 or 4: a revocation inside
    their clock's tolerance, attack29 E1), judged together. IntegrityError (exit 5)
    when the events line has a finding no repair settles and the store line has none,
    so that `repair` never says there is nothing to repair while `verify` fails.

    An acknowledged date must lie over 10 minutes after the repair's own
    (``EventAck.covers``), and a repair is dated no earlier than the line's time floor:
    where the store head is dated a few minutes ahead, an event ahead of this clock may
    lie within 10 minutes of it. Named, it would stop the whole repair (attack32 C2);
    it is left out, with the time this clock stops counting it as ahead (second part)."""
    now = rt.now()
    # A minute's margin: the commit is dated a moment after this is worked out.
    dated_from = line.write_time(now) + AHEAD + timedelta(minutes=1)
    found = eventline.check(line.view, line.head, tainted=line.tainted, now=now)
    named = eventline.acknowledgeable(line.view, line.head, found, line.tainted)
    dated, waiting = [], []
    for f in found:
        when = line.git.info(f.commit).committer_time if eventline.is_ahead(f) else None
        if f in named or (when is not None and when > dated_from):
            dated.append(f)
        elif when is not None:
            waiting.append((f, when - AHEAD))
    unsettled = {f for f, _ in waiting}
    other = [f for f in found if f not in dated and f not in unsettled
             and f.message != eventline.AFTER_REPAIRED]
    if other and not dated and not (line.report and line.report.findings):  # (none: clean)
        raise IntegrityError(
            f"cannot repair: the store line verifies, and the events line's finding "
            f"{other[0].line()} is none a repair acknowledges",
            hint="a repair acknowledges an event dated ahead, or one only a revocation inside "
                 "its clock's tolerance stands against; see docs/threat-model.md (the events "
                 "line stops sync when it breaks)")
    return tuple(dated), tuple(sorted(waiting, key=lambda w: w[1]))


def _exposures(line: Line, identity: Identity, clean: Snapshot,
               changes: dict[str, bytes | None]) -> tuple[str, ...]:
    """The values the repair puts back over the head's (the swept changes undone, the
    forged ones, or ``--from``'s) that someone no longer seated could read, judged like a
    rollback's; an environment whose values ``identity`` cannot open is said to be unjudged."""
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.view import value_diff
    from envtrail.format import envfile

    head = line.view.at(line.head)
    keyring, notes = Keyring(identity), []
    for env in clean.environments():
        path = layout.env_path(env)
        data = changes.get(path)
        restored = envfile.parse(data, path) if data is not None else clean.env(env)
        try:
            current = line.view.env_at(line.head, env)
        except IntegrityError:  # a forged file: every value is put back over it
            current = None
        names = [n for n, op in value_diff(current, restored).items() if op != "-"]
        if not names:
            continue
        if keyring.keys(restored) is None:
            notes.append(f"{env}: you hold no key to the values the repair puts back, so "
                         "who else could read them was not checked")
            continue
        notes += note_exposures(head, identity, env, restored, current)
    return tuple(notes)


def _verifies(git: GitRepo, rt: Runtime, identity: Identity, route: Route,
              events: set[tuple[str, str]]):
    """A check of the repair commit before it moves the line: the whole line up to it
    must verify, as ``verify`` walks it with this key, and as a clone walks it that
    fetches it once every date on it has passed (it finds no commit dated ahead and
    takes the repair's word for those this clone found), or nothing is written. A
    proposal still waits for the approvals rule 9 asks of it."""
    def check(commit: str) -> None:
        from envtrail.audit import checkpoint
        from envtrail.audit.keyring import Keyring
        from envtrail.audit.line import Trust, walk
        from envtrail.audit.view import StoreView

        def left(now, seen_ahead) -> tuple[list[Finding], list[int]]:
            report = walk(StoreView(git), commit, keyring=Keyring(identity),
                          trust=Trust(checkpoint.load_pin(git.root), trust_roots(rt)),
                          now=now, seen_ahead=seen_ahead, workers=rt.cpus)
            return [f for f in report.findings
                    if not (route.propose and f.commit == commit and f.rule == 9)], report.times

        hint = "nothing was written; `envtrail verify` lists the findings, `envtrail repair " \
               "--dry-run` what a repair does"
        here, times = left(rt.now(), checkpoint.load_ahead(git.root))
        if not here:
            # Clones that met these commits late must judge the repair as this one does
            # (audit.repairs.sweep_plan is meant to make sure of it): a repair they refused
            # would split the team until a rewrite, worse than the findings it settles.
            newest = datetime.fromtimestamp(max(times), UTC)
            late, _ = left(max(rt.now(), newest), {})
            if late:
                first = next((f for f in late if f.commit == commit), late[0])
                raise IntegrityError(
                    "refusing to write a repair that a clone fetching it after its dates "
                    f"would refuse: {first.line()}",
                    hint=f"{hint}; the way out is a reviewed rewrite with the commits dated "
                         "ahead re-signed at their true time (`envtrail verify "
                         "--accept-rewrite`)")
        if here:
            # Its own finding says why; else the first one it leaves standing.
            first = next((f for f in here if f.commit == commit), here[0])
            raise IntegrityError(f"refusing to write a repair that would not verify: "
                                 f"{first.line()}", hint=hint)
        # Every event it names must be acknowledged by it, alike in every clone.
        acked = eventacks.acknowledgements(StoreView(git), git.oldest_first(commit)) \
            if events else {}
        for event, rule in sorted(events):
            ack = acked.get((event, rule))
            if ack is None or not ack.covers(git.info(event).committer_time):
                raise IntegrityError("refusing to write a repair that would not acknowledge "
                                     f"the event {event[:10]} (rule {rule})", hint=hint)
    return check


def _clean_point(line: Line, findings: tuple[Finding, ...]) -> str:
    """The line commit just before the first finding: the last verified state."""
    walked = line.report.walked if line.report else []
    order = {c: i for i, c in enumerate(walked)}
    first = min((order[f.commit] for f in findings if f.commit in order), default=None)
    if first is None:
        raise IntegrityError("the findings are not on the store line",
                             hint="`envtrail verify --accept-rewrite` handles a rewritten line")
    if first > 0:
        return walked[first - 1]
    if line.report is not None and line.report.since is not None:
        return line.report.since
    raise IntegrityError("the genesis itself has a finding: there is no clean state to restore",
                         hint="this store cannot be repaired; start a new one")


def _source(line: Line, rt: Runtime, clean: str, from_rev: str | None) -> str:
    """Where the values come from: the clean point, or an earlier verified line commit."""
    if from_rev is None:
        return clean
    chosen = line.resolve(rt, from_rev)
    if not line.git.first_parents(clean, chosen)[1]:
        raise UsageError(f"--from {from_rev[:40]} is not a line commit at or before the clean "
                         f"point {clean[:10]}")
    return chosen


def _kept_as_at_clean(line: Line, clean: Snapshot, source: str, present: bool) -> list[str]:
    """The clean point's environments that ``source`` (``--from``) holds (``present``), or
    those it does not: added after it, they keep the clean point's values (review15 B5)."""
    if source == clean.commit:
        return list(clean.environments()) if present else []
    there = set(line.view.at(source).environments())
    return [env for env in clean.environments() if (env in there) == present]


def _restore(line: Line, rt: Runtime, identity: Identity, clean: Snapshot, source: str,
             reason: str) -> tuple[dict[str, bytes | None], tuple[Change, ...], tuple[str, ...]]:
    """The values to put on the clean point's tree (only with ``--from``), how they
    differ from it, and every path the repair changes against the head.

    The repair's tree is the clean point's, entry for entry: whatever a forged
    commit added (at the top, in a folder of any depth, under a name that is not
    even UTF-8) is simply not in it, and verify judges a repair by exactly that.
    """
    git, head = line.git, line.head
    changes: dict[str, bytes | None] = {}
    masked: list[Change] = []
    if source != clean.commit:
        for env in _kept_as_at_clean(line, clean, source, present=True):
            path = layout.env_path(env)
            old = target_values(line.view.at(source), identity, env)
            removals = set(clean.env(env).values) - set(old)
            plan = plan_values(clean, rt, identity, env, {k: Secret(v) for k, v in old.items()},
                               removals, reason, "repair")
            if plan is not None:
                changes[path] = plan.changes[path]
                masked += [replace(c, key=f"{env}:{c.key}") for c in plan.record.changes]
    touched = set(git.changed_paths(head, clean.commit))
    touched |= {p for p, data in changes.items() if git.read(head, p) != data}
    return changes, tuple(masked), tuple(sorted(touched))
