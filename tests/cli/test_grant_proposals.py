"""A proposed grant already holds the environment's key sealed to the grantee.

An approval binds to exactly the commit that lands, and a grant's commit is the one
that seals the key; so a pending grant is readable by its grantee as soon as the
proposal reaches them (docs/threat-model.md). envtrail says so where it matters: when
the grant is proposed, in `review`, and in `proposals --json`.
"""

from __future__ import annotations

import json

from test_approvals import _proposal_id, make_team

from conftest import git
from envtrail.audit.keyring import Keyring
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import GitRepo


def test_a_proposed_grant_says_the_grantee_can_read_before_approval(cli, store, bob,
                                                                    make_identity):
    make_team(cli, bob, make_identity)
    dave = make_identity("dave@example.com")
    r = cli("access", "grant", dave.principal, dave.publine, "--env", "production",
            "--reason", "contractor", "--propose")
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    assert "seals production's key to dave@example.com" in r.err
    assert "approved or not" in r.err and "access rotate --env production" in r.err
    shown = cli("review", pid).out
    assert "seals production's key to dave@example.com" in shown
    listed = json.loads(cli("proposals", "--json").out)
    assert [p["new_readers"] for p in listed] == \
        [[{"environment": "production", "principal": "dave@example.com"}]]
    # The warning is the truth: the unapproved proposal opens production with dave's key.
    tip = git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()
    env = StoreView(GitRepo(store)).env_at(tip, "production")
    assert Keyring(dave.identity).plaintext(env, "API_KEY") == "v1"


def test_a_value_proposal_hands_nobody_a_key(cli, store, bob, make_identity):
    make_team(cli, bob, make_identity)
    r = cli("set", "API_KEY", "--env", "production", "--reason", "rotate", "--propose",
            input="v2")
    assert r.code == 0 and "seals" not in r.err
    pid = _proposal_id(r)
    assert "seals" not in cli("review", pid).out
    assert json.loads(cli("proposals", "--json").out)[0]["new_readers"] == []


def test_a_proposed_rotation_seals_anew_but_hands_no_one_new_a_key(cli, store, bob,
                                                                  make_identity):
    make_team(cli, bob, make_identity)
    r = cli("access", "rotate", "--env", "production", "--reason", "yearly", "--propose")
    assert r.code == 0, r.err
    assert json.loads(cli("proposals", "--json").out)[0]["new_readers"] == []
