"""A commit's date is its signer's word: a repair may not use dates to undo decisions.

attack17 (G, G2, F, E, H): a repair dated before a revocation named it "dated after the
repair" (rule 7) and restored the state before it, re-seating the revoked member with
verify exit 0; the honest `repair` of a revoke dated ahead by a fast clock did the same;
a repair could name rules no walk found, which log and status then showed.
"""

from __future__ import annotations

import json
from datetime import timedelta

import forge
from conftest import git
from envtrail.gitstore.commit import Author, create_commit, move_branch
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.txn import signer_for
from hostile import (
    dated_commit,
    head,
    message,
    point,
    refused,
    setv,
    signed_commit,
    unsigned_commit,
    verify_findings,
)


def _hand_repair(store, alice, clean: str, acks: list[tuple[str, str]], when) -> str:
    """What an admin can write by hand: a repair restoring ``clean`` whole, dated ``when``."""
    extra = (*(("Acknowledges", f"{c} {rule}") for c, rule in acks),
             ("Repair-Clean", clean), ("Repair-From", clean))
    repair = signed_commit(store, alice.identity, "alice@example.com", [head(store)], {},
                           message("repair", "alice@example.com", extra=extra),
                           tree_of=clean, when=when)
    point(store, repair)
    return repair


def _unsigned_on(store, parent: str) -> str:
    """An unsigned commit on ``parent`` (a rule 1 finding), made the branch head."""
    forged = unsigned_commit(store, parent, [parent], "an unsigned commit")
    point(store, forged)
    return forged


def _verified_from_scratch(cli, store) -> list[dict]:
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    return verify_findings(cli)


def _refused_repair(cli, store, repair: str) -> None:
    """A walk from the genesis gives the repair no authority: a finding of its own."""
    found = _verified_from_scratch(cli, store)
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found


def test_a_repair_dated_before_a_revocation_cannot_undo_it(cli, store, bob):
    import time

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    clean = head(store)
    time.sleep(1.1)  # the revoke is dated after the clean point
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    revoke = head(store)
    forged = _unsigned_on(store, revoke)  # anything, to have a finding
    when = GitRepo(store).info(clean).committer_time + timedelta(seconds=1)
    repair = _hand_repair(store, cli.identity, clean, [(revoke, "7"), (forged, "1")], when)
    _refused_repair(cli, store, repair)
    refused(cli, "K")
    assert cli.as_(bob)("get", "K", "--env", "production").code == 5


def test_a_repair_names_only_rules_a_walk_found(cli, store):
    setv(cli, "K", "v1")
    clean = head(store)
    forged = _unsigned_on(store, clean)
    when = GitRepo(store).info(clean).committer_time + timedelta(seconds=1)
    # rule 1 is what the walk finds on it; rule 4 is made up, and log and status would show it
    repair = _hand_repair(store, cli.identity, clean, [(forged, "1"), (forged, "4")], when)
    _refused_repair(cli, store, repair)
    git(store, "reset", "-q", "--hard", forged)
    git(store, "update-ref", "refs/heads/main", forged)
    _hand_repair(store, cli.identity, clean, [(forged, "1")], when)
    assert _verified_from_scratch(cli, store) == []


def test_a_repair_names_a_date_finding_only_on_a_commit_dated_after_the_line_before_it(
        cli, store):
    """attack17 F, attack18 P3: a repair dated before bob's honest change named it rule 7
    ("dated after me") and undid it, bypassing the policy's writers. A date finding no
    walk found here stands only on a commit dated after every commit before it that the
    repair does not name for its date (the clone that met it early met those no later,
    and not ahead), which every clone reads alike and the repair's author cannot choose:
    never on one dated in the same second as the commit before it."""
    setv(cli, "K", "v1")
    clean = head(store)
    forged = _unsigned_on(store, clean)
    same = GitRepo(store).info(forged).committer_time
    honest = forge.commit_plan(store, cli.identity.identity,
                               forge.honest_plan(store, cli.identity.identity, "production",
                                                 {"K": "v2"}), when=same)
    repair = _hand_repair(store, cli.identity, clean, [(forged, "1"), (honest, "7")],
                          same + timedelta(seconds=1))
    _refused_repair(cli, store, repair)
    refused(cli, "K")


def test_repair_never_undoes_a_revoke_whose_only_finding_is_its_date(cli, store, bob):
    """A fast clock dated alice's revoke 20 minutes ahead: a finding here, but `repair`
    must not restore the state before it and seat bob again (attack17 H)."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    g = GitRepo(store)
    revoke = head(store)
    info = g.info(revoke)
    skewed = create_commit(g, [info.parents[0]], {}, info.message,
                           Author("alice@example.com", "alice@example.com",
                                  info.committer_time + timedelta(minutes=20)),
                           signer_for(cli.identity.identity), tree=g.repo[g.tree_id(revoke)].id)
    move_branch(g, g.branch(), revoke, skewed, "a fast clock")
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    assert cli("verify").code == 1
    before = git(store, "for-each-ref")
    r = cli("repair", "--reason", "alice's clock was fast")
    assert r.code == 5, (r.out, r.err)
    assert "its only finding is its date" in r.err and "would undo it" in r.err, r.err
    assert git(store, "for-each-ref") == before
    assert cli.as_(bob)("get", "K", "--env", "production").code != 0


def test_repair_of_a_value_change_dated_ahead_sweeps_what_came_after_it(cli, store):
    """A fast clock dated alice's value change 20 minutes ahead; honest work went on above
    it. A values-only change may be undone for its date, and what was written on it is
    swept (named, printed), as after any finding."""
    from datetime import UTC, datetime

    setv(cli, "K", "v1")
    now = datetime.now(UTC).replace(microsecond=0)
    me = cli.identity.identity
    ahead = forge.commit_plan(store, me, forge.honest_plan(store, me, "production", {"K": "v2"}),
                              when=now + timedelta(minutes=20))
    later = forge.commit_plan(store, me, forge.honest_plan(store, me, "production", {"L": "l"}),
                              when=now)
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    assert {(f["commit"], f["rule"]) for f in verify_findings(cli)} == {(ahead, 7)}
    r = cli("repair", "--reason", "alice's clock was fast")
    assert r.code == 0, r.err
    assert later[:10] in r.out
    report = json.loads(cli("verify", "--json").out)
    assert report["ok"] and [s["commit"] for s in report["swept"]] == [later]
    assert [(a["commit"], a["rule"]) for a in report["acknowledged"]] == [(ahead, 7)]


def test_an_extra_rule_a_keyless_walk_cannot_check_never_undoes_a_revoke(cli, store, bob):
    """attack18 P1: a repair naming a revoke for its date and for a lying fingerprint (which
    a walk without the key cannot check) skipped the date rule in keyless clones."""
    from envtrail.audit.repairs import sweep_plan
    from envtrail.audit.view import StoreView

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    revoke = head(store)
    view = StoreView(GitRepo(store))
    named = {(revoke, "7"), (revoke, "3")}
    keyless = sweep_plan(view, [revoke], named, {(revoke, "7")}, bob.principal, reason="r",
                         unchecked=lambda commit: True)
    assert keyless is None
    setv(cli, "K", "v")  # a change of values only may be taken on that word
    change = head(store)
    plan = sweep_plan(StoreView(GitRepo(store)), [change], {(change, "3")}, set(),
                      "alice@example.com", reason="r", unchecked=lambda commit: True)
    assert plan is not None and plan.unseen == ((change, "3"),)


def test_a_late_clone_takes_a_date_finding_on_a_commit_dated_ahead_of_its_parent(cli, store):
    """attack18 P2, P5: an honest repair of a forgery dated 16 minutes ahead, written after
    that date, was refused by every clone that met the forgery late (it saw no rule 7).
    Judged by the forgery's own dates, every clone agrees."""
    from envtrail.audit.repairs import sweep_plan
    from envtrail.audit.view import StoreView

    setv(cli, "K", "v1")
    clean = head(store)
    forged = dated_commit(store, clean, 16 * 60, "a forgery dated ahead")
    view = StoreView(GitRepo(store))
    named = {(forged, "1"), (forged, "7")}
    late = sweep_plan(view, [forged], named, {(forged, "1")}, "alice@example.com", reason="r")
    early = sweep_plan(view, [forged], named, named, "alice@example.com", reason="r")
    assert late is not None and late.unseen == ((forged, "7"),)
    assert early is not None and early.unseen == ()
    # Dated in its parent's second, no clone could have seen it ahead.
    close = dated_commit(store, clean, 0, "a forgery")
    assert sweep_plan(view, [close], {(close, "1"), (close, "7")}, {(close, "1")},
                      "alice@example.com", reason="r") is None


def test_a_hand_made_repair_of_a_revoke_dated_ahead_is_refused_by_the_walk(cli, store, bob):
    """What `repair` refuses to write (the test above), the walk refuses when an admin
    writes it by hand: a revoke whose only finding is its date stays undone by no repair,
    whether this clone met it early (pending) or late (dated ahead of its parent)."""
    from datetime import UTC, datetime

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    clean = head(store)
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    g = GitRepo(store)
    revoke = head(store)
    info = g.info(revoke)
    skewed = create_commit(g, [clean], {}, info.message,
                           Author("alice@example.com", "alice@example.com",
                                  info.committer_time + timedelta(minutes=20)),
                           signer_for(cli.identity.identity), tree=g.repo[g.tree_id(revoke)].id)
    move_branch(g, g.branch(), revoke, skewed, "a fast clock")
    git(store, "reset", "-q", "--hard", skewed)
    repair = _hand_repair(store, cli.identity, clean, [(skewed, "7")],
                          datetime.now(UTC).replace(microsecond=0))
    _refused_repair(cli, store, repair)
    assert cli.as_(bob)("get", "K", "--env", "production").code != 0


def test_a_date_is_no_way_around_the_writers_of_an_environment(cli, store, bob):
    """attack18 P3 (the rest of it): production's writers are bob alone, so alice may
    neither set nor roll back there; a change of bob's whose only finding is its date
    must not be undone by her repair either, by hand or by `repair`."""
    from datetime import UTC, datetime

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    assert cli("policy", "set", "--env", "production", "--writers", bob.principal,
               "--reason", "bob owns production").code == 0
    clean = head(store)
    now = datetime.now(UTC).replace(microsecond=0)
    bobs = forge.commit_plan(store, bob.identity,
                             forge.honest_plan(store, bob.identity, "production", {"K": "v2"}),
                             when=now + timedelta(minutes=20))
    git(store, "reset", "-q", "--hard", bobs)
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    assert {(f["commit"], f["rule"]) for f in verify_findings(cli)} == {(bobs, 7)}
    before = git(store, "for-each-ref")
    r = cli("repair", "--reason", "bob's clock was fast")
    assert r.code == 5, (r.out, r.err)
    assert "its only finding is its date" in r.err and \
        "writers: alice@example.com may not change production" in r.err, r.err
    assert git(store, "for-each-ref") == before
    repair = _hand_repair(store, cli.identity, clean, [(bobs, "7")], now)
    _refused_repair(cli, store, repair)
    refused(cli, "K")


def test_a_repair_taking_a_date_on_its_word_keeps_to_the_writers_and_reason_rules(
        cli, store, bob):
    """The same where this walk found no date finding (a clone that met bob's change late):
    the repair's author and reason are held to the environment's policy like a rollback's."""
    from envtrail.audit.repairs import sweep_plan
    from envtrail.audit.view import StoreView

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    assert cli("policy", "set", "--env", "production", "--writers", bob.principal,
               "--reason-pattern", "CHG-[0-9]+", "--reason", "CHG-1 change control").code == 0
    clean = head(store)
    bobs = forge.commit_plan(store, bob.identity,
                             forge.honest_plan(store, bob.identity, "production", {"K": "v2"},
                                               reason="CHG-2 new key"),
                             when=GitRepo(store).info(clean).committer_time
                             + timedelta(minutes=11))
    view = StoreView(GitRepo(store))
    named = {(bobs, "7")}
    fine = sweep_plan(view, [bobs], named, set(), bob.principal, reason="CHG-7 undo")
    assert fine is not None and fine.unseen == ((bobs, "7"),)
    assert sweep_plan(view, [bobs], named, set(), bob.principal, reason="undo") is None
    assert sweep_plan(view, [bobs], named, set(), "alice@example.com", reason="CHG-7") is None


def test_a_clone_that_meets_a_forgery_after_its_date_accepts_its_honest_repair(
        cli, store, tmp_path):
    """attack18 P5 end to end: a forgery dated 16 minutes ahead of its parent is repaired at
    once (rules 1 and 7); a clone made after its date has passed sees only rule 1 there, and
    must still take the repair, listing the date as a finding it could not check."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from envtrail.ops.verify import verify

    setv(cli, "K", "v1")
    clean = head(store)
    forged = dated_commit(store, clean, 16 * 60, "a forgery dated ahead")
    point(store, forged)
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    assert {(f["commit"], f["rule"]) for f in verify_findings(cli)} == {(forged, 1), (forged, 7)}
    r = cli("repair", "--reason", "undo the forgery")
    assert r.code == 0, r.err
    late = tmp_path / "late"
    git(tmp_path, "clone", "-q", str(store), str(late))
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=40)
    report = verify(GitRepo(late), replace(forge.runtime(late), clock=lambda: later),
                    cli.identity.identity)
    assert report.ok, report.findings
    acked = {(a.finding.commit, a.finding.rule): a.finding.message for a in report.acknowledged}
    assert set(acked) == {(forged, 1), (forged, 7)}
    assert "not checked here" in acked[(forged, 7)]
    assert "not checked here" not in acked[(forged, 1)]


def test_a_late_clone_accepts_the_repair_of_a_run_of_commits_from_one_fast_clock(
        cli, store, tmp_path):
    """attack19 P12: alice's clock ran 16 minutes fast for two sets a second apart; the
    second is dated a second after its parent, yet only a clone that met it early saw
    it ahead. The honest repair of both must stand in a clone made after their dates."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from envtrail.ops.verify import verify

    setv(cli, "K", "v1")
    me = cli.identity.identity
    fast = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=16)
    first = forge.commit_plan(store, me, forge.honest_plan(store, me, "production", {"K": "v2"}),
                              when=fast)
    second = forge.commit_plan(store, me, forge.honest_plan(store, me, "production",
                                                            {"DB": "d"}),
                               when=fast + timedelta(seconds=1))
    git(store, "reset", "-q", "--hard", second)
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    assert {(f["commit"], f["rule"]) for f in verify_findings(cli)} == {(first, 7), (second, 7)}
    r = cli("repair", "--reason", "alice's clock was fast")
    assert r.code == 0, r.err
    late = tmp_path / "late"
    git(tmp_path, "clone", "-q", str(store), str(late))
    later = fast + timedelta(minutes=30)
    report = verify(GitRepo(late), replace(forge.runtime(late), clock=lambda: later), me)
    assert report.ok, report.findings
    assert {(a.finding.commit, a.finding.rule) for a in report.acknowledged} == \
        {(first, 7), (second, 7)}
    assert all("not checked here" in a.finding.message for a in report.acknowledged)
