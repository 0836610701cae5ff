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
        "$ envtrail init --create --env production --env staging",
        "created a Git repository in ",
        "payment provider: 401 Unauthorized",
        "ci:release ✓\tset\t~PAYMENT_PROVIDER_KEY\tRotate payment key for release v2.4.0",
        "where      host=",
        "ci=github-actions repo=acme/shop workflow=release run=812 deploy=v2.4.0",
        "\tchanged\tci:release\tset\tRotate payment key for release v2.4.0\t",
        "\tpk_live_NEW_broken_9f8e7d\n",
        "\tpk_live_OLD_51HxkQ2eZvKYlo2C\n",
        "would revert ",
        "production: revert: set PAYMENT_PROVIDER_KEY",
        "payment provider: OK",
        "verified 6 commit(s)",
        "refused envs/production.yaml: changed outside envtrail",
        "rule 1 (signature): not an envtrail commit, signature unsigned",
        "(reads refuse an unverified history: exit 5)",
        "Replay complete.",
    ):
        assert expected in out, expected
    # The throwaway store is gone, and nothing leaked into the caller's home.
    assert not any(tmp_path.glob("envtrail-incident.*"))
    # The replay teaches revert, not a commit count across the whole store.
    script = (ROOT / "examples/incident-replay.sh").read_text()
    assert "HEAD~" not in script
    # revert undid the production change only: the staging change made in between stays.
    assert "production: revert: set PAYMENT_PROVIDER_KEY" in out
    assert "staging: revert" not in out


def test_incident_docs_teach_revert_and_say_what_a_revision_counts():
    import re

    for name in ("README.md", "docs/postmortem.md", "examples/incident-replay.sh"):
        text = (ROOT / name).read_text()
        # No command in them undoes or compares by counting commits back.
        assert not re.search(r"envtrail (rollback|diff|revert)[^\n`]*HEAD~", text), name
    for name in ("README.md", "docs/postmortem.md"):
        text = (ROOT / name).read_text()
        assert "envtrail revert" in text and "envtrail history" in text, name
        assert "whole store" in text, name
    assert "whole store" in (ROOT / "docs/cli.md").read_text()  # rollback --to's help says it
