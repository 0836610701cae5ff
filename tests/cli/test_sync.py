"""sync by replay: two clones, a real bare remote, real keys; the store line never merges."""

import json
import socket
import subprocess
import threading
import time

import pytest

from conftest import Cli, assert_one_line_error, git, make_app_store

CANARY_A = "canary-alice-7f3e9d"
CANARY_B = "canary-bob-1c8a42"


def setv(cli, key, value, env="production"):
    r = cli("set", key, "--env", env, "--reason", f"set {key}", input=value)
    assert r.code == 0, r.err


def values(cli, env="production"):
    r = cli("export", "--env", env, "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def make_remote(tmp_path, store):
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    return bare


def clone_as(tmp_path, url, who, name):
    path = tmp_path / name
    git(tmp_path, "clone", "-q", url, str(path))
    c = Cli(path, who)
    assert c("init").code == 0  # configures the clone only
    return c


def head(cli):
    return git(cli.cwd, "rev-parse", "HEAD").strip()


def local_state(cli):
    """Everything sync could change here: refs, work tree, envtrail's own state files."""
    state = cli.cwd / ".git" / "envtrail"
    files = {p.name: p.read_bytes() for p in sorted(state.iterdir())
             if p.is_file() and p.name != "lock"}
    return (git(cli.cwd, "for-each-ref"), git(cli.cwd, "rev-parse", "HEAD"),
            git(cli.cwd, "status", "--porcelain"),
            (cli.cwd / "envs/production.yaml").read_bytes(), files)


def assert_one_signed_line(cli, bare=None):
    for where in (cli.cwd, bare):
        if where is None:
            continue
        assert git(where, "rev-list", "--merges", "main") == ""
        assert len(git(where, "rev-list", "--max-parents=0", "main").split()) == 1
    for commit in git(cli.cwd, "rev-list", "HEAD").split():
        git(cli.cwd, "verify-commit", commit)  # stock git is the judge of every signature


def diverge(a, b):
    """Alice pushes one change while bob writes another, unpushed."""
    setv(a, "FROM_ALICE", "1")
    assert a("sync").code == 0
    setv(b, "FROM_BOB", "2")


@pytest.fixture
def world(tmp_path, store, cli, bob):
    return make_world(tmp_path, store, cli, bob)


def make_world(tmp_path, store, cli, bob, key="BASE", value="b"):
    """bob joins production, ``key`` is set, and alice and bob each have a clone of a bare
    remote: (alice, bob, the remote)."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, key, value)
    bare = make_remote(tmp_path, store)
    a = clone_as(tmp_path, str(bare), cli.identity, "alice")
    b = clone_as(tmp_path, str(bare), bob, "bob")
    return a, b, bare


def test_changes_on_both_sides_end_as_one_signed_line(world):
    a, b, bare = world
    setv(a, "FROM_ALICE", "1")
    assert a("sync").out.startswith("pushed")
    setv(b, "FROM_BOB", "2")
    original = head(b)
    r = b("sync")
    assert r.code == 0, r.err
    assert r.out.startswith("replayed your commits on origin/main and pushed")
    assert f"{original[:10]} (set) -> {head(b)[:10]}" in r.out
    assert a("sync").out.startswith("fast-forwarded")
    assert values(a) == values(b) == {"BASE": "b", "FROM_ALICE": "1", "FROM_BOB": "2"}
    message = git(b.cwd, "log", "-1", "--format=%B")
    assert f"Envtrail-Replayed: {original}" in message
    assert "Envtrail-Actor: bob@example.com" in message
    assert git(b.cwd, "rev-parse", "HEAD^").strip() == git(a.cwd, "rev-parse", "HEAD^").strip()
    assert head(a) == head(b) == git(bare, "rev-parse", "main").strip()
    for c in (a, b):
        assert_one_signed_line(c, bare)
        assert c("verify").code == 0
    assert git(b.cwd, "for-each-ref", "refs/envtrail/replaced/") == ""


def test_only_the_remote_moved_is_a_fast_forward(world):
    a, b, _ = world
    setv(a, "X", "x")
    assert a("sync").code == 0
    before = head(b)
    r = b("sync")
    assert r.out.startswith("fast-forwarded"), r.err
    assert git(b.cwd, "rev-parse", "HEAD^").strip() == before
    assert values(b)["X"] == "x"
    assert b("sync").out.startswith("up to date")


@pytest.mark.parametrize("side", ["--mine", "--theirs"])
def test_same_variable_on_both_sides_stops_then_settles(world, side):
    a, b, bare = world
    setv(a, "BASE", CANARY_A)
    assert a("sync").code == 0
    setv(b, "BASE", CANARY_B)
    setv(b, "OTHER", "o")
    before = local_state(b)
    r = b("sync")
    assert_one_line_error(r, 6)
    assert "production:BASE" in r.err
    assert "OTHER" not in r.err
    assert CANARY_A not in r.both and CANARY_B not in r.both
    assert local_state(b) == before  # nothing changed here
    assert git(bare, "rev-parse", "main").strip() == head(a)

    r = b("sync", side, "production:BASE" if side == "--mine" else "BASE")
    assert r.code == 0, r.err
    assert CANARY_A not in r.both and CANARY_B not in r.both
    assert a("sync").code == 0
    expected = CANARY_B if side == "--mine" else CANARY_A
    assert values(a) == values(b) == {"BASE": expected, "OTHER": "o"}
    for c in (a, b):
        assert_one_signed_line(c, bare)
        assert c("verify").code == 0


def test_the_same_value_set_on_both_sides_lands_once(world):
    # Both clones set BASE to one value: no conflict, and nothing of bob's commit is left
    # to land. Re-encrypting it anyway would push a second "~ BASE" that changed nothing,
    # a false story in log and blame.
    a, b, bare = world
    setv(a, "BASE", CANARY_A)
    assert a("sync").code == 0
    setv(b, "BASE", CANARY_A)
    r = b("sync")
    assert r.code == 0, r.err
    assert "kept origin/main's side of everything" in r.out and "(set) dropped" in r.out
    assert head(b) == head(a) == git(bare, "rev-parse", "main").strip()
    assert values(b) == {"BASE": CANARY_A}


def test_an_offboarded_member_can_still_drop_their_unpushed_change(world):
    # bob was revoked (his key closed) while his set sat unpushed. Keeping the remote's
    # side leaves nothing of it to re-make, so nothing is signed and sync ends cleanly:
    # a commit with nothing left must not be judged (or refused) as bob's new write.
    a, b, bare = world
    assert a("access", "revoke", "bob@example.com", "--env", "production",
             "--reason", "left").code == 0
    setv(a, "BASE", CANARY_A)
    assert a("sync").code == 0
    setv(b, "BASE", CANARY_B)
    assert_one_line_error(b("sync"), 6)
    r = b("sync", "--theirs", "BASE")
    assert r.code == 0, r.err
    assert "(set) dropped" in r.out
    assert head(b) == head(a) == git(bare, "rev-parse", "main").strip()
    assert CANARY_B not in r.both


def test_an_unset_is_replayed_as_a_removal_and_twice_lands_once(world):
    # An unset re-made on the moved remote must remove the value there (with its "-"
    # change), not leave it readable; the same unset made on both sides is no conflict
    # and leaves nothing to land.
    a, b, bare = world
    setv(a, "OTHER", "o")
    assert a("sync").code == 0
    assert b("unset", "BASE", "--env", "production", "--reason", "gone").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert "Envtrail-Change: - BASE" in git(b.cwd, "log", "-1", "--format=%B")
    assert values(b) == {"OTHER": "o"}
    assert b("verify").code == 0
    setv(b, "LATER", "l")
    assert b("sync").code == 0
    assert a("unset", "OTHER", "--env", "production", "--reason", "gone").code == 0
    assert b("unset", "OTHER", "--env", "production", "--reason", "gone").code == 0
    assert b("sync").code == 0
    r = a("sync")
    assert r.code == 0, r.err
    assert "(unset) dropped" in r.out
    assert values(a) == values(b) == {"LATER": "l"}
    assert_one_signed_line(a, bare)


def test_settling_names_are_checked(world):
    a, b, _ = world
    setv(a, "BASE", "x")
    assert a("sync").code == 0
    setv(b, "BASE", "y")
    r = b("sync", "--mine", "NOPE")
    assert_one_line_error(r, 2)
    assert "NOPE is not in conflict" in r.err
    r = b("sync", "--mine", "BASE", "--theirs", "*")
    assert_one_line_error(r, 2)
    assert "both --mine and --theirs" in r.err


def test_a_remote_rewind_is_refused_and_nothing_changes(world):
    a, b, bare = world
    old = head(a)
    setv(a, "LATER", "l")
    assert a("sync").code == 0
    assert b("sync").code == 0  # b has now seen the newer head
    setv(b, "MINE", "m")
    git(bare, "update-ref", "refs/heads/main", old)  # a force-push of an older commit
    before = local_state(b)
    r = b("sync")
    assert_one_line_error(r, 5)
    assert "rewound or rewritten" in r.err
    assert local_state(b) == before
    assert git(bare, "rev-parse", "main").strip() == old  # and nothing was pushed over it


def test_a_remote_rewrite_is_refused_even_when_it_verifies(world, tmp_path):
    a, b, bare = world
    fork = head(a)
    setv(a, "LATER", "l")
    assert a("sync").code == 0
    assert b("sync").code == 0
    # Someone rewrites the remote: a valid, signed line that lacks the head b saw.
    git(a.cwd, "reset", "-q", "--hard", fork)
    (a.cwd / ".git/envtrail/verified.json").unlink()
    setv(a, "OTHER", "o")
    git(a.cwd, "push", "-q", "--force", "origin", "main")
    before = local_state(b)
    r = b("sync")
    assert_one_line_error(r, 5)
    assert "no longer contains" in r.err
    assert local_state(b) == before
    assert git(bare, "rev-parse", "main").strip() == head(a)  # b pushed nothing over it


def test_originals_are_kept_until_the_push_lands(world):
    a, b, bare = world
    diverge(a, b)
    original = head(b)
    lock = bare / "refs/heads/main.lock"
    lock.write_text("")  # another push holds the remote branch, and keeps holding it
    r = b("sync")
    assert_one_line_error(r, 6)
    assert "locked" in r.err
    assert git(b.cwd, "rev-parse", "refs/envtrail/replaced/" + original).strip() == original
    assert f"Envtrail-Replayed: {original}" in git(b.cwd, "log", "-1", "--format=%B")
    assert git(bare, "rev-parse", "main").strip() == head(a)
    assert b("verify").code == 0

    threading.Timer(0.3, lock.unlink).start()  # released while sync retries
    r = b("sync")
    assert r.code == 0, r.err
    assert r.out.startswith("pushed")
    assert git(bare, "rev-parse", "main").strip() == head(b)
    assert git(b.cwd, "for-each-ref", "refs/envtrail/replaced/") == ""
    assert "replaced" not in git(b.cwd, "ls-remote", "origin")  # never pushed


def test_a_commit_re_made_twice_still_names_the_one_first_written(world):
    # The push of a replay is lost to a lock, the remote moves again, and the replay is
    # re-made once more: its Envtrail-Replayed must still name the commit this clone
    # first wrote (what the replaced ref, log and events follow), not the interim one.
    a, b, bare = world
    setv(b, "FROM_BOB", "2")
    original = head(b)
    setv(a, "FROM_ALICE", "1")
    assert a("sync").code == 0
    lock = bare / "refs/heads/main.lock"
    lock.write_text("")
    assert_one_line_error(b("sync"), 6)
    interim = head(b)
    assert interim != original
    lock.unlink()
    setv(a, "AGAIN", "3")
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    message = git(b.cwd, "log", "-1", "--format=%B")
    assert f"Envtrail-Replayed: {original}" in message
    assert interim not in message
    assert values(b) == {"BASE": "b", "FROM_ALICE": "1", "AGAIN": "3", "FROM_BOB": "2"}
    assert b("verify").code == 0
    assert_one_signed_line(b, bare)


def test_an_unjournalled_local_commit_stops_sync(world):
    a, b, _ = world
    diverge(a, b)
    (b.cwd / ".git/envtrail/written").unlink()  # as if the commit came from elsewhere
    before = local_state(b)
    r = b("sync")
    assert_one_line_error(r, 6)
    assert "this clone did not write it" in r.err
    assert local_state(b) == before


def test_a_commit_signed_by_another_clone_is_not_re_signed(world, tmp_path):
    a, b, _ = world
    setv(b, "FROM_BOB", "2")  # bob's, not pushed
    git(a.cwd, "pull", "-q", "--ff-only", str(b.cwd), "main")  # alice takes it straight from bob
    third = clone_as(tmp_path, str(a.cwd.parent / "remote.git"), a.identity, "third")
    setv(third, "ELSEWHERE", "e")
    assert third("sync").code == 0
    r = a("sync")
    assert_one_line_error(r, 6)
    assert "did not write it" in r.err


def test_a_commit_signed_with_another_key_is_not_re_signed(world):
    a, b, _ = world
    setv(a, "FROM_ALICE", "1")
    assert a("sync").code == 0
    setv(b, "FROM_BOB", "2")  # written here with bob's key
    r = b.as_(a.identity)("sync")  # alice's key is an allowed signer too, but not the writer
    assert_one_line_error(r, 6)
    assert "signed with another key" in r.err


def test_rotation_on_one_side_and_set_on_the_other(world):
    a, b, bare = world
    assert a("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    assert a("sync").code == 0
    setv(b, "NEW", "n")
    setv(b, "BASE", "b2")
    r = b("sync")
    assert r.code == 0, r.err
    assert a("sync").code == 0
    assert values(a) == values(b) == {"BASE": "b2", "NEW": "n"}
    # The replayed values are encrypted to the rotated key pair.
    assert (a.cwd / "envs/production.yaml").read_bytes() == (b.cwd / "envs/production.yaml").read_bytes()
    for c in (a, b):
        assert_one_signed_line(c, bare)
        assert c("verify").code == 0


def test_an_environment_added_here_is_re_made_on_the_moved_remote(world):
    # The new environment is no conflict with what the remote did meanwhile: replay must
    # create it on the new head, with its value, this clone's admin its only member, and
    # never stop sync as if it were "gone on the remote".
    a, b, bare = world
    setv(b, "FROM_BOB", "2")
    assert b("sync").code == 0
    assert a("env", "add", "qa", "--reason", "new env").code == 0
    setv(a, "Q", CANARY_A, env="qa")
    r = a("sync")
    assert r.code == 0, r.err
    assert CANARY_A not in r.both
    assert values(a, "qa") == {"Q": CANARY_A}
    assert values(a)["FROM_BOB"] == "2"
    assert "alice@example.com:" in (a.cwd / "envs/qa.yaml").read_text()
    assert "bob@example.com" not in (a.cwd / "envs/qa.yaml").read_text()
    assert a("verify").code == 0
    assert_one_signed_line(a, bare)


def test_a_replayed_revoke_re_encrypts_what_came_in_and_reports_it(world, make_identity):
    a, b, bare = world
    assert a("access", "revoke", b.identity.principal, "--env", "production",
             "--reason", "left").code == 0
    setv(b, "BOBS_LAST", "late")  # pushed before the revoke reaches the remote
    assert b("sync").code == 0
    r = a("sync")
    assert r.code == 0, r.err
    assert "(revoke) ->" in r.out
    assert "Offboarding report for bob@example.com" in r.out
    assert "BOBS_LAST" in r.out
    assert values(a)["BOBS_LAST"] == "late"
    assert a("verify").code == 0
    assert_one_signed_line(a, bare)
    assert b("sync").code == 0
    r = b("get", "BOBS_LAST", "--env", "production")
    assert r.code == 4  # the value that arrived is now sealed to a key bob does not hold


def test_a_revoke_another_clone_made_first_is_replayed_as_the_rotation_it_is(
        tmp_path, store, cli, bob):
    # Two of alice's clones revoke bob from staging (he stays in production). The second
    # to sync removes nobody: its replay must not tell log of a revocation that its
    # commit does not make (verify refuses a revoke that removes nobody), but its
    # rotation still lands.
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    for c in (a, a2):
        assert c("access", "revoke", bob.principal, "--env", "staging",
                 "--reason", "INC-7 offboard").code == 0
    assert a("sync").code == 0
    before = git(a2.cwd, "rev-parse", "HEAD:envs/staging.yaml").strip()
    r = a2("sync")
    assert r.code == 0, r.err
    message = git(a2.cwd, "log", "-1", "--format=%B")
    assert "Envtrail-Action: rotate" in message and "Envtrail-Member" not in message
    assert "Envtrail-Reason: INC-7 offboard" in message
    staging = git(a2.cwd, "show", "HEAD:envs/staging.yaml")
    assert "public_key" in staging and git(a2.cwd, "rev-parse", "HEAD:envs/staging.yaml") \
        .strip() != before
    assert git(a2.cwd, "show", "HEAD^:envs/staging.yaml").split("public_key:")[1] \
        .split()[0] != staging.split("public_key:")[1].split()[0]  # a new key pair
    assert a2("verify").code == 0
    assert_one_signed_line(a2, bare)


def test_two_grants_of_one_person_with_different_keys_settle_by_the_seat_alone(
        tmp_path, store, cli, bob, make_identity):
    # Two of alice's clones grant carol with different keys. Only her seat is in
    # conflict: her signer line follows the seat on the head the grant lands on. Keeping
    # this clone's seat would leave her name on two keys (exit 6, nothing moves);
    # keeping the remote's drops this clone's grant, and the line verifies.
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    first = make_identity("carol@example.com").publine
    second = make_identity("carol@example.com").publine
    assert first != second
    for c, key in ((a, first), (a2, second)):
        assert c("access", "grant", "carol@example.com", key, "--env", "production",
                 "--reason", "join").code == 0
    assert a("sync").code == 0
    r = a2("sync")
    assert_one_line_error(r, 6)
    assert "production:member:carol@example.com" in r.err and "signer:" not in r.err
    before = local_state(a2)
    r = a2("sync", "--mine", "production:member:carol@example.com")
    assert_one_line_error(r, 6)
    assert "another key" in r.err
    assert local_state(a2) == before
    r = a2("sync", "--theirs", "*")
    assert r.code == 0, r.err
    assert a2("verify").code == 0
    assert first.split()[1] in git(a2.cwd, "show", "HEAD:.envtrail/allowed_signers")
    assert second.split()[1] not in git(a2.cwd, "show", "HEAD:.envtrail/allowed_signers")
    assert_one_signed_line(a2, bare)


def test_sync_refuses_a_remote_history_that_does_not_verify(world):
    a, b, _ = world
    path = a.cwd / "envs/production.yaml"
    setv(a, "GOOD", "1")
    assert a("sync").code == 0
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith("  GOOD:")))
    git(a.cwd, "commit", "-q", "-am", "quiet edit")
    git(a.cwd, "push", "-q")
    setv(b, "MINE", "m")
    before = local_state(b)
    r = b("sync")
    assert r.code == 5
    assert "remote's history does not verify" in r.err
    assert local_state(b) == before


def test_plain_git_pull_rebase_is_stopped_by_the_merge_driver(world):
    a, b, _ = world
    diverge(a, b)
    mine = head(b)
    r = subprocess.run(["git", "pull", "-q", "--rebase"], cwd=b.cwd,
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0
    assert "envtrail sync" in r.stdout + r.stderr
    git(b.cwd, "rebase", "--abort")
    assert head(b) == mine
    assert b("sync").code == 0
    assert values(b)["FROM_ALICE"] == "1"


def test_a_plain_rebase_no_merge_driver_meets_is_named_with_the_way_back(world):
    """attack19 P15: alice and bob changed different files, so `git pull --rebase` ran no
    merge driver and re-made bob's commit unsigned. Reads refuse it (rule 8); the hint
    now names the way back (the verified head is still in the clone), and it works."""
    a, b, _ = world
    setv(a, "FROM_ALICE", "1", env="staging")
    assert a("sync").code == 0
    setv(b, "FROM_BOB", "2")
    mine = head(b)
    r = subprocess.run(["git", "pull", "-q", "--rebase"], cwd=b.cwd,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert head(b) != mine
    refused = b("get", "FROM_BOB", "--env", "production")
    assert_one_line_error(refused, 5)
    assert f"`git reset --keep {mine[:12]}` and `envtrail sync`" in refused.err
    git(b.cwd, "reset", "-q", "--keep", mine[:12])
    assert b("sync").code == 0
    assert values(b)["FROM_BOB"] == "2" and b("verify").code == 0


def test_plain_git_merge_is_refused_and_set_then_says_why(world):
    a, b, _ = world
    setv(a, "BASE", "alice's")
    assert a("sync").code == 0
    setv(b, "BASE", "bob's")
    mine = head(b)
    r = subprocess.run(["git", "pull", "--no-rebase", "--no-edit"], cwd=b.cwd,
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0
    assert "store files are never merged by git" in r.stdout + r.stderr
    assert "envtrail sync" in r.stdout + r.stderr
    assert git(b.cwd, "rev-list", "--merges", "HEAD") == ""
    assert "<<<<<<<" not in (b.cwd / "envs/production.yaml").read_text()
    r = b("set", "C", "--env", "production", "--reason", "r", input="c")
    assert_one_line_error(r, 6)
    assert "unexpected" not in r.err and "merge" in r.err
    git(b.cwd, "merge", "--abort")
    assert head(b) == mine
    assert b("set", "C", "--env", "production", "--reason", "r", input="c").code == 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sync_over_a_real_git_daemon(tmp_path, store, cli, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    serve = tmp_path / "served"
    serve.mkdir()
    git(serve, "clone", "-q", "--bare", str(store), str(serve / "secrets.git"))
    port = _free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
         f"--base-path={serve}", "--listen=127.0.0.1", f"--port={port}", str(serve)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = f"git://127.0.0.1:{port}/secrets.git"
        a = clone_as(tmp_path, url, cli.identity, "a")
        b = clone_as(tmp_path, url, bob, "b")
        setv(a, "X", "x")
        setv(b, "Y", "y")
        assert a("sync").code == 0
        r = b("sync")
        assert r.code == 0, r.err
        assert a("sync").code == 0
        assert values(a) == values(b) == {"X": "x", "Y": "y"}
        assert_one_signed_line(a)
        assert a("verify").code == 0
    finally:
        daemon.terminate()
        daemon.wait(10)


def test_sync_in_an_application_repo_moves_only_the_store_branch(tmp_path, alice, bob):
    app = make_app_store(tmp_path, alice)
    owner = Cli(app, alice)
    assert owner("access", "grant", bob.principal, bob.publine, "--env", "production",
                 "--reason", "join").code == 0
    bare = make_remote(tmp_path, app)
    a = clone_as(tmp_path, str(bare), alice, "a")
    b = clone_as(tmp_path, str(bare), bob, "b")
    code = git(a.cwd, "rev-parse", "main").strip()
    diverge(a, b)
    r = b("sync")
    assert r.code == 0, r.err
    assert r.out.startswith("replayed your commits on origin/envtrail")
    assert a("sync").code == 0
    assert values(a) == values(b) == {"FROM_ALICE": "1", "FROM_BOB": "2"}
    for c in (a, b):
        assert git(c.cwd, "rev-parse", "main").strip() == code  # the code branch never moved
        assert not (c.cwd / "envs").exists()  # the store is not in the work tree
        assert git(c.cwd, "rev-list", "--merges", "envtrail") == ""
        assert c("verify").code == 0
    assert git(bare, "rev-parse", "envtrail").strip() == git(a.cwd, "rev-parse", "envtrail").strip()


@pytest.mark.parametrize(("flags", "written"), [
    (("--approvals", "1"), "approvals: 1"),
    (("--no-break-glass", "--review", "2h"), "break_glass_review: 2h"),
    (("--writers", "admins"), "writers:\n  - admins"),
])
def test_a_replayed_default_rule_keeps_every_key(world, bob, flags, written):
    """An admin's change to the default rule survives a replay whole (found by the attacker
    review: approval keys were dropped, and with them the approvals production needed)."""
    a, b, _ = world
    setv(b, "FROM_BOB", "1")
    assert b("sync").code == 0
    # Someone besides alice, the only admin, to approve in every environment (ops/reach.py).
    assert a("access", "grant", bob.principal, bob.publine, "--env", "staging",
             "--reason", "join").code == 0
    assert a("policy", "set", *flags, "--reason", "lock down").code == 0
    mine = (a.cwd / ".envtrail/policy.yaml").read_text()
    assert written in mine
    r = a("sync")
    assert r.code == 0, r.err
    assert "dropped" not in r.out
    assert (a.cwd / ".envtrail/policy.yaml").read_text() == mine
    assert values(a)["FROM_BOB"] == "1"
    assert a("verify").code == 0
    if flags[0] == "--approvals":
        assert b("sync").code == 0
        r = b("set", "DIRECT", "--env", "production", "--reason", "no approval", input="v")
        assert r.code == 4, r.err


def test_two_admins_changing_different_policy_scopes_is_no_conflict(tmp_path, store, cli, bob):
    # One clone changes the default rule, another staging's rule. Only a scope both
    # changed can conflict: the scopes the remote left alone must not be read as its
    # changes (a spurious stop the user could only settle by dropping a rule).
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    assert a("policy", "set", "--writers", "admins", "--reason", "lock down").code == 0
    assert a("sync").code == 0
    # staging's approvers: alice and bob (alice alone could never approve her own changes).
    assert a2("access", "grant", bob.principal, bob.publine, "--env", "staging",
              "--reason", "join").code == 0
    assert a2("policy", "set", "--env", "staging", "--approvals", "1",
              "--reason", "review staging").code == 0
    r = a2("sync")
    assert r.code == 0, r.err
    text = (a2.cwd / ".envtrail/policy.yaml").read_text()
    assert "writers:\n  - admins" in text and "staging:\n    approvals: 1" in text
    assert a2("verify").code == 0
    assert_one_signed_line(a2, bare)


_PROPOSALS = "refs/envtrail/proposals/"


def test_a_proposal_on_a_repaired_state_is_not_taken_nor_re_signed(world, make_identity):
    """bob (no admin) rebinds alice's principal to a key of his; alice repairs it; bob then
    proposes a change 'as alice' on the forged state (found by the attacker review)."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    a, b, bare = world
    second = make_identity("second@example.com")  # bob's second key
    g = GitRepo(b.cwd)
    top = g.store_head()
    when = g.info(top).committer_time
    signers = g.read(top, ".envtrail/allowed_signers").decode()
    alice_key = a.identity.publine.split()[1]
    forged = create_commit(
        g, [top], {".envtrail/allowed_signers": signers.replace(
            alice_key, second.publine.split()[1]).encode()},
        render(Record("signers", "bob@example.com", "key rotation", ())),
        Author("bob@example.com", "bob@example.com", when), signer_for(b.identity.identity))
    git(b.cwd, "push", "-q", "origin", f"{forged}:refs/heads/main")
    git(a.cwd, "fetch", "-q", "origin")
    git(a.cwd, "reset", "-q", "--hard", "origin/main")
    assert a("repair", "--reason", "bob forged allowed_signers").code == 0
    assert a("sync").code == 0 and a("verify").code == 0
    proposal = create_commit(
        g, [forged], {".envtrail/policy.yaml": b"envtrail: 1\n"},
        render(Record("policy", "alice@example.com", "only bob writes", ())),
        Author("alice@example.com", "alice@example.com", when), signer_for(second.identity))
    pid = proposal[:12]
    git(b.cwd, "push", "-q", "origin", f"{proposal}:{_PROPOSALS}{pid}")
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: not taken" in r.out and "repair acknowledged" in r.out
    assert git(a.cwd, "for-each-ref", _PROPOSALS) == ""
    # Even with the ref put in place by hand, alice's key does not re-sign it.
    git(a.cwd, "update-ref", f"{_PROPOSALS}{pid}", proposal)
    r = a("propose", "--redo", pid)
    assert_one_line_error(r, 4)
    assert "with the key that signed it" in r.err
    assert git(bare, "rev-parse", "main").strip() == git(a.cwd, "rev-parse", "HEAD").strip()


def test_a_revoked_members_late_proposal_and_event_are_not_taken(world):
    """Written after the revocation but on a commit from before it (found by the attacker
    review): judged at that old commit, bob was still a member."""
    a, b, _ = world
    before = head(b)
    r = a("access", "revoke", "bob@example.com", "--env", "production",
          "--reason", "offboarding")
    assert r.code == 0, r.err
    assert a("sync").code == 0
    _late_proposal_is_not_taken(a, b, before)
    assert b("event", "deploy", "--env", "production", "--reason", "late").code == 0
    git(b.cwd, "push", "-q", "origin", "refs/envtrail/events:refs/envtrail/events")
    r = a("sync")
    assert r.code == 5 and "signature expired" in r.err
    assert git(a.cwd, "for-each-ref", "refs/envtrail/events") == ""


def test_a_revoked_members_backdated_proposal_is_not_taken(world, clock):
    """attack26 R1b: bob, revoked, dates a proposal before his revocation on a commit from
    before it. Judged at the time he wrote, it verifies; but his key is closed at the
    line's head, so nobody but him could re-make it, and sync leaves it on the remote."""
    a, b, _ = world
    clock(100)
    assert a("access", "revoke", "bob@example.com", "--env", "production",
             "--reason", "offboarding").code == 0
    assert a("sync").code == 0
    clock(50)  # bob's clock: after his head, before the revocation
    r = b("set", "DB", "--env", "production", "--reason", "hotfix", "--propose",
          input="postgres://attacker.example/prod")
    assert r.code == 0, r.err
    pid = git(b.cwd, "for-each-ref", "--format=%(refname:strip=3)", _PROPOSALS).strip()
    git(b.cwd, "push", "-q", "origin", f"{_PROPOSALS}{pid}:{_PROPOSALS}{pid}")
    clock(200)
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: not taken" in r.out and "author's key is closed" in r.out
    assert git(a.cwd, "for-each-ref", _PROPOSALS) == ""
    assert a("proposals", "--json").out.strip() in ("[]", "")


def test_a_revoked_members_backdated_event_is_taken_and_named(world, clock):
    """attack26 R1: an event bob dates before his revocation verifies where he dated it,
    and no clone can tell it from his honest event pushed late: sync takes it (refusing
    would stop every clone's sync) and says whose closed key signed it."""
    a, b, _ = world
    clock(100)
    assert a("access", "revoke", "bob@example.com", "--env", "production",
             "--reason", "offboarding").code == 0
    assert a("sync").code == 0
    clock(50)
    assert b("event", "incident", "--env", "production", "--reason", "INC-7").code == 0
    event = git(b.cwd, "rev-parse", "refs/envtrail/events").strip()
    git(b.cwd, "push", "-q", "origin", "refs/envtrail/events:refs/envtrail/events")
    clock(200)
    r = a("sync")
    assert r.code == 0, r.err
    assert f"warning: event {event[:10]} is signed by bob@example.com with a key the " \
        "store line has closed since" in r.err
    # alice's own events after it are not named.
    assert a("event", "deploy", "--env", "production", "--reason", "v2").code == 0
    r = a("sync")
    assert r.code == 0 and "closed since" not in r.err


def _late_proposal_is_not_taken(a, b, before: str) -> None:
    """bob, revoked in ``a``'s line, proposes on ``before`` and pushes: sync refuses it."""
    time.sleep(1.1)  # commit times have one-second steps: what follows is dated after it
    r = b("set", "LATE", "--env", "production", "--reason", "after my revocation",
          "--propose", input="late-value")
    assert r.code == 0, r.err
    pid = git(b.cwd, "for-each-ref", "--format=%(refname:strip=3)", _PROPOSALS).strip()
    assert head(b) == before
    git(b.cwd, "push", "-q", "origin", f"{_PROPOSALS}{pid}:{_PROPOSALS}{pid}")
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: not taken" in r.out and "revoked" in r.out
    assert git(a.cwd, "for-each-ref", _PROPOSALS) == ""


def test_a_late_proposal_is_judged_after_the_revocation_even_when_times_jump(world):
    """As above, on a line where a repair acknowledged a commit dated far ahead, so times
    along it are out of order: a search assuming order landed before the revocation
    (found by the third attacker review)."""
    from hostile import dated_ahead

    a, b, _ = world
    before = head(b)
    setv(a, "OTHER", "x")
    dated_ahead(a.cwd)
    assert a("repair", "--reason", "a commit dated ahead").code == 0
    assert a("access", "revoke", "bob@example.com", "--env", "production",
             "--reason", "offboarding").code == 0
    assert a("sync").code == 0
    _late_proposal_is_not_taken(a, b, before)


def test_an_admin_who_left_an_environment_can_still_sync_it(world):
    """An admin revokes themself from staging while the remote moved: the replayed revoke
    re-keys staging for the members left, without the replaying admin opening the new keys
    (they hold no seat in them)."""
    a, b, bare = world
    assert a("access", "grant", b.identity.principal, b.identity.publine, "--env", "staging",
             "--reason", "takes over staging").code == 0
    setv(a, "STAGING_BEFORE", "s", env="staging")  # re-keyed with the revoke (attack17 D)
    assert a("sync").code == 0 and b("sync").code == 0
    setv(b, "STAGING_NOW", "v", env="staging")
    assert a("access", "revoke", a.identity.principal, "--env", "staging",
             "--reason", "leaves staging").code == 0
    assert b("sync").code == 0  # the remote moved
    r = a("sync")
    assert r.code == 0, r.err
    assert "Envtrail-Action: revoke" in git(a.cwd, "log", "-1", "--format=%B")
    assert a("get", "STAGING_NOW", "--env", "staging").code == 4  # no seat any more
    assert a("verify").code == 0
    assert_one_signed_line(a, bare)
    assert b("sync").code == 0
    r = b("get", "STAGING_NOW", "--env", "staging")
    assert (r.code, r.out.strip()) == (0, "v")
    assert values(b, "staging") == {"STAGING_BEFORE": "s", "STAGING_NOW": "v"}
