"""gitstore's ref operations answer as git itself does, so ops/ never needs pygit2."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git
from envtrail.gitstore.repo import GitRepo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com",
        "commit", "-q", "--allow-empty", "-m", "one")
    return root


def test_refs_lists_a_prefix_with_the_commit_each_points_to(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    for name in ("refs/envtrail/proposals/a", "refs/envtrail/proposals/b",
                 "refs/envtrail/withdrawn/c"):
        git(repo, "update-ref", name, head)
    # A symbolic ref that leads nowhere is listed by name, but has no target.
    git(repo, "symbolic-ref", "refs/envtrail/proposals/dangling", "refs/heads/nothing")
    g = GitRepo(repo)
    assert g.refs("refs/envtrail/proposals/") == {"refs/envtrail/proposals/a": head,
                                                   "refs/envtrail/proposals/b": head}
    assert sorted(g.ref_names("refs/envtrail/proposals/")) == [
        "refs/envtrail/proposals/a", "refs/envtrail/proposals/b",
        "refs/envtrail/proposals/dangling"]
    assert g.refs("refs/nothing/") == {}


def test_set_and_delete_ref_move_what_git_sees(repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    g = GitRepo(repo)
    g.set_ref("refs/envtrail/x", head)
    assert git(repo, "rev-parse", "refs/envtrail/x").strip() == head
    with pytest.raises(Exception, match="exists"):  # without force, an existing ref stays
        g.set_ref("refs/envtrail/x", head)
    g.set_ref("refs/envtrail/x", head, force=True)
    assert g.delete_ref("refs/envtrail/x") is True
    assert g.delete_ref("refs/envtrail/x") is False
    assert git(repo, "for-each-ref", "refs/envtrail/").strip() == ""


def test_head_state_and_remotes(repo, tmp_path):
    g = GitRepo(repo)
    assert (g.head_detached(), g.head_unborn()) == (False, False)
    assert g.remote_names() == []
    git(repo, "remote", "add", "origin", str(tmp_path / "elsewhere"))
    git(repo, "checkout", "-q", "--detach")
    g = GitRepo(repo)
    assert (g.head_detached(), g.remote_names()) == (True, ["origin"])
    git(repo, "checkout", "-q", "--orphan", "fresh")
    assert GitRepo(repo).head_unborn() is True
