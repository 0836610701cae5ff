"""Write transactions: lock, read HEAD, apply, signed commit, CAS, refresh (DESIGN section 5)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from envtrail import __version__
from envtrail.audit import checkpoint, context, record
from envtrail.audit.record import Record
from envtrail.crypto import sshsig
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError
from envtrail.format import envfile
from envtrail.gitstore.commit import (
    Author,
    CasFailed,
    RefLocked,
    create_commit,
    journal_begin,
    journal_end,
    maybe_pack,
    move_branch,
    recover,
    refresh_worktree,
    require_clean,
)
from envtrail.gitstore.discover import state_dir
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.store import Snapshot
from envtrail.ops.verified import ensure_verified
from envtrail.runtime import Runtime

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Plan:
    """What one write changes: files by path (None deletes) and the commit's record."""

    changes: Mapping[str, bytes | None]
    record: Record


@dataclass(frozen=True)
class Written:
    """The outcome of a write: the new commit (None if nothing changed) and its record."""

    commit: str | None
    record: Record | None
    attempts: int = 1


def signer_for(identity: Identity) -> Callable[[bytes], str]:
    """The callback gitstore uses to sign a commit payload."""
    return lambda payload: sshsig.sign(identity, payload, "git")


def transact(git: GitRepo, rt: Runtime, identity: Identity,
             build: Callable[[Snapshot], Plan | None]) -> Written:
    """Apply ``build`` to HEAD and commit the result, retrying if HEAD moves meanwhile.

    ``build`` must be pure over the snapshot it is given: it may run more than
    once. It returns None when there is nothing to change.
    """
    with WriteLock(state_dir(git.root) / "lock"):
        _crash_point(rt, "locked")
        recover(git)
        ref = git.branch()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            head = git.head()
            if head is not None:
                # Build only on a history that verifies, as reads do: a change
                # on top of a tampered file would carry the tampering forward.
                ensure_verified(git, head)
            plan = build(Snapshot(git, head))
            if plan is None:
                return Written(None, None, attempt)
            paths = sorted(plan.changes)
            require_clean(git, head, paths)
            # Never before the parent: a writer whose clock runs behind records
            # its parent's time rather than a commit that looks backdated.
            when = max(rt.now(), git.info(head).committer_time) if head else rt.now()
            message = record.render(plan.record)
            author = Author(plan.record.actor, plan.record.actor, when)
            commit = create_commit(git, [head] if head else [], plan.changes, message, author,
                                   signer_for(identity))
            _crash_point(rt, "committed")
            journal_begin(git, ref, head, commit, paths)
            _crash_point(rt, "journaled")
            try:
                move_branch(git, ref, head, commit, f"envtrail: {plan.record.action}")
            except RefLocked:
                journal_end(git)
                time.sleep(0.05 * attempt)
                continue
            except CasFailed:
                journal_end(git)
                continue
            _crash_point(rt, "moved")
            refresh_worktree(git, commit, paths)
            _crash_point(rt, "refreshed")
            journal_end(git)
            _advance_checkpoint(git, head, commit,
                                envfile.by_environment(git.dir_entries(commit, envfile.FOLDER)))
            maybe_pack(git)
            return Written(commit, plan.record, attempt)
    raise ConflictError(
        "the branch kept moving while envtrail was writing; nothing was changed",
        hint="retry when other writers have finished",
    )


def _crash_point(rt: Runtime, name: str) -> None:
    """Die here with SIGKILL when ``ENVTRAIL_TEST_CRASH`` names this point.

    A fault-injection hook for the crash-safety tests (as git's GIT_TEST_*
    variables are): it lets them kill a writer at the exact moments that
    matter, which random timing would only hit by luck.
    """
    if rt.env.get("ENVTRAIL_TEST_CRASH") == name:
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _advance_checkpoint(git: GitRepo, parent: str | None, commit: str, envs: dict[str, str]) -> None:
    """Vouch for our own new commit when its parent was this branch's verified head.

    The parent's history was verified before the write (``ensure_verified``),
    the compare-and-swap guarantees nothing came in between, and the commit
    was built here from checked inputs: signed by the acting key, trailers
    computed from the very diff written, policy, admin and membership checked,
    time not before the parent's. So the next read can take the fast path.
    ``verify`` still checks every such commit from scratch.
    """
    ref = git.head_ref()
    cp = checkpoint.load(git.root, ref)
    if cp is not None and cp.head == parent:
        checkpoint.save(git.root, ref, checkpoint.Checkpoint(commit, envs))


def context_for(rt: Runtime) -> str:
    """The Envtrail-Context value for a write made now."""
    return context.gather(rt.env, rt.host, __version__)
