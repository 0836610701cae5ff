"""Signature checks in a second process, for verifying long histories on two cores.

Checking a commit's signature and checking its content are independent and
both cost Python time, so threads would only take turns holding the GIL. A
forked child checks the same commits in the same order and sends back one
verdict per commit; the parent checks everything else meanwhile.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from envtrail.audit import signature
from envtrail.audit.view import StoreView

_BATCH = 256


def _child(root: str, ids: list[str], conn: Connection) -> None:
    from envtrail.gitstore.repo import GitRepo

    view = StoreView(GitRepo(Path(root)))  # its own repository handle after fork
    batch = []
    for commit in ids:
        v = signature.check(view, view.git.info(commit))
        batch.append((v.status, v.principal, v.admin, v.key))
        if len(batch) == _BATCH:
            conn.send(batch)
            batch = []
    conn.send(batch)
    conn.close()


def verdict_stream(root: Path, ids: list[str]) -> Iterator[signature.Verdict | None]:
    """Verdicts in the order of ``ids``; None (check it yourself) wherever the child gave none."""
    if "fork" not in multiprocessing.get_all_start_methods():
        while True:
            yield None
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(str(root), ids, sender), daemon=True)
    proc.start()
    sender.close()
    try:
        while True:
            try:
                batch = receiver.recv()
            except (EOFError, OSError):
                break  # done, or the child died: the caller checks the rest itself
            for fields in batch:
                yield signature.Verdict(*fields)
        while True:
            yield None
    finally:
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
