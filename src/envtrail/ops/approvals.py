"""Proposals and approvals: review, approve and apply a change before it lands.

A proposal is a signed commit on ``refs/envtrail/proposals/<id>`` whose
parent is the line head it was made on; approvals are signed commits on top
of it that change nothing and name it (``Envtrail-Approves``). ``apply``
moves the store branch to the last approval, so the line holds the change
directly followed by its approvals, which is what rule 9 asks of it.
A break-glass change is approved afterwards, by an approval on the line.
Reading a proposal and judging its approvals is :mod:`envtrail.ops.proposal`.
"""

from __future__ import annotations

from envtrail.audit import line as line_walk
from envtrail.audit.approvals import (
    APPROVES,
    Requirement,
    is_break_glass,
    late_refusal,
    requirement,
)
from envtrail.audit.events import approvals_of
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import Record, render
from envtrail.audit.repairs import signature_state
from envtrail.audit.view import Snapshot, StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import AccessDenied, ConflictError, IntegrityError, UsageError
from envtrail.gitstore.commit import (
    Author,
    CasFailed,
    RefLocked,
    checkout_of,
    create_commit,
    journal_begin,
    journal_end,
    move_branch,
    not_before,
    recover,
    refresh_worktree,
    require_clean,
)
from envtrail.gitstore.discover import lock_path
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret, check_reason
from envtrail.ops import journal
from envtrail.ops.gate import open_line
from envtrail.ops.members import decrypt_values
from envtrail.ops.proposal import Proposal, is_repair, load, walk_on_base, with_findings
from envtrail.ops.routing import (
    chain_of,
    drop_proposal,
    find_proposal,
    plausible,
    proposal_ids,
    proposal_ref,
)
from envtrail.ops.store import whoami
from envtrail.ops.txn import Plan, Written, context_for, signer_for, transact
from envtrail.runtime import Runtime


def review(git: GitRepo, rt: Runtime, identity: Identity | None, proposal_id: str,
           reveal: bool) -> tuple[Proposal, dict[str, dict[str, Secret]]]:
    """A proposal and, with ``reveal``, the proposed values the caller's key opens."""
    view = StoreView(git)
    prop = with_findings(view, load(git, view, proposal_id, git.store_head()),
                         Keyring(identity), rt.now())
    shown: dict[str, dict[str, Secret]] = {}
    if reveal:
        if identity is None:
            raise UsageError("--reveal needs your identity")
        if prop.record.action != "repair":  # a repair is how a broken line is settled
            open_line(git, rt, identity)  # values only above a line that verifies, as reads
        names = [c.key for c in prop.record.changes if c.op != "-"]
        for env in prop.record.environments:
            snap = view.at(prop.commit)
            if env in snap.environments() and names:
                shown[env] = decrypt_values(snap.env(env), identity, names)
    return prop, shown


def approve(git: GitRepo, rt: Runtime, identity: Identity, target: str,
            reason: str | None) -> Written:
    """Approve a proposal (by id) or a break-glass commit on the line (by commit)."""
    text = check_reason(reason)
    if not text:
        raise UsageError("an approval needs a --reason")
    # A proposal first, by the one function review and apply use (review15 B8: a short id
    # taken for a line commit was refused as an integrity failure).
    found = find_proposal(git, target)
    if found is not None:
        return _approve_proposal(git, rt, identity, found, text)
    on = _approval_on(git, target)
    if on is not None:  # not a line commit: refused as tampering (exit 5) otherwise
        raise UsageError(f"{target[:40]} is an approval on proposal {on}, not a change",
                         hint=f"approve the proposal: `envtrail approve {on} --reason ...`")
    return _approve_break_glass(git, rt, identity, target, text)


def _approval_on(git: GitRepo, target: str) -> str | None:
    """The proposal whose chain holds a commit ``target`` is a prefix of, above the
    proposal commit itself (an approval), if any."""
    if not plausible(target):
        return None
    for pid in proposal_ids(git):
        tip = git.ref_target(proposal_ref(pid))
        chain = chain_of(git, tip, pid) if tip is not None else None
        if chain is not None and any(c.startswith(target) for c in chain[1:]):
            return pid
    return None


def _approve_proposal(git: GitRepo, rt: Runtime, identity: Identity, proposal_id: str,
                      text: str) -> Written:
    with WriteLock(lock_path(git.root)):
        line = open_line(git, rt, identity, allow_findings=is_repair(git, proposal_id))
        prop = load(git, line.view, proposal_id, line.head)
        acting = whoami(line.view.at(prop.base), identity, rt)
        _may_approve(prop.need, acting.principal, identity, rt, prop.counted, prop.id)
        # An approval names exactly this commit: on one that can never land it is a
        # signature spent for nothing, which sync would still push (review15 R3a).
        if prop.stale:
            raise _stale(prop)
        if prop.stuck:
            raise _stuck(prop.id, prop.stuck)
        # Judged as apply will judge it, with the approver's own key: a seat of theirs that
        # does not open, a fingerprint that lies (attack24 U1b: approved blind, the first of
        # two rotations hid a change of value), a key pair the line used before.
        judged = with_findings(line.view, prop, Keyring(identity), rt.now())
        if judged.findings:
            raise IntegrityError(f"proposal {prop.id} does not verify: {judged.findings[0]}",
                                 hint="judged as apply would, with your key; nothing was "
                                      "approved: tell its author and the other admins")
        rec = Record("approve", acting.principal, text, prop.record.environments,
                     context=context_for(rt), extra=((APPROVES, prop.commit),))
        when = not_before(rt.now(), git.info(prop.tip).committer_time)
        commit = create_commit(git, [prop.tip], {}, render(rec),
                               Author(rec.actor, rec.actor, when), signer_for(identity))
        try:
            move_branch(git, proposal_ref(prop.id), prop.tip, commit, "envtrail: approve")
        except CasFailed:
            raise ConflictError(f"proposal {prop.id} changed while approving; nothing was "
                                "changed", hint="retry") from None
        return Written(commit, rec, proposal=prop.id)


def _approve_break_glass(git: GitRepo, rt: Runtime, identity: Identity, target: str,
                         text: str) -> Written:
    line = open_line(git, rt, identity)
    commit = line.resolve(rt, target)  # on the verified line only
    info = git.info(commit)
    rec = parse_record(info)
    need = requirement(line.view, info, rec) if rec is not None else None
    if not is_break_glass(rec) or need is None:
        raise UsageError(f"{commit[:10]} is no break-glass change waiting for approval",
                         hint="approve a proposal by the id `envtrail proposals` shows")
    done = approvals_of(line.view, commit, line.head)

    def build(snap: Snapshot) -> Plan:
        acting = whoami(snap, identity, rt)
        _may_approve(need, acting.principal, identity, rt, tuple(done), commit[:12])
        # The approval lands on top of this state: its signer must still be an approver.
        late = late_refusal(snap.view, need, snap.commit or commit, acting.principal)
        if late:
            raise AccessDenied(f"approval refused: {late}")
        # It names what the change names (the approvals' scope may be wider: a store-wide
        # change's reaches every environment with a count).
        return Plan({}, Record("approve", acting.principal, text, rec.environments,
                               context=context_for(rt), extra=((APPROVES, commit),)))

    return transact(git, rt, identity, build)


def _may_approve(need: Requirement | None, principal: str, identity: Identity, rt: Runtime,
                 done: tuple[str, ...], what: str) -> None:
    if need is None:
        raise UsageError(f"{what} needs no approval", hint=f"apply it: `envtrail apply {what}`")
    refused = need.refusal(principal, identity.public.openssh, rt.now())
    if refused:
        raise AccessDenied(f"approval refused: {refused}")
    if principal in done:
        raise UsageError(f"{principal} has approved {what} already")


def _stale(prop: Proposal) -> ConflictError:
    return ConflictError(f"the store line has moved since proposal {prop.id} was made; an "
                         "approval binds to exactly the commit it names",
                         hint=f"the author re-proposes it: `envtrail propose --redo {prop.id}`")


def _stuck(proposal_id: str, why: str) -> AccessDenied:
    # Withdrawn, not deleted: `git update-ref -d` would forget the seats it sealed, which
    # the offboarding report and the restore notes count (review15 R3b).
    return AccessDenied(f"proposal {proposal_id} can never land: applying it would leave the "
                        f"store stuck: {why}",
                        hint=f"its author or an admin withdraws it (`envtrail propose "
                             f"--withdraw {proposal_id}`, then `envtrail sync`) and proposes "
                             "a change the approvers can still meet")


def apply(git: GitRepo, rt: Runtime, identity: Identity, proposal_id: str) -> Written:
    """Move the store line to the proposal's last approval, if enough are there and the
    line head is still the proposal's parent."""
    with WriteLock(lock_path(git.root)):
        recover(git)
        line = open_line(git, rt, identity, allow_findings=is_repair(git, proposal_id))
        prop = load(git, line.view, proposal_id, line.head)
        # A member where the proposal is judged: for a repair that is its clean point, as a
        # forgery it undoes may have dropped the author's line from the head's signers.
        where = signature_state(line.view, git.info(prop.commit), prop.record)
        whoami(line.view.at(where) if where else line.snapshot, identity, rt)
        if prop.stale:
            raise _stale(prop)
        # Judged where it was made (its base is the head here); re-made on a moved line
        # (redo, sync) it may strand the store now (attack23 T2): landing it would leave
        # nothing approvable again. Asked before its approvals, which may never come.
        if prop.stuck:
            raise _stuck(prop.id, prop.stuck)
        if not prop.ready:
            raise AccessDenied(
                f"proposal {prop.id} has {len(prop.counted)} of {prop.needed} approval(s)"
                + (f" ({prop.problems[0]})" if prop.problems else "")
                + (f" ({short})" if prop.need and (short := prop.need.shortfall(prop.counted))
                   else ""),
                hint=f"an approver runs `envtrail approve {prop.id} --reason ...`")
        # The check a read would make, before the line moves: incremental, except for a
        # repair, which only the walk from before its findings can judge.
        keyring = Keyring(identity)
        report = line_walk.walk(line.view, prop.tip, keyring=keyring, now=rt.now()) \
            if prop.record.action == "repair" or line.head is None else \
            walk_on_base(line.view, prop.tip, line.head, keyring, rt.now(), floor=line.floor)
        if report.findings:
            raise IntegrityError(f"proposal {prop.id} does not verify: "
                                 f"{report.findings[0].line()}")
        ref, tree = git.store_ref(), checkout_of(git)  # files maybe in another worktree
        paths = git.changed_paths(line.head, prop.tip) if tree else []
        if tree:
            require_clean(tree, line.head, paths)
        journal_begin(tree or git, ref, line.head, prop.tip, paths)
        try:
            move_branch(git, ref, line.head, prop.tip, "envtrail: apply")
        except RefLocked:
            journal_end(tree or git)
            raise ConflictError("another git process holds the store branch; nothing was "
                                "changed", hint=f"retry `envtrail apply {prop.id}` in a moment "
                                                "(a lock left by a crashed git process "
                                                "is its `.lock` file under .git/refs)") from None
        except CasFailed:
            journal_end(tree or git)
            raise ConflictError("the store branch moved while applying; nothing was changed",
                                hint=f"`envtrail propose --redo {prop.id}`") from None
        if tree:
            refresh_worktree(tree, prop.tip, paths)
        journal_end(tree or git)
        drop_proposal(git, prop.id)
        # Not in the replay journal (approvals are not ours to re-sign): if the push of
        # this line loses a race, sync turns it back into a proposal (ops.sync).
        journal.remember(git, prop.commit, prop.tip, journal.APPLIED)
        return Written(prop.tip, prop.record, proposal=prop.id)
