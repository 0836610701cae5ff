"""The pre-push hook: a plain `git push` never sends a store line that does not verify.

attack19 P15: a plain `git pull --rebase` over changes to different files runs
no merge driver and re-makes this clone's commits unsigned; a plain `git push`
then put them on the remote, and every clone's reads stopped. Real clones, a
real bare remote, the hooks `envtrail hook install` writes, run by git itself.
"""

import os
import shlex
import subprocess

import pytest
from test_sync import head, make_world, setv, values

from conftest import git


def notes_branch(cli):
    """A branch ``notes`` of one plain commit that holds no store, checked out."""
    git(cli.cwd, "checkout", "-q", "--orphan", "notes")
    git(cli.cwd, "rm", "-q", "-rf", ".")
    (cli.cwd / "README").write_text("notes\n")
    git(cli.cwd, "add", "README")
    git(cli.cwd, "commit", "-q", "--no-verify", "-m", "notes")


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
    notes_branch(a)
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


def test_a_hand_commit_on_a_side_branch_is_not_pushed_while_the_store_line_is_clean(
        tmp_path, store, cli, bob):
    """review13 R5: the refusals above hold because the store branch itself is broken; here
    it is clean, and a commit holding the store but off the line goes nowhere, whatever
    the branch is called or however the refspec is typed (review13 B5: git passes the local
    ref as typed, spaces included)."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    git(a.cwd, "checkout", "-q", "-b", "side")
    (a.cwd / "notes.txt").write_text("hand\n")
    git(a.cwd, "add", "notes.txt")
    git(a.cwd, "commit", "-q", "--no-verify", "-m", "hand commit")
    git(a.cwd, "checkout", "-q", "main")
    assert a("verify").code == 0  # main, the store line, is clean
    for spec in ("side", "side:refs/heads/x", "side^{/hand commit}:refs/heads/z"):
        r = push(a, "origin", spec)
        assert r.returncode != 0, spec
        assert "is not on the verified store line" in r.stderr, (spec, r.stderr)
        assert "--no-verify" not in r.stderr  # the hint never points at the bypass
    assert git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/").split() == ["refs/heads/main"]


def test_a_push_that_would_rewind_the_store_branch_is_refused(tmp_path, store, cli, bob):
    """review13 R1: every commit pushed is on the line, yet the remote branch would go back:
    every other clone's sync would then stop (the remote was rewound)."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    setv(a, "ONE", "1")
    assert push(a).returncode == 0
    remote = git(bare, "rev-parse", "main")
    r = push(a, "-f", "origin", "HEAD~1:main")
    assert r.returncode != 0
    assert "rewind" in r.stderr
    assert git(bare, "rev-parse", "main") == remote


def test_deleting_a_branch_and_pushing_a_tag_pass(tmp_path, store, cli, bob):
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    git(a.cwd, "tag", "v1")
    assert push(a, "origin", "v1").returncode == 0
    assert push(a, "origin", "main:refs/heads/copy").returncode == 0  # a verified line commit
    r = push(a, "origin", "--delete", "copy")
    assert r.returncode == 0, r.stderr
    assert git(bare, "for-each-ref", "--format=%(refname)", "refs/heads/").split() == ["refs/heads/main"]
    assert "v1" in git(bare, "tag")


def test_the_hook_run_by_hand_says_what_it_is_for(tmp_path, store, cli):
    """review13 S9: run from a terminal it would wait on stdin; it says what git gives it."""
    from conftest import in_terminal

    assert cli("hook", "install").code == 0
    code, drawn = in_terminal(store, ["hook", "pre-push"], cli._env(None), seconds=20)
    assert code == 2, drawn
    assert "git runs it" in drawn


def test_another_tools_pre_push_is_left_alone_and_status_asks_for_ours(store, cli):
    """review13 R3, R4: git-lfs (say) owns pre-push: install writes the commit hooks, leaves
    it, and says what to add; status asks for the push check until it runs."""
    hook = store / ".git/hooks/pre-push"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\ngit lfs pre-push \"$@\"\n")
    r = cli("hook", "install")
    assert r.code == 0, r.err
    assert "installed" in r.out and "pre-commit" in r.out and "pre-push" not in r.out
    # Its own copy of git's input: a tool that reads stdin first would leave envtrail none.
    assert "refs=$(cat); printf '%s\\n' \"$refs\" | " in r.err
    assert " -m envtrail hook pre-push \"$@\" || exit 1" in r.err
    assert hook.read_text() == "#!/bin/sh\ngit lfs pre-push \"$@\"\n"
    out = cli("status").out  # review14 B4: never "install again", which cannot help
    assert f"add the line `envtrail hook install` prints to {hook}" in out
    assert "it also writes a pre-push hook" not in out
    hook.unlink()
    assert cli("hook", "install").code == 0
    assert "it also writes a pre-push hook" not in cli("status").out


def _fresh_clone_with_a_backup(tmp_path, store, cli):
    """A fresh clone (hooks installed) of a bare copy of ``store``, with a second, empty
    remote ``backup``: the clone's Cli."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    me = cli.at(fresh)
    assert me("hook", "install").code == 0
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "backup.git"))
    git(fresh, "remote", "add", "backup", str(tmp_path / "backup.git"))
    return me


def test_a_push_from_a_clone_that_never_read_says_it_pinned_the_genesis(tmp_path, store, cli):
    """attack22 S6: in a fresh clone the hook is the first reader: it pins the genesis, and
    says so (the notice no later command repeats)."""
    me = _fresh_clone_with_a_backup(tmp_path, store, cli)
    r = push(me, "backup", "main")
    assert r.returncode == 0, r.stderr
    genesis = git(me.cwd, "rev-list", "--max-parents=0", "main").strip()
    assert f"pinned this store's genesis {genesis} (first use)" in r.stderr


def test_a_commit_without_the_store_never_replaces_the_store_branch(tmp_path, store, cli, bob):
    """attack23 T4: a code commit force-pushed over the store branch passed (it holds no
    store, so it was not read), and every clone's sync then stopped."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    notes_branch(a)
    remote = git(bare, "rev-parse", "main")
    r = push(a, "-f", "origin", "notes:main")
    assert r.returncode != 0
    assert "holds the store line" in r.stderr and "would replace it" in r.stderr
    assert git(bare, "rev-parse", "main") == remote


def test_a_repository_with_no_store_pushes_its_own_branch(tmp_path):
    """The hook guards .env files in any repository: where there is no store, pushing the
    checked-out branch is no replacement of a store line (a false refusal, caught in
    review)."""
    from conftest import Cli

    repo = tmp_path / "app"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "main.py").write_text("print('hi')\n")
    git(repo, "add", "main.py")
    git(repo, "commit", "-q", "-m", "code")
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "app.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "app.git"))
    assert Cli(repo)("hook", "install").code == 0
    r = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=repo, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert git(tmp_path / "app.git", "rev-parse", "main") == git(repo, "rev-parse", "main")


def _shared_line(cli) -> str:
    """The line ``hook install`` says to add to another tool's pre-push."""
    err = cli("hook", "install").err
    return err.split("first: `", 1)[1].split("`, then pipe", 1)[0]


def test_the_documented_line_in_another_tools_pre_push_works(tmp_path, store, cli, bob):
    """review14 B1, B4: the line install gives for a shared pre-push fed envtrail one blank
    row when git had nothing to send, which it refused; and status kept asking for
    `hook install` once the line was in. Now the line refuses what it should, lets an
    up-to-date push through, and status is satisfied."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    hook = a.cwd / ".git/hooks/pre-push"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)  # another tool's
    hook.write_text(f"#!/bin/sh\n{_shared_line(a)}\nprintf '%s\\n' \"$refs\" >/dev/null\n")
    assert "pre-push" not in a("status").out  # neither "install again" nor "add the line"
    setv(a, "PLAIN", "p")
    assert push(a).returncode == 0
    r = push(a)  # nothing to send: git runs the hook with no input
    assert r.returncode == 0, r.stderr
    assert "refused" not in r.stderr
    git(a.cwd, "commit", "-q", "--allow-empty", "--no-verify", "-m", "by hand")
    r = push(a)
    assert r.returncode != 0 and "envtrail: refused (push to refs/heads/main)" in r.stderr
    assert git(bare, "rev-parse", "main").strip() != head(a)


def test_a_refused_push_in_an_application_repository_names_the_store_branch(tmp_path, alice):
    """review14 B2: the hint said `git reset --keep`, which moves the checked-out branch:
    in an application repository the code branch, onto the store line."""
    from test_sync import clone_as, make_app_store, make_remote

    app = make_app_store(tmp_path, alice)
    a = clone_as(tmp_path, str(make_remote(tmp_path, app)), alice, "a")
    assert a("hook", "install").code == 0
    verified = git(a.cwd, "rev-parse", "envtrail").strip()
    code = git(a.cwd, "rev-parse", "main").strip()
    side = tmp_path / "side"
    git(a.cwd, "worktree", "add", "-q", str(side), "envtrail")
    git(side, "commit", "-q", "--allow-empty", "--no-verify", "-m", "by hand")
    r = push(a, "origin", "envtrail")
    assert r.returncode != 0
    assert f"`git branch -f envtrail {verified[:12]}` puts envtrail back" in r.stderr
    assert "git reset" not in r.stderr
    assert git(a.cwd, "rev-parse", "main").strip() == code


def test_the_store_branch_and_the_events_line_are_neither_deleted_nor_rewound(
        tmp_path, store, cli, bob):
    """review14 R1, R2, attack24 U2: a plain push could delete the store branch, push an
    older line commit where it had been, or rewind the events line; every other clone's
    sync then stopped, and a fresh clone took the older line (a revoke undone)."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    for reason in ("deploy 1", "deploy 2"):
        assert a("event", "deploy", "--env", "production", "--reason", reason).code == 0
    setv(a, "NEWER", "n")
    assert a("sync").code == 0
    older = git(a.cwd, "rev-parse", "HEAD~1").strip()
    events = git(bare, "rev-parse", "refs/envtrail/events").strip()
    r = push(a, "-f", "origin", "refs/envtrail/events~1:refs/envtrail/events")
    assert r.returncode != 0
    assert "refs/envtrail/events is at" in r.stderr and "the events line" in r.stderr
    for args in (("--delete", "main"), ("--delete", "refs/envtrail/events")):
        r = push(a, "origin", *args)
        assert r.returncode != 0
        assert "would take the store's record away" in r.stderr
    assert git(bare, "rev-parse", "refs/envtrail/events").strip() == events
    # Gone by other means (a hosting site's button): an older commit is still a rewind.
    git(bare, "update-ref", "-d", "refs/heads/main")
    for where in ("origin", str(bare)):  # attack25 V5: by its URL too
        r = push(a, where, f"{older}:refs/heads/main")
        assert r.returncode != 0
        assert "would rewind or replace it" in r.stderr
    r = push(a, "origin", "main")
    assert r.returncode == 0, r.stderr


def hand_commit(cli, branch: str, start: str) -> None:
    """A plain commit holding the store, made with git on a new ``branch`` from ``start``
    (the pre-commit hook forced past); the store branch is checked out again."""
    git(cli.cwd, "checkout", "-q", "-b", branch, start)
    (cli.cwd / "notes.txt").write_text("hand\n")
    git(cli.cwd, "add", "notes.txt")
    git(cli.cwd, "commit", "-q", "--no-verify", "-m", "hand commit")
    git(cli.cwd, "checkout", "-q", "main")


REFUSED_INPUT = ("envtrail: refused (push): git's pre-push input is not 'local-ref local-id "
                 "remote-ref remote-id'\n  instead: push with git itself\n")


def test_input_that_is_not_gits_is_refused_as_such(store, cli):
    """Fed by hand or by another tool's hook: a line that is not four fields, or whose ids
    are not object ids, is refused as it is (never a crash, never read as a rewind)."""
    line, zeros = git(store, "rev-parse", "HEAD").strip(), "0" * 40
    for text in ("garbage", f"refs/heads/main {line} refs/heads/main",
                 f"refs/heads/main {line} refs/heads/main {line[:12]}",
                 f"refs/heads/main {line[:12]} refs/heads/main {zeros}"):
        r = cli("hook", "pre-push", "origin", "/nowhere", input=text + "\n")
        assert r.code == 1, (text, r.err)
        assert r.err.startswith(REFUSED_INPUT), (text, r.err)
        assert r.err.count("envtrail: refused") == 1, (text, r.err)
        assert "Traceback" not in r.err


def test_a_code_commit_never_replaces_a_store_line_kept_on_another_branch(
        tmp_path, store, cli, bob):
    """attack23 T4 by another name: the remote's copy holds a verified line commit; a
    commit without the store forced over it would wipe that copy of the line."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    assert push(a, "origin", "main:refs/heads/copy").returncode == 0
    copy = git(bare, "rev-parse", "copy")
    notes_branch(a)
    r = push(a, "-f", "origin", "notes:copy")
    assert r.returncode != 0
    assert "refs/heads/copy holds the store line" in r.stderr
    assert git(bare, "rev-parse", "copy") == copy


def test_code_forced_over_a_code_tip_this_clone_never_fetched_goes_through(
        tmp_path, store, cli, bob):
    """The remote's notes moved on in bob's clone: alice never fetched that commit, which
    holds no store as far as anyone here can tell; git's own --force is the only question."""
    a, b, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    notes_branch(a)
    assert push(a, "origin", "notes").returncode == 0
    git(b.cwd, "fetch", "-q", "origin", "notes:notes")
    git(b.cwd, "checkout", "-q", "notes")
    (b.cwd / "README").write_text("bob's notes\n")
    git(b.cwd, "commit", "-q", "--no-verify", "-am", "bob's notes")
    assert push(b, "origin", "notes").returncode == 0
    (a.cwd / "README").write_text("alice's notes\n")
    git(a.cwd, "commit", "-q", "--no-verify", "-am", "alice's notes")
    r = push(a, "-f", "origin", "notes")
    assert r.returncode == 0, r.stderr
    assert git(bare, "rev-parse", "notes").strip() == head(a)


def test_a_push_refused_as_off_the_line_is_refused_once(tmp_path, store, cli, bob):
    """A hand commit off the line, forced over a branch it does not follow either: the
    finding is the refusal; no second one about rewinding stacks on top of it."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    assert push(a, "origin", "main:refs/heads/copy").returncode == 0
    copy = git(bare, "rev-parse", "copy")
    hand_commit(a, "side", "HEAD~1")
    r = push(a, "-f", "origin", "side:copy")
    assert r.returncode != 0
    assert "is not on the verified store line" in r.stderr
    assert r.stderr.count("envtrail: refused") == 1, r.stderr
    assert git(bare, "rev-parse", "copy") == copy


def test_a_clone_that_never_verified_is_told_no_point_to_go_back_to(tmp_path, store, cli):
    """A fresh clone of a line a hand commit broke has no verified head to name: the way
    back is verify and sync, never a crash for want of a checkpoint."""
    hand_commit(cli, "hand", "main")
    git(store, "merge", "-q", "--ff-only", "hand")
    me = _fresh_clone_with_a_backup(tmp_path, store, cli)
    r = push(me, "backup", "main")
    assert r.returncode != 0
    assert "rule 1 (signature): not an envtrail commit" in r.stderr
    assert "instead: see every finding with `envtrail verify`" in r.stderr
    assert "git reset --keep" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(("text", "runs"), [
    ("# TODO: envtrail hook pre-push\n", False),
    ("echo 'add envtrail hook pre-push here'\n", False),
    ("echo envtrail hook pre-push\n", False),
    ("git lfs pre-push \"$@\"  # envtrail hook pre-push later\n", False),
    ("envtrail hook pre-commit\n", False),  # the commit check is not the push check
    ("exec envtrail hook pre-push \"$@\"\n", True),
    ("if true; then /usr/local/bin/envtrail hook pre-push; fi\n", True),
    ("refs=$(cat); printf '%s\\n' \"$refs\" | /opt/venv/bin/python3 -m envtrail hook "
     "pre-push \"$@\" || exit 1\n", True),
])
def test_only_a_line_that_runs_it_counts_as_the_push_check(store, cli, text, runs):
    """review15 R6: a comment or an echo that names `envtrail hook pre-push` counted as
    the push check installed, so status stopped asking for it."""
    hook = store / ".git/hooks/pre-push"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\n" + text)
    asks = "add the line `envtrail hook install` prints to" in cli("status").out
    assert asks is not runs
    r = cli("hook", "install")
    assert r.code == 0, r.err
    assert (f"kept {hook}" in r.out) is runs and ("pre-push is another tool's" in r.err) \
        is not runs
    assert hook.read_text() == "#!/bin/sh\n" + text


def test_a_push_refused_as_head_names_the_way_back_too(tmp_path, store, cli, bob):
    """review15 B10: git names the local side `HEAD` for `git push origin HEAD`,
    `HEAD:main` and `@`; those refusals gave no way back, as a `main` push does."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    setv(a, "MINE", "m")
    mine = head(a)
    remote = git(bare, "rev-parse", "main")
    git(a.cwd, "commit", "-q", "--allow-empty", "--no-verify", "-m", "by hand")
    for spec in ("HEAD", "HEAD:main", "@", "main"):
        r = push(a, "origin", spec)
        assert r.returncode != 0, spec
        assert f"instead: `git reset --keep {mine[:12]}` puts main back on the verified " \
               "line" in r.stderr, (spec, r.stderr)
    git(a.cwd, "checkout", "-q", "--detach")  # no branch checked out: none to put back
    r = push(a, "origin", "HEAD:main")
    assert r.returncode != 0 and "instead: see every finding with `envtrail verify`" in r.stderr
    assert "git reset" not in r.stderr and "Traceback" not in r.stderr
    assert git(bare, "rev-parse", "main") == remote


def test_an_older_line_commit_never_takes_a_lost_store_branch_by_any_spelling(
        tmp_path, store, cli, bob):
    """review15 R1: the remote lost its store branch; an older line commit pushed to it by
    the remote's URL spelt another way (trailing slash, file://, no .git, a relative path,
    a remote whose push URL it is) got through, matched to no remote. Every head this
    clone saw anywhere counts now; the verified line head still goes through."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    setv(a, "LATEST", "new")
    assert a("sync").code == 0
    git(a.cwd, "remote", "add", "mirror", str(tmp_path / "nowhere.git"))
    git(a.cwd, "remote", "set-url", "--push", "mirror", str(bare))
    git(bare, "update-ref", "-d", "refs/heads/main")  # a hosting site's button
    through = []
    for where in ("origin", str(bare), f"{bare}/", f"file://{bare}", str(bare)[:-len(".git")],
                  "../remote.git", "mirror"):
        if push(a, where, "HEAD~1:refs/heads/main").returncode == 0:
            through.append(where)
            git(bare, "update-ref", "-d", "refs/heads/main")
    assert through == []
    r = push(a, f"file://{bare}/", "HEAD~1:refs/heads/main")
    assert "refs/heads/main is gone from the remote" in r.stderr, r.stderr
    assert f"instead: push the verified line head: `git push file://{bare}/ " \
           f"{head(a)[:12]}:refs/heads/main`" in r.stderr
    r = push(a, f"file://{bare}", "main")  # the verified line head, however the URL reads
    assert r.returncode == 0, r.stderr
    assert git(bare, "rev-parse", "main").strip() == head(a)


@pytest.mark.parametrize("remote", ["origin", "team/origin"])
def test_a_line_head_behind_a_head_seen_never_takes_a_lost_store_branch(
        tmp_path, store, cli, bob, remote):
    """attack27 P1: bob fetched alice's revoke of carol but did not sync; the remote then
    lost its store branch. His own verified line head, behind the revoke, went through
    (the hint of the refusal above even named it), and a fresh clone seated carol again.
    It is judged against every head seen like any commit; the hint names the way on.
    attack29 P3: through a remote whose name holds a slash too (git allows
    `team/origin`): its heads were read as branch `origin/main` of remote `team`."""
    a, b, bare = make_world(tmp_path, store, cli, bob)
    if remote != "origin":
        git(b.cwd, "remote", "rename", "origin", remote)
        assert b("sync").code == 0  # the head seen is recorded under the new name too
    assert b("hook", "install").code == 0
    setv(a, "LATEST", "after bob's head")
    assert a("sync").code == 0
    git(b.cwd, "fetch", "-q", remote)
    newer = git(b.cwd, "rev-parse", f"{remote}/main").strip()
    git(bare, "update-ref", "-d", "refs/heads/main")
    r = push(b, remote, "main")
    assert r.returncode != 0
    assert f"is behind {newer[:10]}, a head of it this clone has seen" in r.stderr, r.stderr
    assert f"`git merge --ff-only {newer[:12]}`" in r.stderr
    assert git(bare, "rev-parse", "-q", "--verify", "refs/heads/main", check=False) == ""
    # The way on, as the hint gives it: bob takes the head he saw, verifies, pushes.
    git(b.cwd, "merge", "-q", "--ff-only", newer)
    assert b("verify").code == 0
    assert push(b, remote, "main").returncode == 0
    assert git(bare, "rev-parse", "main").strip() == newer


def test_a_branch_that_only_ends_in_the_store_branchs_name_is_no_head_of_it(
        tmp_path, store, cli, bob):
    """attack28 P2: every remote-tracking ref ending in /main counted as a head of main:
    anyone who can push a branch `evil/main` made a synced clone's push of its own line
    head refused once the remote lost main, the hint pointing at their commit."""
    a, _, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    junk = git(a.cwd, "commit-tree", "HEAD^{tree}", "-m", "not the store line").strip()
    git(a.cwd, "update-ref", "refs/remotes/origin/evil/main", junk)
    git(bare, "update-ref", "-d", "refs/heads/main")
    r = push(a, "origin", "main")
    assert r.returncode == 0, r.stderr
    assert git(bare, "rev-parse", "main").strip() == head(a)


def test_a_plain_push_of_an_events_line_that_does_not_verify_is_refused(
        tmp_path, store, cli, bob):
    """review15 R2: an unsigned commit appended to refs/envtrail/events went out with a
    plain push (only rewinds were checked), and every other clone's sync stopped. Now it
    is judged as sync judges the remote's; where it got out past the hook, the rewind
    refusal names the way back, which works."""
    a, b, bare = make_world(tmp_path, store, cli, bob)
    assert a("hook", "install").code == 0
    assert a("event", "deploy", "--env", "production", "--reason", "real deploy").code == 0
    assert a("sync").code == 0
    good = git(a.cwd, "rev-parse", "refs/envtrail/events").strip()
    forged = git(a.cwd, "commit-tree", "refs/envtrail/events^{tree}", "-p", good,
                 "-m", "production: event\n\nEnvtrail-Action: event").strip()
    git(a.cwd, "update-ref", "refs/envtrail/events", forged)
    r = push(a, "origin", "refs/envtrail/events")
    assert r.returncode != 0
    assert "envtrail: refused (push to refs/envtrail/events): the events line pushed does " \
           "not verify" in r.stderr and forged[:10] in r.stderr
    assert git(bare, "rev-parse", "refs/envtrail/events").strip() == good
    assert b("sync").code == 0
    # Forced out past the hook: bob's sync stops; alice's line goes back to the good one.
    assert push(a, "--no-verify", "origin", "refs/envtrail/events").returncode == 0
    assert b("sync").code == 5
    git(a.cwd, "update-ref", "refs/envtrail/events", good)
    r = push(a, "-f", "origin", "refs/envtrail/events")
    assert r.returncode != 0 and "rewind" in r.stderr
    way = r.stderr.split("put back this clone's with `", 1)[1].split("`", 1)[0]
    assert way == (f"git push --no-verify --force-with-lease=refs/envtrail/events:{forged} "
                   f"origin {good}:refs/envtrail/events")
    done = subprocess.run(shlex.split(way), cwd=a.cwd, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert git(bare, "rev-parse", "refs/envtrail/events").strip() == good
    r = b("sync")
    assert r.code == 0, r.err


def test_a_lie_only_the_pushers_key_sees_does_not_go_on_to_another_remote(
        tmp_path, store, cli, bob):
    """attack29 F1: the hook walked the line without the pusher's key, though it was at
    hand: a staging change with lying fingerprints, taken by plain git, went on to a
    backup remote from alice's clone, whose key sees the lie. It walks with her key."""
    import forge

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    setv(cli, "S", "s1", env="staging")
    assert cli("get", "S", "--env", "staging").code == 0
    assert cli("hook", "install").code == 0
    bad = forge.lying_set(store, bob.identity, "staging", "S", "s2")
    git(store, "reset", "-q", "--hard", bad)  # taken by plain git, as a pull would
    backup = tmp_path / "backup.git"
    git(tmp_path, "init", "-q", "--bare", str(backup))
    git(store, "remote", "add", "backup", str(backup))
    r = subprocess.run(["git", "push", "-q", "backup", "main"], cwd=store, capture_output=True,
                       text=True, check=False, env={**os.environ,
                                                     "ENVTRAIL_IDENTITY": str(cli.identity.path)})
    assert r.returncode != 0 and "rule 3" in r.stderr, r.stderr
    assert git(backup, "rev-parse", "-q", "--verify", "refs/heads/main", check=False) == ""


def test_a_lost_store_branch_is_held_to_the_heads_seen_whatever_the_local_branch_is_called(
        tmp_path, store, cli, bob):
    """attack30 A4: the check above ran only when the branch pushed to had the local store
    branch's name; bob keeps the store on `store` (upstream origin/main) and his
    `git push origin store:main` put his line, behind a revoke he fetched, on the lost
    branch. It runs for any branch of which this clone saw a head."""
    a, b, bare = make_world(tmp_path, store, cli, bob)
    git(b.cwd, "branch", "-m", "main", "store")
    git(b.cwd, "config", "envtrail.branch", "refs/heads/store")
    git(b.cwd, "branch", "--set-upstream-to", "origin/main", "store")
    assert b("verify").code == 0
    _refused_onto_the_lost_main(a, b, bare, "store:main", "main")


def test_a_stale_line_pushed_under_a_new_branch_name_is_held_to_the_heads_seen(
        tmp_path, store, cli, bob):
    """attack31 B5: once the remote lost `main`, bob's `git push origin main:envtrail`
    went to a branch name this clone never saw, unchecked, and a fresh clone's `init`
    adopted `origin/envtrail`: his line, behind a revoke he fetched. The heads of the
    store branch count for a branch the push creates, whatever its name."""
    a, b, bare = make_world(tmp_path, store, cli, bob)
    _refused_onto_the_lost_main(a, b, bare, "main:envtrail", "envtrail")


def _refused_onto_the_lost_main(a, b, bare, spec: str, dest: str) -> None:
    """bob fetches alice's newer head without syncing, the remote loses `main`, and his
    hooked `git push origin SPEC` of his older line is refused: nothing lands at DEST."""
    assert b("hook", "install").code == 0
    setv(a, "LATEST", "after bob's head")
    assert a("sync").code == 0
    git(b.cwd, "fetch", "-q", "origin")
    newer = git(b.cwd, "rev-parse", "origin/main").strip()
    git(bare, "update-ref", "-d", "refs/heads/main")
    r = push(b, "origin", spec)
    assert r.returncode != 0
    assert f"is behind {newer[:10]}, a head of it this clone has seen" in r.stderr, r.stderr
    assert git(bare, "rev-parse", "-q", "--verify", f"refs/heads/{dest}", check=False) == ""
