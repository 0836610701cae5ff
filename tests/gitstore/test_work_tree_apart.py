"""A work tree set apart from its Git directory (core.worktree) is refused, not half used.

envtrail finds its Git directory from the work tree's ``.git``: with core.worktree
there is none, so it wrote its pin and checkpoint into a new ``.git/envtrail/`` inside
the work tree, and a long line's forked walker, opening the clone from its work tree,
died with a Python traceback (attack36).
"""

from __future__ import annotations

import shutil

from conftest import Cli, assert_one_line_error, git


def test_a_work_tree_set_apart_by_core_worktree_is_refused_in_one_line(cli, store, tmp_path):
    assert cli("set", "DB", "--env", "production", "--reason", "r", input="x").code == 0
    gitdir_home, work = tmp_path / "gd", tmp_path / "wt"
    work.mkdir()
    shutil.copytree(store / ".git", gitdir_home / ".git")
    git(gitdir_home, "config", "core.worktree", str(work))
    git(gitdir_home, "checkout", "-q", "-f", "main")
    assert (work / "envs" / "production.yaml").is_file()
    apart = Cli(gitdir_home, cli.identity)
    for args in (("verify",), ("get", "DB", "--env", "production"), ("status",)):
        r = apart(*args)
        assert_one_line_error(r, 2)
        assert "core.worktree" in r.err and "x" not in r.out
    assert not (work / ".git").exists()  # nothing written into the work tree
    assert cli("verify").code == 0  # the store's own clone is untouched
