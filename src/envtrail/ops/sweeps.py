"""What a repair goes back over: the honest commits it undoes, and the seats it leaves.

Between the clean point and the head, only honest value changes may be undone
(by the walk's own rule, audit.repairs.sweep_plan), never one an event
follows; a key pair the repair puts back stays with whoever a commit it goes
back over sealed it to, which the report says so they rotate it.
"""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit.eventline import EVENTS_REF, after_of
from envtrail.audit.history import parse_record
from envtrail.audit.repairs import sweep_plan, undo_refusal
from envtrail.audit.verify import Finding
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.verifiedline import Line


@dataclass(frozen=True)
class SweptChange:
    """An honest commit after the first finding whose value changes the repair undoes
    (names only: which variables, never a value)."""

    commit: str
    action: str
    actor: str
    reason: str
    variables: tuple[str, ...]  # ENV:KEY with its + - ~


def handed_out(line: Line, clean: str) -> tuple[tuple[str, str, str], ...]:
    """Who got an environment's keys from a commit between the clean point and the head
    while its key pair stayed the clean point's: the repair puts that key pair back, so
    they still hold it (a forged or mistaken seat), and only a rotation takes it away."""
    # From the line itself: an incremental walk may have started at the clean point.
    after = line.git.first_parents(line.head, clean)[0] if line.head else []
    view, out = line.view, {}
    for env in sorted(view.env_blobs(clean)):
        try:
            base = view.env_at(clean, env)
        except IntegrityError:
            continue
        seated = {(p, m.key) for p, m in base.members.items()} if base else set()
        for commit in after:
            try:
                state = view.env_at(commit, env)
            except IntegrityError:
                continue
            if state is None or base is None or state.public_key != base.public_key:
                continue
            for p, m in state.members.items():
                if (p, m.key) not in seated and (env, p) not in out:
                    out[(env, p)] = commit
    return tuple((env, p, commit) for (env, p), commit in sorted(out.items()))


def swept_by(line: Line, clean: str, findings: tuple[Finding, ...],
            author: str, reason: str) -> tuple[SweptChange, ...]:
    """The honest commits between the clean point and the head that the repair undoes,
    by the walk's own rule (audit.repairs.sweep_plan); IntegrityError (exit 5) naming the
    first one no repair may go back over (a change of members, keys, signers, policy or
    config, another repair, a change that needed approvals, or one of an environment
    ``author`` is no member of or whose policy the repair breaks), since restoring the
    clean point would undo it."""
    walked = line.report.walked if line.report else []
    between = walked[walked.index(clean) + 1:] if clean in walked else list(walked)
    named = {(f.commit, str(f.rule)) for f in findings}
    found = {f.commit for f in findings}
    # A commit whose only finding is its date is honest: undone only where a sweep could be.
    dated = {c for c in found if {rule for f_c, rule in named if f_c == c} == {"7"}}
    followed = _followed_by_events(line.git)
    for commit in between:
        why = None if commit in found - dated else undo_refusal(line.view, commit, author, reason)
        if why is not None and commit in dated:
            why = f"its only finding is its date, and {why}"
        if why is None and commit not in found and commit in followed:
            # An honest change a deploy ran with is not undone behind its back: the event
            # would be left after a state the repair undid, never judged again. A change
            # whose only finding is its date may be (attack26 M1): its events followed a
            # state every clone already flags, and are warnings after the repair, as any
            # event after an acknowledged state (a date ahead they carry it names too).
            why = "an event follows it"
        if why is not None:
            info = line.git.info(commit)
            rec = parse_record(info)
            what = f"{rec.action} by {rec.actor}" if rec else "a commit"
            raise IntegrityError(
                f"cannot repair: {commit[:10]} ({what}) came after the first finding and "
                f"{why}; restoring the clean point {clean[:10]} would undo it",
                hint="a repair restores values only; review `envtrail log`, and get the "
                     "store back by a reviewed rewrite (`envtrail verify --accept-rewrite`)")
    plan = sweep_plan(line.view, between, named, named, author, reason=reason)
    if plan is None:
        raise IntegrityError("cannot repair: the commits after the first finding are "
                             "neither findings nor honest value changes a repair may undo",
                             hint="`envtrail verify` lists the findings; `envtrail log` the rest")
    return tuple(_swept_change(line.git, commit) for commit in plan.swept)


def _followed_by_events(git: GitRepo) -> set[str]:
    """The store commits the events on this clone's events line follow."""
    tip = git.ref_target(EVENTS_REF)
    if tip is None:
        return set()
    out = set()
    for commit in git.first_parents(tip)[0]:
        rec = parse_record(git.info(commit))
        after = after_of(rec) if rec is not None else None
        if after is not None:
            out.add(after)
    return out


def _swept_change(git: GitRepo, commit: str) -> SweptChange:
    """What one swept commit did, by its (verified) trailers."""
    rec = parse_record(git.info(commit))
    if rec is None:  # sweep_refusal never lets one through; said plainly all the same
        return SweptChange(commit, "unattested", "(unknown)", "", ())
    envs = rec.environments
    names = tuple(f"{c.op}{c.key if ':' in c.key or len(envs) != 1 else f'{envs[0]}:{c.key}'}"
                  for c in rec.changes)
    return SweptChange(commit, rec.action, rec.actor, rec.reason, names)
