"""A count nobody could ever meet is refused wherever it hides (attack21 R1).

Every change of allowed_signers, policy.yaml or config.yaml needs the highest count
anywhere in the policy: a rule written ahead of `env add`, or a default every
environment overrides, counts too, while only environments that exist or list their
approvers have anyone to ask. Such a count used to land (exit 0, no warning) and
freeze every grant, revoke and policy change for good.
"""

import json

import pytest

from conftest import assert_one_line_error, git


@pytest.mark.parametrize("flags", [
    ("--env", "qa", "--approvals", "2"),  # qa not added yet: nobody to ask
    ("--env", "qa", "--approvals", "1", "--approvers", "bob@exmaple.com"),  # a typo
])
def test_a_rule_written_ahead_that_nobody_could_meet_is_refused(cli, store, bob, flags):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    before = git(store, "rev-parse", "HEAD")
    r = cli("policy", "set", *flags, "--reason", "qa will need four eyes")
    assert_one_line_error(r, 4)
    assert "could never be approved" in r.err
    assert git(store, "rev-parse", "HEAD") == before


def test_a_rule_written_ahead_that_others_can_meet_lands(cli, store, bob):
    """production's approvers (alice and bob) can give one approval: qa's rule is fine."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "two eyes").code == 0
    r = cli("policy", "set", "--env", "qa", "--approvals", "1", "--reason", "qa too",
            "--propose")
    assert r.code == 0, r.err
    assert "could never" not in r.err


def test_a_default_every_environment_overrides_still_counts(cli, store):
    for env in ("production", "staging"):
        assert cli("policy", "set", "--env", env, "--approvals", "0",
                   "--reason", "explicit").code == 0
    before = git(store, "rev-parse", "HEAD")
    r = cli("policy", "set", "--approvals", "2", "--reason", "for environments added later")
    assert_one_line_error(r, 4)
    assert "changes of signers, policy or config would need 2 approval(s)" in r.err
    assert "and 0 approver(s) who can sign besides alice@example.com could give them" in r.err
    assert git(store, "rev-parse", "HEAD") == before


def test_policy_show_lists_rules_written_ahead_and_the_default(cli, store):
    assert cli("policy", "set", "--env", "qa", "--writers", "alice@example.com",
               "--reason", "qa to come").code == 0
    shown = cli("policy", "show").out.splitlines()
    assert [line.split("\t")[0] for line in shown] == \
        ["production", "qa (not added)", "staging", "(default)"]
    rules = json.loads(cli("policy", "show", "--json").out)
    assert sorted(rules) == ["*", "production", "qa", "staging"]  # "*": the default rule
    assert rules["qa"]["writers"] == ["alice@example.com"]
    assert (rules["qa"]["added"], rules["production"]["added"]) == (False, True)
    assert "added" not in rules["*"] and rules["*"]["writers"] == "any"
    # review14 S7: the defaults the table prints, JSON says too.
    assert {k: rules["*"][k] for k in ("approvals", "approvers", "break_glass",
                                       "break_glass_review")} == \
        {"approvals": 0, "approvers": "members", "break_glass": True, "break_glass_review": "24h"}
    for bad in ("*", "../x", ""):  # review14 B5: never a row under the default's key
        assert_one_line_error(cli("policy", "show", "--env", bad, "--json"), 2)


def test_a_store_wide_count_only_the_authors_peers_could_give_needs_another_admin(
        cli, store, bob, make_identity):
    """review13 B3: production's approvers are alice and bob (one approval); a rule for qa
    asking two raises what every policy change needs to two, which alice, the only admin,
    could never collect (only bob is left to approve her). With carol, a second admin,
    alice and bob approve carol's changes: it lands."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "two eyes").code == 0
    r = cli("policy", "set", "--env", "qa", "--approvals", "2", "--reason", "qa", "--propose")
    assert_one_line_error(r, 4)
    assert "would need 2 approval(s)" in r.err and "no other admin could ask" in r.err
    # The reason is the count in all, not an environment's: no "there" without one
    # (review14 S8).
    assert "could ask: changes of policy, signers and members could never" in r.err
    assert git(store, "for-each-ref", "refs/envtrail/proposals/") == ""
    carol = make_identity("carol@example.com")
    for args in (("access", "grant", carol.principal, carol.publine, "--env", "staging"),
                 ("access", "admin", carol.principal)):
        r = cli(*args, "--reason", "second admin", "--propose")
        pid = r.out.split(" as ")[1].split()[0]
        assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
        assert cli("apply", pid).code == 0
    r = cli("policy", "set", "--env", "qa", "--approvals", "2", "--reason", "qa", "--propose")
    assert r.code == 0, r.err


def test_the_last_admin_who_could_ask_cannot_step_down(cli, store, bob, make_identity):
    """attack23 T1: production needs two approvals from alice and bob; only carol, an admin
    outside it, can ask for a policy change both approve. Taking her admin mark away left
    alice alone, needing two approvals of her own changes from bob."""
    from hostile import proposal_id

    carol = make_identity("carol@example.com")
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "staging",
               "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "second admin").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "2",
               "--reason", "four eyes").code == 0
    r = cli("access", "admin", carol.principal, "--remove", "--reason", "steps down",
            "--propose")
    assert_one_line_error(r, 4)
    assert "no other admin could ask" in r.err
    assert git(store, "for-each-ref", "refs/envtrail/proposals/") == ""
    # carol first asks for one approval only, which alice and bob approve: room made.
    pid = proposal_id(cli.as_(carol)("policy", "set", "--env", "production", "--approvals",
                                     "1", "--reason", "two eyes", "--propose"))
    for who in (cli, cli.as_(bob)):
        assert who("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    r = cli("access", "admin", carol.principal, "--remove", "--reason", "steps down",
            "--propose")
    assert r.code == 0, r.err


def test_a_proposal_re_made_on_a_moved_line_is_not_applied_where_it_strands_the_store(
        cli, store, bob, make_identity):
    """attack23 T2: two approvals were within reach when alice proposed them (bob and carol
    besides her); carol left production meanwhile, and the proposal re-made with
    `propose --redo` would leave alice, the only admin, needing two approvals from bob."""
    from hostile import proposal_id

    carol = make_identity("carol@example.com")
    for who, env in ((bob, "production"), (carol, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    pid = proposal_id(cli("policy", "set", "--env", "production", "--approvals", "2",
                          "--reason", "four eyes", "--propose"))
    assert cli("access", "revoke", carol.principal, "--env", "production",
               "--reason", "moved to staging").code == 0
    r = cli("propose", "--redo", pid)
    assert r.code == 0, r.err
    pid = proposal_id(r)
    head = git(store, "rev-parse", "HEAD")
    r = cli("apply", pid)
    assert_one_line_error(r, 4)
    assert f"proposal {pid} can never land: applying it would leave the store stuck" in r.err
    assert "no other admin could ask" in r.err
    assert f"`envtrail propose --withdraw {pid}`" in r.err  # a real way out
    assert git(store, "rev-parse", "HEAD") == head
    # review14 B6: listed as "ready to apply" all the same; now as what it is.
    assert "can never land" in cli("proposals").out
    listed = json.loads(cli("proposals", "--json").out)
    assert [p["id"] for p in listed if p["stuck"] and "no other admin could ask" in p["stuck"]] \
        == [pid]


def test_a_stuck_store_is_explained_as_the_admin_asking_would_meet_it(cli, store,
                                                                     make_identity):
    """Each admin is stopped by another count: alice (production's only listed approver)
    by production's, carol by the staging count she proposes to list only herself for.
    The refusal carol reads names hers, not the first admin's in alphabetical order."""
    from test_revoke_approvers import second_admin

    carol = second_admin(cli, make_identity)
    r = cli("policy", "set", "--env", "production", "--approvals", "1", "--approvers",
            "alice@example.com", "--reason", "alice reviews")
    assert r.code == 0, r.err  # carol can still ask: alice approves her changes
    r = cli.as_(carol)("policy", "set", "--env", "staging", "--approvals", "1", "--approvers",
                       carol.principal, "--reason", "carol reviews", "--propose")
    assert_one_line_error(r, 4)
    assert "staging would need 1 approval(s) and has 0 approver(s) who can sign besides " \
        "carol@example.com, and no other admin could ask" in r.err
    assert git(store, "for-each-ref", "refs/envtrail/proposals/") == ""
