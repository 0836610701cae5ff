"""policy.yaml is read strictly: a key of the wrong type, a count out of range or a form
that is not a mapping is refused (IntegrityError, one line), never read some other way."""

import pytest

from envtrail.errors import IntegrityError
from envtrail.format import policy


def _env_rule(line: str) -> bytes:
    return f"envtrail: 1\nenvironments:\n  production:\n    {line}\n".encode()


@pytest.mark.parametrize(("line", "says"), [
    # 0 and "no" are not false to YAML: read as Python truth, 0 would drop the reason rule
    ("require_reason: 0", "require_reason must be true or false"),
    ("require_reason: 'no'", "require_reason must be true or false"),
    # not a string: never handed to RE2 (a crash there would be a traceback, not a refusal)
    ("reason_pattern: 7", "reason_pattern must be a string"),
    ("reason_pattern: [INC]", "reason_pattern must be a string"),
    ("approvals: 101", "approvals must be a number from 0 to 100"),
    ("break_glass: 1", "break_glass must be true or false"),
    ("break_glass: 'yes'", "break_glass must be true or false"),
])
def test_keys_of_the_wrong_type_or_range_are_refused(line, says):
    with pytest.raises(IntegrityError) as err:
        policy.parse(_env_rule(line))
    assert says in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.parametrize("count", [0, 1, 100])
def test_every_count_from_0_to_100_is_read(count):
    assert policy.parse(_env_rule(f"approvals: {count}")).rule_for("production").approvals == count


@pytest.mark.parametrize("envs", [b"[production]", b"7", b"production"])
def test_environments_must_be_a_mapping(envs):
    with pytest.raises(IntegrityError, match="environments must be a mapping"):
        policy.parse(b"envtrail: 1\nenvironments: " + envs + b"\n")


def test_require_reason_false_is_honoured_and_overridable():
    p = policy.parse(b"envtrail: 1\ndefaults:\n  require_reason: false\n"
                     b"environments:\n  production:\n    require_reason: true\n")
    assert p.violation("staging", "a@example.com", False, "") is None
    assert p.violation("production", "a@example.com", False, "").startswith("require_reason:")


def test_approvers_members_written_out_is_the_default():
    # 'members' is a word, not a list of one-letter principals.
    p = policy.parse(_env_rule("approvers: members"))
    assert p.rule_for("production").approvers is None
    assert p.rule_for("production") == policy.Rule()


def test_a_list_of_approvers_never_agrees_with_members():
    # Two statements of approvers agree only as lists in any order; the letters of
    # 'members' as principals are a different rule from 'members'.
    doc = (b"envtrail: 1\napprovers: {production: members}\n"
           b"environments: {production: {approvers: [m, e, m, b, e, r, s]}}\n")
    with pytest.raises(IntegrityError, match="approvers for production is stated twice"):
        policy.parse(doc)


def test_rule_from_reads_what_as_dict_writes():
    rule = policy.Rule(require_reason=False, reason_pattern="INC-[0-9]+",
                       writers=("admins", "ci:release"), approvals=2,
                       approvers=("alice@example.com",), break_glass=False,
                       break_glass_review="90m")
    assert policy.rule_from(rule.as_dict()) == rule
    assert policy.rule_from(policy.Rule().as_dict()) == policy.Rule()


@pytest.mark.parametrize(("window", "seconds"), [
    ("90m", 90 * 60), ("2h", 2 * 3600), ("24h", 86400), ("2d", 2 * 86400),
])
def test_review_windows_count_in_their_unit(window, seconds):
    rule = policy.parse(_env_rule(f"break_glass_review: {window}")).rule_for("production")
    assert rule.review_seconds == seconds


def test_a_pattern_re2_refuses_is_named_plainly_and_re2_prints_nothing(capfd):
    with pytest.raises(IntegrityError) as err:
        policy.parse(_env_rule(r"reason_pattern: '(b)\2'"))
    assert err.value.message == (".envtrail/policy.yaml: production.reason_pattern is not an RE2 "
                                 "pattern (invalid escape sequence)")
    # RE2 logs parse errors to stderr on its own unless told not to: a second, raw line.
    assert capfd.readouterr().err == ""


def test_the_default_rule_writes_no_approval_keys():
    # Stores that never used approvals keep the bytes they had before approvals existed.
    assert policy.Rule().as_dict() == {"require_reason": True, "reason_pattern": None,
                                       "writers": "any"}
    assert policy.Rule().break_glass is True


def test_render_is_pinned():
    # Every `policy set` rewrites the file with this renderer: a change of key order or
    # style would rewrite every line of every store's policy in its next commit.
    p = policy.parse(b"envtrail: 1\ndefaults:\n  approvals: 1\nenvironments:\n  production:\n"
                     b"    reason_pattern: INC-[0-9]+\n    writers: [admins, ci:release]\n"
                     b"    approvals: 2\n")
    assert policy.render(p) == (
        b"# envtrail policy: rules per environment. Change with `envtrail policy set`.\n"
        b"envtrail: 1\ndefaults:\n  require_reason: true\n  reason_pattern: null\n"
        b"  writers: any\n  approvals: 1\nenvironments:\n  production:\n"
        b"    reason_pattern: INC-[0-9]+\n    writers:\n    - admins\n    - ci:release\n"
        b"    approvals: 2\n")
