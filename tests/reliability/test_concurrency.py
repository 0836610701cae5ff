"""Concurrent writers as real processes: every change lands exactly once, nothing is lost."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import Cli, git


def envtrail(cli, *args, input=None):
    return subprocess.run([sys.executable, "-m", "envtrail", *args], cwd=cli.cwd,
                          env=cli._env(None), input=input, capture_output=True, check=False)


def changes_in_history(store, env="production"):
    """Every (key, op) recorded in Envtrail-Change trailers, oldest first."""
    log = git(store, "log", "--reverse", "--format=%(trailers:key=Envtrail-Change,valueonly)")
    return [tuple(line.split()[:2][::-1]) for line in log.splitlines() if line.strip()]


def assert_healthy(cli, store):
    assert git(store, "status", "--porcelain") == ""
    git(store, "fsck", "--strict")
    for commit in git(store, "rev-list", "--no-merges", "HEAD").split():
        git(store, "verify-commit", commit)  # git itself accepts every signature
    r = envtrail(cli, "verify", "--json")
    assert json.loads(r.stdout)["ok"], r.stdout


@pytest.mark.parametrize("rounds", [pytest.param(3), pytest.param(12, marks=pytest.mark.slow)])
def test_mixed_writers_on_one_environment(cli, store, tmp_path, rounds):
    assert cli("set", "SHARED", "--env", "production", "--reason", "seed", input="s0").code == 0

    def worker(n):
        done = []
        for i in range(rounds):
            kind = ("set", "unset", "import", "rollback")[(n + i) % 4]
            if kind == "set":
                args, stdin = ["set", f"W{n}_{i}", "--env", "production"], f"v{n}.{i}".encode()
            elif kind == "unset":
                setv = envtrail(cli, "set", f"T{n}_{i}", "--env", "production", "--reason", "t",
                                input=b"tmp")
                assert setv.returncode == 0, setv.stderr
                done.append(("set", f"T{n}_{i}"))
                args, stdin = ["unset", f"T{n}_{i}", "--env", "production"], None
            elif kind == "import":
                f = tmp_path / f"I{n}_{i}.env"
                f.write_text(f"I{n}_{i}=imported\n")
                args, stdin = ["import", str(f), "--env", "production"], None
            else:
                args = ["rollback", "--env", "production", "--to", "HEAD", "--key", "SHARED"]
                stdin = None
            r = envtrail(cli, *args, "--reason", f"worker {n}", input=stdin)
            assert r.returncode == 0, r.stderr
            done.append((kind, args[1].rsplit("/", 1)[-1].removesuffix(".env")))
        return done

    with ThreadPoolExecutor(4) as pool:
        results = [x for part in pool.map(worker, range(4)) for x in part]
    values = json.loads(cli("export", "--env", "production", "--format", "json").out)
    expected = {"SHARED": "s0"}
    for kind, key in results:
        if kind == "set" and key.startswith("W"):
            n, i = key[1:].split("_")
            expected[key] = f"v{n}.{i}"
        if kind == "import":
            expected[key] = "imported"
    assert values == expected
    recorded = changes_in_history(store)
    for key in expected:
        if key != "SHARED":
            assert recorded.count((key, "+")) == 1, key  # exactly once
    assert_healthy(cli, store)


def test_two_writers_on_two_environments(cli, store):
    def worker(env):
        for i in range(6):
            r = envtrail(cli, "set", f"K{i}", "--env", env, "--reason", "w", input=f"{env}{i}".encode())
            assert r.returncode == 0, r.stderr

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(worker, ["production", "staging"]))
    for env in ("production", "staging"):
        values = json.loads(cli("export", "--env", env, "--format", "json").out)
        assert values == {f"K{i}": f"{env}{i}" for i in range(6)}
    assert git(store, "rev-list", "--count", "HEAD").strip() == "13"
    assert_healthy(cli, store)


def test_a_writer_racing_sync(cli, store, tmp_path, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    mine = tmp_path / "mine"
    theirs = tmp_path / "theirs"
    for path in (mine, theirs):
        git(tmp_path, "clone", "-q", str(bare), str(path))
    a, b = Cli(mine, cli.identity), Cli(theirs, bob)
    assert a("init").code == 0 and b("init").code == 0
    for i in range(3):
        assert envtrail(b, "set", f"REMOTE{i}", "--env", "production", "--reason", "r",
                        input=b"r").returncode == 0
    assert envtrail(b, "sync").returncode == 0

    def writer():
        for i in range(5):
            r = envtrail(a, "set", f"LOCAL{i}", "--env", "production", "--reason", "l", input=b"l")
            assert r.returncode == 0, r.stderr

    def syncer():
        for _ in range(3):
            r = envtrail(a, "sync")
            assert r.returncode == 0, r.stderr

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(writer), pool.submit(syncer)]
        for f in futures:
            f.result()
    assert envtrail(a, "sync").returncode == 0
    values = json.loads(a("export", "--env", "production", "--format", "json").out)
    assert {f"LOCAL{i}" for i in range(5)} | {f"REMOTE{i}" for i in range(3)} <= set(values)
    assert_healthy(a, mine)


def test_a_read_between_syncs_two_steps_waits_for_it(cli, store):
    """sync moves the branch to the replayed line and then records it as verified, under
    the write lock. A read that looked in between saw its verified head gone from the
    line (exit 5, a 'rewrite'); it now waits for the writer and looks again. Here a process
    holds the lock with the branch on another line, then puts it back."""
    from datetime import timedelta

    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    assert cli("set", "K", "--env", "production", "--reason", "seed", input="v1").code == 0
    assert cli("verify").code == 0
    g = GitRepo(store)
    verified = g.head()
    info = g.info(verified)
    other = create_commit(g, list(info.parents), {}, info.message,
                          Author("alice@example.com", "alice@example.com",
                                 info.committer_time + timedelta(seconds=1)),
                          signer_for(cli.identity.identity), tree=g.repo[g.tree_id(verified)].id)
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys, time\n"
            "from pathlib import Path\n"
            "from envtrail.gitstore.lock import WriteLock\n"
            "with WriteLock(Path(sys.argv[1])):\n"
            "    subprocess.run(['git', 'update-ref', 'refs/heads/main', sys.argv[2]], check=True)\n"
            "    print('moved', flush=True)\n"
            "    time.sleep(1.5)\n"
            "    subprocess.run(['git', 'update-ref', 'refs/heads/main', sys.argv[3]], check=True)\n"),
         str(store / ".git/envtrail/lock"), other, verified],
        cwd=store, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "moved"
        r = envtrail(cli, "get", "K", "--env", "production")
    finally:
        holder.wait(timeout=30)
    assert (r.returncode, r.stdout.strip()) == (0, b"v1"), r.stderr
