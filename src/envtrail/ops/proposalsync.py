"""Proposals in ``sync``: fetched only when they verify, pushed, and their approvals merged.

Per proposal id, with L this clone's ref, R the remote's and S the remote's
as this clone last synced it:

- R new here (no L, no S): taken if it verifies as a proposal on the line
  being pushed (its commits signed, by members, honest, on a line commit;
  nothing but approvals of it on top) and its author's key is still open
  there. Otherwise it is left on the remote, never served here, and named in
  the sync report.
- L new (no R, no S): pushed; first re-made on the current head (by its
  author only) if its base left the line or an environment it changes got a
  new key pair since (a revocation or rotation), so nothing leaves this
  clone sealed to a retired key.
- Gone on one side since the last sync (S but no L, or S but no R): the
  proposal was applied or withdrawn there; the deletion wins on both sides. One gone
  from the remote unapplied (a withdrawal, or any pusher's deletion) is kept here under
  ``refs/envtrail/withdrawn/``, never pushed, for the offboarding report.
- Both there, apart: the side with more approvals wins when it contains the
  other; when both added approvals, this clone's own approvals (signed with
  the key in use) are re-made on top of the remote's, and an approval by a
  principal the remote already has is dropped. An approval by anyone else
  is never re-signed: that proposal is left as it is here and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from envtrail.audit import signature
from envtrail.audit.approvals import approves
from envtrail.audit.history import parse_record
from envtrail.audit.record import render
from envtrail.crypto.keys import Identity, key_id
from envtrail.errors import EnvtrailError, IntegrityError
from envtrail.format.layout import env_of
from envtrail.gitstore.commit import Author, create_commit, move_branch, not_before
from envtrail.gitstore.remote import RefUpdate, Upstream, mirror
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.proposaljudge import ProposalJudge
from envtrail.ops.redo import offboarded, remake
from envtrail.ops.replay import REPLAYED
from envtrail.ops.routing import (
    PROPOSALS,
    WITHDRAWN,
    chain_of,
    drop_proposal,
    proposal_ref,
    shelve_proposal,
)
from envtrail.ops.txn import signer_for
from envtrail.runtime import Runtime


@dataclass(frozen=True)
class Note:
    """One thing sync did (or would not do) with a proposal, for the report."""

    proposal: str
    text: str
    warning: bool = False  # a warning that names its proposal itself (a re-made one's)


@dataclass
class ProposalsPlan:
    """The pushes, what the remote holds once they land, and what to tell the user."""

    updates: list[RefUpdate] = field(default_factory=list)
    remote: dict[str, str] = field(default_factory=dict)  # ref -> tip, after the push
    notes: list[Note] = field(default_factory=list)


def reconcile(git: GitRepo, rt: Runtime, identity: Identity, up: Upstream, head: str,
              seen: dict[str, str]) -> ProposalsPlan:
    """Bring this clone's proposals and the remote's together over ``head``, the verified
    store line about to be pushed (or already on the remote)."""
    local = _refs(git, PROPOSALS)
    remote = _refs(git, mirror(up, PROPOSALS))
    before = {k[len(PROPOSALS):]: v for k, v in seen.items() if k.startswith(PROPOSALS)}
    plan = ProposalsPlan()
    judge = ProposalJudge(git, rt, identity, head)
    for pid in sorted(local.keys() | remote.keys()):
        mine, theirs, was = local.get(pid), remote.get(pid), before.get(pid)
        if theirs is not None:
            plan.remote[proposal_ref(pid)] = theirs  # unless the steps below change it
        if mine == theirs:
            continue
        if mine is None:
            if was is not None:  # applied or withdrawn here since the last sync
                plan.updates.append(RefUpdate(proposal_ref(pid), None, theirs))
                plan.remote.pop(proposal_ref(pid))
                plan.notes.append(Note(pid, "removed from the remote (applied or withdrawn "
                                            "here)"))
            elif judge.applied(pid, theirs):  # on the line already: nothing to wait for
                plan.updates.append(RefUpdate(proposal_ref(pid), None, theirs))
                plan.remote.pop(proposal_ref(pid))
                plan.notes.append(Note(pid, "removed from the remote (applied already)"))
            elif _take(git, judge, plan, pid, None, theirs):
                plan.notes.append(Note(pid, "received"))
        elif theirs is None:
            if was is not None and judge.applied(pid, mine):
                drop_proposal(git, pid)
                plan.notes.append(Note(pid, "removed here (applied on the remote)"))
            elif was is not None:  # withdrawn there, or deleted by anyone who can push
                shelve_proposal(git, pid)
                plan.notes.append(Note(pid, "removed here: the remote no longer has it and "
                                            "it is not on the line (withdrawn, or deleted "
                                            f"by anyone who can push); kept as {WITHDRAWN}"
                                            f"{pid} for the offboarding report"))
            else:
                _push_new(git, rt, identity, judge, plan, pid, mine)
        elif git.is_ancestor(theirs, mine):
            plan.updates.append(RefUpdate(proposal_ref(pid), mine, theirs))
            plan.remote[proposal_ref(pid)] = mine
            plan.notes.append(Note(pid, "pushed its new approvals"))
        elif git.is_ancestor(mine, theirs):
            if _take(git, judge, plan, pid, mine, theirs):
                plan.notes.append(Note(pid, "received new approvals"))
        else:
            _restack(git, rt, identity, judge, plan, pid, mine, theirs)
    return plan


def _refs(git: GitRepo, prefix: str) -> dict[str, str]:
    # A ref to a blob is no proposal.
    return {name[len(prefix):]: target for name, target in git.refs(prefix).items()
            if git.has_commit(target)}


def _take(git: GitRepo, judge: ProposalJudge, plan: ProposalsPlan, pid: str, mine: str | None,
          theirs: str) -> bool:
    why = judge.refusal(pid, theirs)
    if why is None and mine is None:
        why = judge.author_gone(pid, theirs)
    if why is not None:
        if mine is not None:
            _replace_remote(plan, pid, mine, theirs, why)
            return False
        plan.notes.append(Note(pid, f"not taken from the remote: {why}"))
        plan.remote.pop(proposal_ref(pid), None)  # never recorded as seen
        return False
    counted, junk = judge.counted(pid, theirs)
    if counted != theirs:
        # The remote's copy goes back to what counts (or to this clone's, which has more):
        # an approval that does not count would otherwise stop every apply for good.
        keep = mine if mine is not None and git.is_ancestor(counted, mine) else counted
        plan.updates.append(RefUpdate(proposal_ref(pid), keep, theirs))
        plan.remote[proposal_ref(pid)] = keep
        plan.notes.append(Note(pid, f"an approval on the remote's copy does not count "
                                    f"({junk}); it and what follows it are dropped"))
        if keep == mine:
            return False
        theirs = counted
    move_branch(git, proposal_ref(pid), mine, theirs, "envtrail: sync proposal")
    return True


def _push_new(git: GitRepo, rt: Runtime, identity: Identity, judge: ProposalJudge, plan: ProposalsPlan,
              pid: str, tip: str) -> None:
    chain = chain_of(git, tip, pid)
    if chain is None:
        plan.notes.append(Note(pid, "not pushed: no proposal commit under its approvals"))
        return
    gone = offboarded(judge.view, chain[0], judge.head)
    if gone:  # pushed as it is, or re-made, it would hand them the keys again
        plan.notes.append(Note(pid, f"proposal {pid} is not pushed: it seats "
                                    f"{', '.join(gone)}, offboarded on the line since it was "
                                    "proposed", warning=True))
        return
    stale_key = _needs_remake(git, judge, chain[0])
    if stale_key is None:
        plan.updates.append(RefUpdate(proposal_ref(pid), tip, None))
        plan.remote[proposal_ref(pid)] = tip
        plan.notes.append(Note(pid, "pushed"))
        return
    verdict = signature.check(judge.view, git.info(chain[0]))
    if key_id(verdict.key) != key_id(identity.public.openssh):
        plan.notes.append(Note(pid, f"not pushed: {stale_key}; only its author re-makes it "
                                    f"(`envtrail propose --redo {pid}`)"))
        return
    try:
        written = remake(git, rt, identity, chain[0], judge.head)
    except EnvtrailError as exc:
        plan.notes.append(Note(pid, f"not pushed: {stale_key}, and re-making it failed: "
                                    f"{exc.message}"))
        return
    shelve_proposal(git, pid)  # its seats stay counted (review14 B3)
    if written.commit is None or written.proposal is None:
        plan.notes.append(Note(pid, f"withdrawn: {stale_key}, and the line already holds "
                                    "what it changes"))
        plan.notes.extend(Note(pid, text, warning=True) for text in written.warnings)
        return
    new = written.proposal
    plan.updates.append(RefUpdate(proposal_ref(new), written.commit, None))
    plan.remote[proposal_ref(new)] = written.commit
    plan.notes.append(Note(pid, f"re-made as {new} before pushing: {stale_key} (its "
                                "approvals, if any, named the old commit)"))
    plan.notes.extend(Note(pid, text, warning=True) for text in written.warnings)


def _needs_remake(git: GitRepo, judge: ProposalJudge, commit: str) -> str | None:
    """Why a proposal must be re-made before it leaves this clone, or None."""
    base = git.info(commit).parents[0]
    if not judge.on_line(base):
        return "its base is not on the store line being pushed"
    view = judge.view
    for path in git.changed_paths(base, commit):
        env = env_of(path)
        if env is None:
            continue
        old, now = view.env_at(base, env), view.env_at(judge.head, env)
        if old is not None and now is not None and old.public_key != now.public_key:
            return f"{env} got a new key pair since it was made (revoked or rotated)"
    return None


def _restack(git: GitRepo, rt: Runtime, identity: Identity, judge: ProposalJudge, plan: ProposalsPlan,
             pid: str, mine: str, theirs: str) -> None:
    """Both sides approved: this clone's own approvals go on top of the remote's."""
    why = judge.refusal(pid, theirs)
    remote_tip = theirs
    if why is None:
        theirs, junk = judge.counted(pid, theirs)
        if junk:
            plan.notes.append(Note(pid, f"an approval on the remote's copy does not count "
                                        f"({junk}); it and what follows it are dropped"))
    ours_chain, their_chain = chain_of(git, mine, pid), chain_of(git, theirs, pid)
    if why is None and (ours_chain is None or their_chain is None
                        or ours_chain[0] != their_chain[0]):
        why = "it is another commit than the proposal here"
    if why is not None:
        _replace_remote(plan, pid, mine, remote_tip, why)
        return
    view, me = judge.view, key_id(identity.public.openssh)
    have = {signature.check(view, git.info(c)).principal for c in their_chain[1:]}
    base = git.merge_base(mine, theirs)
    extra = git.oldest_first(mine, base)
    verdicts = [(c, signature.check(view, git.info(c))) for c in extra]
    for c, v in verdicts:
        if v.principal not in have and key_id(v.key) != me:
            plan.notes.append(Note(pid, f"kept as it is here: the approval {c[:10]} by "
                                        f"{v.principal or 'an unknown key'} is not yours to "
                                        "re-make; sync with that identity"))
            plan.remote.pop(proposal_ref(pid), None)
            return
    parent, remade = theirs, 0
    for c, v in verdicts:
        if v.principal in have:
            continue  # the remote carries this approver's approval already
        parent = restack(git, identity, c, parent)
        remade += 1
    move_branch(git, proposal_ref(pid), mine, parent, "envtrail: sync proposal")
    if parent != remote_tip:
        plan.updates.append(RefUpdate(proposal_ref(pid), parent, remote_tip))
    plan.remote[proposal_ref(pid)] = parent
    plan.notes.append(Note(pid, f"merged approvals: the remote's, then {remade} of yours "
                                "re-made on top"))


def _replace_remote(plan: ProposalsPlan, pid: str, mine: str, theirs: str, why: str) -> None:
    """The remote's copy does not verify (anyone who can push can put junk on a ref):
    this clone's, which did, replaces it, so no approval made since waits on it."""
    plan.updates.append(RefUpdate(proposal_ref(pid), mine, theirs))
    plan.remote[proposal_ref(pid)] = mine
    plan.notes.append(Note(pid, f"the remote's copy does not verify ({why}); yours replaces "
                                "it"))


def restack(git: GitRepo, identity: Identity, approval: str, parent: str) -> str:
    """Re-make one of this signer's approval commits on ``parent``, signed now."""
    info = git.info(approval)
    rec = parse_record(info)
    if rec is None or approves(rec) is None:
        raise IntegrityError(f"{approval[:10]} is no approval")
    extra = (*((k, v) for k, v in rec.extra if k != REPLAYED),
             (REPLAYED, rec.extra_value(REPLAYED) or approval))
    new = replace(rec, extra=extra)
    when = not_before(info.committer_time, git.info(parent).committer_time)
    return create_commit(git, [parent], {}, render(new), Author(rec.actor, rec.actor, when),
                         signer_for(identity))


def restore(git: GitRepo, proposal: str, tip: str) -> str:
    """Put an applied proposal that could not be pushed back on its ref; its id back."""
    pid = proposal[:12]
    current = git.ref_target(proposal_ref(pid))
    if current != tip:
        move_branch(git, proposal_ref(pid), current, tip, "envtrail: sync unapply")
    return pid

