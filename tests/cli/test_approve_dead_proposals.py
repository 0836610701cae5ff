"""`approve` refuses a proposal that can never land (review15 R3a): one the line has moved
past (exit 6, its author re-proposes it) and one that would leave the store stuck (exit 4,
a policy refusal: it is withdrawn). Approving either spent the approver's signature on a
commit apply refuses for good, and sync pushed it to everyone."""

from __future__ import annotations

import json

from test_approvals import _head, _proposal_id, make_team

from conftest import assert_one_line_error, git

PROPOSALS = "refs/envtrail/proposals/"


def test_approving_a_proposal_the_line_moved_past_is_refused_with_the_redo_hint(
        cli, store, bob, make_identity):
    team = make_team(cli, bob, make_identity)
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli("set", "S", "--env", "staging", "--reason", "the line moves", input="s").code == 0
    refs, head = git(store, "for-each-ref"), _head(store)
    r = cli.as_(team["bob"])("approve", pid, "--reason", "looks fine")
    assert_one_line_error(r, 6)
    assert f"proposal {pid}" in r.err and f"`envtrail propose --redo {pid}`" in r.err
    assert git(store, "for-each-ref") == refs and _head(store) == head


def make_stuck(cli, bob, make_identity) -> str:
    """A proposal (alice's, needing one approval) that would leave the store stuck: two
    approvals were within reach when alice proposed them (bob and dave besides her); dave
    left production by break-glass, and the proposal re-made with `propose --redo` would
    leave alice, the only admin, needing two approvals from bob alone. Its id."""
    dave = make_identity("dave@example.com")
    for who in (bob, dave):
        assert cli("access", "grant", who.principal, who.publine, "--env", "production",
                   "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    old = _proposal_id(cli("policy", "set", "--env", "production", "--approvals", "2",
                           "--reason", "six eyes", "--propose"))
    r = cli("access", "revoke", dave.principal, "--env", "production", "--reason", "INC-7",
            "--break-glass")
    assert r.code == 0, r.err
    r = cli("propose", "--redo", old)
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    listed = json.loads(cli("proposals", "--json").out)
    assert [(p["id"], p["stale"], bool(p["stuck"]), p["needed"]) for p in listed] == \
        [(pid, False, True, 1)]
    return pid


def test_approving_a_proposal_that_would_leave_the_store_stuck_is_refused(
        cli, store, bob, make_identity):
    pid = make_stuck(cli, bob, make_identity)
    refs, head = git(store, "for-each-ref"), _head(store)
    r = cli.as_(bob)("approve", pid, "--reason", "looks fine")
    assert_one_line_error(r, 4)
    assert f"proposal {pid} can never land" in r.err and "no other admin could ask" in r.err
    assert f"`envtrail propose --withdraw {pid}`" in r.err
    assert git(store, "for-each-ref") == refs and _head(store) == head
