"""A repair needs the approvals its changes would need, by the rules of the states it
vouches for: never by a forged parent that lowered the count (third attacker review)."""

from __future__ import annotations

from test_approvals import _force_onto_line, _head, _proposal_id, make_team

from conftest import assert_one_line_error, git


def _lower_the_count_by_hand(store) -> str:
    """An unsigned commit that sets production's approvals to 0: a finding, which a repair
    then undoes (what an admin with push rights, or an outsider, could push)."""
    policy = (store / ".envtrail/policy.yaml").read_text()
    assert "approvals: 1" in policy
    (store / ".envtrail/policy.yaml").write_text(policy.replace("approvals: 1", "approvals: 0"))
    git(store, "add", ".envtrail/policy.yaml")
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "relax")
    return _head(store)


def test_a_forged_lower_count_does_not_free_the_repair_from_approvals(cli, store, bob,
                                                                      make_identity):
    team = make_team(cli, bob, make_identity)
    before = _head(store)  # API_KEY is v1 here
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    _lower_the_count_by_hand(store)
    # Restoring v1 changes production's values: the clean point's rule (1 approval) holds.
    head = _head(store)
    assert_one_line_error(cli("repair", "--reason", "undo", "--from", before), 4)
    assert _head(store) == head
    # Landed by hand without approval, the same repair is a rule 9 finding and reads refuse.
    r = cli("repair", "--reason", "undo", "--from", before, "--propose")
    assert r.code == 0, r.err
    fix = _proposal_id(r)
    _force_onto_line(store, fix)
    found = cli("verify")
    assert found.code == 1
    assert "rule 9 (approvals): needs 1 approval(s) of production" in found.out
    assert_one_line_error(cli.as_(team["bob"])("get", "API_KEY", "--env", "production"), 5)
    # With bob's approval it is clean.
    git(store, "reset", "-q", "--hard", head)
    assert cli.as_(team["bob"])("approve", fix, "--reason", "agreed").code == 0
    assert cli.as_(team["bob"])("apply", fix).code == 0
    assert cli("verify").code == 0
    assert cli.as_(team["bob"])("get", "API_KEY", "--env", "production").out == "v1"
