"""policy.yaml written in DESIGN's top-level form (``approvals: {production: 1}``) means the
same as envtrail's per-environment form; a file stating both differently is refused."""

import pytest

import forge
from conftest import assert_one_line_error, git
from envtrail.audit.record import Record
from envtrail.errors import IntegrityError
from envtrail.format import policy
from envtrail.format.layout import POLICY
from envtrail.ops.txn import Plan

DESIGN_FORM = b"""envtrail: 1
approvals: {production: 2}
approvers: {production: [alice@example.com, carol@example.com]}
break_glass: {production: false}
break_glass_review: {production: 90m}
"""

OUR_FORM = b"""envtrail: 1
environments:
  production:
    approvals: 2
    approvers: [alice@example.com, carol@example.com]
    break_glass: false
    break_glass_review: 90m
"""


def test_the_top_level_form_is_the_per_environment_form():
    top, ours = policy.parse(DESIGN_FORM), policy.parse(OUR_FORM)
    assert top.rule_for("production") == ours.rule_for("production")
    rule = top.rule_for("production")
    assert (rule.approvals, rule.approvers, rule.break_glass, rule.review_seconds) == \
        (2, ("alice@example.com", "carol@example.com"), False, 90 * 60)
    assert top.rule_for("staging") == policy.Rule()  # only the environment it names
    assert top.max_approvals() == 2
    # what `policy set` writes back is our form, and it reads back the same
    assert policy.parse(policy.render(top)).rule_for("production") == rule


def test_both_forms_together_are_fine_when_they_agree():
    doc = b"""envtrail: 1
approvals: {production: 1, staging: 1}
approvers: {production: [carol@example.com, alice@example.com]}
environments:
  production:
    reason_pattern: 'INC-[0-9]+'
    approvals: 1
    approvers: [alice@example.com, carol@example.com]
"""
    p = policy.parse(doc)
    prod = p.rule_for("production")
    assert (prod.approvals, prod.reason_pattern) == (1, "INC-[0-9]+")
    assert set(prod.approvers or ()) == {"alice@example.com", "carol@example.com"}
    assert p.rule_for("staging").approvals == 1


@pytest.mark.parametrize(("doc", "says"), [
    # the same key, two answers
    (b"envtrail: 1\napprovals: {production: 0}\n"
     b"environments: {production: {approvals: 2}}\n", "approvals for production is stated twice"),
    (b"envtrail: 1\nbreak_glass: {production: true}\n"
     b"environments: {production: {break_glass: false}}\n", "break_glass for production"),
    (b"envtrail: 1\napprovers: {production: members}\n"
     b"environments: {production: {approvers: [alice@example.com]}}\n", "approvers for production"),
    (b"envtrail: 1\nbreak_glass_review: {production: 24h}\n"
     b"environments: {production: {break_glass_review: 1d}}\n", "break_glass_review"),
    # equal to Python (True == 1), not to YAML: never read either way
    (b"envtrail: 1\nbreak_glass: {production: true}\n"
     b"environments: {production: {break_glass: 1}}\n", "break_glass"),
    # the shorthand is a map from environment to value, nothing else
    (b"envtrail: 1\napprovals: 1\n", "top-level approvals must map environment names"),
    (b"envtrail: 1\napprovals: [production]\n", "top-level approvals must map"),
    (b"envtrail: 1\napprovals: {1: 1}\n", "top-level approvals must map"),
    (b"envtrail: 1\napprovals: {production: -1}\n", "approvals must be a number"),
    (b"envtrail: 1\napprovals: {production: yes}\n", "approvals must be a number"),
    (b"envtrail: 1\nbreak_glass_review: {production: soon}\n", "must be a duration"),
    (b"envtrail: 1\napprovers: {production: everyone}\n", "must be 'members' or a list"),
    # a rule this reader does not know is refused, never skipped
    (b"envtrail: 1\napproval: {production: 1}\n", "unknown top-level key 'approval'"),
    (b"envtrail: 1\nwriters: {production: [admins]}\n", "unknown top-level key 'writers'"),
])
def test_contradictory_or_malformed_top_level_forms_are_refused(doc, says):
    with pytest.raises(IntegrityError) as err:
        policy.parse(doc)
    assert says in err.value.message
    assert "\n" not in err.value.message


def _commit_policy(store, alice, data: bytes) -> str:
    """An admin's honest, signed policy commit whose file is written by hand."""
    rec = Record("policy", alice.principal, "policy written from DESIGN.md")
    return forge.commit_plan(store, alice.identity, Plan({POLICY: data}, rec))


def test_a_design_form_policy_in_the_store_is_enforced(cli, store, alice, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    _commit_policy(store, alice, b"envtrail: 1\napprovals: {production: 1}\n"
                                 b"break_glass: {production: false}\n")
    assert cli("verify").code == 0
    head = git(store, "rev-parse", "HEAD")
    refused = cli("set", "API_KEY", "--env", "production", "--reason", "r", input="v")
    assert_one_line_error(refused, 4)
    assert "needs 1 approval" in refused.err
    glass = cli("set", "API_KEY", "--env", "production", "--reason", "r", "--break-glass",
                input="v")
    assert_one_line_error(glass, 4)
    assert "break_glass: false" in glass.err
    assert git(store, "rev-parse", "HEAD") == head
    assert cli("set", "API_KEY", "--env", "staging", "--reason", "r", input="v").code == 0
    assert '"approvals": 1' in cli("policy", "show", "--json").out


def test_a_contradictory_policy_in_the_store_stops_writes(cli, store, alice):
    assert cli("set", "API_KEY", "--env", "production", "--reason", "r", input="canary-v1").code == 0
    _commit_policy(store, alice, b"envtrail: 1\napprovals: {production: 0}\n"
                                 b"environments: {production: {approvals: 3}}\n")
    head = git(store, "rev-parse", "HEAD")
    # Neither statement wins: no write is judged under a policy that says two things.
    for args in (["set", "B", "--env", "staging", "--reason", "r"], ["policy", "show"]):
        r = cli(*args, input="canary-v2")
        assert_one_line_error(r, 5)
        assert "approvals for production is stated twice" in r.err
        assert "canary" not in r.err
    assert git(store, "rev-parse", "HEAD") == head
