"""Events dated ahead (attack26 E1, review15 B3): a repair acknowledges them.

One event dated far ahead is taken by every clone's sync (attack24 U4), and was then a
finding in every `verify` until its date, dragging every later event to that date, with
no way out. An admin's `repair` now names such events (`Envtrail-Acknowledges-Event`):
`verify` lists them as acknowledged, alike in every clone, and events written after it
are dated by their writer's clock.
"""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from test_sync import clone_as, head
from test_sync_events import event, world
from test_sync_refs import EVENTS

from conftest import assert_one_line_error, git
from envtrail.audit import record
from envtrail.audit.repairs import CLEAN, EVENT_ACK, FROM
from hostile import signed_commit

YEARS = 50 * 365 * 24 * 3600  # bob's clock, or his choice


def _tip_time(clone) -> datetime:
    return datetime.fromtimestamp(int(git(clone.cwd, "log", "-1", "--format=%ct", EVENTS)), UTC)


def _verified(clone) -> dict:
    r = clone("verify", "--json")
    return {"code": r.code, **json.loads(r.out)}


def _far_event(tmp_path, store, cli, bob, clock):
    """bob writes a deploy event dated 50 years ahead and pushes it; alice takes it and
    writes one of her own (dragged to the same date). Returns (alice, bob, remote, far)."""
    a, b, bare = world(tmp_path, store, cli, bob)
    clock(YEARS)
    event(b, "deploy", "deploy v1.2")
    far = git(b.cwd, "rev-parse", EVENTS).strip()
    assert b("sync").code == 0
    clock(60)
    assert a("sync").code == 0
    event(a, "deploy", "deploy v1.3")
    assert a("sync").code == 0
    return a, b, bare, far


def test_a_repair_acknowledges_events_dated_far_ahead_alike_in_every_clone(
        tmp_path, store, cli, bob, clock):
    a, b, bare, far = _far_event(tmp_path, store, cli, bob, clock)
    dragged = git(a.cwd, "rev-parse", EVENTS).strip()
    found = _verified(a)
    assert found["code"] == 1
    assert {f["commit"] for f in found["findings"]} == {far, dragged}
    dry = a("repair", "--reason", "bob's clock was 50 years ahead", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"would acknowledge: event {far[:10]} rule 7 (time)" in dry.out
    assert f"would acknowledge: event {dragged[:10]} rule 7 (time)" in dry.out
    line = head(a)
    r = a("repair", "--reason", "bob's clock was 50 years ahead")
    assert r.code == 0, r.err
    repair = head(a)
    assert git(a.cwd, "rev-parse", f"{repair}^").strip() == line
    assert git(a.cwd, "diff", "--stat", line, repair) == ""  # nothing restored
    mine = _verified(a)
    assert mine["code"] == 0 and mine["findings"] == [], mine
    acked = {(x["commit"], x["rule"], x["admin"], x["repair"]) for x in mine["acknowledged"]}
    assert acked == {(far, 7, "alice@example.com", repair),
                     (dragged, 7, "alice@example.com", repair)}
    text = a("verify").out
    assert f"acknowledged: {far[:10]} rule 7 (time)" in text and "by alice@example.com" in text
    assert a("verify", "--strict").code == 1  # an acknowledgement is no clean bill
    # Written after the repair, an event is dated by its writer's clock, not dragged.
    event(a, "restart", "restart after the fix")
    assert _tip_time(a) < datetime.now(UTC) + timedelta(days=1)
    assert a("verify").code == 0
    assert a("sync").code == 0
    # bob's clone, and a fresh one, judge it alike; so does one that meets it after
    # the date has passed (no longer ahead there, still acknowledged).
    assert b("sync").code == 0
    theirs = _verified(b)
    assert theirs["code"] == 0 and theirs["acknowledged"] == mine["acknowledged"]
    fresh = clone_as(tmp_path, str(bare), cli.identity, "fresh")
    assert fresh("sync").code == 0  # a plain clone holds no events line
    assert _verified(fresh)["acknowledged"] == mine["acknowledged"]
    clock(YEARS + 24 * 3600)
    late = clone_as(tmp_path, str(bare), cli.identity, "late")
    assert late("sync").code == 0
    seen_late = _verified(late)
    assert seen_late["code"] == 0 and seen_late["acknowledged"] == mine["acknowledged"]
    assert late("verify", "--strict").code == 1


def test_repair_no_longer_says_the_line_verifies_while_an_event_is_a_finding(
        tmp_path, store, cli, bob, clock):
    """review15 B3: `repair` said "nothing to repair: the store line verifies" (exit 2)
    right after `verify` failed on the events line."""
    a, _, _, far = _far_event(tmp_path, store, cli, bob, clock)
    r = a("repair", "--reason", "settle it", "--dry-run")
    assert r.code == 0 and "nothing to repair" not in r.out + r.err
    assert f"event {far[:10]}" in r.out
    assert "the store line verifies: nothing restored" in r.out
    r = a("repair", "--reason", "settle it", "--from", "HEAD~1")
    assert_one_line_error(r, 2)
    done = a("repair", "--reason", "settle it")
    assert done.code == 0, done.err
    again = a("repair", "--reason", "settle it again")
    assert_one_line_error(again, 2)
    assert "nothing to repair: the store line and the events line verify" in again.err


def _hand_repair(clone, who, events, reason="whitewash", parent=None):
    """A repair commit signed by ``who`` that names ``events`` dated ahead and restores
    nothing, put on the store line by hand."""
    parent = parent or head(clone)
    rec = record.Record("repair", who.principal, reason, (),
                        extra=(*((EVENT_ACK, f"{e} 7") for e in events), (CLEAN, parent),
                               (FROM, parent)))
    when = datetime.fromtimestamp(int(git(clone.cwd, "log", "-1", "--format=%ct", parent)) + 1,
                                  UTC)
    commit = signed_commit(clone.cwd, who.identity, who.principal, [parent], {},
                           record.render(rec), when=when)
    git(clone.cwd, "update-ref", "refs/heads/main", commit)
    git(clone.cwd, "reset", "-q", "--hard", commit)
    return commit


def test_only_a_current_admin_acknowledges_an_event(tmp_path, store, cli, bob, clock,
                                                    make_identity):
    """Attacker: bob (a member, no admin) signs a repair naming his own event; then an
    admin revoked since signs one. Neither is a valid repair, and the event stays a
    finding, in the clone that took them and in sync (which refuses the line)."""
    a, b, bare, far = _far_event(tmp_path, store, cli, bob, clock)
    forged = _hand_repair(b, bob, [far], "my clock is right")
    r = _verified(b)
    assert r["code"] == 1 and r["acknowledged"] == []
    assert any(f["commit"] == forged and f["rule"] == 5 for f in r["findings"]), r["findings"]
    assert any(f["commit"] == far and f["rule"] == 7 for f in r["findings"])
    git(b.cwd, "push", "-q", "-f", str(bare), "main")
    assert a("sync").code == 5  # the forged repair is refused, the events line unchanged
    git(bare, "update-ref", "refs/heads/main", head(a))  # the server's admin puts it back
    # A former admin, revoked: the key that signed no longer counts at the repair.
    dave = make_identity("dave@example.com")
    assert a("access", "grant", dave.principal, dave.publine, "--env", "staging",
             "--reason", "dave joins").code == 0
    assert a("access", "admin", dave.principal, "--reason", "trusted").code == 0
    r = a("access", "revoke", dave.principal, "--env", "staging", "--reason", "dave leaves")
    assert r.code == 0, r.err
    stale = _hand_repair(a, dave, [far], "still here")
    r = _verified(a)
    assert r["code"] == 1 and r["acknowledged"] == []
    assert any(f["commit"] == stale and f["rule"] == 1 for f in r["findings"]), r["findings"]
    assert any(f["commit"] == far and f["rule"] == 7 for f in r["findings"])


def test_a_change_dated_a_year_ahead_and_its_deploy_can_be_repaired(tmp_path, store, cli,
                                                                    bob, clock):
    """attack26 M1: bob's laptop runs a year fast; he sets BASE and deploys with it (`set`,
    then `run --event deploy`). Every other clone refused his line for a year, and
    `repair` refused too ("an event follows it"), though the change's only finding is its
    date: without the event the same repair worked. Now it repairs, and every clone
    syncs and reads again, including when later events come in."""
    a, b, bare = world(tmp_path, store, cli, bob)
    clock(365 * 24 * 3600)
    r = b("set", "BASE", "--env", "production", "--reason", "rotate BASE", input="v2")
    assert r.code == 0, r.err
    dated = head(b)
    assert b("run", "--env", "production", "--event", "deploy", "--", "true").code == 0
    deploy = git(b.cwd, "rev-parse", EVENTS).strip()
    assert b("sync").code == 0
    clock(60)
    assert a("sync").code == 5  # a change dated a year ahead of this clone's clock
    git(a.cwd, "fetch", "-q", "origin")
    git(a.cwd, "fetch", "-q", "origin", f"+{EVENTS}:{EVENTS}")
    git(a.cwd, "reset", "-q", "--keep", "origin/main")  # taken by hand, to repair it
    r = a("repair", "--reason", "bob's clock ran a year fast")
    assert r.code == 0, r.err
    assert f"acknowledged: {dated[:10]} rule 7 (time)" in r.out
    assert f"acknowledged: event {deploy[:10]} rule 7 (time)" in r.out
    assert a("verify").code == 0
    assert a("get", "BASE", "--env", "production").out.strip() == "b"  # restored
    assert a("sync").code == 0
    assert b("sync").code == 0 and b("verify").code == 0
    event(a, "restart", "after the repair")  # bob's next sync judges the whole events line
    assert a("sync").code == 0
    assert b("sync").code == 0 and b("verify").code == 0
    fresh = clone_as(tmp_path, str(bare), cli.identity, "fresh")
    assert fresh("sync").code == 0
    assert fresh("get", "BASE", "--env", "production").out.strip() == "b"
    assert fresh("verify").code == 0


def test_an_event_dragged_before_the_repair_is_redated_when_sync_replays_it(
        tmp_path, store, cli, bob, clock):
    """bob took the far event before the repair: his own next event is dragged to its
    date. When sync re-makes it on top of the events written since the repair, it is
    dated by his clock (it cannot have happened in 50 years), not a new finding."""
    a, b, _, _ = _far_event(tmp_path, store, cli, bob, clock)
    assert b("sync").code == 0
    event(b, "rollback", "rolled back by hand")
    assert _tip_time(b) > datetime.now(UTC) + timedelta(days=365)  # dragged
    assert a("repair", "--reason", "bob's clock was 50 years ahead").code == 0
    event(a, "restart", "after the fix")
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0 and "1 replayed" in r.out, r.out + r.err
    assert _tip_time(b) < datetime.now(UTC) + timedelta(days=1)
    assert b("verify").code == 0
    assert b("sync").code == 0 and a("sync").code == 0 and a("verify").code == 0


def test_an_acknowledged_date_leaves_every_other_finding_of_the_event(store, cli, bob):
    """Attacker: bob, no member of staging, writes a staging event dated far ahead. The
    repair acknowledges its date, which is all a repair may acknowledge of an event: his
    writing for an environment he is not in stays a finding."""
    from test_events import _event_after

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    forged = _event_after(store, bob.identity, bob.principal, head(cli), None, env="staging",
                          later=YEARS)
    r = cli("repair", "--reason", "a date far ahead")
    assert r.code == 0 and f"acknowledged: event {forged[:10]} rule 7" in r.out, r.out + r.err
    found = _verified(cli)
    assert found["code"] == 1
    assert [(f["commit"], f["rule"]) for f in found["findings"]] == [(forged, 4)]
    assert [(a["commit"], a["rule"]) for a in found["acknowledged"]] == [(forged, 7)]


def test_an_event_after_a_repaired_forgery_is_judged_by_the_trust_before_it(
        tmp_path, store, cli, bob, make_identity, clock):
    """attack27 F2: mallory, an outsider who can push, signs a store commit S that makes
    her a signer and a member of production; alice repairs it. An event mallory dates
    between S and the repair was judged at S, as if no repair had come (so that an honest
    deploy after a change swept for its date stops no sync), so her own grant let it in.
    It is judged by the signers and members from before S: refused, nothing taken."""
    from envtrail.format import envfile, layout
    from envtrail.format.envfile import Member
    from hostile import message, point

    a, b, bare = world(tmp_path, store, cli, bob)
    event(a, "deploy", "before the forgery")
    assert a("sync").code == 0
    mallory = make_identity("mallory@example.com")
    key = " ".join(mallory.publine.split()[:2])
    path = envfile.path_for("production")
    prod = envfile.parse((a.cwd / path).read_bytes(), path)
    members = {**prod.members, mallory.principal: Member(mallory.principal, key, "AAAA")}
    files = {layout.SIGNERS: ((a.cwd / layout.SIGNERS).read_text()
                              + f'{mallory.principal} namespaces="git" {key}\n').encode(),
             path: envfile.render(replace(prod, members=members))}
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
    forged = signed_commit(a.cwd, mallory.identity, mallory.principal, [head(a)], files,
                           message("grant", mallory.principal), when=when)
    point(a.cwd, forged)
    clock(3600)
    assert a("repair", "--reason", "mallory's forged grant").code == 0
    assert a("sync").code == 0
    tip = git(a.cwd, "rev-parse", EVENTS).strip()
    rec = record.Record("event", mallory.principal, "hotfix deployed", ("production",),
                        extra=(("After", forged), ("Event-Kind", "deploy")))
    planted = signed_commit(a.cwd, mallory.identity, mallory.principal, [tip], {},
                            record.render(rec), tree_of=tip, when=when + timedelta(seconds=1))
    git(a.cwd, "push", "-q", "--no-verify", str(bare), f"{planted}:{EVENTS}")
    for clone in (b, clone_as(tmp_path, str(bare), cli.identity, "fresh")):
        r = clone("sync")
        assert r.code == 5 and "rule 1 (signature)" in r.err, (r.code, r.out, r.err)
        assert git(clone.cwd, "rev-parse", "-q", "--verify", EVENTS, check=False).strip() \
            != planted


def test_a_repair_trailer_on_any_other_commit_taints_nothing(tmp_path, store, cli, bob):
    """attack28 G1: sync took the states a remote's repairs go back over from any commit
    carrying `Envtrail-Repair-Clean`. bob, revoked from staging but still in production,
    put one on a signed production `set` reaching back before his revocation; his staging
    event naming the revocation was then judged with the trust from before it, and every
    clone took it. Only an admin's repair counts."""
    import forge
    from envtrail.gitstore.repo import GitRepo
    from hostile import point

    a, b, bare = world(tmp_path, store, cli, bob)
    assert a("access", "grant", bob.principal, bob.publine, "--env", "staging",
             "--reason", "join").code == 0
    event(a, "deploy", "before bob leaves staging")
    before = head(a)
    assert a("access", "revoke", bob.principal, "--env", "staging", "--reason", "left").code == 0
    revoke = head(a)
    assert a("sync").code == 0 and b("sync").code == 0
    when = GitRepo(b.cwd).info(revoke).committer_time
    plan = forge.honest_plan(b.cwd, bob.identity, "production", {"BASE": "b2"})
    rec = replace(plan.record, extra=(*plan.record.extra, (CLEAN, before)))
    commit = forge.commit_plan(b.cwd, bob.identity, plan, record.render(rec),
                               when=when + timedelta(seconds=60))
    point(b.cwd, commit)
    git(b.cwd, "push", "-q", "--no-verify", "origin", "main")
    _bobs_staging_event_is_refused(tmp_path, cli, bare, a, b, bob, revoke, when)



def _bob_leaves_staging(a, bob):
    """bob joins staging, alice records a deploy, then revokes him: (before, revoke)."""
    assert a("access", "grant", bob.principal, bob.publine, "--env", "staging",
             "--reason", "join").code == 0
    event(a, "deploy", "before bob leaves staging")
    before = head(a)
    assert a("access", "revoke", bob.principal, "--env", "staging", "--reason", "left").code == 0
    return before, head(a)


def _bobs_staging_event_is_refused(tmp_path, cli, bare, a, b, bob, revoke, when):
    """bob, no longer in staging, pushes a staging event naming the revocation: alice's
    sync and a fresh clone's refuse it, and neither takes it."""
    tip = git(b.cwd, "rev-parse", EVENTS).strip()
    staging = record.Record("event", bob.principal, "deploy", ("staging",),
                            extra=(("After", revoke), ("Event-Kind", "deploy")))
    planted = signed_commit(b.cwd, bob.identity, bob.principal, [tip], {},
                            record.render(staging), tree_of=tip,
                            when=when + timedelta(seconds=1))
    git(b.cwd, "push", "-q", "--no-verify", "origin", f"{planted}:{EVENTS}")
    for clone in (a, clone_as(tmp_path, str(bare), cli.identity, "fresh")):
        r = clone("sync")
        assert r.code == 5 and "without being a member of it" in r.err, (r.code, r.out, r.err)
        assert git(clone.cwd, "rev-parse", "-q", "--verify", EVENTS, check=False).strip() \
            != planted


def test_an_admins_repair_trailer_on_a_set_taints_nothing(tmp_path, store, cli, bob):
    """attack28 G1, held where the signer check alone would not: even an admin's `set`
    carrying `Envtrail-Repair-Clean` (the walk ignores a trailer its action does not
    define) is no repair, and taints no state for sync."""
    import forge
    from envtrail.gitstore.repo import GitRepo
    from hostile import point

    a, b, bare = world(tmp_path, store, cli, bob)
    before, revoke = _bob_leaves_staging(a, bob)
    when = GitRepo(a.cwd).info(revoke).committer_time
    plan = forge.honest_plan(a.cwd, cli.identity.identity, "production", {"BASE": "b2"})
    rec = replace(plan.record, extra=(*plan.record.extra, (CLEAN, before)))
    point(a.cwd, forge.commit_plan(a.cwd, cli.identity.identity, plan, record.render(rec),
                                   when=when + timedelta(seconds=60)))
    assert a("verify").code == 0  # a valid set: the walk reads no repair into it
    assert a("sync").code == 0 and b("sync").code == 0
    _bobs_staging_event_is_refused(tmp_path, cli, bare, a, b, bob, revoke, when)


def test_a_repair_a_later_repair_acknowledged_taints_nothing(tmp_path, store, cli, bob):
    """attack28 G2: a commit a later repair acknowledged (so the walk no longer refuses
    it) kept its own `Envtrail-Repair-Clean`, reaching back before a revocation, and sync
    judged a revoked member's event there with the trust from before it. Here the commit
    is even an admin's (a repair that followed no findings, acknowledged by her next
    repair): inside a later repair's range, it taints nothing."""
    from envtrail.gitstore.repo import GitRepo
    from hostile import point

    a, b, bare = world(tmp_path, store, cli, bob)
    before, revoke = _bob_leaves_staging(a, bob)
    when = GitRepo(a.cwd).info(revoke).committer_time
    alice = cli.identity
    slip = record.Record("repair", alice.principal, "a repair of nothing", ("production",),
                         extra=((CLEAN, before),))
    point(a.cwd, signed_commit(a.cwd, alice.identity, alice.principal, [revoke], {},
                               record.render(slip), tree_of=revoke,
                               when=when + timedelta(seconds=60)))
    assert [f["rule"] for f in _verified(a)["findings"]] == [3]
    r = a("repair", "--reason", "my repair of nothing")
    assert r.code == 0, r.err
    assert a("sync").code == 0 and b("sync").code == 0
    _bobs_staging_event_is_refused(tmp_path, cli, bare, a, b, bob, revoke, when)


def test_a_revocation_inside_an_events_clock_tolerance_is_settled_by_a_repair(
        tmp_path, store, cli, bob, clock):
    """attack29 E1: bob's clock runs 5 minutes fast (inside the 10 minutes a clock may
    be ahead); every clone takes his deploy event. alice then offboards him, dated by her
    true clock before his event, so the event, judged at the store state current at its
    date, became a finding in every clone for good, and no repair settled it. An admin's
    repair acknowledges it (rule 1), since it verifies at the store commit it names; it is
    judged there, alike in every clone."""
    a, b, bare = world(tmp_path, store, cli, bob)
    clock(300)
    event(b, "deploy", "deploy v1.2")
    assert b("sync").code == 0
    ahead = git(b.cwd, "rev-parse", EVENTS).strip()
    clock(60)
    assert a("sync").code == 0 and a("verify").code == 0
    assert a("access", "revoke", bob.principal, "--env", "production",
             "--reason", "offboarding").code == 0
    found = _verified(a)
    assert found["code"] == 1
    assert [(f["commit"], f["rule"]) for f in found["findings"]] == [(ahead, 1)]
    dry = a("repair", "--reason", "bob's deploy came before his offboarding", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"would acknowledge: event {ahead[:10]} rule 1 (signature)" in dry.out
    r = a("repair", "--reason", "bob's deploy came before his offboarding")
    assert r.code == 0, r.err
    repair = head(a)
    mine = _verified(a)
    assert mine["code"] == 0 and mine["findings"] == [], mine
    assert {(x["commit"], x["rule"], x["repair"]) for x in mine["acknowledged"]} == \
        {(ahead, 1, repair)}
    assert a("verify", "--strict").code == 1
    assert a("sync").code == 0
    event(a, "deploy", "deploy v1.3")  # the events line takes new events again
    assert a("sync").code == 0
    fresh = clone_as(tmp_path, str(bare), cli.identity, "fresh")
    assert fresh("sync").code == 0
    theirs = _verified(fresh)
    assert theirs["code"] == 0 and {x["commit"] for x in theirs["acknowledged"]} == {ahead}


def test_an_event_by_no_member_of_its_environment_is_no_repairs_to_settle(
        tmp_path, store, cli, bob):
    """The acknowledgement above judges the event at the store commit it names: one that
    does not verify there either (bob, never in staging, signs a staging event) is no
    finding a repair settles. `repair` says so, exit 5, also right after `verify` (attack29
    M1: there it said "nothing to repair", exit 2, while `verify` failed)."""
    a, b, _ = world(tmp_path, store, cli, bob)
    event(a, "deploy", "first")
    assert a("sync").code == 0 and b("sync").code == 0
    tip = git(b.cwd, "rev-parse", EVENTS).strip()
    staging = record.Record("event", bob.principal, "deploy", ("staging",),
                            extra=(("After", head(b)), ("Event-Kind", "deploy")))
    forged = signed_commit(b.cwd, bob.identity, bob.principal, [tip], {},
                           record.render(staging), tree_of=tip)
    git(b.cwd, "push", "-q", "--no-verify", "origin", f"{forged}:{EVENTS}")
    git(a.cwd, "fetch", "-q", "origin", f"+{EVENTS}:{EVENTS}")  # plain git takes anything
    found = _verified(a)
    assert found["code"] == 1 and [f["rule"] for f in found["findings"]] == [4]
    r = a("repair", "--reason", "settle it")  # the checkpoint is at the head after verify
    assert r.code == 5 and "cannot repair" in r.err and forged[:10] in r.err, (r.code, r.err)
    assert_one_line_error(r, 5)
    assert head(a) == head(b)
    # Nor does an admin's repair written by hand that names it: it is judged at the
    # commit it names before any acknowledgement counts.
    from hostile import point

    line = head(a)
    alice = cli.identity
    rec = record.Record("repair", alice.principal, "settle it by hand", (),
                        extra=((EVENT_ACK, f"{forged} 4"), (CLEAN, line), (FROM, line)))
    point(a.cwd, signed_commit(a.cwd, alice.identity, alice.principal, [line], {},
                               record.render(rec), tree_of=line))
    found = _verified(a)
    assert [(f["commit"], f["rule"]) for f in found["findings"]] == [(forged, 4)], found
    assert found["acknowledged"] == []


def _event_then_offboard(a, bob) -> str:
    """alice records a deploy, then offboards bob and syncs; the store commit before the
    revocation (the one a late event of bob's names) comes back."""
    event(a, "deploy", "first")
    before = head(a)
    assert a("access", "revoke", bob.principal, "--env", "production",
             "--reason", "offboarding").code == 0
    assert a("sync").code == 0
    return before


def test_a_revoked_members_event_long_after_the_revocation_is_never_acknowledged(
        tmp_path, store, cli, bob, clock):
    """attack30 A2: the acknowledgement above asked only that the event verify at the
    commit it names; bob, offboarded an hour before, names a commit from before his
    revocation, and a routine repair vouched for his event in every clone. It must also
    verify at the state current 10 minutes before its date: only a revocation inside his
    clock's tolerance stands between, never one long before."""
    from envtrail.gitstore.repo import GitRepo

    a, b, _ = world(tmp_path, store, cli, bob)
    before = _event_then_offboard(a, bob)
    clock(3600)
    git(b.cwd, "fetch", "-q", "origin", f"+{EVENTS}:{EVENTS}")
    tip = git(b.cwd, "rev-parse", EVENTS).strip()
    when = GitRepo(a.cwd).info(head(a)).committer_time + timedelta(hours=1)
    late = record.Record("event", bob.principal, "incident", ("production",),
                         extra=(("After", before), ("Event-Kind", "incident")))
    planted = signed_commit(b.cwd, bob.identity, bob.principal, [tip], {},
                            record.render(late), tree_of=tip, when=when)
    git(b.cwd, "push", "-q", "--no-verify", "origin", f"{planted}:{EVENTS}")
    git(a.cwd, "fetch", "-q", "origin", f"+{EVENTS}:{EVENTS}")  # plain git takes anything
    _no_repair_settles(a, planted, 1, "settle the events line")


def test_an_event_over_the_tolerance_whose_signer_is_revoked_stays_a_finding(
        tmp_path, store, cli, bob, clock):
    """attack31 B6, attack32 C3: bob's clock runs 15 minutes fast; alice acknowledges the
    date of his deploy event, then offboards him. Once the event's date has passed it is
    a rule 1 finding: judged 10 minutes before its own date, after the revocation. It is
    not judged before the repair that acknowledged its date instead: that repair is dated
    by the admin's clock, and a slow one would widen the window by hours. No repair
    settles it (stated in the threat model's limits); nothing is written."""
    a, b, _ = world(tmp_path, store, cli, bob)
    clock(900)
    event(b, "deploy", "deploy v1.2")
    assert b("sync").code == 0
    fast = git(b.cwd, "rev-parse", EVENTS).strip()
    clock(60)
    assert a("sync").code == 0
    assert a("repair", "--reason", "bob's clock is fast").code == 0
    assert a("access", "revoke", bob.principal, "--env", "production",
             "--reason", "offboarding").code == 0
    clock(1200)
    _no_repair_settles(a, fast, 1, "his deploy came before his offboarding")


def test_acknowledgements_are_judged_together_before_a_repair_writes_them(
        tmp_path, store, cli, bob):
    """attack32 C4: `repair` judged each rule 1 acknowledgement on its own; bob, just
    offboarded, pushed two events inside his clock's tolerance, the second dated before
    the first: each passed alone, both were acknowledged, and together they broke the
    events line's order (rule 7, which no repair settles): the repair made `verify`
    fail. They are judged together: only the first is acknowledged."""
    from envtrail.gitstore.repo import GitRepo

    a, _, _ = world(tmp_path, store, cli, bob)
    before = _event_then_offboard(a, bob)
    revoked = GitRepo(a.cwd).info(head(a)).committer_time
    tip = git(a.cwd, "rev-parse", EVENTS).strip()
    planted = []
    for seconds in (300, 270):  # the second dated before the first
        rec = record.Record("event", bob.principal, "deploy", ("production",),
                            extra=(("After", before), ("Event-Kind", "deploy")))
        tip = signed_commit(a.cwd, bob.identity, bob.principal, [tip], {}, record.render(rec),
                            tree_of=tip, when=revoked + timedelta(seconds=seconds))
        planted.append(tip)
    git(a.cwd, "update-ref", EVENTS, tip)  # taken by plain git
    assert [(f["commit"], f["rule"]) for f in _verified(a)["findings"]] == \
        [(planted[0], 1), (planted[1], 1)]
    dry = a("repair", "--reason", "bob's deploys", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"event {planted[0][:10]} rule 1" in dry.out and planted[1][:10] not in dry.out
    assert a("repair", "--reason", "bob's deploys").code == 0
    left = _verified(a)["findings"]
    assert [(f["commit"], f["rule"]) for f in left] == [(planted[1], 1)], left


def test_an_event_is_never_acknowledged_at_a_state_a_repair_found_forged(
        store, cli, bob, clock):
    """bob, offboarded, signs a store commit F that puts him back among the
    signers and members of production (a rule 1 finding); alice repairs it. bob then signs
    a deploy event naming a commit from before his revocation, dated 5 seconds after the
    repair: at its date he is no signer (rule 1). An acknowledgement judges it at the
    commit it names (he was a member there) and at the state current 10 minutes before its
    date, which is F: his own forgery, acknowledged as such, vouches for nothing. `repair`
    refuses to settle it, and an admin's repair written by hand that names it counts for
    nothing in `verify`."""
    from envtrail.format import envfile, layout
    from envtrail.gitstore.repo import GitRepo
    from hostile import message, point

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    event(cli, "deploy", "before bob leaves")
    before = head(cli)
    signers = (store / layout.SIGNERS).read_text()
    path = envfile.path_for("production")
    seat = envfile.parse((store / path).read_bytes(), path).members[bob.principal]
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "offboarding").code == 0
    g = GitRepo(store)
    revoked = g.info(head(cli)).committer_time
    prod = envfile.parse((store / path).read_bytes(), path)
    assert bob.principal not in prod.members
    files = {layout.SIGNERS: signers.encode(),
             path: envfile.render(replace(prod, members={**prod.members, bob.principal: seat}))}
    forged = signed_commit(store, bob.identity, bob.principal, [head(cli)], files,
                           message("grant", bob.principal), when=revoked + timedelta(seconds=20))
    point(store, forged)
    clock(3600)  # the repair an hour after F: F is the state 10 minutes before the event
    assert cli("repair", "--reason", "bob's forged grant").code == 0
    repaired = g.info(head(cli)).committer_time
    tip = git(store, "rev-parse", EVENTS).strip()
    rec = record.Record("event", bob.principal, "deploy", ("production",),
                        extra=(("After", before), ("Event-Kind", "deploy")))
    planted = signed_commit(store, bob.identity, bob.principal, [tip], {}, record.render(rec),
                            tree_of=tip, when=repaired + timedelta(seconds=5))
    git(store, "update-ref", EVENTS, planted)  # taken by plain git
    _no_repair_settles(cli, planted, 1, "bob's deploy")
    alice, line = cli.identity, head(cli)
    hand = record.Record("repair", alice.principal, "settle it by hand", (),
                         extra=((EVENT_ACK, f"{planted} 1"), (CLEAN, line), (FROM, line)))
    point(store, signed_commit(store, alice.identity, alice.principal, [line], {},
                               record.render(hand), tree_of=line))
    found = _verified(cli)
    assert [(f["commit"], f["rule"]) for f in found["findings"]] == [(planted, 1)], found
    assert {x["commit"] for x in found["acknowledged"]} == {forged}  # only the forgery


def _no_repair_settles(clone, event: str, rule: int, reason: str) -> None:
    """``event``'s finding of ``rule`` is all `verify` finds, and `repair` refuses to
    settle it (exit 5, naming it) and writes nothing."""
    found = _verified(clone)
    assert [(f["commit"], f["rule"]) for f in found["findings"]] == [(event, rule)], found
    line = head(clone)
    r = clone("repair", "--reason", reason)
    assert r.code == 5 and "cannot repair" in r.err and event[:10] in r.err, (r.code, r.err)
    assert head(clone) == line
