"""The pre-push hook: a plain `git push` never sends a store line that does not verify.

attack19 P15: a plain `git pull --rebase` over changes to different files runs
no merge driver and re-makes this clone's commits unsigned; a plain `git push`
then put them on the remote, and every clone's reads stopped. Real clones, a
real bare remote, the hooks `envtrail hook install` writes, run by git itself.
"""

import subprocess

from test_sync import head, make_world, setv, values

from conftest import git


def push(cli, *args):
    return subprocess.run(["git", "push", "-q", *args], cwd=cli.cwd, capture_output=True,
                          text=True, check=False)


def test_a_plain_push_of_a_rebased_unsigned_line_is_refused_and_sync_still_pushes(
        tmp_path, store, cli, bob):
    a, b, bare = make_world(tmp_path, store, cli, bob)
    assert b("hook", "install").code == 0
    setv(a, "FROM_ALICE", "1", env="staging")
    assert a("sync").code == 0
    setv(b, "FROM_BOB", "2")
    mine = head(b)
    r = subprocess.run(["git", "pull", "-q", "--rebase"], cwd=b.cwd, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr  # different files: no merge driver ran
    remote = git(bare, "rev-parse", "main")
    r = push(b)
    assert r.returncode != 0
    assert "envtrail: refused (push to refs/heads/main): history does not verify" in r.stderr
    assert f"git reset --keep {mine[:12]}" in r.stderr  # the way back, as reads name it
    assert "Traceback" not in r.stderr
    assert git(bare, "rev-parse", "main") == remote
    # The way back, with the hook installed: sync pushes (its push skips the hook).
    git(b.cwd, "reset", "-q", "--keep", mine[:12])
    r = b("sync")
    assert r.code == 0, r.err
    assert git(bare, "rev-parse", "main").strip() == head(b)
    assert a("sync").code == 0 and values(a)["FROM_BOB"] == "2"


def test_a_plain_push_of_a_verified_line_or_another_branch_goes_through(
        tmp_path, store, cli, bob):
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    setv(a, "PLAIN", "p")
    r = push(a)
    assert r.returncode == 0, r.stderr
    assert git(bare, "rev-parse", "main").strip() == head(a)
    # A branch that holds no store is not the hook's business, signed or not.
    git(a.cwd, "checkout", "-q", "--orphan", "notes")
    git(a.cwd, "rm", "-q", "-rf", ".")
    (a.cwd / "README").write_text("notes\n")
    git(a.cwd, "add", "README")
    git(a.cwd, "commit", "-q", "--no-verify", "-m", "notes")
    r = push(a, "origin", "notes")
    assert r.returncode == 0, r.stderr
    assert git(bare, "rev-parse", "notes").strip() == head(a)


def test_a_plain_commit_on_the_store_branch_is_not_pushed(tmp_path, store, cli, bob):
    """The pre-commit hook refuses it; forced past with --no-verify, the push refuses it
    too, naming the finding, and a store commit pushed to another branch name as well."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    remote = git(bare, "rev-parse", "main")
    (a.cwd / "notes.txt").write_text("hand\n")
    git(a.cwd, "add", "notes.txt")
    git(a.cwd, "commit", "-q", "--no-verify", "-m", "hand")
    for where in ((), ("origin", "HEAD:refs/heads/elsewhere")):
        r = push(a, *where)
        assert r.returncode != 0
        assert "rule 1 (signature): not an envtrail commit" in r.stderr
    assert git(bare, "rev-parse", "main") == remote
    assert "elsewhere" not in git(bare, "branch")
