"""Judging the commits of a long line on every core there is.

Most of what ``verify`` asks of a line commit depends only on the commit and
its parent: its signature, the rules its tree keeps, the approvals it needs.
Those judgements are made in chunks that this process and forked children
(one per further core) take in turn from one counter (threads would only take
turns holding the GIL), a few commits at a time and one step at a time within
a chunk, and handed to the walk in line order; the walk adds what only the
line knows (time floor, approvals that follow, repairs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envtrail.audit import signature
from envtrail.audit.approvals import Requirement, requirement
from envtrail.audit.effect import new_key_pairs
from envtrail.audit.history import parse_record
from envtrail.audit.record import Record
from envtrail.audit.verify import Finding, Verifier
from envtrail.audit.view import StoreView
from envtrail.errors import IntegrityError
from envtrail.gitstore.repo import CommitInfo

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

# Commits per chunk: large enough that sending one costs little and that a
# variable's previous value was usually judged (and decrypted) in the same
# chunk, small enough that both processes finish together.
_CHUNK = 128
# Below this, forking costs more than it saves.
_PARALLEL_FROM = 2 * _CHUNK
# Commits judged a step at a time: few enough that the store reader's caches (sized for
# a walk that visits each commit once) still hold every file a batch reads.
_BATCH = 16


@dataclass(frozen=True)
class Judgement:
    """What one commit is, judged against its parent alone."""

    info: CommitInfo
    rec: Record | None
    verdict: signature.Verdict | None  # None: the parent's allowed_signers cannot be read
    findings: tuple[Finding, ...] | None  # None for a repair: only the walk can judge one
    need_known: bool = False  # whether ``need`` was worked out (a signed, good change)
    need: Requirement | None = None
    # (environment, public key) for each environment it creates or gives a new key pair.
    keys: tuple[tuple[str, str], ...] = ()


def judge_all(verifier: Verifier, commits: list[str]) -> list[Judgement]:
    """A judgement of each of ``commits`` (in line order) against its parent alone."""
    out: list[Judgement] = []
    for at in range(0, len(commits), _BATCH):
        out += _judge_batch(verifier, commits[at:at + _BATCH])
    return out


def _judge_batch(verifier: Verifier, commits: list[str]) -> list[Judgement]:
    """Judge a few commits one step at a time: every commit is read, then every record
    parsed, every signature checked, and so on. The interpreter then runs the same
    few functions over data of one kind in a row, which costs about a sixth less
    than taking each commit through every step (bench/README.md, "Nineteenth
    session"); the answers are the same, each step depending only on the commit and
    its parent."""
    view = verifier.view
    try:
        infos = [view.git.info(commit) for commit in commits]
    except KeyError:  # git listed it (from its commit-graph), but the object is gone
        raise IntegrityError("a commit of the store line is missing from this clone",
                             hint="fetch the whole store branch, then retry") from None
    records = [parse_record(info) for info in infos]
    verdicts = [_verdict(view, info) for info in infos]
    keys = [new_key_pairs(view, info.parents[0] if info.parents else None, info.id)
            for info in infos]
    return [_finish(verifier, *each) for each in zip(infos, records, verdicts, keys,
                                                     strict=True)]


def _verdict(view: StoreView, info: CommitInfo) -> signature.Verdict | None:
    """The commit's signature against its parent's signers; None where those cannot be
    read (the verifier reports the unreadable allowed_signers)."""
    try:
        return signature.check(view, info)
    except IntegrityError:
        return None


def _finish(verifier: Verifier, info: CommitInfo, rec: Record | None,
            verdict: signature.Verdict | None, keys: tuple[tuple[str, str], ...]) -> Judgement:
    """The rules one commit keeps, and the approvals it needs, given what was read."""
    if rec is not None and rec.action == "repair":
        return Judgement(info, rec, verdict, None, keys=keys)
    findings = tuple(verifier.check_record(info, rec, verdict))
    if rec is None or rec.action == "approve" or verdict is None or not verdict.good:
        return Judgement(info, rec, verdict, findings, keys=keys)
    try:
        need = requirement(verifier.view, info, rec)
    except IntegrityError:
        need = None  # an unreadable file at the parent: the verifier reports it
    return Judgement(info, rec, verdict, findings, True, need, keys)


def judgements(verifier: Verifier, ids: list[str], workers: int = 1) -> Iterator[Judgement]:
    """A judgement of each commit in ``ids``, in order; with ``workers`` above one, that
    many processes in all share the work (and what a child could not check without a
    key joins ``verifier.unkeyed``)."""
    import multiprocessing  # only where a long line is walked

    if workers < 2 or len(ids) < _PARALLEL_FROM or \
            "fork" not in multiprocessing.get_all_start_methods():
        for at in range(0, len(ids), _CHUNK):
            yield from judge_all(verifier, ids[at:at + _CHUNK])
        return
    from multiprocessing.connection import wait

    chunks = _chunks(ids)
    ctx = multiprocessing.get_context("fork")
    # Every process takes the next unjudged chunk from one counter, so none waits
    # on another however the work splits (the parent also walks).
    taken = ctx.Value("i", 0)
    children: dict[Connection, Any] = {}
    # As many processes as there are full chunks of work, whatever the tail is cut into:
    # a short line on a many-core runner does not fork a child per small chunk.
    for _ in range(min(workers, -(-len(ids) // _CHUNK)) - 1):
        receiver, sender = ctx.Pipe(duplex=False)
        _widen(receiver)
        # The child gets every read end this process holds so far, its own included, to
        # close: a child that kept one would never see this process end (attack35 F3).
        proc = ctx.Process(target=_child, args=(verifier, chunks, taken, sender,
                                                (receiver, *children)), daemon=True)
        proc.start()
        sender.close()
        children[receiver] = proc
    live = set(children)
    done: dict[int, list[Judgement]] = {}
    try:
        for index, chunk in enumerate(chunks):
            while index not in done:
                ready = [r for r in live if r.poll()]
                if not ready:
                    mine = _take(taken, len(chunks))
                    if mine is not None:
                        done[mine] = judge_all(verifier, chunks[mine])
                        continue
                    if not live:  # a child died holding this chunk: judge it here
                        done[index] = judge_all(verifier, chunk)
                        continue
                    ready = wait(list(live))  # a child holds this chunk: wait for one
                for receiver in ready:
                    if not _collect(receiver, done, verifier):
                        live.discard(receiver)
            yield from done.pop(index)
    finally:
        for receiver, proc in children.items():
            receiver.close()
            if proc.is_alive():
                proc.kill()
            proc.join()


def _chunks(ids: list[str]) -> list[list[str]]:
    """``ids`` in order, in chunks of ``_CHUNK`` but for the last four chunks' worth, cut
    four times smaller: whoever takes the last chunk finishes alone, the others wait."""
    small = max(1, _CHUNK // 4)
    bulk = max(0, len(ids) - 4 * _CHUNK) // _CHUNK * _CHUNK
    return [ids[i:i + _CHUNK] for i in range(0, bulk, _CHUNK)] + \
        [ids[i:i + small] for i in range(bulk, len(ids), small)]


def _widen(receiver: Connection) -> None:
    """Let the child send a whole chunk without waiting for the parent to read (Linux)."""
    import fcntl

    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):  # a smaller pipe only makes the child wait at times
            fcntl.fcntl(receiver.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)


def _take(taken: Any, count: int) -> int | None:
    """The next chunk nobody has taken yet, or None when all are taken."""
    with taken.get_lock():
        index = taken.value
        if index >= count:
            return None
        taken.value = index + 1
    return index


def _collect(receiver: Connection, done: dict[int, list[Judgement]],
             verifier: Verifier) -> bool:
    """Receive one chunk from the child; False once it has closed (or died)."""
    try:
        index, judged, unkeyed = receiver.recv()
    except (EOFError, OSError):
        return False
    done[index] = judged
    verifier.unkeyed |= unkeyed
    return True


def _child(verifier: Verifier, chunks: list[list[str]], taken: Any, conn: Connection,
           readers: tuple[Connection, ...] = ()) -> None:
    from envtrail.gitstore.repo import GitRepo

    # Forked with copies of the parent's read ends, its own among them: kept, a parent
    # ended by SIGTERM or SIGKILL (a CI timeout) left this child blocked for ever on a full
    # pipe that nobody else reads, holding the caller's stdout and, under `repair`, the
    # store's write lock (attack35 F3). Closed, its next send fails and it stops.
    for reader in readers:
        reader.close()

    # Never a traceback from here: on any fault the child stops, the parent judges
    # the chunk it is missing itself, and its error boundary reports the fault. That
    # includes opening the clone again, which the parent did another way (attack36).
    with contextlib.suppress(Exception):
        # Its own repository handle after fork; the keyring (keys already opened) is shared.
        mine = Verifier(StoreView(GitRepo(Path(verifier.view.git.root))), verifier.keyring)
        while (index := _take(taken, len(chunks))) is not None:
            conn.send((index, judge_all(mine, chunks[index]),
                       set(mine.unkeyed)))
    conn.close()
