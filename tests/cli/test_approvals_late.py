"""A break-glass change is approved after the fact; an approval signed after its signer
stopped being an approver does not count (an approval given before still does:
removals are not retroactive)."""

from __future__ import annotations

import pytest
from test_approvals import _head, _signed_approval, make_team
from test_sync_refs import make_clones

from conftest import assert_one_line_error, git


@pytest.fixture
def incident(cli, store, bob, make_identity):
    """alice lands a break-glass change; then bob leaves production (he stays a signer,
    as a member of staging). Returns (team, the break-glass commit)."""
    members = make_team(cli, bob, make_identity)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "also staging").code == 0
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-9 leaked key",
               "--break-glass", input="fixed").code == 0
    glass = _head(store)
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "moved team",
            "--break-glass")
    assert r.code == 0, r.err
    return members, glass


def test_a_removed_member_cannot_approve_a_break_glass_change_later(cli, store, incident, bob):
    _, glass = incident
    before = _head(store)
    assert_one_line_error(cli.as_(bob)("approve", glass, "--reason", "late"), 4)
    assert _head(store) == before
    # The same approval made by hand and signed with bob's (still valid) key does not
    # count either: verify says so, and the change stays unreviewed.
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, before, glass))
    # A read checks only what is new since the last verified head, and refuses it too.
    assert_one_line_error(cli("get", "API_KEY", "--env", "production"), 5)
    r = cli("verify")
    assert r.code == 1, r.out
    assert "bob@example.com is no longer an approver of production" in r.out
    assert f"{glass[:10]} unreviewed break-glass change" in r.out


def test_an_approval_given_before_the_removal_still_counts(cli, store, bob, make_identity):
    make_team(cli, bob, make_identity)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "also staging").code == 0
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-10",
               "--break-glass", input="fixed").code == 0
    glass = _head(store)
    assert cli.as_(bob)("approve", glass, "--reason", "reviewed").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production", "--reason", "moved",
               "--break-glass").code == 0
    r = cli("verify")
    assert r.code == 0, r.out
    assert f"{glass[:10]} unreviewed" not in r.out


def test_sync_drops_an_approval_whose_signer_was_removed_meanwhile(tmp_path, store, cli, bob,
                                                                   make_identity):
    # bob approves a break-glass change in his clone while alice removes him from
    # production in hers: replayed on top of the removal, his approval would not count
    # (and would fail every reader), so sync drops it and the change stays unreviewed.
    a, b, _, bare = make_clones(tmp_path, store, cli, bob, make_identity)
    assert a("set", "API_KEY", "--env", "production", "--reason", "INC-11", "--break-glass",
             input="hot").code == 0
    glass = git(a.cwd, "rev-parse", "HEAD").strip()
    assert a("sync").code == 0 and b("sync").code == 0
    assert b("approve", glass[:12], "--reason", "reviewed").code == 0
    assert a("access", "revoke", "bob@example.com", "--env", "production", "--reason", "moved",
             "--break-glass").code == 0
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert "(approve) dropped" in r.out
    assert "Envtrail-Action: approve" not in git(bare, "log", "-2", "--format=%B", "main")
    assert b("verify").code == 0
    assert f"production: {glass[:10]} by alice@example.com" in b("status").out


def test_a_forged_own_approval_of_a_break_glass_change_does_not_count(cli, store, alice, bob,
                                                                       make_identity):
    make_team(cli, bob, make_identity)
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-12",
               "--break-glass", input="fixed").code == 0
    glass = _head(store)
    git(store, "reset", "-q", "--hard", _signed_approval(store, alice, glass, glass))
    r = cli("verify")
    assert r.code == 1, r.out
    assert "alice@example.com approves their own change" in r.out
    assert f"{glass[:10]} unreviewed break-glass change" in r.out
