"""Approvals, break-glass and events: signed commits in the same verified timeline."""

from conftest import assert_one_line_error, git
from envtrail.format import policy


def test_policy_set_records_approval_rules(cli, store):
    r = cli("policy", "set", "--env", "production", "--approvals", "2", "--approvers",
            "alice@example.com,ci:release", "--no-break-glass", "--break-glass-review", "2d",
            "--reason", "two eyes on production")
    assert r.code == 0, r.err
    rule = policy.parse((store / ".envtrail/policy.yaml").read_bytes()).rule_for("production")
    assert (rule.approvals, rule.approvers, rule.break_glass, rule.review_seconds) == \
        (2, ("alice@example.com", "ci:release"), False, 2 * 86400)
    staging = policy.parse((store / ".envtrail/policy.yaml").read_bytes()).rule_for("staging")
    assert (staging.approvals, staging.approvers, staging.break_glass) == (0, None, True)
    shown = cli("policy", "show").out
    assert "production" in shown and "alice@example.com,ci:release" in shown


def test_policy_set_refuses_bad_approval_values(cli, store):
    head = git(store, "rev-parse", "HEAD")
    assert_one_line_error(cli("policy", "set", "--env", "production", "--approvers", "not a name",
                              "--reason", "x"), 2)
    assert_one_line_error(cli("policy", "set", "--env", "production", "--break-glass-review",
                              "soon", "--reason", "x"), 2)
    assert cli("policy", "set", "--env", "production", "--approvals", "-1",
               "--reason", "x").code == 2
    assert git(store, "rev-parse", "HEAD") == head


def test_policy_file_with_bad_approval_keys_is_refused():
    import pytest

    from envtrail.errors import IntegrityError

    for bad in ("approvals: two", "approvals: -1", "approvers: everyone", "break_glass: 1",
                "break_glass_review: 24"):
        doc = f"envtrail: 1\nenvironments:\n  production:\n    {bad}\n".encode()
        with pytest.raises(IntegrityError):
            policy.parse(doc)
