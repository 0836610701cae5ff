"""Rule 9: which approvals a line commit needs, and whether the line gave them.

A commit needs the approvals of every environment whose file says something
else after it (values, members, sealed keys, key pair), each from that
environment's own approvers; a change to ``allowed_signers``, ``policy.yaml``
or ``config.yaml`` needs every environment's, and the highest count in its
parent's policy, so an admin cannot lower a count, add an identity or swap a
key alone, nor the approvers of one environment for another. Everything is
judged at the commit's parent, the one state there is (a repair: at the
verified states it vouches for, see :func:`rule_states`).

How the line gives them, commit by commit, is :mod:`envtrail.audit.ledger`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from envtrail.audit.breakglass import is_break_glass
from envtrail.audit.breakglass import refusal as glass_refusal
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.format import layout
from envtrail.gitstore.repo import CommitInfo

if TYPE_CHECKING:  # a write asks only ``requirement``, and most stores need no approvals
    from envtrail.format.policy import Policy
    from envtrail.format.signers import Signer

APPROVES = "Approves"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Quorum:
    """What one environment asks of a commit: ``count`` approvals by its own approvers."""

    environment: str
    count: int
    approvers: frozenset[str]


@dataclass(frozen=True)
class Requirement:
    """What approving one commit takes, judged at its parent: ``needed`` distinct
    approvals in all, and each environment's :class:`Quorum` among them, so that an
    approver of one environment never stands in for another's."""

    commit: str
    needed: int
    approvers: frozenset[str]
    signers: tuple[Signer, ...]  # allowed_signers at the parent: an approver's key is there
    author: str
    environments: tuple[str, ...]
    time: datetime
    break_glass: bool = False  # the commit claims Envtrail-Break-Glass: yes
    glass_refusal: str | None = None  # why break-glass may not land this commit, if so
    review_seconds: int = 86400
    quorums: tuple[Quorum, ...] = ()

    def met(self, approved_by: Sequence[str]) -> bool:
        """Whether approvals by ``approved_by`` (each already found valid) are enough."""
        return len(set(approved_by)) >= self.needed and self.shortfall(approved_by) is None

    def shortfall(self, approved_by: Sequence[str]) -> str | None:
        """The first environment whose own approvers have not given its count yet."""
        for q in self.quorums:
            have = sum(1 for p in set(approved_by) if p in q.approvers)
            if have < q.count:
                return f"{q.environment} has {have} of {q.count} approval(s) by its approvers"
        return None

    def refusal(self, principal: str | None, key: str | None, when: datetime) -> str | None:
        """Why an approval signed by ``principal`` with ``key`` at ``when`` does not count."""
        if principal == self.author:
            return f"{principal} approves their own change"
        if principal not in self.approvers:
            return f"{principal} is not an approver of {', '.join(self.environments) or 'it'}"
        if not any(s.principal == principal and s.key == key and s.valid_at(when)
                   for s in self.signers):
            return f"{principal} signed with a key that was not theirs at the change's parent"
        return None


def approves(rec: Record) -> str | None:
    """The commit an ``approve`` record names (a full id), or None."""
    target = rec.extra_value(APPROVES) if rec.action == "approve" else None
    if target is None or len(target) != 40 or not set(target) <= _HEX:
        return None
    return target


def requirement(view: StoreView, info: CommitInfo, rec: Record) -> Requirement | None:
    """What ``info`` needs, or None when it needs no approval (markers, the genesis).

    A commit is judged by its parent: its rules, and what it changes from it. A
    repair is judged by the states it vouches for (see :func:`rule_states`), never
    by the forged parent it undoes: their rules, and what it changes from the newest.
    """
    if not info.parents or rec.action in ("approve", "event"):
        return None
    git = view.git
    states = rule_states(view, info, rec)
    judged_at, policies = states[0], [view.policy(state) for state in states]
    if not max(p.max_approvals() for p in policies):
        return None  # most stores: nothing to look at, and verify stays fast
    policy = policies[0]
    # What it changes: against its parent; a repair, against the newest verified state
    # it goes back from (a forged parent could already hold the repair's very tree).
    base = states[-1]
    before, after = view.env_blobs(base), view.env_blobs(info.id)
    # By what the file says, not its bytes: a file re-serialised with nothing changed
    # (a comment added) must not bring its environment's approvers into scope.
    touched = sorted(e for e in before.keys() | after.keys() if before.get(e) != after.get(e)
                     and view.env_at(base, e) != view.env_at(info.id, e))
    admin = git.differing(base, info.id, layout.ADMIN_FILES)
    counts = {e: max(p.rule_for(e).approvals for p in policies) for e in touched}
    needed = max(counts.values(), default=0)
    if admin:
        # Signers, policy and config reach every environment: each one's approvers
        # give its count (a signers change could seat a key that approves anywhere).
        needed = max(needed, *(p.max_approvals() for p in policies))
        counts.update(store_wide_counts(before.keys(), policies))
    scope = sorted(e for e in counts if counts[e])
    if not needed:
        return None
    glass = is_break_glass(rec)
    signers = tuple(view.signers(judged_at))
    if base != judged_at:
        # A repair dated back over verified commits: who approves it must still be
        # able to at the newest of them (a revocation it sweeps still counts here).
        at = git.info(base).committer_time
        signers = tuple(s for s in view.signers(base) if s.valid_at(at))
    # A file in any state judged gives a quorum: one made after a repair's clean point
    # keeps its quorum (of no one: nobody approves undoing it).
    quorums = tuple(Quorum(e, counts[e], approvers_at(view, judged_at, [e]) if base == judged_at
                           else approvers_at(view, judged_at, [e]) & approvers_at(view, base, [e]))
                    for e in scope if has_quorum(
                        e, policies, any(e in view.env_blobs(state) for state in states)))
    return Requirement(
        info.id, needed, frozenset().union(*(q.approvers for q in quorums)),
        signers, rec.actor, tuple(scope), info.committer_time, glass,
        glass_refusal(view, judged_at, info.id, rec, touched, admin, scope) if glass else None,
        min((policy.rule_for(e).review_seconds for e in scope), default=86400), quorums)


def store_wide_counts(existing: Iterable[str], policies: Sequence[Policy]) -> dict[str, int]:
    """Every environment a change of signers, policy or config reaches (with a file, or
    named by a rule ahead of `env add`), with its count under ``policies`` (the highest).
    ``ops.reach`` asks the same of a change not made yet."""
    every = set(existing) | {e for p in policies for e in p.environments}
    return {e: max(p.rule_for(e).approvals for p in policies) for e in sorted(every)}


def has_quorum(environment: str, policies: Sequence[Policy], has_file: bool) -> bool:
    """Whether ``environment`` has anyone to ask for its count: a file, or listed approvers.
    One with neither still raises the count in all, but a quorum of no one would make
    every store-wide change unapprovable."""
    return has_file or any(p.rule_for(environment).approvers is not None for p in policies)


def rule_states(view: StoreView, info: CommitInfo, rec: Record) -> list[str]:
    """The line states a commit's approvals are judged by, oldest first: the first gives
    approvers and signers, every one its counts, the last the state its changes are
    measured from.

    A commit: its parent. A repair: its clean point (it is signed as of there, and its
    parent may be the forged commit that lowered a count, or that already holds the
    repair's tree), then the unbroken run of commits right after it that the repair
    sweeps only as dated ahead of itself (named for rule 7 alone, as audit.line requires
    of those): they verified, and a repair dated before them must neither escape their
    counts nor undo them unapproved. A repair whose clean point is not a line commit
    before it is refused by the walk; it is judged like any commit."""
    parent = info.parents[0]
    if rec.action != "repair":
        return [parent]  # nearly every commit: no import on verify's path
    from envtrail.audit.repairs import CLEAN, acknowledged

    clean = rec.extra_value(CLEAN)
    if clean is None or clean == parent or not view.git.has_commit(clean):
        return [parent]
    between, met = view.git.first_parents(parent, clean)
    if not met:
        return [parent]
    named: dict[str, set[str]] = {}
    for commit, rule in acknowledged(rec):
        named.setdefault(commit, set()).add(rule)
    # Oldest first, so the last is the newest verified state the repair goes back from:
    # only an unbroken run of them right after the clean point. One past any other
    # finding sits on a forged state, and measuring from there would let the repair
    # keep the forged change unapproved.
    states = [clean]
    for commit in reversed(between):
        if named.get(commit) != {"7"}:
            break
        states.append(commit)
    return states


def approvers_at(view: StoreView, state: str | None, environments: Sequence[str],
                 rules: Policy | None = None) -> frozenset[str]:
    """Who may approve a change to ``environments`` as of the line state ``state``: the
    policy's ``approvers`` where it lists them, else the members, except ``ci:*``
    (``rules``: another policy than the state's, to ask what one would leave)."""
    policy = rules if rules is not None else view.policy(state)
    approvers: set[str] = set()
    for env in environments:
        listed = policy.rule_for(env).approvers
        if listed is not None:
            approvers.update(listed)
        else:
            file = view.env_at(state, env)
            approvers.update(p for p in (file.members if file else {}) if not p.startswith("ci:"))
    return frozenset(approvers)


def late_refusal(view: StoreView, need: Requirement, state: str,
                 principal: str | None) -> str | None:
    """Why an approval of a break-glass change, signed on top of ``state`` after the change,
    does not count although the change's parent allowed it: its signer is no approver any
    more (one given before a removal still counts). It counts towards every environment
    it was an approver of at the change: its signer must still approve each of them."""
    mine = [q.environment for q in need.quorums if principal in q.approvers] or \
        list(need.environments)
    try:
        left = [e for e in mine if principal not in approvers_at(view, state, [e])]
    except IntegrityError:  # an unreadable policy or file there: the verifier reports it
        return "the state it follows cannot be read"
    return f"{principal} is no longer an approver of {', '.join(left)}" if left else None
