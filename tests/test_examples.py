"""The README's first quick-start command: the incident replay runs and tells the story."""

import os
import re
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
        "production: policy [",
        "proposed production: set PAYMENT_PROVIDER_KEY as ",
        "  approvals: 0 of 1\n",
        "on proposal ",
        "applied proposal ",
        "envtrail: recorded event deploy [",
        "payment provider: 401 Unauthorized",
        "ci:release ✓\tset [approved by alice@example.com]\t~PAYMENT_PROVIDER_KEY\t"
        "Rotate payment key for release v2.4.0",
        "where      host=",
        "ci=github-actions repo=acme/shop workflow=release run=812 deploy=v2.4.0",
        "approved   alice@example.com\n",
        "\tchanged\tci:release\tset\tRotate payment key for release v2.4.0\t",
        "\tpk_live_NEW_broken_9f8e7d\n",
        "\tpk_live_OLD_51HxkQ2eZvKYlo2C\n",
        "would revert ",
        "(refused without --break-glass: exit 4)",
        "production: revert: set PAYMENT_PROVIDER_KEY",
        "payment provider: OK",
        "(verify --strict fails on an unreviewed break-glass change: exit 1)",
        "on the store line",
        "\tchanged\tbob@example.com\trevert\tRestore payment key broken by release v2.4.0",
        "verified 10 commit(s)",
        "refused envs/production.yaml: changed outside envtrail",
        "rule 1 (signature): not an envtrail commit, signature unsigned",
        "(reads refuse an unverified history: exit 5)",
        "Replay complete.",
    ):
        assert expected in out, expected
    _the_fix_is_flagged_until_approved(out)
    _the_postmortem_timeline_is_in_order(_section(out, "The postmortem timeline"), out)
    # The throwaway store is gone, and nothing leaked into the caller's home.
    assert not any(tmp_path.glob("envtrail-incident.*"))
    # The replay teaches revert, not a commit count across the whole store.
    script = (ROOT / "examples/incident-replay.sh").read_text()
    assert "HEAD~" not in script
    # revert undid the production change only: the staging change made in between stays.
    assert "production: revert: set PAYMENT_PROVIDER_KEY" in out
    assert "staging: revert" not in out


def _section(out: str, title: str) -> str:
    """The output of one ``step`` of the replay."""
    start = out.index(f"## {title}")
    end = out.find("\n\x1b[1m## ", start)
    return out[start:end if end != -1 else None]


def _the_fix_is_flagged_until_approved(out: str) -> None:
    flagged = _section(out, "The fix is flagged")
    fix = re.search(r"break-glass  production: ([0-9a-f]{10}) by bob@example.com at \S+, "
                    r"0 of 1 approval\(s\), review by ", flagged)
    assert fix, flagged
    assert f"warning: {fix.group(1)} unreviewed break-glass change by bob@example.com" in flagged
    after = _section(out, "Postmortem: Alice reviews the fix")
    assert f"approved {fix.group(1)} as alice@example.com [" in after
    assert "warning" not in after and "verified 10 commit(s) up to " in after


def _the_postmortem_timeline_is_in_order(timeline: str, out: str) -> None:
    """Newest first: the whole incident, each line's actor and action (with its marks)."""
    lines = [line.split("\t") for line in timeline.splitlines() if line.count("\t") >= 6]
    told = [(cells[2], cells[3], cells[5]) for cells in lines]
    assert told[:9] == [
        ("alice@example.com ✓", "approve", "Reviewed in the INC-4521 postmortem"),
        ("bob@example.com ✓", "event recovered (ref INC-4521, status resolved)",
         "Payments back to normal"),
        ("bob@example.com ✓", "revert [BREAK-GLASS] [approved by alice@example.com]",
         "Restore payment key broken by release v2.4.0 (INC-4521)"),
        ("bob@example.com ✓", "event error-rate (ref INC-4521, status firing)",
         "Payment errors at 38% after v2.4.0"),
        ("ci:release ✓", "event restart (ref v2.4.0, status ok)", "shop-api restarted on v2.4.0"),
        ("ci:release ✓", lines[5][3], "Deploy shop-api v2.4.0"),
        ("alice@example.com ✓", "approve", "Release v2.4.0 approved (CHG-812)"),
        ("ci:release ✓", "set [approved by alice@example.com]",
         "Rotate payment key for release v2.4.0"),
        ("alice@example.com ✓", "policy", "Four eyes on production (SEC-9)"),
    ]
    assert re.fullmatch(r"event deploy \(status 0, duration [0-9.]+s\)", lines[5][3])
    # the CI's deploy and restart come from its run; the staging change is not in this timeline
    assert [cells[7] for cells in lines[4:6]] == ["github-actions#812"] * 2
    assert not any("staging" in cells[1] and "," not in cells[1] for cells in lines)
    # the break-glass fix and its approval are the same commit
    fix, approval = lines[2][6], lines[0][6]
    assert "approved " + fix in out and f"[{approval}] on the store line" in out


def test_postmortem_doc_walks_through_the_replay_timeline():
    """docs/postmortem.md quotes a real run of the replay: its worked timeline has the
    same story in the same order, and the ids it names are the ones that run printed."""
    doc = (ROOT / "docs/postmortem.md").read_text()
    start = doc.index("## 9. The worked timeline")
    timeline = doc[start:doc.index("\n## ", start + 1)]
    assert "$ envtrail log --env production" in timeline
    _the_postmortem_timeline_is_in_order(timeline, doc)
    for seed in ("deployment is approved", "CI updates the variables", "service restarts",
                 "error rate rises", "reverts one secret with break-glass",
                 "service recovers", "approved afterwards"):
        assert seed in doc, seed


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
