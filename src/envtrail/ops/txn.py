"""Write transactions: lock, read HEAD, apply, signed commit, CAS, refresh (DESIGN section 5)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from envtrail import __version__
from envtrail.audit import context, record
from envtrail.audit.record import Record
from envtrail.audit.view import Snapshot
from envtrail.crypto import sshsig
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError, UsageError
from envtrail.format import signers
from envtrail.format.layout import SIGNERS
from envtrail.format.yamlsafe import MAX_FILE_BYTES
from envtrail.gitstore.commit import (
    Author,
    CasFailed,
    RefLocked,
    checkout_of,
    create_commit,
    journal_begin,
    journal_end,
    maybe_pack,
    move_branch,
    recover,
    refresh_worktree,
    require_clean,
)
from envtrail.gitstore.discover import lock_path
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import journal
from envtrail.ops.gate import advance, open_line
from envtrail.ops.routing import DIRECT, Route, mark, needs, settle
from envtrail.runtime import Runtime

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Plan:
    """What one write changes: files by path (None deletes) and the commit's record."""

    changes: Mapping[str, bytes | None]
    record: Record
    # The commit whose tree ``changes`` apply to, when not the head's (``repair``
    # writes its clean point's tree whole, so nothing else survives at any level).
    base: str | None = None
    # Called with the new commit before it is proposed or moves the line (``repair``
    # refuses one the line walk would not accept): raising leaves the store unchanged.
    check: Callable[[str], None] | None = None


@dataclass(frozen=True)
class Written:
    """The outcome of a write: the new commit (None if nothing changed) and its record."""

    commit: str | None
    record: Record | None
    attempts: int = 1
    proposal: str | None = None  # with --propose: the proposal's id; the line did not move
    warnings: tuple[str, ...] = ()  # one line each, for the user (a re-made proposal's)
    flagged: bool = False  # landed by break-glass, awaiting approvals after the fact


def signer_for(identity: Identity) -> Callable[[bytes], str]:
    """The callback gitstore uses to sign a commit payload."""
    return lambda payload: sshsig.sign(identity, payload, "git")


def transact(git: GitRepo, rt: Runtime, identity: Identity,
             build: Callable[[Snapshot], Plan | None], *, allow_findings: bool = False,
             route: Route = DIRECT) -> Written:
    """Apply ``build`` to the verified line head and commit the result, retrying if the
    store branch moves meanwhile.

    ``build`` must be pure over the snapshot it is given: it may run more than
    once. It returns None when there is nothing to change. ``allow_findings``
    is for ``repair`` alone, which writes on top of a line with findings.
    ``route`` says whether the commit is proposed, lands by break-glass, or
    lands directly (refused if it needs approvals).
    """
    with WriteLock(lock_path(git.root)):
        _crash_point(rt, "locked")
        recover(git)
        ref = git.store_ref()
        tree = checkout_of(git)  # where the branch's files are, maybe another worktree
        for attempt in range(1, MAX_ATTEMPTS + 1):
            # Build only on a line that verifies, as reads do: a change on top
            # of a tampered file would carry the tampering forward.
            line = open_line(git, rt, identity, allow_findings=allow_findings)
            head = line.head
            plan = build(line.snapshot)
            if plan is None:
                return Written(None, None, attempt)
            too_big = oversized(plan.changes)
            if too_big is not None:
                raise UsageError(f"{too_big} would be larger than "
                                 f"{MAX_FILE_BYTES // (1024 * 1024)} MiB, which no reader "
                                 "opens; nothing was written",
                                 hint="keep large files out of the store (a value holds at "
                                      "most 1 MiB), or split them over environments")
            paths = sorted(plan.changes)
            if plan.base is not None:
                paths = sorted({*paths, *git.changed_paths(head, plan.base)})
            if tree:
                require_clean(tree, head, paths)
            when = line.write_time(rt.now())
            if plan.changes.get(SIGNERS) is not None:
                # A grant's or revoke's bound is this commit's time, whatever clock the
                # plan read a moment ago (verify holds every writer to it).
                lines = signers.parse(plan.changes[SIGNERS])  # type: ignore[arg-type]
                plan = replace(plan, changes={**plan.changes, SIGNERS: signers.render(
                    signers.stamp(lines, list(line.snapshot.signers), when))})
            rec = mark(plan.record, route)
            author = Author(rec.actor, rec.actor, when)
            commit = create_commit(git, [head] if head else [], plan.changes, record.render(rec),
                                   author, signer_for(identity), base=plan.base)
            if plan.check is not None and route.propose:
                plan.check(commit)  # before settle files it as a proposal
            proposal = settle(git, line.view, commit, rec, route)
            if proposal is not None:
                return Written(commit, rec, attempt, proposal)
            if plan.check is not None and not route.propose:
                plan.check(commit)  # after settle refused what needs approvals (exit 4)
            _crash_point(rt, "committed")
            journal_begin(tree or git, ref, head, commit, paths if tree else [])
            _crash_point(rt, "journaled")
            try:
                move_branch(git, ref, head, commit, f"envtrail: {rec.action}")
            except RefLocked:
                journal_end(tree or git)
                time.sleep(0.05 * attempt)
                continue
            except CasFailed:
                journal_end(tree or git)
                continue
            journal.remember(git, commit, identity.public.openssh)  # what sync may replay
            _crash_point(rt, "moved")
            if tree:
                refresh_worktree(tree, commit, paths)
            _crash_point(rt, "refreshed")
            journal_end(tree or git)
            advance(git, head, commit, when)
            maybe_pack(git)
            # Where nothing needs approvals, break-glass bypassed nothing: no flag to clear.
            flagged = route.break_glass and needs(line.view, commit, rec) is not None
            return Written(commit, rec, attempt, flagged=flagged)
    raise ConflictError(
        "the store branch kept moving while envtrail was writing; nothing was changed",
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


def oversized(changes: Mapping[str, bytes | None]) -> str | None:
    """The first file of ``changes`` over the size every reader refuses, or None: written,
    it would stop every read, sync and write of the store (attack33 K3)."""
    return next((path for path, data in sorted(changes.items())
                 if data is not None and len(data) > MAX_FILE_BYTES), None)


def context_for(rt: Runtime) -> str:
    """The Envtrail-Context value for a write made now."""
    return context.gather(rt.env, rt.host, __version__)
