from datetime import UTC, datetime, timedelta

import pytest

from envtrail.errors import UsageError
from envtrail.ops.timespec import looks_like_time, parse_time

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2h ago", NOW - timedelta(hours=2)),
    ("15 minutes ago", NOW - timedelta(minutes=15)),
    ("3 days ago", NOW - timedelta(days=3)),
    ("yesterday", NOW - timedelta(days=1)),
    ("now", NOW),
    ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
    ("2026-11-25T10:00:00+02:00", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),
])
def test_parse_time(text, expected):
    assert looks_like_time(text)
    assert parse_time(text, NOW) == expected


def test_revisions_are_not_times_and_garbage_is_usage_error():
    assert not looks_like_time("HEAD~3")
    assert not looks_like_time("a1b2c3d")
    with pytest.raises(UsageError):
        parse_time("2026-13-45", NOW)


@pytest.mark.parametrize("text", ["99999999 days ago", "800000 days ago",
                                  "99999999999999999999 weeks ago"])
def test_a_relative_time_before_the_year_1_is_a_usage_error(text):
    with pytest.raises(UsageError, match="before the year 1"):
        parse_time(text, NOW)
    assert parse_time("700000 days ago", NOW).year > 1


def test_the_cli_says_so_in_one_line(cli):
    from conftest import assert_one_line_error

    cli("set", "K", "--env", "production", "--reason", "r", input="v")
    assert_one_line_error(cli("get", "K", "--env", "production", "--at", "99999999 days ago"), 2)
