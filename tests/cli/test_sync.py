"""Merging per variable: plain git merge with the driver, and envtrail sync with remotes."""

import json
import socket
import subprocess
import time

import pytest

from conftest import Cli, git


def setv(cli, key, value, env="production"):
    r = cli("set", key, "--env", env, "--reason", f"set {key}", input=value)
    assert r.code == 0, r.err


def values(cli, env="production"):
    r = cli("export", "--env", env, "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_plain_git_merge_of_adjacent_variables_needs_the_driver(cli, store):
    setv(cli, "A", "a0")
    setv(cli, "B", "b0")
    git(store, "switch", "-q", "-c", "left")
    setv(cli, "A", "a1")
    git(store, "switch", "-q", "main")
    setv(cli, "B", "b1")
    # git's own line merge conflicts: A and B sit on adjacent lines.
    path = "envs/production.yaml"
    base = git(store, "merge-base", "main", "left").strip()
    for name, rev in (("base", base), ("ours", "main"), ("theirs", "left")):
        (store.parent / name).write_text(git(store, "show", f"{rev}:{path}"))
    line_merge = subprocess.run(["git", "merge-file", "-p", "ours", "base", "theirs"],
                                cwd=store.parent, capture_output=True, text=True, check=False)
    assert line_merge.returncode > 0  # number of conflicts
    merged = subprocess.run(["git", "merge", "--no-edit", "left"], cwd=store, capture_output=True,
                            text=True, check=False)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert values(cli) == {"A": "a1", "B": "b1"}
    assert cli("verify").code == 0


def test_driver_conflict_names_the_variable(cli, store):
    setv(cli, "A", "a0")
    git(store, "switch", "-q", "-c", "left")
    setv(cli, "A", "left")
    git(store, "switch", "-q", "main")
    setv(cli, "A", "right")
    r = subprocess.run(["git", "merge", "--no-edit", "left"], cwd=store, capture_output=True,
                       text=True, check=False)
    assert r.returncode != 0
    assert "both sides changed A" in r.stdout + r.stderr
    git(store, "merge", "--abort")


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


@pytest.fixture
def two_clones(tmp_path, store, cli, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "BASE", "b")
    bare = make_remote(tmp_path, store)
    return clone_as(tmp_path, str(bare), cli.identity, "alice"), clone_as(tmp_path, str(bare), bob, "bob")


def test_disjoint_changes_sync_into_both_clones(two_clones):
    a, b = two_clones
    setv(a, "FROM_ALICE", "1")
    setv(b, "FROM_BOB", "2")
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert "merged origin/main" in r.out
    assert "+ FROM_ALICE" in r.out
    assert a("sync").out.startswith("fast-forwarded")
    expected = {"BASE": "b", "FROM_ALICE": "1", "FROM_BOB": "2"}
    assert values(a) == values(b) == expected
    msg = git(b.cwd, "log", "-1", "--format=%B")
    assert "Envtrail-Action: merge" in msg
    git(b.cwd, "verify-commit", "HEAD")
    assert git(b.cwd, "rev-list", "--parents", "-1", "HEAD").count(" ") == 2  # a merge, no rebase
    assert a("verify").code == 0
    assert b("verify").code == 0


def test_same_variable_conflict_keeps_local_commits(two_clones):
    a, b = two_clones
    setv(a, "BASE", "alice's")
    assert a("sync").code == 0
    setv(b, "BASE", "bob's")
    head = git(b.cwd, "rev-parse", "HEAD")
    r = b("sync")
    assert r.code == 6
    assert "both sides changed BASE" in r.err
    assert git(b.cwd, "rev-parse", "HEAD") == head
    assert git(b.cwd, "status", "--porcelain") == ""
    assert values(b)["BASE"] == "bob's"


def test_rotation_on_one_side_and_set_on_the_other(two_clones):
    a, b = two_clones
    assert a("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    assert a("sync").code == 0
    setv(b, "NEW", "n")
    setv(b, "BASE", "b2")
    r = b("sync")
    assert r.code == 0, r.err
    assert values(b) == {"BASE": "b2", "NEW": "n"}
    assert a("sync").code == 0
    assert values(a) == {"BASE": "b2", "NEW": "n"}
    # the merged file uses the rotated key pair
    assert (a.cwd / "envs/production.yaml").read_text() == (b.cwd / "envs/production.yaml").read_text()
    assert b("verify").code == 0
    assert a("verify").code == 0


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
        assert a("verify").code == 0
    finally:
        daemon.terminate()
        daemon.wait(10)


def test_pull_rebase_replaces_signed_commits_and_verify_says_so(two_clones):
    a, b = two_clones
    setv(a, "FROM_ALICE", "1")
    assert a("sync").code == 0
    setv(b, "FROM_BOB", "2")
    r = subprocess.run(["git", "pull", "-q", "--rebase", "--no-verify"], cwd=b.cwd,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    report = json.loads(b("verify", "--json").out)
    # The rebased copy lost its signature, and the clone's verified head is gone.
    assert [f["rule"] for f in report["findings"]] == [8, 1]
    assert report["findings"][1]["message"] == "signature unsigned"


def test_sync_refuses_a_remote_history_that_does_not_verify(two_clones, tmp_path):
    a, b = two_clones
    # Someone pushes a hand edit (unsigned) to the remote.
    path = a.cwd / "envs/production.yaml"
    setv(a, "GOOD", "1")
    assert a("sync").code == 0
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith("  GOOD:")))
    git(a.cwd, "commit", "-q", "-am", "quiet edit")
    git(a.cwd, "push", "-q")
    head = git(b.cwd, "rev-parse", "HEAD")
    setv(b, "MINE", "m")
    before = git(b.cwd, "rev-parse", "HEAD")
    r = b("sync")
    assert r.code == 5
    assert "remote's history does not verify" in r.err
    assert git(b.cwd, "rev-parse", "HEAD") == before != head
    assert values(b)["MINE"] == "m"
