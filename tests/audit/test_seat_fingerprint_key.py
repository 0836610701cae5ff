"""attack36 F1: a seat is an environment's private key *and* its fingerprint key, sealed
to one member. An admin who seals the right private key with another fingerprint key
gets a seat that opens: nothing flagged it, its member's walk then called every honest
change a lie (so they could read nothing), and what they wrote first read as their lie in
every other keyed clone. Only that member can open the seat, so only their walk can
tell: it now checks a new seat against the fingerprints the line recorded."""

from __future__ import annotations

import os
from dataclasses import replace

from conftest import git
from envtrail.audit.keyring import Keyring
from envtrail.audit.verify import Verifier
from envtrail.audit.view import StoreView
from envtrail.crypto.seal import EnvKeys
from envtrail.format import envfile, layout
from envtrail.format.envfile import Member
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.members import open_keys
from hostile import head, point, setv, signed_commit, verify_findings

SEAT = "bob@example.com's seat opens with another fingerprint key"


def _seat_with_another_fingerprint_key(store, alice, bob, env: str = "production") -> str:
    """The head commit (one that seats bob) made again, before anyone saw it, with bob's
    seat holding the key pair's private key and a fingerprint key of alice's choosing."""
    g = GitRepo(store)
    honest = g.head()
    info = g.info(honest)
    path = envfile.path_for(env)
    file = StoreView(g).env_at(honest, env)
    keys = open_keys(file, alice.identity)
    other = EnvKeys(keys.private, os.urandom(32))
    seat = file.members[bob.principal]
    forged_file = replace(file, members={**file.members, bob.principal: Member(
        seat.principal, seat.key, other.seal_to(bob.identity.public))})
    # On the parent's tree: the honest commit's files, bob's seat swapped.
    files = {p: g.read(honest, p) for p in (path, layout.SIGNERS)}
    forged = signed_commit(store, alice.identity, alice.principal, list(info.parents),
                           {**files, path: envfile.render(forged_file)}, info.message,
                           when=info.committer_time)
    point(store, forged)
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    return forged


def _grant(cli, who, env: str = "production") -> None:
    assert cli("access", "grant", who.principal, who.publine, "--env", env,
               "--reason", "joins").code == 0


def _rule5(store, commit, identity) -> list[str]:
    g = GitRepo(store)
    found = Verifier(StoreView(g), Keyring(identity)).check(g.info(commit))
    return [f.message for f in found if f.rule == 5]


def test_a_new_seat_with_another_fingerprint_key_is_a_finding_in_its_members_walk(
        cli, store, alice, bob):
    setv(cli, "A", "1")
    setv(cli, "B", "2")
    _grant(cli, bob)
    forged = _seat_with_another_fingerprint_key(store, alice, bob)
    assert any(SEAT in m for m in _rule5(store, forged, bob.identity))
    assert _rule5(store, forged, alice.identity) == []  # no other key can tell
    setv(cli, "A", "3")  # alice's honest change after it: hers, and no lie
    as_bob = cli.as_(bob)
    r = as_bob("verify")
    assert r.code == 1 and f"{forged[:10]} rule 5 (admin)" in r.out and SEAT in r.out
    # Before, the forged grant verified and alice's honest change was the first finding:
    # a lie, as bob's key computes it (and still is, after the finding that explains it).
    assert r.out.index(f"{forged[:10]} rule 5") < r.out.index(f"{head(store)[:10]} rule 3")
    assert as_bob("get", "A", "--env", "production").code == 5
    # bob cannot write the change that everyone else would read as his lie.
    before = head(store)
    assert as_bob("set", "B", "--env", "production", "--reason", "r", input="9").code == 5
    assert head(store) == before


def test_a_seat_sealed_again_with_another_fingerprint_key_is_a_finding(cli, store, alice, bob):
    """In an environment with no value yet only the key bob held before can tell."""
    _grant(cli, bob)
    g = GitRepo(store)
    honest = g.head()
    # The same grant on top of the honest one: bob's seat sealed again, another fingerprint key.
    point(store, signed_commit(store, alice.identity, alice.principal, [honest], {},
                               g.info(honest).message, tree_of=honest))
    forged = _seat_with_another_fingerprint_key(store, alice, bob)
    assert GitRepo(store).info(forged).parents == (honest,)
    assert "production: bob@example.com's seat was sealed again with another fingerprint " \
           "key" in _rule5(store, forged, bob.identity)
    assert not any("fingerprint key" in m for m in _rule5(store, forged, alice.identity))


def test_honest_seats_are_never_taken_for_forged_ones(cli, store, alice, bob):
    """A grant after sets, after a rotation that re-encrypted every value (its record is
    the newest fingerprint of each), a revoke and a grant back: bob's walk stays clean."""
    setv(cli, "A", "1")
    setv(cli, "B", "2")
    _grant(cli, bob)
    setv(cli, "A", "3")
    assert cli("access", "rotate", "--env", "production", "--reason", "drill").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "leaves").code == 0
    _grant(cli, bob)  # the revoke's re-encryption is the newest record of each value
    as_bob = cli.as_(bob)
    r = as_bob("verify")
    assert r.code == 0, r.out + r.err
    assert as_bob("get", "A", "--env", "production").out.strip() == "3"


def test_in_an_environment_with_no_values_yet_nothing_can_tell(cli, store, alice, bob):
    """The stated limit (docs/threat-model.md): the file holds no commitment to its
    fingerprint key, so a seat in an environment that holds no value yet cannot be tested."""
    _grant(cli, bob, "staging")
    forged = _seat_with_another_fingerprint_key(store, alice, bob, "staging")
    assert _rule5(store, forged, bob.identity) == []
    assert git(store, "rev-parse", "HEAD").strip() == forged


def _sealed_right_again(store, alice, bob, parent=None, like=None) -> str:
    """A commit on ``parent`` (the head) with ``like``'s files (the parent's), bob's seat
    sealed again with the key pair's own keys, under ``like``'s message."""
    g = GitRepo(store)
    parent = parent or g.head()
    like = like or parent
    file = StoreView(g).env_at(like, "production")
    right = open_keys(file, alice.identity).seal_to(bob.identity.public)
    seat = file.members[bob.principal]
    commit = signed_commit(store, alice.identity, alice.principal, [parent], {
        envfile.path_for("production"): envfile.render(replace(file, members={
            **file.members, bob.principal: Member(seat.principal, seat.key, right)}))},
        g.info(like).message)
    point(store, commit)
    return commit


def test_a_forged_seat_sealed_right_again_is_clean_from_then_on(cli, store, alice, bob):
    """An admin who puts bob's seat right again (the key pair's own fingerprint key) leaves
    the forged seat its finding and nothing after it: what bob's key computed under the
    forged seat is not taken for what it computes now (attack36 N1)."""
    setv(cli, "A", "1")
    _grant(cli, bob)
    forged = _seat_with_another_fingerprint_key(store, alice, bob)
    _sealed_right_again(store, alice, bob)
    setv(cli, "A", "2")
    found = {(f["commit"], f["rule"]) for f in verify_findings(cli.as_(bob))}
    assert (forged, 5) in found
    assert {c for c, _ in found} == {forged}, found


def test_a_seat_is_judged_alike_whatever_the_walk_asked_before(cli, store, alice, bob):
    """review19 R1: the line's record was remembered by the file's values alone, so after a
    value was taken out and put back (with a made-up record) a seat sealed again was
    judged by what the walk had asked at an earlier commit: one answer alone, another
    after the grant. Now the same either way."""
    import re

    setv(cli, "A", "1")
    setv(cli, "B", "2")
    wrote_b = head(store)
    _grant(cli, bob)
    granted = head(store)
    g = GitRepo(store)
    file = StoreView(g).env_at(granted, "production")
    path = envfile.path_for("production")
    said = g.info(wrote_b).message
    out = signed_commit(store, alice.identity, alice.principal, [granted], {
        path: envfile.render(replace(file, values={"A": file.values["A"]}))},
        re.sub(r"Envtrail-Change: \+ B ([0-9a-f]+)", r"Envtrail-Change: - B \1", said))
    made_up = re.sub(r"(Envtrail-Change: \+ B )([0-9a-f]+)",
                     lambda m: m.group(1) + "0" * len(m.group(2)), said)
    back = signed_commit(store, alice.identity, alice.principal, [out],
                         {path: envfile.render(file)}, made_up)
    point(store, back)
    resealed = _sealed_right_again(store, alice, bob)

    def judged(commits):
        verifier = Verifier(StoreView(GitRepo(store)), Keyring(bob.identity))
        return [[f.message for f in verifier.check(GitRepo(store).info(c)) if f.rule == 5]
                for c in commits][-1]

    assert judged([resealed]) == judged([granted, resealed]) == \
        judged([granted, out, back, resealed])


def test_a_seat_sealed_right_again_in_a_commit_that_changes_a_value_is_no_forgery(
        cli, store, alice, bob):
    """review19 R2: the seat was tested over the value the commit wrote, against the
    fingerprint recorded for the value before it."""
    setv(cli, "A", "1")
    setv(cli, "B", "2")
    _grant(cli, bob)
    granted = head(store)
    setv(cli, "B", "7")
    honest = head(store)
    both = _sealed_right_again(store, alice, bob, parent=granted, like=honest)
    assert not any("fingerprint key" in m for m in _rule5(store, both, bob.identity))
