"""Events and the one timeline: signed markers beside the store line, shown with the changes."""

import json
import re

import pytest
from test_approvals import _head, _proposal_id, make_team

from conftest import assert_one_line_error, git


@pytest.fixture
def team(cli, store, bob, make_identity):
    """production needs one approval; bob and ci:deploy are members, carol only of staging."""
    return make_team(cli, bob, make_identity)


# -- events -----------------------------------------------------------------------


def test_event_is_a_signed_marker_on_its_own_line(cli, store, team):
    head = _head(store)
    r = cli.as_(team["bob"])("event", "deploy", "--env", "production", "--reason", "release 42",
                             "--ref", "v1.4.2", "--status", "ok")
    assert r.code == 0, r.err
    assert _head(store) == head  # the store line does not move
    body = git(store, "log", "-1", "--format=%B", "refs/envtrail/events")
    assert f"Envtrail-After: {head}" in body and "Envtrail-Event-Kind: deploy" in body
    assert "Envtrail-Event-Ref: v1.4.2" in body and "Envtrail-Event-Status: ok" in body
    git(store, "verify-commit", "refs/envtrail/events")
    assert git(store, "diff", "--name-only", "refs/envtrail/events^{tree}",
               "4b825dc642cb6eb9a060e54bf8d69288fbee4904") == ""
    assert cli("event", "restart", "--env", "production", "--reason", "after deploy").code == 0
    assert git(store, "rev-list", "--count", "refs/envtrail/events").strip() == "2"
    assert cli("verify").code == 0


def test_only_members_write_events_and_bad_claims_are_refused(cli, store, team):
    assert_one_line_error(cli.as_(team["carol"])("event", "deploy", "--env", "production",
                                                 "--reason", "x"), 4)
    assert_one_line_error(cli("event", "Deploy Now", "--env", "production", "--reason", "x"), 2)
    assert_one_line_error(cli("event", "deploy", "--env", "production", "--reason", "x",
                              "--status", "ok\nEnvtrail-Actor: bob@example.com"), 2)
    assert_one_line_error(cli("event", "deploy", "--env", "production"), 2)
    assert git(store, "for-each-ref", "refs/envtrail/events") == ""


def test_a_forged_event_is_a_verify_finding(cli, store, team):
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    carol = team["carol"]  # an allowed signer, but no member of production
    g = GitRepo(store)
    rec = Record("event", carol.principal, "fake deploy", ("production",),
                 extra=(("After", _head(store)), ("Event-Kind", "deploy")))
    forged = create_commit(g, [], {}, render(rec),
                           Author(carol.principal, carol.principal, g.info(_head(store)).committer_time),
                           signer_for(carol.identity))
    move_branch(g, "refs/envtrail/events", None, forged, "forge")
    r = cli("verify")
    assert r.code == 1
    assert f"{forged[:10]} rule 4 (policy): carol@example.com wrote an event for production" in r.out
    # reads of the store line are not blocked by the events line
    assert cli("get", "API_KEY", "--env", "production").code == 0


def _event_after(store, identity, principal: str, after: str, parent: str | None,
                 claims: tuple = (), env: str = "production", later: int = 0) -> str:
    """A signed event by a member naming ``after``, on top of ``parent`` of the events line."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    rec = Record("event", principal, "claimed", (env,),
                 extra=(("After", after), ("Event-Kind", "deploy"), *claims))
    from datetime import timedelta

    when = g.info(_head(store)).committer_time + timedelta(seconds=later)
    commit = create_commit(g, [parent] if parent else [], {}, render(rec),
                           Author(principal, principal, when), signer_for(identity))
    move_branch(g, "refs/envtrail/events", parent, commit, "forge")
    return commit


def test_an_event_that_changes_files_is_a_finding(cli, store, team, alice):
    """An event is a marker: one whose tree differs from the event before it is a finding
    (the equal-tree shortcut in changed_paths must not wave it through)."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit, move_branch
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    first = _event_after(store, alice.identity, "alice@example.com", _head(store), None)
    g = GitRepo(store)
    rec = Record("event", "alice@example.com", "claimed", ("production",),
                 extra=(("After", _head(store)), ("Event-Kind", "deploy")))
    carrier = create_commit(g, [first], {"notes.txt": b"riding along"}, render(rec),
                            Author("alice@example.com", "alice@example.com",
                                   g.info(first).committer_time), signer_for(alice.identity))
    move_branch(g, "refs/envtrail/events", first, carrier, "forge")
    r = cli("verify")
    assert r.code == 1, r.out
    assert f"{carrier[:10]} rule 4 (policy): an event commit changes files" in r.out
    assert first[:10] not in r.out


def test_an_event_must_follow_a_commit_of_the_line_itself(cli, store, team, alice):
    """A signed commit beside the line (here on another branch) is not a store line commit."""
    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    head = _head(store)
    side = create_commit(g, [head], {"envs/production.yaml": b"x"}, "side branch",
                         Author("alice@example.com", "alice@example.com",
                                g.info(head).committer_time), signer_for(alice.identity))
    git(store, "update-ref", "refs/heads/side", side)
    event = _event_after(store, alice.identity, "alice@example.com", side, None)
    r = cli("verify")
    assert r.code == 1
    assert f"{event[:10]} rule 6 (line): Envtrail-After names no commit of the store line" in r.out


def test_events_must_follow_the_line_in_order(cli, store, team, alice):
    first = _head(store)
    assert cli("set", "OTHER", "--env", "staging", "--reason", "move the line",
               input="x").code == 0
    second = _head(store)
    later = _event_after(store, alice.identity, "alice@example.com", second, None)
    assert cli("verify").code == 0
    earlier = _event_after(store, alice.identity, "alice@example.com", first, later)
    r = cli("verify")
    assert r.code == 1
    assert f"{earlier[:10]} rule 7 (time): follows an older store commit" in r.out


@pytest.mark.parametrize("claim", [("Event-Duration", "forever"), ("Event-Duration", "1e400s"),
                                   ("Event-Start", "yesterday"), ("Event-Status", " padded"),
                                   ("Event-Ref", "x" * 201)])
def test_a_claim_in_a_form_event_never_writes_is_a_finding_and_log_still_reads(
        cli, store, team, alice, claim):
    import json

    event = _event_after(store, alice.identity, "alice@example.com", _head(store), None,
                         (claim,))
    r = cli("verify")
    assert r.code == 1 and f"{event[:10]} rule 3 (changes)" in r.out
    r = cli("log", "--json")
    assert r.code == 0, r.err
    shown = [json.loads(line) for line in r.out.splitlines()]
    assert any(e["commit"] == event for e in shown)


def test_an_event_is_judged_by_the_state_current_when_it_was_signed(cli, store, team):
    """bob, revoked from staging but still a member of production (so still a signer),
    writes a staging event now that names a commit from before his revocation (found by
    the second attacker review)."""
    bob = team["bob"]
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join staging").code == 0
    before = _head(store)
    honest = _event_after(store, bob.identity, bob.principal, before, None, env="staging")
    assert cli("verify").code == 0  # signed while he was a member: fine
    r = _revoked_and_late(cli, store, bob, before, honest)
    assert honest[:10] not in r.out


def _revoked_and_late(cli, store, bob, before: str, parent: str | None):
    """Revoke bob from staging; his staging event signed after it, naming ``before``,
    must be a finding. Returns verify's result."""
    assert cli("access", "revoke", bob.principal, "--env", "staging",
               "--reason", "leaves staging").code == 0
    late = _event_after(store, bob.identity, bob.principal, before, parent, env="staging",
                        later=1)
    r = cli("verify")
    assert r.code == 1
    assert f"{late[:10]} rule 4 (policy): bob@example.com wrote an event for staging" in r.out
    return r


def test_an_event_after_a_repaired_state_is_named_but_never_an_endless_finding(
        cli, store, team, alice):
    """An event that follows a state a repair acknowledged was judged at a forged state:
    never verified (log marks it), and verify names it. attack20 Q7: as a finding it broke
    verify for good after an honest repair (a keyless clone's deploy event followed a lie
    only a key sees), with nothing left to repair; it is a warning now, as acknowledged
    findings are, and --strict fails on it."""
    import forge

    plan = forge.honest_plan(store, alice.identity, "staging", {"X": "forged"})
    bad = forge.commit_plan(store, None, plan)  # unsigned: a finding
    event = _event_after(store, alice.identity, "alice@example.com", bad, None)
    assert cli("repair", "--reason", "unsigned commit").code == 0
    r = cli("verify")
    assert r.code == 0, r.out
    assert f"event {event[:10]} follows a state a repair acknowledged as a finding: " \
           "not judged" in r.out
    assert cli("verify", "--strict").code == 1
    rows = [json.loads(line) for line in cli("log", "--json").out.splitlines()]
    assert [row["verified"] for row in rows if row["commit"] == event] == [False]


def test_an_event_dated_far_ahead_is_a_finding(cli, store, team, alice):
    event = _event_after(store, alice.identity, "alice@example.com", _head(store), None,
                         later=3600)
    r = cli("verify")
    assert r.code == 1 and f"{event[:10]} rule 7 (time): dated" in r.out
    git(store, "update-ref", "-d", "refs/envtrail/events")
    _event_after(store, alice.identity, "alice@example.com", _head(store), None, later=60)
    assert cli("verify").code == 0  # a minute ahead: within the 10 minutes clocks may differ


def test_an_event_is_dated_against_the_very_commit_it_follows(cli, store, team, alice):
    """verify hands the events check the times its walk read, position by position: an
    event dated between the commit it names and the one before that is still early."""
    from datetime import timedelta

    import forge
    from envtrail.gitstore.repo import GitRepo

    before = GitRepo(store).info(_head(store)).committer_time
    plan = forge.honest_plan(store, alice.identity, "staging", {"X": "later"})
    later = forge.commit_plan(store, alice.identity, plan, when=before + timedelta(seconds=300))
    assert cli("verify").code == 0  # five minutes ahead: within what clocks may differ
    event = _event_after(store, alice.identity, "alice@example.com", later, None, later=-150)
    r = cli("verify")
    assert r.code == 1, r.out
    assert f"{event[:10]} rule 7 (time): dated before the store commit it follows" in r.out


def test_an_event_dated_before_the_commit_it_follows_is_a_finding(cli, store, team, alice):
    # attack12 F4: a deploy event naming the head but dated two hours before it: a
    # time-window query of log then showed the deploy alone, before the change.
    event = _event_after(store, alice.identity, "alice@example.com", _head(store), None,
                         later=-7200)
    r = cli("verify")
    assert r.code == 1, r.out
    assert f"{event[:10]} rule 7 (time): dated before the store commit it follows" in r.out
    shown = json.loads(cli("show", event, "--json").out)  # show judges it as verify does
    assert (shown["judged"], [f["rule"] for f in shown["findings"]]) == ("events", [7])
    git(store, "update-ref", "-d", "refs/envtrail/events")
    good = _event_after(store, alice.identity, "alice@example.com", _head(store), None, later=0)
    assert cli("verify").code == 0  # the same second as the commit it follows is fine
    shown = json.loads(cli("show", good, "--json").out)  # was rule 1, unknown-key (F8)
    assert (shown["judged"], shown["findings"], shown["signature"], shown["signer"]) == \
        ("events", [], "good", "alice@example.com")


def test_log_judges_again_whatever_verify_did_not_vouch_for(cli, store, team, alice):
    """log skips judging the events line only when verify found this very events head clean
    against this very store head."""
    import json

    from envtrail.audit import checkpoint

    def shown(event):
        r = cli("log", "--json")
        assert r.code == 0, r.err
        return next(json.loads(e)["verified"] for e in r.out.splitlines()
                    if json.loads(e)["commit"] == event)

    good = _event_after(store, alice.identity, "alice@example.com", _head(store), None)
    assert cli("verify").code == 0
    assert checkpoint.load_events(store, _head(store)) == good
    assert shown(good) is True
    forged = _event_after(store, team["carol"].identity, "carol@example.com", _head(store),
                          good)  # carol is no member of production
    assert shown(forged) is False and shown(good) is True
    # A vouch for another store head counts for nothing.
    git(store, "update-ref", "refs/envtrail/events", forged)
    checkpoint.save_events(store, "0" * 40, forged)
    assert shown(forged) is False


def test_run_records_one_event_with_status_and_duration(cli, store, team):
    import sys

    r = cli.sub("run", "--env", "production", "--event", "migrate", "--",
                sys.executable, "-c", "import os, sys; sys.exit(3 if os.environ['API_KEY'] == 'v1' else 9)")
    assert r.code == 3, r.err
    body = git(store, "log", "-1", "--format=%B", "refs/envtrail/events")
    assert "Envtrail-Event-Kind: migrate" in body and "Envtrail-Event-Status: 3" in body
    assert "Envtrail-Event-Start: " in body and re.search(r"Envtrail-Event-Duration: [0-9.]+s", body)
    git(store, "verify-commit", "refs/envtrail/events")


@pytest.mark.parametrize(("kind", "reason", "said"), [
    ("Deploy", [], "invalid event kind 'Deploy'"),
    ("deploy", ["--reason", " "], "an event needs a --reason"),
])
def test_run_refuses_an_event_it_could_never_write_before_the_command_starts(
        cli, store, team, tmp_path, kind, reason, said):
    """review17 B3: the kind was checked only after CMD ran (the deploy went ahead, no
    event was written, exit 0 with a warning a CI job never reads)."""
    import sys

    ran = tmp_path / "ran"
    r = cli.sub("run", "--env", "production", "--event", kind, *reason, "--",
                sys.executable, "-c", f"open({str(ran)!r}, 'w').write('yes')")
    assert_one_line_error(r, 2)
    assert said in r.err
    assert not ran.exists()
    assert git(store, "rev-parse", "-q", "--verify", "refs/envtrail/events",
               check=False).strip() == ""


# -- one timeline ------------------------------------------------------------------


def test_log_interleaves_events_approvals_and_break_glass(cli, store, team):
    import json

    bob = team["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    proposal = git(store, "rev-parse", "HEAD~1").strip()
    assert cli.sub("run", "--env", "production", "--event", "deploy", "--reason", "ship it",
                   "--", "true").code == 0
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-3", "--break-glass",
               input="v3").code == 0
    glass = _head(store)
    lines = [json.loads(x) for x in cli("log", "--json").out.splitlines()]
    order = [(e["action"], e["commit"]) for e in lines][:4]
    assert [a for a, _ in order] == ["set", "event", "approve", "set"]
    assert lines[0]["break_glass"] is True and lines[0]["approved_by"] == []
    assert lines[1]["event"]["kind"] == "deploy" and lines[1]["event"]["status"] == "0"
    assert lines[1]["event"]["duration"] >= 0
    assert lines[1]["event"]["after"] == git(store, "rev-parse", "HEAD~1").strip()
    assert lines[3]["commit"] == proposal and lines[3]["approved_by"] == ["bob@example.com"]
    assert cli.as_(bob)("approve", glass, "--reason", "after the incident").code == 0
    text = cli("log").out
    assert "[BREAK-GLASS] [approved by bob@example.com]" in text
    assert "event deploy (status 0, duration" in text
    assert [json.loads(x)["action"] for x in cli("log", "--json", "--key", "API_KEY").out
            .splitlines()][:2] == ["set", "set"]


def test_an_event_after_a_revocation_is_judged_after_it_even_when_times_jump(cli, store,
                                                                             team):
    """A repair acknowledged a commit dated a year ahead, so times along the line are no
    longer in order; bob, revoked from staging since, signs an event dated after the
    revocation naming an older commit. A search that assumes ordered times lands before
    the revocation and accepts it (found by the third attacker review)."""
    from hostile import dated_ahead

    bob = team["bob"]
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join staging").code == 0
    before = _head(store)
    assert cli("set", "OTHER", "--env", "staging", "--reason", "move the line",
               input="x").code == 0
    dated_ahead(store)
    assert cli("repair", "--reason", "a commit dated ahead").code == 0
    _revoked_and_late(cli, store, bob, before, None)


def test_repair_undoes_a_change_dated_ahead_that_an_event_follows(cli, store, team, alice):
    """attack18 P6 had `repair` refuse this (a value change whose only finding is its
    date, a deploy event after it), to keep the event judged; attack26 M1: a change dated
    a year ahead and the deploy that ran with it then kept reads refused for a year, with
    no way out. The event now follows a state a repair acknowledged (a warning, never
    judged, as for any acknowledged state), and its own date, dragged ahead with the
    change, is acknowledged by the same repair."""
    from datetime import UTC, datetime, timedelta

    import forge

    now = datetime.now(UTC).replace(microsecond=0)
    me = alice.identity
    ahead = forge.commit_plan(store, me, forge.honest_plan(store, me, "staging", {"K": "v2"}),
                              when=now + timedelta(minutes=20))
    deploy = _event_after(store, me, "alice@example.com", ahead, None, env="staging")
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    r = cli("repair", "--reason", "a fast clock")
    assert r.code == 0, r.err
    assert f"acknowledged: {ahead[:10]} rule 7 (time)" in r.out
    assert f"acknowledged: event {deploy[:10]} rule 7 (time)" in r.out
    report = json.loads(cli("verify", "--json").out)
    assert report["ok"], report["findings"]
    assert {(a["commit"], a["rule"]) for a in report["acknowledged"]} == {(ahead, 7), (deploy, 7)}
    assert any(deploy[:10] in w and "not judged" in w for w in report["warnings"])
    assert cli("verify", "--strict").code == 1
    assert cli("get", "K", "--env", "staging").code != 5
