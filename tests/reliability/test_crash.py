"""kill -9 a writer at every point of a write: the store always comes back by itself.

Each named point is hit exactly (ENVTRAIL_TEST_CRASH), and further trials kill
at random moments. CI runs one trial per point and a few random ones; `pytest
-m slow` runs them all (8 per point, 30 random).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import git

POINTS = ["locked", "committed", "journaled", "moved", "refreshed"]
COMMANDS = ["set", "unset", "import", "rollback"]


def trials(count, sample):
    return [pytest.param(i, marks=() if i < sample else pytest.mark.slow) for i in range(count)]


def envtrail(cli, *args, input=None, extra=None):
    return subprocess.run([sys.executable, "-m", "envtrail", *args], cwd=cli.cwd,
                          env={**cli._env(None), **(extra or {})}, input=input,
                          capture_output=True, check=False)


def write_args(kind, store, trial):
    if kind == "set":
        return ["set", "K", "--env", "production", "--reason", "crash"], f"v{trial}".encode()
    if kind == "unset":
        return ["unset", "OLD", "--env", "production", "--reason", "crash"], None
    if kind == "import":
        f = store.parent / "crash.env"
        f.write_text(f"K=i{trial}\nNEW{trial}=x\n")
        return ["import", str(f), "--env", "production", "--reason", "crash"], None
    return ["rollback", "--env", "production", "--to", "HEAD~1", "--reason", "crash"], None


def assert_recovers(cli, store, before):
    head = git(store, "rev-parse", "HEAD").strip()
    assert head == before or git(store, "rev-parse", "HEAD~1").strip() == before
    fsck = subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=store,
                          capture_output=True, text=True, check=False)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    # The next command brings the work tree in line with no manual step...
    r = envtrail(cli, "export", "--env", "production", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert git(store, "status", "--porcelain") == ""
    assert not (store / ".git/envtrail/journal.json").exists()
    # ...the lock is free, the next write succeeds, and the history verifies.
    r = envtrail(cli, "set", "AFTER", "--env", "production", "--reason", "after", input=b"ok")
    assert r.returncode == 0, r.stderr
    r = envtrail(cli, "verify", "--json")
    assert json.loads(r.stdout)["ok"], r.stdout


@pytest.fixture
def seeded(cli, store):
    for key, value in (("K", "k0"), ("OLD", "o")):
        assert cli("set", key, "--env", "production", "--reason", "seed", input=value).code == 0
    assert cli("verify").code == 0
    return store


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("trial", trials(8, 1))
def test_kill_at_each_point_of_a_write(cli, seeded, point, trial):
    before = git(seeded, "rev-parse", "HEAD").strip()
    args, stdin = write_args(COMMANDS[trial % len(COMMANDS)], seeded, trial)
    r = envtrail(cli, *args, input=stdin, extra={"ENVTRAIL_TEST_CRASH": point})
    assert r.returncode == -signal.SIGKILL, r.stderr
    moved = git(seeded, "rev-parse", "HEAD").strip() != before
    assert moved == (point in ("moved", "refreshed"))
    assert_recovers(cli, seeded, before)


@pytest.mark.parametrize("trial", trials(30, 3))
def test_kill_at_a_random_moment(cli, seeded, trial):
    rng = random.Random(trial)
    before = git(seeded, "rev-parse", "HEAD").strip()
    args, stdin = write_args(COMMANDS[trial % len(COMMANDS)], seeded, trial)
    proc = subprocess.Popen([sys.executable, "-m", "envtrail", *args], cwd=seeded,
                            env=cli._env(None), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stdin:
        proc.stdin.write(stdin)
    proc.stdin.close()
    time.sleep(rng.uniform(0.05, 0.5))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_recovers(cli, seeded, before)
