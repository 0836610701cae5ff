"""Compare-and-swap, retries, the write lock and crash recovery, on real repositories."""

import multiprocessing
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import git, one_commit_repo
from envtrail.audit.record import Record
from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError
from envtrail.gitstore.commit import (
    Author,
    CasFailed,
    create_commit,
    journal_begin,
    move_branch,
    recover,
)
from envtrail.gitstore.lock import WriteLock
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.txn import Plan, signer_for, transact
from envtrail.runtime import Runtime

IDENT = Identity.generate("alice@example.com")


def rt(root: Path) -> Runtime:
    return Runtime(env={}, cwd=root, home=root, host="test")


def repo_with_commit(tmp_path: Path) -> GitRepo:
    return GitRepo(one_commit_repo(tmp_path / "r", "f.txt", "one\n", "first"))


def plan(path: str, data: bytes) -> Plan:
    return Plan({path: data}, Record("set", "alice@example.com", "r", ("x",)))


def test_cas_refuses_a_moved_branch(tmp_path):
    g = repo_with_commit(tmp_path)
    head = g.head()
    author = Author("a", "a", Runtime.from_os().now())
    c1 = create_commit(g, [head], {"a.txt": b"1"}, "m1", author, signer_for(IDENT))
    c2 = create_commit(g, [head], {"a.txt": b"2"}, "m2", author, signer_for(IDENT))
    move_branch(g, "refs/heads/main", head, c1, "x")
    with pytest.raises(CasFailed):
        move_branch(g, "refs/heads/main", head, c2, "x")
    assert g.head() == c1


def _set(store: Path, identity: Identity, name: str, value: str):
    """A build function that sets one production variable, as `envtrail set` would."""
    from envtrail.model import Secret
    from envtrail.ops.values import plan_values

    return lambda snap: plan_values(snap, rt(store), identity, "production",
                                    {name: Secret(value)}, set(), "r", "set")


def test_transaction_retries_when_branch_moves_and_loses_nothing(store, alice):
    import forge

    g = GitRepo(store)
    calls = []
    mine = _set(store, alice.identity, "MINE", "mine")

    def build(snap):
        calls.append(snap.commit)
        if len(calls) == 1:
            # Another writer commits after we read the head and before we move it.
            forge.commit_plan(store, alice.identity,
                              forge.honest_plan(store, alice.identity, "staging", {"OTHER": "o"}))
        return mine(snap)

    written = transact(g, rt(store), alice.identity, build)
    assert written.attempts == 2
    assert calls[0] != calls[1]
    assert git(store, "log", "-2", "--format=%s").splitlines() == [
        "production: set MINE", "staging: set OTHER"]
    assert git(store, "status", "--porcelain") == ""
    assert git(store, "rev-list", "--merges", "HEAD") == ""


def test_transaction_gives_up_with_conflict_after_bounded_retries(store, alice):
    import forge

    g = GitRepo(store)
    before = g.head()
    n = [0]
    mine = _set(store, alice.identity, "MINE", "mine")

    def build(snap):
        n[0] += 1
        forge.commit_plan(store, alice.identity,
                          forge.honest_plan(store, alice.identity, "staging", {"N": str(n[0])}))
        return mine(snap)

    with pytest.raises(ConflictError):
        transact(g, rt(store), alice.identity, build)
    assert n[0] == 8
    assert git(store, "rev-list", "--count", f"{before}..HEAD").strip() == "8"
    assert "MINE" not in git(store, "log", "--format=%B")


def _hold(path, ready, release):
    with WriteLock(Path(path)):
        ready.set()
        release.wait(10)


def _hold_and_die(path, ready):
    lock = WriteLock(Path(path))
    lock.__enter__()
    ready.set()
    time.sleep(60)


def test_lock_serialises_and_is_freed_when_holder_is_killed(tmp_path):
    path = tmp_path / "lock"
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_and_die, args=(str(path), ready))
    proc.start()
    assert ready.wait(10)
    with pytest.raises(ConflictError):
        WriteLock(path, timeout=0.2).__enter__()
    os.kill(proc.pid, 9)
    proc.join()
    with WriteLock(path, timeout=5):
        assert path.exists()


def interrupted_write(tmp_path):
    """A repository where a write of f.txt was journaled, as if the writer died then."""
    g = repo_with_commit(tmp_path)
    head = g.head()
    author = Author("a", "a", Runtime.from_os().now())
    new = create_commit(g, [head], {"f.txt": b"two\n"}, "m", author, signer_for(IDENT))
    journal_begin(g, "refs/heads/main", head, new, ["f.txt"])
    return g, head, new


def test_recover_refreshes_worktree_after_crash_between_ref_move_and_refresh(tmp_path):
    g, head, new = interrupted_write(tmp_path)
    move_branch(g, "refs/heads/main", head, new, "x")
    # crash here: work tree and index still hold the old file
    assert git(g.root, "status", "--porcelain") != ""
    assert recover(g) is True
    assert (g.root / "f.txt").read_text() == "two\n"
    assert git(g.root, "status", "--porcelain") == ""
    assert recover(g) is False


def test_recover_discards_journal_when_ref_never_moved(tmp_path):
    g, head, _new = interrupted_write(tmp_path)
    assert recover(g) is True
    assert g.head() == head
    assert (g.root / "f.txt").read_text() == "one\n"


def test_recover_removes_the_ref_lock_its_own_killed_write_left(tmp_path):
    """A kill inside libgit2's ref update leaves `<ref>.lock` holding the new id; git
    never removes it, so without this every later write would fail."""
    g, head, new = interrupted_write(tmp_path)
    lock = g.root / ".git/refs/heads/main.lock"
    lock.write_text(new + "\n")
    assert recover(g) is True
    assert not lock.exists()
    assert g.head() == head
    move_branch(g, "refs/heads/main", head, new, "x")  # the branch moves again
    assert g.head() == new


def test_recover_leaves_someone_elses_ref_lock_alone(tmp_path):
    g, head, _ = interrupted_write(tmp_path)
    lock = g.root / ".git/refs/heads/main.lock"
    lock.write_text(head + "\n")  # not the commit this journal was writing
    assert recover(g) is True
    assert lock.read_text() == head + "\n"


def test_recover_leaves_a_hand_edit_alone(tmp_path):
    g, head, new = interrupted_write(tmp_path)
    move_branch(g, "refs/heads/main", head, new, "x")
    (g.root / "f.txt").write_text("edited by hand\n")
    recover(g)
    assert (g.root / "f.txt").read_text() == "edited by hand\n"


def test_detached_head_refuses_to_write(tmp_path):
    g = repo_with_commit(tmp_path)
    git(g.root, "checkout", "-q", "--detach")
    with pytest.raises(ConflictError, match="detached"):
        transact(g, rt(g.root), IDENT, lambda snap: plan("x", b"x"))


def test_maybe_pack_asks_git_to_pack_when_loose_objects_pile_up(tmp_path):
    import pygit2

    from envtrail.gitstore.commit import maybe_pack

    g = repo_with_commit(tmp_path)
    assert maybe_pack(g) is False  # a handful of loose objects: nothing to do
    repo = g.repo
    builder = repo.TreeBuilder()
    sample = g.root / ".git/objects/17"
    i = 0
    while not sample.exists() or sum(1 for _ in sample.iterdir()) <= 27:
        builder.insert(f"f{i}", repo.create_blob(f"blob {i}\n".encode()), pygit2.enums.FileMode.BLOB)
        i += 1
    sig = pygit2.Signature("t", "t@example.com")
    repo.create_commit("refs/heads/main", sig, sig, "many", builder.write(), [repo.head.target])
    assert maybe_pack(g) is True

    def loose() -> int:
        return sum(1 for _ in sample.iterdir()) if sample.exists() else 0

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and loose() > 27:
        time.sleep(0.2)
    assert list((g.root / ".git/objects/pack").glob("*.pack"))
    assert loose() <= 27


def test_a_move_waits_out_a_briefly_held_ref_lock(tmp_path):
    import threading

    g = repo_with_commit(tmp_path)
    head = g.head()
    author = Author("a", "a", Runtime.from_os().now())
    c1 = create_commit(g, [head], {"a.txt": b"1"}, "m1", author, signer_for(IDENT))
    lock = g.root / ".git/refs/heads/main.lock"
    lock.write_text("held by another git process\n")
    threading.Timer(0.1, lock.unlink).start()
    move_branch(g, "refs/heads/main", head, c1, "x")
    assert g.head() == c1


def test_a_lock_that_stays_is_ref_locked_and_nothing_moves(tmp_path):
    from envtrail.gitstore.commit import RefLocked

    g = repo_with_commit(tmp_path)
    head = g.head()
    author = Author("a", "a", Runtime.from_os().now())
    c1 = create_commit(g, [head], {"a.txt": b"1"}, "m1", author, signer_for(IDENT))
    (g.root / ".git/refs/heads/main.lock").write_text("a crashed git process\n")
    with pytest.raises(RefLocked):
        move_branch(g, "refs/heads/main", head, c1, "x")
    assert g.head() == head


def test_moves_racing_gits_pack_refs_never_fail_spuriously(tmp_path):
    """pack-refs (run by the `git gc --auto` envtrail starts) rewrites ref files under a
    move; only a different target may count as a lost race."""
    import threading

    g = repo_with_commit(tmp_path)
    author = Author("a", "a", Runtime.from_os().now())
    stop = threading.Event()

    def pack() -> None:
        while not stop.is_set():
            subprocess.run(["git", "pack-refs", "--all"], cwd=g.root, capture_output=True)

    packer = threading.Thread(target=pack)
    packer.start()
    try:
        for i in range(40):
            head = g.head()
            commit = create_commit(g, [head], {"a.txt": str(i).encode()}, f"m{i}", author,
                                   signer_for(IDENT))
            move_branch(g, "refs/heads/main", head, commit, "x")
            assert g.head() == commit
    finally:
        stop.set()
        packer.join()


def test_write_waits_out_a_ref_lock_held_longer_than_one_move(store, alice):
    import threading

    g = GitRepo(store)
    lock = store / ".git/refs/heads/main.lock"
    lock.write_text("held by another git process\n")
    threading.Timer(0.6, lock.unlink).start()
    written = transact(g, rt(store), alice.identity, _set(store, alice.identity, "MINE", "m"))
    assert written.attempts > 1
    assert git(store, "log", "-1", "--format=%s").strip() == "production: set MINE"
