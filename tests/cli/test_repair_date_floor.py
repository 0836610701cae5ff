"""A repair is dated no earlier than the store line's time floor (attack32 C2).

An acknowledged event date must lie more than 10 minutes after the repair's own date.
Where the store head is dated a few minutes ahead (a fast clock inside the tolerance),
an event ahead of the admin's clock may lie within 10 minutes of the date a repair
would carry: naming it made the whole repair refuse itself (exit 5, nothing written),
store line findings and all, until the event was no longer ahead.
"""

import json
from datetime import UTC, datetime, timedelta

from test_access import setv
from test_sync import head
from test_sync_events import event, world

from conftest import assert_one_line_error, git
from envtrail.audit.repairs import EVENT_ACK

MINUTE = 60


def _fast_clock_world(tmp_path, store, cli, bob, clock):
    """bob, his clock 8 minutes fast, sets a value (the head is dated 8 minutes ahead: no
    finding) and then, 15 minutes fast, records a deploy; alice, on time, takes both.
    Returns (alice, bob, the event's id, its date)."""
    a, b, _ = world(tmp_path, store, cli, bob)
    clock(8 * MINUTE)
    setv(b, "API_KEY", "v2")
    clock(15 * MINUTE)
    event(b, "deploy", "deploy v2")
    assert b("sync").code == 0
    clock(MINUTE)
    assert a("sync").code == 0
    ahead = git(a.cwd, "rev-parse", "refs/envtrail/events").strip()
    when = datetime.fromtimestamp(int(git(a.cwd, "log", "-1", "--format=%ct", ahead)), UTC)
    found = a("verify")
    assert found.code == 1 and f"{ahead[:10]} rule 7 (time)" in found.out, found.out
    return a, b, ahead, when


def test_an_event_within_ten_minutes_of_the_repairs_date_is_left_with_when_it_settles(
        tmp_path, store, cli, bob, clock):
    a, _, ahead, when = _fast_clock_world(tmp_path, store, cli, bob, clock)
    line = head(a)
    r = a("repair", "--reason", "bob's clock", "--dry-run")
    assert_one_line_error(r, 2)
    assert f"nothing a repair can acknowledge yet: the event {ahead[:10]}" in r.err
    settles = (when - timedelta(minutes=10)).isoformat()
    assert settles in r.err
    r = a("repair", "--reason", "bob's clock")
    assert_one_line_error(r, 2)
    assert head(a) == line
    # Once this clock is within 10 minutes of its date, it is no finding any more.
    clock(5 * MINUTE + 5)
    assert a("verify").code == 0


def test_a_repair_of_the_store_line_is_not_stopped_by_an_event_it_cannot_cover(
        tmp_path, store, cli, bob, clock):
    a, _, ahead, when = _fast_clock_world(tmp_path, store, cli, bob, clock)
    # A store line finding beside it: an unsigned commit on the line (a hand commit).
    git(a.cwd, "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "--no-verify",
        "-m", "by hand")
    forged = head(a)
    assert f"{forged[:10]} rule 1" in a("verify").out
    r = a("repair", "--reason", "undo the hand commit")
    assert r.code == 0, r.err
    assert f"acknowledged: {forged[:10]} rule 1" in r.out
    assert f"not acknowledged: event {ahead[:10]} rule 7 (time)" in r.err
    assert (when - timedelta(minutes=10)).isoformat() in r.err
    repair = head(a)
    assert git(a.cwd, "rev-parse", f"{repair}^").strip() == forged
    assert EVENT_ACK not in git(a.cwd, "log", "-1", "--format=%B", repair)
    left = json.loads(a("verify", "--json").out)
    assert [(f["commit"], f["rule"]) for f in left["findings"]] == [(ahead, 7)]
    assert forged in {x["commit"] for x in left["acknowledged"]}
    clock(5 * MINUTE + 5)
    assert a("verify").code == 0


def test_who_may_repair_is_said_before_there_is_nothing_to_repair(
        tmp_path, store, cli, bob, clock):
    """review17 R2: a member who is no admin was told "nothing to repair" (exit 2) where
    the line verifies, and access denied (exit 4) only where it had findings."""
    a, b, _, _ = _fast_clock_world(tmp_path, store, cli, bob, clock)
    r = b("repair", "--reason", "mine")
    assert_one_line_error(r, 4)
    clock(5 * MINUTE + 5)  # nothing left to repair at all
    assert a("verify").code == 0
    assert_one_line_error(b("repair", "--reason", "mine"), 4)
    assert_one_line_error(a("repair", "--reason", "mine"), 2)
