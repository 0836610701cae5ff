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


def _verified_from_scratch(cli, store) -> list[dict]:
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    return verify_findings(cli)


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
    forged = unsigned_commit(store, revoke, [revoke], "anything, to have a finding")
    point(store, forged)
    when = GitRepo(store).info(clean).committer_time + timedelta(seconds=1)
    repair = _hand_repair(store, cli.identity, clean, [(revoke, "7"), (forged, "1")], when)
    found = _verified_from_scratch(cli, store)
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found
    refused(cli, "K")
    assert cli.as_(bob)("get", "K", "--env", "production").code == 5


def test_a_repair_names_only_rules_a_walk_found(cli, store):
    setv(cli, "K", "v1")
    clean = head(store)
    forged = unsigned_commit(store, clean, [clean], "an unsigned commit")
    point(store, forged)
    when = GitRepo(store).info(clean).committer_time + timedelta(seconds=1)
    # rule 1 is what the walk finds on it; rule 4 is made up, and log and status would show it
    repair = _hand_repair(store, cli.identity, clean, [(forged, "1"), (forged, "4")], when)
    found = _verified_from_scratch(cli, store)
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found
    git(store, "reset", "-q", "--hard", forged)
    git(store, "update-ref", "refs/heads/main", forged)
    _hand_repair(store, cli.identity, clean, [(forged, "1")], when)
    assert _verified_from_scratch(cli, store) == []


def test_a_change_a_repair_names_as_dated_after_it_is_listed(cli, store):
    """Dated after the repair, a values-only change may be named for rule 7 (a clone that
    met it early saw it ahead), and verify lists it as not checked here, never silently."""
    setv(cli, "K", "v1")
    clean = head(store)
    forged = unsigned_commit(store, clean, [clean], "an unsigned commit")
    point(store, forged)
    base = GitRepo(store).info(clean).committer_time
    honest = forge.commit_plan(store, cli.identity.identity,
                               forge.honest_plan(store, cli.identity.identity, "production",
                                                 {"K": "v2"}), when=base + timedelta(seconds=5))
    _hand_repair(store, cli.identity, clean, [(forged, "1"), (honest, "7")],
                 base + timedelta(seconds=1))
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    r = cli("verify", "--json")
    assert r.code == 0, r.out
    shown = {(a["commit"], a["rule"]): a["message"] for a in json.loads(r.out)["acknowledged"]}
    assert "not checked here" in shown[(honest, 7)], shown


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
