"""A walk that starts after the genesis (the gate's incremental check, sync's check of
what came in) must know a change still waiting for approvals where it starts: else a
remote that drops the approvals and adds one commit on top passes as an extension."""

from __future__ import annotations

from datetime import UTC, datetime

from test_approvals import make_team

import forge
from conftest import git
from envtrail.audit.line import walk
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import GitRepo
from hostile import drop_signer, point, proposal_id


def _rule9(report, commit: str) -> list[str]:
    return [f.message for f in report.findings if f.rule == 9 and f.commit == commit]


def test_a_change_left_waiting_where_an_incremental_walk_starts_is_still_short(
        cli, store, alice, bob, make_identity):
    make_team(cli, bob, make_identity)  # production needs one approval
    clean = git(store, "rev-parse", "HEAD").strip()
    pid = proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                          "--propose", input="v2"))
    change = git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()
    point(store, change)  # the change, without its approval, then an honest commit on top
    on_top = forge.commit_plan(store, alice.identity,
                               forge.honest_plan(store, alice.identity, "staging", {"X": "1"}))
    view, now = StoreView(GitRepo(store)), datetime.now(UTC)
    full = walk(view, on_top, now=now)
    incremental = walk(view, on_top, since=change, now=now)
    assert _rule9(full, change) and _rule9(incremental, change) == _rule9(full, change)
    # Its approval at the start of the walk is enough: nothing is short then.
    point(store, clean)
    approved = proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "again",
                               "--propose", input="v3"))
    assert cli.as_(bob)("approve", approved, "--reason", "ok").code == 0
    tip = git(store, "rev-parse", f"refs/envtrail/proposals/{approved}").strip()
    point(store, tip)
    after = forge.commit_plan(store, alice.identity,
                              forge.honest_plan(store, alice.identity, "staging", {"Y": "1"}))
    assert not walk(view, after, since=tip, now=now).findings


def test_a_repair_left_waiting_where_a_walk_starts_is_judged_as_the_line_judges_it(
        cli, store, alice, bob, make_identity):
    # The forged parent dropped alice's key: at its parent her repair would look unsigned
    # and need nothing; the line judges a repair at its clean point, and so must a resume.
    make_team(cli, bob, make_identity)
    before = git(store, "rev-parse", "HEAD").strip()
    pid = proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                          "--propose", input="v2"))
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    drop_signer(store, "alice@example.com")
    repair = proposal_id(cli("repair", "--reason", "INC-9", "--from", before, "--propose"))
    tip = git(store, "rev-parse", f"refs/envtrail/proposals/{repair}").strip()
    point(store, tip)  # landed without its approval
    on_top = forge.commit_plan(store, alice.identity,
                               forge.honest_plan(store, alice.identity, "staging", {"X": "1"}))
    view, now = StoreView(GitRepo(store)), datetime.now(UTC)
    full = walk(view, on_top, now=now)
    assert _rule9(full, tip)
    assert _rule9(walk(view, on_top, since=tip, now=now), tip) == _rule9(full, tip)
