"""Hooks and envtrail's own state where git keeps them for every worktree of a clone.

review15 B1: `hook install` wrote to .git/worktrees/<name>/hooks in a linked worktree and
to a literal `~` folder for `core.hooksPath=~/...`, where git never runs anything, and
said "installed". review15 B4: the lock, the genesis pin, the checkpoint and the replay
journal were kept per worktree, so a write from one was "not yours to replay" at sync in
another. Git itself is the judge of where hooks run: `git rev-parse --git-path hooks`,
and a real commit that the hook it runs refuses.
"""

import subprocess
from pathlib import Path

import pytest
from test_hook import hook_env
from test_sync import make_world, setv, values

from conftest import Cli, assert_one_line_error, git


def code_repo(tmp_path: Path) -> Path:
    """A repository of one code commit, and no store: the hooks guard its .env files."""
    root = tmp_path / "app"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    (root / "main.py").write_text("print('hi')\n")
    git(root, "add", "main.py")
    git(root, "commit", "-q", "-m", "code")
    return root


def leak(root: Path, env) -> subprocess.CompletedProcess:
    """Commit a plaintext .env with git, letting it run whatever hook it finds."""
    (root / ".env").write_text("SECRET=hunter2\n")
    git(root, "add", "-f", ".env")
    return subprocess.run(["git", "commit", "-q", "-m", "leak"], cwd=root, env=env,
                          capture_output=True, text=True, check=False)


def where_git_runs_hooks(cwd: Path) -> Path:
    return (cwd / git(cwd, "rev-parse", "--git-path", "hooks").strip()).resolve()


@pytest.mark.parametrize("hooks_path", [None, "~/githooks", "tools/githooks", "ABSOLUTE"])
@pytest.mark.parametrize("linked", [False, True])
def test_install_writes_where_git_runs_hooks_and_git_runs_them(tmp_path, isolated_env,
                                                               linked, hooks_path):
    root = code_repo(tmp_path)
    if hooks_path == "ABSOLUTE":
        hooks_path = str(tmp_path / "shared-hooks")
    if hooks_path is not None:
        git(root, "config", "core.hooksPath", hooks_path)
    here = root
    if linked:
        here = tmp_path / "feature"
        git(root, "worktree", "add", "-q", str(here), "-b", "feature")
    (here / "sub").mkdir()
    r = Cli(here / "sub")("hook", "install")  # from a subfolder: relative paths still hold
    assert r.code == 0, r.err
    folder = where_git_runs_hooks(here)
    assert r.out.splitlines() == [f"installed {folder / name}" for name in
                                  ("pre-commit", "pre-merge-commit", "pre-push")]
    if hooks_path == "~/githooks":
        assert folder == (isolated_env / "githooks").resolve()
    # No literal `~` (or any other) folder left in the work tree for someone to commit.
    untracked = git(here, "status", "--porcelain", "--untracked-files=all").split()
    assert "~/" not in " ".join(untracked) and not (here / "~").exists()
    r = leak(here, hook_env(tmp_path))
    assert r.returncode != 0, "git ran no envtrail hook"
    assert "envtrail: refused .env: plaintext dotenv file with values (SECRET)" in r.stderr
    assert git(here, "rev-list", "--count", "HEAD").strip() == "1"


def test_an_empty_hooks_path_runs_no_hooks_and_install_says_so(tmp_path):
    """git runs no hook at all with `core.hooksPath` set empty: nothing is written, and
    neither install nor status claims otherwise."""
    root = code_repo(tmp_path)
    git(root, "config", "core.hooksPath", "")
    r = Cli(root)("hook", "install")
    assert_one_line_error(r, 2)
    assert "core.hooksPath is set empty" in r.err
    assert not (root / ".git/hooks/pre-commit").exists()


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
    # status in the worktree reads the hooks where git runs them, as install writes them.
    assert there("hook", "install").code == 0
    assert (a.cwd / ".git/hooks/pre-push").exists()
    for where in (there, a):
        assert "hook         installed" in where("status").out


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
