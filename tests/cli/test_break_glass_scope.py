"""A break-glass revocation that closes a signer's key reaches every environment with a
count: each one's own approvers review it, with honest approvals the line accepts."""

from __future__ import annotations

import pytest
from test_approvals import _proposal_id, make_team

from conftest import assert_one_line_error, git


def _approved(cli, reviewers, *args: str) -> None:
    """Propose ``args`` as alice, have each of ``reviewers`` approve it, apply it."""
    r = cli(*args, "--propose")
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    for reviewer in reviewers:
        assert cli.as_(reviewer)("approve", pid, "--reason", "ok").code == 0
    applied = cli("apply", pid)
    assert applied.code == 0, applied.err


@pytest.fixture
def store_wide_glass(cli, store, bob, make_identity):
    """production and staging need one approval each; sam approves both, carol staging
    only; alice revokes dave (a member of production only) by break-glass, which closes
    his key: a store-wide change. Returns (team, sam, the break-glass commit)."""
    team = make_team(cli, bob, make_identity)  # bob: production; carol: staging
    sam, dave = make_identity("sam@example.com"), make_identity("dave@example.com")
    _approved(cli, [bob], "policy", "set", "--env", "staging", "--approvals", "1",
              "--reason", "four eyes on staging too")
    # A grant that adds a signer reaches both environments; one that only seals a key
    # to a signer already known reaches its own.
    carol = team["carol"]
    for who, env, reviewers in ((sam, "production", [bob, carol]), (sam, "staging", [carol]),
                                (dave, "production", [bob, carol])):
        _approved(cli, reviewers, "access", "grant", who.principal, who.publine,
                  "--env", env, "--reason", "join")
    r = cli("access", "revoke", dave.principal, "--env", "production", "--reason", "INC-7",
            "--break-glass")
    assert r.code == 0, r.err
    return team, sam, git(store, "rev-parse", "HEAD").strip()


def test_a_store_wide_break_glass_change_is_reviewed_by_each_environments_approvers(
        cli, store_wide_glass):
    team, _, glass = store_wide_glass
    bob, carol = team["bob"], team["carol"]
    assert cli.as_(bob)("approve", glass, "--reason", "saw the incident").code == 0
    # The approval is a well-formed line commit: the line still verifies and reads work.
    assert cli("verify").code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "v1"
    # production's approver alone does not review it: staging's count is its own.
    assert cli("verify", "--strict").code == 1
    assert "unreviewed break-glass" in cli("verify").out
    assert cli.as_(carol)("approve", glass, "--reason", "saw it too").code == 0
    assert cli("verify", "--strict").code == 0


def test_a_late_approval_counts_only_from_someone_still_approving_each_environment(
        cli, store_wide_glass):
    team, sam, glass = store_wide_glass
    # sam leaves staging (production's approvals are not needed: staging's are).
    _approved(cli, [team["carol"]], "access", "revoke", sam.principal, "--env", "staging",
              "--reason", "moves team")
    r = cli.as_(sam)("approve", glass, "--reason", "late")
    assert_one_line_error(r, 4)
    assert "no longer an approver of staging" in r.err
    assert cli("verify", "--strict").code == 1
