"""One round of ``sync`` by replay: this clone's unpushed commits re-made on the remote head.

Only commits this clone wrote with the key in use are re-made (ops.journal);
conflicting items are settled by ``--mine``/``--theirs`` first; a proposal
applied here whose approvals named a base the remote moved past goes back to
being a proposal; an approval of a break-glass change is re-made only where
its signer still approves. Nothing moves here: ops.sync moves the branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from envtrail.audit.approvals import approves, late_refusal, requirement
from envtrail.audit.breakglass import BREAK_GLASS
from envtrail.audit.events import approvals_of
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity, key_id
from envtrail.errors import AccessDenied, ConflictError
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import eventsync, journal, proposalsync, routing
from envtrail.ops.delta import conflicts, delta, settle
from envtrail.ops.replay import REPLAYED, chosen, replay
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Replayed:
    """One of this clone's commits and what became of it (None: settled away, or an
    applied proposal put back on its ref: ``unapplied`` names it)."""

    original: str
    commit: str | None
    action: str
    revoked: str | None = None  # the principal, for a replayed revoke's report
    unapplied: str | None = None  # the proposal id, for an apply that could not be pushed


def _unpushed(git: GitRepo, ours: str, base: str) -> list[str]:
    """The line's commits after ``base`` up to ``ours``, oldest first."""
    line, current = [], ours
    while current != base:
        line.append(current)
        parents = git.info(current).parents
        if len(parents) != 1:
            raise ConflictError(f"{current[:10]} is not a single-parent commit; sync replays "
                                "only envtrail's own commits",
                                hint=f"reset the branch to the remote and redo the change: "
                                     f"`git reset --keep {base[:10]}`, then "
                                     "`envtrail verify --accept-rewrite`")
        current = parents[0]
    return line[::-1]


def replay_onto(git: GitRepo, rt: Runtime, identity: Identity, ours: str, base: str,
                 incoming: str, mine: Sequence[str], theirs: Sequence[str],
                 events: Sequence[eventsync.Pending] = ()
                 ) -> tuple[str, list[Replayed], list[tuple[str, str]]]:
    """Re-make this clone's unpushed commits on ``incoming``; nothing moves yet. Also the
    proposals applied here whose approvals named a base the remote has moved past: they
    cannot be replayed (approvals are their signers' alone), so each goes back onto its
    proposal ref (returned as ``(proposal commit, tip)``) for its author to re-propose."""
    mine_now = _unpushed(git, ours, base)
    applied = _applied_chains(git, mine_now)
    wrote, key = journal.written(git), key_id(identity.public.openssh)
    for commit in mine_now:
        if commit in applied:
            continue
        if commit not in wrote:
            raise ConflictError(
                f"{commit[:10]} is not yours to replay: this clone did not write it",
                hint=f"push it from the clone that wrote it, or set this branch back to the "
                     f"remote (`git reset --keep {incoming[:10]}`, then `envtrail verify "
                     "--accept-rewrite`) and redo the change")
        if wrote[commit] != key:
            raise ConflictError(f"{commit[:10]} was signed with another key than the one in use",
                                hint="run `envtrail sync` with that identity (--identity)")
    keyring = Keyring(identity)
    steps = [(c, chosen(parse_record(git.info(c)),
                        delta(git, keyring, git.info(c).parents[0], c)))
             for c in mine_now if c not in applied]
    remote = delta(git, keyring, base, incoming)
    drop = settle(conflicts([d for _, d in steps], remote), mine, theirs)
    eventsync.keep_what_ran(events, mine_now, dict(steps), drop,
                            {p: parse_record(git.info(p)).environments  # type: ignore[union-attr]
                             for p, _ in applied.values() if p in mine_now}, remote)
    parent, out, unapplied = incoming, [], []
    for commit in mine_now:
        rec = parse_record(git.info(commit))
        action = rec.action if rec else "?"
        if commit in applied:
            proposal, tip = applied[commit]
            if proposal not in mine_now:  # applied there too, with the remote's approvals
                out.append(Replayed(commit, None, action))
            elif commit == proposal:
                unapplied.append((proposal, tip))
                out.append(Replayed(commit, None, action, unapplied=proposal[:12]))
            continue
        if rec is not None and rec.action == "approve":
            new = _replay_approval(git, identity, commit, rec, parent)
        else:
            new = replay(git, rt, identity, commit, dict(steps)[commit], drop, parent)
            if new is not None:
                _lands_unapproved(git, new, commit, incoming)
        parent = new or parent
        revoked = rec.extra_value("Member") if rec and rec.action == "revoke" else None
        out.append(Replayed(_original(git, commit), new, action,
                            revoked.lstrip("- ") if revoked and new else None))
    return parent, out, unapplied


def _applied_chains(git: GitRepo, unpushed: list[str]) -> dict[str, tuple[str, str]]:
    """Each unpushed commit of a proposal applied here (the proposal and its approvals, or
    only approvals where the remote applied the proposal too) -> (proposal, applied tip)."""
    out: dict[str, tuple[str, str]] = {}
    at = set(unpushed)
    for proposal, tip in journal.written(git, journal.APPLIED).items():
        if tip in at and git.has_commit(proposal):
            for c in git.first_parents(tip, git.info(proposal).parents[0])[0]:
                if c in at:
                    out[c] = (proposal, tip)
    return out


def _replay_approval(git: GitRepo, identity: Identity, commit: str, rec, parent: str) -> str | None:
    """A retroactive approval of a break-glass commit, re-made on ``parent`` if that commit is
    on the new line, this approver has not approved it there already and is still an
    approver on top of ``parent`` (a removal that came in meanwhile drops it)."""
    target = approves(rec)
    if target is None or not git.has_commit(target) or not git.is_ancestor(target, parent):
        return None
    view = StoreView(git)
    if rec.actor in approvals_of(view, target, parent):
        return None
    named = git.info(target)
    named_rec = parse_record(named)
    need = requirement(view, named, named_rec) if named_rec is not None else None
    if need is None or late_refusal(view, need, parent, rec.actor):
        return None
    return proposalsync.restack(git, identity, commit, parent)


def _lands_unapproved(git: GitRepo, new: str, original: str, incoming: str) -> None:
    """ConflictError if the remote's line now asks approvals of what ``new`` re-makes
    (a count raised meanwhile): it could only land as a proposal, which only its author
    can file, so sync stops with the way on instead of pushing what verify refuses."""
    rec = parse_record(git.info(new))
    if rec is None:
        return
    try:
        routing.settle(git, StoreView(git), new, rec,
                       routing.Route(break_glass=rec.extra_value(BREAK_GLASS) == "yes"))
    except AccessDenied as exc:
        raise ConflictError(
            f"{original[:10]} ({rec.action}) cannot be replayed as it is: {exc.message} "
            "on the remote's line now; nothing was changed",
            hint=f"set this branch back to the remote (`git reset --keep {incoming[:10]}`, "
                 "then `envtrail verify --accept-rewrite`) and make the change again with "
                 "--propose") from None


def _original(git: GitRepo, commit: str) -> str:
    """The commit this clone first wrote (a replay of a replay names the first)."""
    rec = parse_record(git.info(commit))
    return (rec.extra_value(REPLAYED) if rec else None) or commit
