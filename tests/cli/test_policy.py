"""Policy: refusals at write time name the rule; verify reports a history that broke it."""

import forge
from conftest import git
from envtrail.format import policy


def test_policy_refusals_name_the_rule(cli, store, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    r = cli("policy", "set", "--env", "production", "--reason-pattern", "[A-Z]+-[0-9]+",
            "--writers", "admins,ci:release", "--reason", "lock down production")
    assert r.code == 0, r.err
    assert "Envtrail-Action: policy" in git(store, "log", "-1", "--format=%B")
    head = git(store, "rev-parse", "HEAD")
    missing = cli("set", "A", "--env", "production", input="v")
    assert missing.code == 4 and "require_reason" in missing.err
    no_ticket = cli("set", "A", "--env", "production", "--reason", "no ticket", input="v")
    assert no_ticket.code == 4 and "reason_pattern" in no_ticket.err
    not_allowed = cli.as_(bob)("set", "A", "--env", "production", "--reason", "OPS-1", input="v")
    assert not_allowed.code == 4 and "writers" in not_allowed.err
    assert git(store, "rev-parse", "HEAD") == head
    assert cli("set", "A", "--env", "production", "--reason", "fix OPS-12", input="v").code == 0
    # staging keeps the defaults
    assert cli.as_(bob)("set", "A", "--env", "staging", "--reason", "anything", input="v").code == 4
    shown = cli("policy", "show", "--json").out
    assert '"reason_pattern": "[A-Z]+-[0-9]+"' in shown


def test_only_admins_change_policy(cli, store, bob):
    cli("access", "grant", bob.principal, bob.publine, "--env", "production", "--reason", "join")
    r = cli.as_(bob)("policy", "set", "--require-reason", "--reason", "x")
    assert r.code == 4 and "only an admin" in r.err


def test_verify_reports_history_that_broke_policy(cli, store, alice):
    cli("policy", "set", "--env", "production", "--reason-pattern", "INC-[0-9]+", "--reason", "p")
    plan = forge.honest_plan(store, alice.identity, "production", {"A": "v"}, reason="INC-1")
    forge.commit_plan(store, alice.identity, forge.with_record(plan, reason="no ticket"))
    r = cli("verify")
    assert r.code == 1
    assert "rule 4 (policy): reason_pattern" in r.out


def test_hand_edited_policy_by_non_admin_is_reported(cli, store, bob):
    cli("access", "grant", bob.principal, bob.publine, "--env", "production", "--reason", "join")
    p = policy.parse((store / ".envtrail/policy.yaml").read_bytes())
    relaxed = policy.Policy(policy.Rule(require_reason=False), p.environments)
    from envtrail.audit.record import Record
    from envtrail.ops.txn import Plan

    plan = Plan({".envtrail/policy.yaml": policy.render(relaxed)},
                Record("policy", "bob@example.com", "relax", ()))
    forge.commit_plan(store, bob.identity, plan)
    r = cli("verify")
    assert r.code == 1
    assert "rule 5 (admin): bob@example.com is not an admin but changed .envtrail/policy.yaml" in r.out


def test_a_default_without_reasons_holds_where_no_environment_overrides_it(cli, store):
    assert cli("policy", "set", "--no-require-reason", "--reason", "relax the default").code == 0
    assert cli("policy", "set", "--env", "production", "--require-reason",
               "--reason", "but not for production").code == 0
    p = policy.parse((store / ".envtrail/policy.yaml").read_bytes())
    assert p.defaults.require_reason is False
    assert cli("set", "A", "--env", "staging", input="v").code == 0
    head = git(store, "rev-parse", "HEAD")
    refused = cli("set", "A", "--env", "production", input="v")
    assert refused.code == 4 and "require_reason" in refused.err
    assert git(store, "rev-parse", "HEAD") == head
    assert cli("verify").code == 0
