"""sync and the events line: forward only, replayed by each event's own signer, never merged."""

import pytest
from test_sync import clone_as, head, make_remote, setv
from test_sync_refs import EVENTS, assert_signed, local_refs_state

from conftest import assert_one_line_error, git


def event(cli, kind, reason="r"):
    r = cli("event", kind, "--env", "production", "--reason", reason)
    assert r.code == 0, r.err


def events_on(where, ref=EVENTS):
    """(kind, actor, after) of each event, oldest first."""
    fmt = ("%(trailers:key=Envtrail-Event-Kind,valueonly,separator=)%x01"
           "%(trailers:key=Envtrail-Actor,valueonly,separator=)%x01"
           "%(trailers:key=Envtrail-After,valueonly,separator=)%x00")
    log = git(where, "log", "--reverse", f"--format={fmt}", ref)
    return [tuple(x.strip() for x in e.split("\x01")) for e in log.split("\0") if e.strip()]


def world(tmp_path, store, cli, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "BASE", "b")
    bare = make_remote(tmp_path, store)
    return (clone_as(tmp_path, str(bare), cli.identity, "alice"),
            clone_as(tmp_path, str(bare), bob, "bob"), bare)


def test_events_from_two_clones_both_survive_in_order_without_a_merge(tmp_path, store, cli, bob):
    a, b, bare = world(tmp_path, store, cli, bob)
    event(a, "deploy")
    r = a("sync")
    assert r.code == 0 and "events: 0 received, 0 replayed, pushed" in r.out, r.out + r.err
    event(b, "restart")
    original = git(b.cwd, "rev-parse", EVENTS).strip()
    r = b("sync")
    assert r.code == 0, r.err
    assert "events: 1 received, 1 replayed" in r.out
    assert git(bare, "rev-list", "--merges", EVENTS) == ""
    line = head(b)
    assert events_on(bare) == [("deploy", "alice@example.com", line),
                               ("restart", "bob@example.com", line)]
    assert f"Envtrail-Replayed: {original}" in git(bare, "log", "-1", "--format=%B", EVENTS)
    assert original not in git(bare, "rev-list", "--all").split()
    r = a("sync")
    assert r.code == 0 and "events: 1 received" in r.out, r.out
    assert git(a.cwd, "rev-parse", EVENTS) == git(bare, "rev-parse", EVENTS)
    for clone in (a, b):
        assert clone("verify").code == 0
        assert_signed(clone.cwd, EVENTS)
    assert b("sync").out.startswith("up to date")


def test_an_event_after_a_replayed_change_names_the_replacement(tmp_path, store, cli, bob):
    # The remote changed staging only, so the replacement holds every production value
    # bob's deploy ran with (a remote change to production would stop sync instead:
    # test_sync_remade.py).
    a, b, bare = world(tmp_path, store, cli, bob)
    setv(a, "FROM_ALICE", "1", env="staging")
    event(a, "deploy")
    assert a("sync").code == 0
    setv(b, "FROM_BOB", "2")
    mine = head(b)
    event(b, "deploy")  # follows bob's unpushed commit, which sync will re-make
    r = b("sync")
    assert r.code == 0, r.err
    replaced = head(b)
    assert replaced != mine
    assert events_on(bare)[-1] == ("deploy", "bob@example.com", replaced)
    assert events_on(bare)[0][2] == git(bare, "rev-parse", "main^").strip()
    assert mine not in git(bare, "rev-list", "--all").split()  # nor anything naming it
    assert b("verify").code == 0
    assert a("sync").code == 0 and a("verify").code == 0


def test_a_rewound_events_line_is_refused_and_nothing_changes(tmp_path, store, cli, bob):
    a, b, bare = world(tmp_path, store, cli, bob)
    event(a, "deploy")
    assert a("sync").code == 0
    first = git(bare, "rev-parse", EVENTS).strip()
    event(a, "restart")
    assert a("sync").code == 0
    assert b("sync").code == 0  # bob has now seen both events
    setv(b, "MINE", "m")
    event(b, "incident")
    git(bare, "update-ref", EVENTS, first)  # someone force-pushes the events line back
    before = local_refs_state(b), head(b)
    r = b("sync")
    assert_one_line_error(r, 5)
    assert "events line no longer contains" in r.err
    assert (local_refs_state(b), head(b)) == before
    assert git(bare, "rev-parse", EVENTS).strip() == first
    assert git(bare, "rev-parse", "main").strip() == head(a)  # nothing pushed either


def test_a_remote_events_line_that_does_not_verify_is_refused(tmp_path, store, cli, bob):
    a, b, bare = world(tmp_path, store, cli, bob)
    event(a, "deploy")
    assert a("sync").code == 0
    tip = git(bare, "rev-parse", EVENTS).strip()
    body = git(bare, "log", "-1", "--format=%B", tip)
    tree = git(bare, "rev-parse", f"{tip}^{{tree}}").strip()
    forged = git(bare, "commit-tree", tree, "-p", tip, input=body).strip()  # unsigned
    git(bare, "update-ref", EVENTS, forged)
    before = local_refs_state(b), head(b)
    r = b("sync")
    assert_one_line_error(r, 5)
    assert "events line does not verify" in r.err
    assert (local_refs_state(b), head(b)) == before


def test_an_event_dated_ahead_by_a_fast_clock_stops_no_sync(tmp_path, store, cli, bob, clock):
    """attack24 U4: bob's clock runs two days fast; his deploy event stopped every other
    clone's sync (exit 5), store changes included, until its date passed. It is taken
    now, and `verify` calls it what it is until then."""
    a, b, bare = world(tmp_path, store, cli, bob)
    clock(2 * 24 * 3600)
    event(b, "deploy")
    assert b("sync").code == 0
    clock(60)
    setv(a, "FROM_ALICE", "1")
    r = a("sync")
    assert r.code == 0, r.err
    assert git(bare, "rev-parse", "main").strip() == head(a)
    assert events_on(a.cwd)[-1][:2] == ("deploy", "bob@example.com")
    found = a("verify")
    assert found.code == 1 and "more than 10 minutes ahead of this clone's clock" in found.out
    clock(2 * 24 * 3600 + 60)  # the date has passed
    assert a("verify").code == 0


CANARY = "alice-deployed-CANARY-51c9"


def at(cli, key, rev):
    r = cli("get", key, "--env", "production", "--at", rev)
    assert r.code == 0, r.err
    return r.out.rstrip("\n")


def test_theirs_never_drops_a_value_an_unpushed_deploy_ran_with(tmp_path, store, cli, bob):
    # Attack 12, F10: settled away, the deploy was re-made as following the remote's
    # commit, whose value it never ran with.
    a, b, bare = world(tmp_path, store, cli, bob)
    setv(b, "X", "bob-value")
    assert b("sync").code == 0
    setv(a, "X", CANARY)
    ran = head(a)
    r = a("run", "--env", "production", "--event", "deploy", "--reason", "deploy v2", "--",
          "sh", "-c", f'test "$X" = {CANARY}')
    assert r.code == 0, r.err
    assert a("sync").code == 6
    before, remote = local_refs_state(a), git(bare, "for-each-ref")
    for settle in (("--theirs", "X"), ("--theirs", "production:X"), ("--theirs", "*")):
        r = a("sync", *settle)
        assert_one_line_error(r, 2)
        assert "deploy event" in r.err and ran[:10] in r.err and "--mine production:X" in r.err
        assert CANARY not in r.out + r.err and "bob-value" not in r.out + r.err
        assert local_refs_state(a) == before and git(bare, "for-each-ref") == remote
    # Kept with --mine, the deploy follows the replacement of its commit, with its value.
    assert a("sync", "--mine", "X").code == 0
    kind, actor, after = events_on(bare)[-1]
    assert (kind, actor, after) == ("deploy", "alice@example.com", head(a)) and at(a, "X", after) == CANARY
    assert a("verify").code == 0 and b("sync").code == 0 and b("verify").code == 0


def test_theirs_refuses_for_a_value_set_before_the_commit_the_event_follows(tmp_path, store,
                                                                           cli, bob):
    a, b, _ = world(tmp_path, store, cli, bob)
    setv(b, "X", "bob-value")
    assert b("sync").code == 0
    setv(a, "X", CANARY)
    setv(a, "OTHER", "o")
    event(a, "deploy")  # follows OTHER's commit; X was alice's value when it ran
    assert a("sync").code == 6
    r = a("sync", "--theirs", "X")
    assert_one_line_error(r, 2)
    assert "deploy event" in r.err and CANARY not in r.err


def test_theirs_goes_ahead_when_the_event_ran_in_another_environment(tmp_path, store, cli, bob):
    a, b, bare = world(tmp_path, store, cli, bob)
    setv(b, "X", "bob-value")
    assert b("sync").code == 0
    setv(a, "X", CANARY)
    r = a("event", "deploy", "--env", "staging", "--reason", "staging deploy")
    assert r.code == 0, r.err
    assert a("sync", "--theirs", "X").code == 0
    assert at(a, "X", "HEAD") == "bob-value"
    assert events_on(bare)[-1][0] == "deploy" and a("verify").code == 0


def test_an_event_after_a_change_the_remote_made_alike_follows_the_commit_before(
        tmp_path, store, cli, bob):
    # Both sides wrote the same X: alice's commit leaves nothing to replay. Her deploy ran
    # with her earlier Z too, so it follows the replacement of Z's commit, not the
    # remote's head (which has X but not Z).
    a, b, bare = world(tmp_path, store, cli, bob)
    setv(b, "X", "same")
    assert b("sync").code == 0
    remote_head = head(b)
    setv(a, "Z", "zed")
    setv(a, "X", "same")
    event(a, "deploy")
    r = a("sync")
    assert r.code == 0, r.err
    kind, actor, after = events_on(bare)[-1]
    assert (kind, actor) == ("deploy", "alice@example.com") and after == head(a) != remote_head
    assert (at(a, "Z", after), at(a, "X", after)) == ("zed", "same")
    assert a("verify").code == 0 and b("sync").code == 0 and b("verify").code == 0


@pytest.mark.parametrize("changed_env", ["production", "staging"])
def test_an_event_after_a_pushed_commit_never_moves_past_a_change_it_did_not_run_with(
        tmp_path, store, cli, bob, changed_env):
    # J4: alice deployed with API_KEY=v1, which she had pushed, but her deploy event was
    # not pushed yet. bob then set v2 and wrote a restart event after it. Moved after
    # bob's event, alice's deploy would name the v2 commit: sync stops (exit 6), pushes
    # nothing, and says where the way on is. A change to another environment moves it on.
    a, b, bare = world(tmp_path, store, cli, bob)
    if changed_env == "staging":
        assert a("access", "grant", bob.principal, bob.publine, "--env", "staging",
                   "--reason", "join").code == 0
        assert a("sync").code == 0 and b("sync").code == 0
    setv(a, "API_KEY", "canary-v1-4c1d")
    assert a("sync").code == 0
    pushed = head(a)
    r = a("run", "--env", "production", "--event", "deploy", "--reason", "release 2.4", "--",
          "true")
    assert r.code == 0, r.err
    assert b("sync").code == 0
    setv(b, "API_KEY" if changed_env == "production" else "OTHER", "canary-v2-9e8f",
         env=changed_env)
    event(b, "restart")
    assert b("sync").code == 0
    remote = git(bare, "for-each-ref")
    r = a("sync")
    if changed_env == "staging":
        assert r.code == 0, r.err
        assert events_on(bare)[-1] == ("deploy", "alice@example.com", head(b))
        return
    assert_one_line_error(r, 6)
    assert "deploy event" in r.err and "production:API_KEY" in r.err
    assert "An event no shared commit matches" in r.err
    assert "canary" not in r.err + r.out
    assert git(bare, "for-each-ref") == remote
    assert events_on(a.cwd)[-1] == ("deploy", "alice@example.com", pushed)
    # The way on the docs give: drop the unpushed event, sync, record it anew.
    git(a.cwd, "update-ref", EVENTS, git(bare, "rev-parse", EVENTS).strip())
    assert a("sync").code == 0


def test_an_event_in_an_environment_left_since_stops_sync_with_the_way_on(
        tmp_path, store, cli, bob):
    # J11: bob's unpushed production deploy event, then alice revokes him from production
    # (he stays in staging) and writes a later event. No place on the events line is
    # true for bob's event: sync says where the way on is, and after it his staging work
    # lands.
    a, b, bare = world(tmp_path, store, cli, bob)
    assert a("access", "grant", bob.principal, bob.publine, "--env", "staging",
             "--reason", "join").code == 0
    assert a("sync").code == 0 and b("sync").code == 0
    assert b("run", "--env", "production", "--event", "deploy", "--reason", "r", "--",
              "true").code == 0
    assert a("access", "revoke", bob.principal, "--env", "production",
             "--reason", "moves to staging only").code == 0
    event(a, "restart")
    assert a("sync").code == 0
    setv(b, "STAGING_ONLY", "s", env="staging")
    r = b("sync")
    assert_one_line_error(r, 6)
    assert "no longer a member of production" in r.err
    assert "An event no shared commit matches" in r.err
    git(b.cwd, "update-ref", EVENTS, git(bare, "rev-parse", EVENTS).strip())
    r = b("sync")
    assert r.code == 0, r.err
    assert git(b.cwd, "rev-parse", "HEAD").strip() == git(bare, "rev-parse", "main").strip()
    assert b("verify").code == 0
