"""The README's first quick-start command: the incident replay runs and tells the story."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_incident_replay(tmp_path):
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
           "TMPDIR": str(tmp_path)}
    proc = subprocess.run(["bash", str(ROOT / "examples/incident-replay.sh")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    out = proc.stdout + proc.stderr  # refusals and errors go to stderr, as on a terminal
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for expected in (
        "$ envtrail init --env production",
        "payment provider: 401 Unauthorized",
        "ci:release ✓\tset\t~PAYMENT_PROVIDER_KEY\tRotate payment key for release v2.4.0",
        "where      host=",
        "ci=github-actions repo=acme/shop workflow=release run=812 deploy=v2.4.0",
        "    - pk_live_OLD_51HxkQ2eZvKYlo2C",
        "    + pk_live_NEW_broken_9f8e7d",
        "would roll back production to",
        "production: rollback: set PAYMENT_PROVIDER_KEY",
        "payment provider: OK",
        "verified 5 commit(s)",
        "refused envs/production.yaml: changed outside envtrail",
        "rule 1 (signature): not an envtrail commit, signature unsigned",
        "(reads refuse an unverified history: exit 5)",
        "Replay complete.",
    ):
        assert expected in out, expected
    # The throwaway store is gone, and nothing leaked into the caller's home.
    assert not any(tmp_path.glob("envtrail-incident.*"))
