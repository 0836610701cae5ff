"""A rewrite that reaches the old line only through a merge's second parent (attack
round 11, N1): the store line is first parents, so such a line holds none of the old
one, and `--accept-rewrite` must see a new genesis and every lost commit."""

from __future__ import annotations

from test_trust_rewrite_ci import ATTACKER, force_push, outsiders_store

from conftest import Cli, git
from envtrail.audit import checkpoint
from hostile import head, point, setv


def _merge(repo, first: str, second: str) -> str:
    return git(repo, "commit-tree", f"{first}^{{tree}}", "-p", first, "-p", second,
               "-m", "merge").strip()


def test_a_foreign_store_merged_over_the_real_head_is_another_genesis(
        cli, store, tmp_path, make_identity, alice):
    # mallory's own store, a merge whose second parent is the victim's real head, and her
    # own repair acknowledging that merge: her line verifies, and git's ancestry holds the
    # victim's whole line (genesis included), while the store line holds none of it.
    setv(cli, "A", "real")
    assert cli("get", "A", "--env", "production").out == "real"
    pin = checkpoint.load_pin(store)
    fake, mallory = outsiders_store(tmp_path, make_identity, alice)
    m = Cli(fake, mallory)
    git(fake, "fetch", "-q", str(store), "main:refs/victim")
    point(fake, _merge(fake, head(fake), git(fake, "rev-parse", "refs/victim").strip()))
    assert m("repair", "--reason", "ack the merge").code == 0
    assert m("verify").code == 0
    force_push(store, fake)
    r = cli("verify", "--accept-rewrite")
    assert r.code == 5, (r.code, r.out, r.err)
    assert "another genesis" in r.err
    assert checkpoint.load_pin(store) == pin
    r = cli("get", "A", "--env", "production")
    assert r.code == 5 and ATTACKER not in r.out + r.err


def test_commits_reached_only_through_a_second_parent_have_disappeared(cli, store, bob):
    # A grant and a revoke, then a line whose first parent is the state before them and
    # whose second parent is the real head: both are lost, so only --force accepts it.
    setv(cli, "A", "1")
    before = head(store)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    old_head = head(store)
    assert cli("verify").code == 0
    point(store, _merge(store, before, old_head))
    r = cli("verify", "--accept-rewrite")
    assert r.code == 5, (r.code, r.out, r.err)
    assert "drops 2 commit(s)" in r.err, r.err
