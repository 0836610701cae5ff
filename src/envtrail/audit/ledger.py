"""Rule 9 along the line: whether the approvals a commit needs follow it.

On the line a commit that needs N approvals is followed directly by N valid
``approve`` commits naming exactly it. A break-glass commit may land alone;
it stays an unreviewed warning until enough approvals of it follow anywhere
later on the line. What each commit needs is :mod:`envtrail.audit.approvals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from envtrail.audit.approvals import APPROVES, Requirement, approves, late_refusal, requirement
from envtrail.audit.breakglass import BREAK_GLASS, Glass, is_break_glass
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import CommitInfo

if TYPE_CHECKING:
    from envtrail.audit.signature import Verdict

# Trailer keys are matched case-sensitively (audit/record.py), so a substring test is a
# sound filter before parsing.
_GLASS_TRAILER, _APPROVES_TRAILER = f"Envtrail-{BREAK_GLASS}:", f"Envtrail-{APPROVES}:"

@dataclass
class Ledger:
    """Rule 9 over a walk of the line, oldest first. ``step`` returns findings as
    ``(commit, message)`` pairs; the caller turns them into rule 9 findings."""

    view: StoreView
    pending: Requirement | None = None
    got: list[str] = field(default_factory=list)
    glass: dict[str, Glass] = field(default_factory=dict)
    # Requirements already worked out elsewhere (audit.parallel), by commit.
    known: dict[str, Requirement | None] = field(default_factory=dict)

    def step(self, info: CommitInfo, rec: Record | None,
             verdict: Verdict | None) -> list[tuple[str, str]]:
        """Account for the next line commit."""
        out: list[tuple[str, str]] = []
        target = approves(rec) if rec is not None else None
        if rec is not None and rec.action == "approve" and verdict is not None and verdict.good:
            why, need = self._judge(info, target, verdict)
            if self.pending is not None and target == self.pending.commit and why is None:
                if verdict.principal not in self.got:
                    self.got.append(verdict.principal or "")
                if self.pending.met(self.got):
                    self.pending = None
                return out
            out += self._short()
            if why is not None:
                out.append((info.id, f"an approval that does not count: {why}"))
            elif target in self.glass and verdict.principal not in self.glass[target].approved_by:
                self.glass[target].approved_by.append(verdict.principal or "")
            return out
        out += self._short()
        if rec is None or verdict is None or not verdict.good:
            return out
        try:
            need = self.known.pop(info.id) if info.id in self.known else \
                requirement(self.view, info, rec)
        except IntegrityError:
            return out  # an unreadable file at the parent: the verifier reports it
        if need is None:
            return out
        if need.break_glass:
            if need.glass_refusal:
                out.append((info.id, f"break-glass refused: {need.glass_refusal}; it needed "
                                     f"{need.needed} approval(s)"))
            else:
                self.glass[info.id] = Glass(need)
            return out
        self.pending, self.got = need, []
        return out

    def resume(self, since: str) -> None:
        """Carry into a walk that starts after ``since`` (an incremental check) a change
        that is still waiting there for approvals: the approvals it lacks must follow."""
        from envtrail.audit import signature
        from envtrail.audit.history import parse_record

        git, run = self.view.git, []
        info = git.info(since)
        rec = parse_record(info)
        while rec is not None and rec.action == "approve" and info.parents:
            run.append((info, rec))
            info = git.info(info.parents[0])
            rec = parse_record(info)
        if rec is None or rec.action == "approve" or is_break_glass(rec):
            return  # no change waits there (a break-glass one is reviewed at any time)
        # The run was verified already: only the state it leaves matters, not its findings
        # (a repair's signature is judged where the walk judged it, not at a forged parent).
        from envtrail.audit.repairs import signature_state

        for commit_info, commit_rec in [(info, rec), *reversed(run)]:
            self.step(commit_info, commit_rec, signature.check(
                self.view, commit_info, signature_state(self.view, commit_info, commit_rec)))

    def close(self) -> list[tuple[str, str]]:
        """At the line head, or before a repair: a change still waiting for approvals is
        left short."""
        return self._short(at_head=True)

    def unreviewed(self) -> list[Glass]:
        """Break-glass commits without enough approvals yet, oldest first."""
        return [g for g in self.glass.values() if not g.reviewed]

    def _short(self, at_head: bool = False) -> list[tuple[str, str]]:
        need, self.pending = self.pending, None
        if need is None:
            return []
        where = "the line head" if at_head else "the next change"
        short = need.shortfall(self.got)
        return [(need.commit, f"needs {need.needed} approval(s) of "
                              f"{', '.join(need.environments) or 'the store'}; {where} leaves "
                              f"it with {len(self.got)}{f' ({short})' if short else ''}")]

    def _judge(self, info: CommitInfo, target: str | None,
               verdict: Verdict) -> tuple[str | None, Requirement | None]:
        if target is None:
            return "it names no commit (Envtrail-Approves)", None
        if self.pending is not None and target == self.pending.commit:
            need: Requirement | None = self.pending
        elif target in self.glass:
            need = self.glass[target].need
        else:
            why, need = named_requirement(self.view, info, target)
            if why is not None:
                return why, None
        if need is None:
            return f"{target[:10]} needs no approval", None
        return approval_refusal(self.view, need, info, verdict), need


def named_requirement(view: StoreView, info: CommitInfo,
           target: str) -> tuple[str | None, Requirement | None]:
    """What the change an approval names needs (None: no approval), or why it is no
    change the approval can name."""
    from envtrail.audit.history import parse_record

    git = view.git
    if target == info.id or not git.has_commit(target) or not git.is_ancestor(target, info.id):
        return f"{target[:10]} is not before it on the line", None
    named = git.info(target)
    named_rec = parse_record(named)
    try:
        return None, requirement(view, named, named_rec) if named_rec else None
    except IntegrityError:
        return None, None


def approval_refusal(view: StoreView, need: Requirement, info: CommitInfo,
             verdict: Verdict) -> str | None:
    """Why an approval signed as ``verdict`` says does not count towards ``need``."""
    why = need.refusal(verdict.principal, verdict.key, info.committer_time)
    if why is None and need.break_glass:  # approved after the fact, on a later state
        why = late_refusal(view, need, info.parents[0], verdict.principal)
    return why


def unreviewed_on_line(view: StoreView, head: str | None) -> list[Glass]:
    """Break-glass commits from the genesis to ``head`` still short of approvals, oldest
    first, judged by the same :class:`Ledger` as ``verify``'s walk.

    Unlike that walk it checks signatures only where this judgement needs them (the
    break-glass commits and the approvals), so ``status`` can afford it on a long line.
    """
    from envtrail.audit import signature
    from envtrail.audit.history import parse_record

    if head is None:
        return []
    git, ledger = view.git, Ledger(view)
    ids, _ = git.first_parents(head)
    for commit in reversed(ids):
        info = git.info(commit)
        if _GLASS_TRAILER not in info.message and _APPROVES_TRAILER not in info.message:
            continue  # neither kind the ledger's break-glass judgement looks at
        rec = parse_record(info)
        counts = rec is not None and (rec.action == "approve" or is_break_glass(rec))
        ledger.step(info, rec, signature.check(view, info) if counts else None)
    return ledger.unreviewed()
