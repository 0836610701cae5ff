"""Each environment's count is met by its own approvers: an approval counts once, for the
environments its signer approves, and never makes up another environment's shortfall."""

from __future__ import annotations

import json

import pytest
from test_approvals import _force_onto_line, _head, _proposal_id, make_team

from conftest import assert_one_line_error, git


def _approved(cli, reviewers, *args: str) -> None:
    """Propose ``args`` as alice, have each of ``reviewers`` approve it, apply it."""
    pid = _proposal_id(cli(*args, "--propose"))
    for reviewer in reviewers:
        assert cli.as_(reviewer)("approve", pid, "--reason", "ok").code == 0
    applied = cli("apply", pid)
    assert applied.code == 0, applied.err


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
    # Put on the line by hand, it is a rule 9 finding that names the short environment.
    _force_onto_line(store, pid)
    found = cli("verify")
    assert found.code == 1
    assert "production has 1 of 2 approval(s) by its approvers" in found.out
    # Back where it was, dave's approval is what it lacked.
    git(store, "reset", "-q", "--hard", head)
    assert cli.as_(team["dave"])("approve", pid, "--reason", "ok").code == 0
    applied = cli("apply", pid)
    assert applied.code == 0, applied.err
    assert cli("verify").code == 0
