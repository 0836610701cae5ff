"""Each environment's count is met by its own approvers: an approval counts once, for the
environments its signer approves, and never makes up another environment's shortfall."""

from __future__ import annotations

import json

import pytest
from test_approvals import _force_onto_line, _head, _proposal_id, _signed_approval, make_team
from test_break_glass_scope import _approved

import forge
from conftest import assert_one_line_error, git
from envtrail.audit.record import Record, render
from envtrail.format import layout
from hostile import signed_commit


@pytest.fixture
def team(cli, bob, make_identity):
    """production needs one approval, by bob (see test_approvals.make_team)."""
    return make_team(cli, bob, make_identity)


def _proposal_commit(store, pid: str) -> str:
    """The commit a proposal ref points at (before any approval is added on top)."""
    return git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()


@pytest.fixture
def two_for_production(cli, store, bob, make_identity):
    """production needs two approvals (bob and dave approve it), staging one (carol).
    Returns the team with dave."""
    team = make_team(cli, bob, make_identity)  # production: 1 (bob); carol: staging
    dave = make_identity("dave@example.com")
    _approved(cli, [bob], "access", "grant", dave.principal, dave.publine,
              "--env", "production", "--reason", "second approver")
    _approved(cli, [bob], "policy", "set", "--env", "staging", "--approvals", "1",
              "--reason", "four eyes on staging")
    _approved(cli, [bob, team["carol"]], "policy", "set", "--env", "production",
              "--approvals", "2", "--reason", "six eyes on production")
    assert cli("verify").code == 0
    return {**team, "dave": dave}


def test_one_approver_per_environment_does_not_meet_a_count_of_two(cli, store,
                                                                    two_for_production):
    team = two_for_production
    # A store-wide change needs two in all, and production's two from its own approvers:
    # bob (production) and carol (staging) make two approvals, production has one.
    pid = _proposal_id(cli("policy", "set", "--env", "staging", "--review", "2h",
                           "--reason", "faster reviews", "--propose"))
    for reviewer in (team["bob"], team["carol"]):
        assert cli.as_(reviewer)("approve", pid, "--reason", "ok").code == 0
    shown = json.loads(cli("proposals", "--json").out)
    assert [(p["needed"], p["approved_by"], p["ready"]) for p in shown] == \
        [(2, ["bob@example.com", "carol@example.com"], False)]
    head = _head(store)
    r = cli("apply", pid)
    assert_one_line_error(r, 4)
    assert "production has 1 of 2 approval(s) by its approvers" in r.err
    assert _head(store) == head
    # On the line, it would be a rule 9 finding that names the short environment.
    from datetime import UTC, datetime

    from envtrail.audit.line import walk
    from envtrail.audit.view import StoreView
    from envtrail.gitstore.repo import GitRepo

    report = walk(StoreView(GitRepo(store)), _proposal_commit(store, pid), now=datetime.now(UTC))
    assert [f.message for f in report.findings if f.rule == 9] == [
        "needs 2 approval(s) of production, staging; the line head leaves it with 2 "
        "(production has 1 of 2 approval(s) by its approvers)"]
    # dave's approval is what it lacked.
    assert cli.as_(team["dave"])("approve", pid, "--reason", "ok").code == 0
    applied = cli("apply", pid)
    assert applied.code == 0, applied.err
    assert cli("verify").code == 0


def test_an_approver_who_signs_twice_is_counted_once(cli, store, two_for_production):
    bob = two_for_production["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    change = _proposal_commit(store, pid)
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli.as_(bob)("approve", pid, "--reason", "again").code == 2  # refused, once each
    _force_onto_line(store, pid)
    # The same second approval signed by hand: the line still has one approver of two.
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, _head(store), change))
    found = cli("verify")
    assert found.code == 1
    assert "the line head leaves it with 1 (production has 1 of 2 approval(s) by its " \
        "approvers)" in found.out


def test_an_approval_of_another_change_ends_the_run_that_approves_a_change(cli, store, team):
    # A change's approvals follow it directly: an approval of an earlier break-glass
    # change between them (valid in itself) leaves it short, whatever follows.
    bob = team["bob"]
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-1", "--break-glass",
               input="hot").code == 0
    glass = _head(store)
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v3"))
    change = _proposal_commit(store, pid)
    between = _signed_approval(store, bob, change, glass)
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, between, change))
    found = cli("verify")
    assert found.code == 1
    assert f"{change[:10]} rule 9 (approvals): needs 1 approval(s) of production; the next " \
        "change leaves it with 0" in found.out
    assert f"{glass[:10]} unreviewed" not in found.out  # bob's approval of it does count


def test_an_approval_after_an_unrelated_change_comes_too_late(cli, store, alice, team):
    # A change that needs no approval between a change and its approval ends the run
    # too: the approval is then of a commit no longer waiting, and the change is short.
    bob = team["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v3"))
    change = _proposal_commit(store, pid)
    _force_onto_line(store, pid)
    # alice's honest staging write, which `set` itself would refuse on a failing line
    forge.commit_plan(store, alice.identity, forge.honest_plan(store, alice.identity,
                                                               "staging", {"X": "s"}))
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, _head(store), change))
    found = cli("verify")
    assert found.code == 1
    assert f"{change[:10]} rule 9 (approvals): needs 1 approval(s) of production; the next " \
        "change leaves it with 0" in found.out
    assert_one_line_error(cli.as_(bob)("get", "API_KEY", "--env", "production"), 5)


def test_a_proposal_on_an_unreadable_parent_is_refused_in_one_line(cli, store, alice, team):
    # What a proposal changes cannot be judged from a parent whose file does not parse:
    # listing and reviewing it say so (exit 5) and list nothing half-judged.
    staging = layout.env_path("staging")
    good = (store / staging).read_bytes()
    garbled = signed_commit(store, alice.identity, alice.principal, [_head(store)],
                            {staging: b"values: [unclosed\n"},
                            render(Record("set", alice.principal, "garble", ("staging",))))
    fixed = signed_commit(store, alice.identity, alice.principal, [garbled], {staging: good},
                          render(Record("set", alice.principal, "put it back", ("staging",))))
    git(store, "update-ref", f"refs/envtrail/proposals/{fixed[:12]}", fixed)
    for args in (("proposals",), ("proposals", "--json"), ("review", fixed[:12])):
        r = cli(*args)
        assert_one_line_error(r, 5)
        assert staging in r.err


def test_a_walk_that_starts_inside_a_run_of_approvals_carries_that_run(
        cli, store, alice, two_for_production):
    # production needs two: a walk starting after the first approval must still know the
    # change has one (so one more completes it, and none more leaves it short).
    from datetime import UTC, datetime

    from envtrail.audit.line import walk
    from envtrail.audit.view import StoreView
    from envtrail.gitstore.repo import GitRepo

    team = two_for_production
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    change = _proposal_commit(store, pid)
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    first = _proposal_commit(store, pid)
    assert cli.as_(team["dave"])("approve", pid, "--reason", "ok").code == 0
    both = _proposal_commit(store, pid)
    view, now = StoreView(GitRepo(store)), datetime.now(UTC)

    def short(head: str, since: str) -> list[str]:
        return [f.message for f in walk(view, head, since=since, now=now).findings
                if f.rule == 9 and f.commit == change]

    assert short(both, first) == [] and short(both, change) == []
    # The line holding one approval, then an honest write: short, however it is walked.
    git(store, "reset", "-q", "--hard", first)
    on_top = forge.commit_plan(store, alice.identity,
                               forge.honest_plan(store, alice.identity, "staging", {"X": "1"}))
    full = walk(view, on_top, now=now)
    assert [f.message for f in full.findings if f.commit == change] == \
        ["needs 2 approval(s) of production; the next change leaves it with 1 (production "
         "has 1 of 2 approval(s) by its approvers)"]
    assert short(on_top, first) == short(on_top, change) == \
        [f.message for f in full.findings if f.commit == change]


@pytest.mark.parametrize("names", ["HEAD~1", "0" * 39])
def test_an_approval_that_names_no_full_commit_id_does_not_count(cli, store, team, names):
    bob = team["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v3"))
    change = _proposal_commit(store, pid)
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, change, names))
    found = cli("verify")
    assert found.code == 1, found.err
    assert "an approval that does not count: it names no commit (Envtrail-Approves)" in found.out
    assert f"{change[:10]} rule 9 (approvals): needs 1 approval(s)" in found.out


def test_an_approval_beyond_the_count_is_harmless(cli, store, team, make_identity):
    # Both of production's approvers approve a change that needs one: the line verifies.
    bob, dave = team["bob"], make_identity("dave@example.com")
    _approved(cli, [bob], "access", "grant", dave.principal, dave.publine,
              "--env", "production", "--reason", "second approver")
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v3"))
    for reviewer in (bob, dave):
        assert cli.as_(reviewer)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    r = cli("verify")
    assert r.code == 0, r.out
    assert cli.as_(dave)("get", "API_KEY", "--env", "production").out == "v3"
