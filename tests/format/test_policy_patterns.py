"""Policy reason patterns are matched in linear time (RE2), and only RE2 syntax is accepted."""

import time

import pytest

from conftest import assert_one_line_error, git
from envtrail.errors import IntegrityError
from envtrail.format import policy

EVIL = "^(a+)+$"
LONG = "a" * 50_000 + "b"


def rule_file(pattern: str) -> bytes:
    return (f"envtrail: 1\nenvironments:\n  production:\n    reason_pattern: '{pattern}'\n").encode()


def test_exponential_pattern_is_answered_at_once():
    p = policy.parse(rule_file(EVIL))
    started = time.process_time()  # this process's CPU: other test workers do not count
    broken = p.violation("production", "a@example.com", False, LONG)
    assert time.process_time() - started < 0.5
    assert broken is not None and broken.startswith("reason_pattern:")
    assert p.violation("production", "a@example.com", False, "aaaa") is None


@pytest.mark.parametrize(("pattern", "reason", "ok"), [
    ("[A-Z]+-[0-9]+", "fix OPS-12 now", True),      # searched anywhere in the reason
    ("[A-Z]+-[0-9]+", "no ticket", False),
    ("^INC-[0-9]+", "see INC-4", False),            # anchors still anchor
    (r"(?i)inc-\d+", "Inc-7", True),
    ("ticket$", "ticket\n", False),                 # $ is the end of the text, not before a newline
])
def test_search_semantics_are_kept(pattern, reason, ok):
    p = policy.parse(rule_file(pattern))
    assert (p.violation("production", "a@b.c", True, reason) is None) is ok


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=INC)", "(?<!x)y", "(", "a{2,100000}"])
def test_patterns_outside_re2_are_refused(pattern):
    with pytest.raises(IntegrityError, match="reason_pattern"):
        policy.parse(rule_file(pattern))


def test_cli_refuses_a_backtracking_pattern_and_answers_a_hostile_one_fast(cli, store):
    head = git(store, "rev-parse", "HEAD")
    r = cli("policy", "set", "--env", "production", "--reason-pattern", "(a)\\1", "--reason", "p")
    assert_one_line_error(r, 2)
    assert "RE2" in r.err and "re2.cc" not in r.err
    assert git(store, "rev-parse", "HEAD") == head
    assert cli("policy", "set", "--env", "production", "--reason-pattern", EVIL,
               "--reason", "aaaa").code == 0
    started = time.perf_counter()
    refused = cli("set", "A", "--env", "production", "--reason", "a" * 899 + "b", input="v")
    assert time.perf_counter() - started < 5
    assert refused.code == 4 and "reason_pattern" in refused.err
    assert cli("verify").code == 0
