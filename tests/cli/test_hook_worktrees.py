"""envtrail's own state where git keeps it for every worktree of a clone.

review15 B4: the lock, the genesis pin, the checkpoint and the replay journal were kept
per worktree, so a write from one was "not yours to replay" at sync in another.
"""

from test_sync import make_world, setv, values

from conftest import git


def test_a_write_from_a_linked_worktree_is_this_clones_own_everywhere(tmp_path, store, cli,
                                                                      bob):
    """One lock, one pin, one checkpoint and one replay journal for all worktrees: alice
    writes from a linked worktree, bob pushes, and sync in her main worktree replays her
    write as hers. Her main worktree's files follow the branch the write moved."""
    from envtrail.gitstore.discover import lock_path, state_dir

    a, b, bare = make_world(tmp_path, store, cli, bob)
    assert a("verify").code == 0  # pins the genesis in the main worktree
    side = tmp_path / "alice-side"
    git(a.cwd, "worktree", "add", "-q", str(side), "-b", "side")
    there = a.at(side)
    setv(there, "FROM_WT", "w")
    setv(b, "FROM_BOB", "x")
    assert b("sync").code == 0
    r = a("sync")
    assert r.code == 0, r.err  # was: exit 6, "not yours to replay" (and a stale checkout)
    assert r.out.startswith("replayed your commits on origin/main and pushed")
    assert b("sync").code == 0
    assert values(b) == values(a) == {"BASE": "b", "FROM_WT": "w", "FROM_BOB": "x"}
    assert git(bare, "rev-parse", "main") == git(a.cwd, "rev-parse", "main")
    assert git(a.cwd, "status", "--porcelain") == ""  # the main worktree's copy followed
    # Pinned once for the clone (a new worktree is no first use), one lock for its writers.
    genesis = git(a.cwd, "rev-list", "--max-parents=0", "main").strip()
    assert f"genesis pin  {genesis}" in there("status").out
    assert lock_path(side) == lock_path(a.cwd) and state_dir(side) == a.cwd / ".git/envtrail"
    assert not (a.cwd / ".git/worktrees/alice-side/envtrail").exists()


def test_a_write_from_a_linked_worktree_killed_midway_is_finished_by_the_next(store, cli,
                                                                             tmp_path):
    """Killed after the branch moved but before the main worktree's files followed, the
    write left its journal there; the next write from the linked worktree finishes it
    (never "uncommitted changes" for files envtrail itself left behind)."""
    side = tmp_path / "side"
    git(store, "worktree", "add", "-q", str(side), "-b", "side")
    there = cli.at(side)
    r = there.sub("set", "K", "--env", "production", "--reason", "killed", input="v",
                  env={"ENVTRAIL_TEST_CRASH": "moved"})
    assert r.code == -9, r.err
    assert (store / ".git/envtrail/journal.json").exists()
    assert git(store, "status", "--porcelain") != ""  # the main worktree's copy is behind
    setv(there, "AFTER", "ok")
    assert git(store, "status", "--porcelain") == ""
    assert not (store / ".git/envtrail/journal.json").exists()
    assert values(cli) == {"K": "v", "AFTER": "ok"}
    assert cli("verify").code == 0
