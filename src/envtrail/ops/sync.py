"""sync: fetch, check the remote only moved forward, verify, replay our own commits, push.

The store line never gets a merge. When both sides moved, the commits this
clone wrote (and only those: see ops.journal) are re-made on top of the
remote head as new signed commits (one round: ops.replayround); the originals
stay under ``refs/envtrail/replaced/`` until the push lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from envtrail.audit import checkpoint, line
from envtrail.audit.keyring import Keyring
from envtrail.audit.line import LineReport, Trust
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError, IntegrityError
from envtrail.gitstore.commit import (
    CasFailed,
    checkout_of,
    journal_begin,
    journal_end,
    move_branch,
    recover,
    refresh_worktree,
    require_clean,
)
from envtrail.gitstore.discover import lock_path
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.remote import (
    RefUpdate,
    Upstream,
    fetch,
    push_refs,
    refuse_going_back,
    remember_refs,
    remember_seen,
    seen_refs,
    track,
    upstream,
)
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import eventsync, journal, proposalsync, reach
from envtrail.ops.eventsync import EventsPlan
from envtrail.ops.gate import open_line, record_verified
from envtrail.ops.proposalsync import Note
from envtrail.ops.replayround import Replayed, replay_onto
from envtrail.ops.rollback import replayed_exposures
from envtrail.ops.trust import trust_roots
from envtrail.runtime import Runtime

MAX_ROUNDS = 5
REPLACED = "refs/envtrail/replaced/"


@dataclass(frozen=True)
class SyncResult:
    """What sync did: up-to-date, pushed, fast-forward or replayed (and pushed), and what
    became of the events line and the proposals."""

    outcome: str
    upstream: Upstream
    commit: str | None = None
    replayed: tuple[Replayed, ...] = ()
    events: EventsPlan | None = None
    proposals: tuple[Note, ...] = ()
    stranded: str | None = None  # why nothing could be approved once this clone's landed
    exposed: tuple[str, ...] = ()  # values its replayed undos put back that a leaver read


def sync(git: GitRepo, rt: Runtime, identity: Identity, remote: str | None = None,
         mine: Sequence[str] = (), theirs: Sequence[str] = ()) -> SyncResult:
    """Bring the store branch, the events line and the proposals together with the remote's;
    a refusal changes nothing here."""
    ref = git.store_ref()
    up = upstream(git.root, ref, remote)
    done: list[Replayed] = []
    outcome: str | None = None
    with WriteLock(lock_path(git.root)):
        recover(git)
        for _ in range(MAX_ROUNDS):
            incoming = fetch(git.root, up)
            refuse_going_back(git, up, incoming)
            seen = seen_refs(git.root, up)
            eventsync.check_incoming(git, up, seen.get(eventsync.EVENTS_REF), incoming)
            ours = open_line(git, rt, identity).head  # our own line verifies, or exit 5
            if incoming is not None and incoming != ours and \
                    (ours is None or not git.is_ancestor(incoming, ours)):
                ours, round_ = _take_remote(git, rt, identity, up, ref, ours, incoming,
                                            mine, theirs)
                if round_ is None:
                    outcome = outcome or "fast-forward"
                else:
                    outcome = "replayed"
                    done = _merge_rounds(done, round_)
                    mine, theirs = (), ()  # settled: what is replayed now carries the choice
            if ours is None:
                return SyncResult("up-to-date", up)
            events = eventsync.reconcile(git, rt, identity, up, ours, incoming)
            props = proposalsync.reconcile(git, rt, identity, up, ours, seen)
            updates = [RefUpdate(up.remote_ref, ours, incoming)] if ours != incoming else []
            updates += ([events.update] if events.update else []) + props.updates
            if updates and not push_refs(git.root, up, updates):
                continue  # the remote moved meanwhile: start over from what it has now
            _landed(git, up, ours)
            remember_refs(git.root, up, {**({eventsync.EVENTS_REF: events.tip}
                                            if events.tip else {}), **props.remote})
            eventsync.landed(git, events.tip)
            if outcome is None:
                outcome = "pushed" if ours != incoming else "up-to-date"
            # What was fine on its own head may not be on another's (two revokes, a revoke
            # and a raised count): said, as nobody could approve its undoing.
            view = StoreView(git)
            stranded = reach.find_stranded(view.at(incoming), view.at(ours)) \
                if done and incoming is not None else None
            exposed = replayed_exposures(git, identity, [r.commit for r in done if r.commit])
            return SyncResult(outcome, up, ours, tuple(done), events, tuple(props.notes),
                              stranded, tuple(exposed))
    raise ConflictError(f"{up} kept moving while syncing; your commits are kept here",
                        hint="run `envtrail sync` again")


def _take_remote(git: GitRepo, rt: Runtime, identity: Identity, up: Upstream, ref: str,
                 ours: str | None, incoming: str, mine: Sequence[str],
                 theirs: Sequence[str]) -> tuple[str, list[Replayed] | None]:
    """Verify what came in and move this branch onto it: a fast-forward (None back), or
    this clone's own commits replayed on top (what became of each back)."""
    base = git.merge_base(ours, incoming) if ours is not None else None
    if ours is not None and base is None:
        raise IntegrityError("the remote holds another store (no history in common); "
                             "nothing was changed")
    # What repairs here already acknowledged as forged stays so through every walk below:
    # no repair that came in may restore it, and the checkpoint keeps knowing it.
    known = checkpoint.load_tainted(git.root)
    report = _walk(git, rt, identity, incoming, base, tainted=known)
    if line.reaches_back(StoreView(git), report):
        report = _walk(git, rt, identity, incoming, None)
    if report.findings:
        raise IntegrityError(
            f"the remote's history does not verify: {report.findings[0].line()}",
            hint="nothing was changed; ask whoever pushed it, and see "
                 "`envtrail verify` in a clone of the remote")
    if ours is None or base == ours:
        _advance(git, rt, identity, ref, ours, incoming, base, report)
        remember_seen(git.root, up, incoming)
        track(git.root, up, incoming)
        return incoming, None
    new_head, round_, unapplied = replay_onto(git, rt, identity, ours, base, incoming,
                                               mine, theirs,
                                               eventsync.pending(git, up))
    replayed = _walk(git, rt, identity, new_head, incoming, report.floor,
                     tainted=known | report.tainted, keys=frozenset(report.keys))
    if replayed.findings:
        raise IntegrityError(
            f"a replayed commit would not verify: {replayed.findings[0].line()}",
            hint="nothing was changed; run `envtrail verify` for details")
    # The checkpoint is recorded from the second walk: it must carry what the first found.
    replayed.unkeyed |= report.unkeyed
    replayed.ahead.update(report.ahead)
    replayed.tainted |= report.tainted
    _keep_originals(git, [r for r in round_ if r.unapplied is None])
    _advance(git, rt, identity, ref, ours, new_head, base, replayed)
    for r in round_:
        if r.commit is not None:
            journal.remember(git, r.commit, identity.public.openssh)
    for proposal, tip in unapplied:
        proposalsync.restore(git, proposal, tip)
    journal.forget(git, [p for p, _ in unapplied], journal.APPLIED)
    remember_seen(git.root, up, incoming)
    track(git.root, up, incoming)
    return new_head, round_


def _walk(git: GitRepo, rt: Runtime, identity: Identity, head: str, since: str | None,
          floor=None, tainted: frozenset[str] = frozenset(),
          keys: frozenset[str] | None = None) -> LineReport:
    """Check the line from just after ``since`` to ``head``, with this identity's key
    (``tainted``: states a repair before ``since`` acknowledged as forged; ``keys``: the
    environment public keys used up to it, if known: the checkpoint's, at its head)."""
    if since is not None and floor is None:
        floor = git.info(since).committer_time  # times never go back along a verified line
    if keys is None:
        keys = checkpoint.keys_at(git.root, since)
    return line.walk(StoreView(git), head, keyring=Keyring(identity), since=since, floor=floor,
                     trust=Trust(checkpoint.load_pin(git.root), trust_roots(rt)),
                     now=rt.now(), seen_ahead=checkpoint.load_ahead(git.root),
                     tainted=tainted if since is not None else frozenset(), keys=keys)


def _merge_rounds(before: list[Replayed], now: list[Replayed]) -> list[Replayed]:
    # A second round re-makes the first round's commits; report each original once.
    by_original = {r.original: r for r in before}
    by_original.update({r.original: r for r in now})
    return list(by_original.values())


def _keep_originals(git: GitRepo, done: list[Replayed]) -> None:
    """Keep each original reachable (never pushed) until its replacement reaches the remote."""
    for r in done:
        name = REPLACED + r.original
        if git.ref_target(name) is None:
            git.set_ref(name, r.original)


def _advance(git: GitRepo, rt: Runtime, identity: Identity, branch: str, old: str | None,
             new: str, base: str | None, report: LineReport) -> None:
    """Move the store branch from ``old`` to ``new`` (work tree too, where it is checked out)
    and record ``new`` as verified: ``report`` checked everything after ``base``."""
    tree = checkout_of(git)  # where the branch's files are, maybe another worktree
    paths = git.changed_paths(old, new) if tree else []
    tree = tree or git
    require_clean(tree, old, paths)
    journal_begin(tree, branch, old, new, paths)
    try:
        move_branch(git, branch, old, new, "envtrail: sync")
    except CasFailed:
        journal_end(tree)
        raise ConflictError("the branch moved during sync; nothing was changed",
                            hint="run `envtrail sync` again") from None
    refresh_worktree(tree, new, paths)
    journal_end(tree)
    cp = checkpoint.load(git.root)
    if base is None or cp is None:
        open_line(git, rt, identity)  # an empty clone: check it all once, and pin the genesis
        return
    if report.ahead:
        checkpoint.save_ahead(git.root, {**checkpoint.load_ahead(git.root), **report.ahead})
    view = StoreView(git)
    at_base = replace(cp, head=base, envs=view.env_blobs(base),
                      floor=int(git.info(base).committer_time.timestamp()))
    record_verified(git, view, new, report, at_base, identity.public.openssh,
                    trust_roots(rt), full=False)


def _landed(git: GitRepo, up: Upstream, head: str) -> None:
    """The remote and this branch agree on ``head``: forget what is now pushed."""
    remember_seen(git.root, up, head)
    track(git.root, up, head)
    for name in (journal.DEFAULT, journal.APPLIED):  # pushed, or replaced by what was
        done = journal.written(git, name)
        journal.forget(git, [c for c, v in done.items()
                             if head in (c, v) or not git.is_ancestor(head, c)], name)
    for ref in list(git.ref_names(REPLACED)):
        git.delete_ref(ref)
