"""Concurrent writers through real processes: no update is lost, history stays valid."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from conftest import git


def test_parallel_writers_lose_no_update(cli, store, alice):
    def writer(n):
        for i in range(4):
            proc = subprocess.run(
                [sys.executable, "-m", "envtrail", "set", f"W{n}_{i}", "--env", "production",
                 "--reason", f"writer {n}"], cwd=store, input=f"value-{n}-{i}".encode(),
                env={**cli._env(None)}, capture_output=True, check=False)
            assert proc.returncode == 0, proc.stderr

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    values = json.loads(cli("export", "--env", "production", "--format", "json").out)
    assert values == {f"W{n}_{i}": f"value-{n}-{i}" for n in range(4) for i in range(4)}
    assert git(store, "rev-list", "--count", "HEAD").strip() == "17"
    assert git(store, "status", "--porcelain") == ""
    git(store, "fsck", "--strict")
    for c in git(store, "rev-list", "HEAD").split():
        git(store, "verify-commit", c)
