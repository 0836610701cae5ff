"""Rule 5 judges a rotation by what its tree does: every value re-encrypted to its
previous plaintext under the new key pair, no variable added or dropped, none left
under the old key. Each forged rotation is signed by the admin, so only these
checks stand between it and the line."""

from __future__ import annotations

import pytest

from envtrail.audit.keyring import Keyring
from envtrail.audit.record import Record
from envtrail.audit.verify import Verifier
from envtrail.audit.view import StoreView
from envtrail.crypto.keys import PublicKey
from envtrail.crypto.seal import Decryptor, Encryptor, EnvKeys, b64
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile, Member
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change
from envtrail.ops.members import decrypt_one, open_keys
from envtrail.ops.txn import Plan
from forge import commit_plan
from hostile import setv


def forged_rotation(store, identity, *, swap=None, drop=None, keep_old=None, version=None,
                    seat=None, blind=(), stale=()):
    """What ``access rotate`` writes, with one lie: a changed plaintext, a dropped
    variable, a ciphertext left under the old key pair, an older format, or the seats of
    the ``blind`` principals sealed to a throw-away key, or the ``stale`` ones' copied
    from the old file (they open, to the old key pair)."""
    g = GitRepo(store)
    env = StoreView(g).env_at(g.head(), "production")
    old_keys = open_keys(env, identity)
    dec = Decryptor(old_keys, "production")
    new_keys = EnvKeys.generate()
    version = version or envfile.FORMAT_VERSION
    enc = Encryptor(new_keys.public, "production", version)
    values, changes = {}, []
    for name in sorted(env.values):
        if name == drop:
            continue
        real = decrypt_one(env, old_keys, dec, name)
        plain = "forged" if name == swap else real
        values[name] = env.values[name] if name == keep_old else str(enc.encrypt(name, plain))
        changes.append(Change("~", name, old_keys.fingerprint(env.version, "production", name, real),
                              new_keys.fingerprint(version, "production", name, plain)))
    members = {p: Member(p, m.key, new_keys.seal_to(
        PublicKey.parse(m.key)[0] if p not in blind else make_throwaway()))
               for p, m in env.members.items()}
    members.update({p: env.members[p] for p in stale})
    if seat is not None:  # an admin may seat someone new along with the new key pair
        members[seat.principal] = Member(seat.principal, seat.identity.public.openssh,
                                         new_keys.seal_to(seat.identity.public))
    new = EnvFile("production", b64(new_keys.public), members, values, version)
    rec = Record("rotate", "alice@example.com", "yearly", ("production",), tuple(changes))
    return commit_plan(store, identity, Plan({envfile.path_for("production"): envfile.render(new)}, rec))


def make_throwaway() -> PublicKey:
    """A public key nobody on the team holds the private half of."""
    from envtrail.crypto.keys import Identity

    return Identity.generate("nobody@example.com").public


def rule5(store, commit, identity=None):
    g = GitRepo(store)
    found = Verifier(StoreView(g), Keyring(identity)).check(g.info(commit))
    return sorted(f.message for f in found if f.rule == 5), sorted(f.rule for f in found)


@pytest.fixture
def values(cli, store):
    setv(cli, "A", "1")
    setv(cli, "B", "2")
    return store


def test_an_honest_rotation_is_clean_with_a_key(values, alice):
    commit = forged_rotation(values, alice.identity)
    assert rule5(values, commit, alice.identity) == ([], [])
    assert rule5(values, commit) == ([], [])


def test_a_rotation_that_changes_a_value_is_caught_with_a_key(values, alice):
    commit = forged_rotation(values, alice.identity, swap="B")
    messages, _ = rule5(values, commit, alice.identity)
    assert messages == ["production: B changed value under a new key pair (a rotation re-encrypts, "
                        "never changes)"]


def test_a_rotation_that_drops_a_variable_is_rule_5(values, alice):
    commit = forged_rotation(values, alice.identity, drop="A")
    messages, _ = rule5(values, commit)
    assert messages == ["production: a new key pair that adds or drops variables"]


def test_a_rotation_that_leaves_a_value_under_the_old_key_is_rule_5(values, alice):
    commit = forged_rotation(values, alice.identity, keep_old="A")
    messages, _ = rule5(values, commit)
    assert messages == ["production: a new key pair leaves values encrypted to the old one"]


def test_a_rotation_back_to_format_1_is_rule_5(values, alice):
    """A new key pair is the one way to change format, and only forward: a rotation to
    format 1 would bring back 48-bit fingerprints that can be ground."""
    commit = forged_rotation(values, alice.identity, version=1)
    for identity in (None, alice.identity):
        messages, _ = rule5(values, commit, identity)
        assert messages == ["production: format 2 -> 1 without a rotation to a newer format"]


def test_a_member_seated_by_a_rotation_is_judged_on_what_he_can_open(values, alice, bob):
    """bob can open the new key pair but not the old one: the rotation's values are
    unchecked for him (and said to be), not reported as changed."""
    commit = forged_rotation(values, alice.identity, seat=bob)
    # (Seating someone is no rotation: that the label is rule 3's, not this test's.)
    # (Nor is seating someone with no signing key of theirs: rule 5's, not this test's.)
    seated = "Envtrail-Action rotate, but it seats bob@example.com in production"
    unsigned = "it seats bob@example.com in production with a key that is not their open " \
               "signing key"
    assert rule5(values, commit, alice.identity) == ([unsigned], [3, 5])
    g = GitRepo(values)
    verifier = Verifier(StoreView(g), Keyring(bob.identity))
    assert [f.message for f in verifier.check(g.info(commit))] == [seated, unsigned]
    assert verifier.unkeyed == {"production"}


def test_a_seat_sealed_to_another_key_is_a_finding_for_its_member(cli, values, alice, bob):
    """attack24 U1: an admin rotates once with bob's seat sealed to a throw-away key, then
    again with every seat right and B changed. No key but the admin's opens both sides of
    either rotation, so rule 5's keyed check never ran for bob, and his verify said ok
    (his skipped commits filed as "before your seat") while get served the forged B."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    blinded = forged_rotation(values, alice.identity, blind={bob.principal})
    planted = forged_rotation(values, alice.identity, swap="B")
    assert rule5(values, blinded, bob.identity)[0] == [
        "production: bob@example.com's seat does not open with their key to this key pair"]
    assert rule5(values, blinded, alice.identity) == ([], [])  # the admin's own seat opens
    assert rule5(values, planted, bob.identity) == ([], [])  # nothing here bob could check
    as_bob = cli.as_(bob)
    r = as_bob("verify")
    assert r.code == 1 and f"{blinded[:10]} rule 5 (admin)" in r.out
    r = as_bob("get", "B", "--env", "production")
    assert r.code == 5 and "forged" not in r.both


def test_an_approver_whose_seat_a_proposed_rotation_blinds_does_not_approve_it(
        cli, store, bob, monkeypatch):
    """attack24 U1b: with approvals required, the blinding rotation was proposed and the
    approver it blinded approved it (only `review --reveal` hinted at it). Her approval is
    now judged with her key first."""
    from dataclasses import replace

    from envtrail.ops import access
    from hostile import proposal_id

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "admin", bob.principal, "--reason", "second admin").code == 0
    setv(cli, "A", "1")
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "two people").code == 0
    real = access.rotated

    def blinding(env, identity, members):
        new, changes = real(env, identity, members)
        seat = new.members["alice@example.com"]
        junk = EnvKeys.generate().seal_to(make_throwaway())
        return replace(new, members={**new.members, seat.principal: replace(seat, sealed=junk)}), \
            changes

    monkeypatch.setattr(access, "rotated", blinding)
    r = cli.as_(bob)("access", "rotate", "--env", "production", "--reason", "quarterly",
                     "--propose")
    assert r.code == 0, r.err
    pid = proposal_id(r)
    before = git_ref(store, pid)
    # `review` judges it with the reviewer's key as well, so she learns it before approving.
    shown = cli("review", pid)
    assert shown.code == 0, shown.err
    assert "does not verify:" in shown.out and "seat does not open" in shown.out, shown.out
    r = cli("approve", pid, "--reason", "looks fine")
    assert r.code == 5, r.err
    assert "does not verify: " in r.err and "with your key" in r.err and "seat does not open" in r.err
    assert git_ref(store, pid) == before  # nothing approved


def git_ref(store, pid):
    from conftest import git

    return git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()


def test_a_seat_kept_from_the_old_key_pair_is_a_finding_for_its_member(cli, values, alice,
                                                                      bob):
    """attack25 V1: the blinding rotation copied bob's old seat byte for byte: it opens
    with his key, to the old key pair, and so was no new seat to judge; the next rotation
    then changed B unseen, as in U1."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    blinded = forged_rotation(values, alice.identity, stale={bob.principal})
    assert rule5(values, blinded, bob.identity)[0] == [
        "production: bob@example.com's seat does not open with their key to this key pair"]
    forged_rotation(values, alice.identity, swap="B")
    r = cli.as_(bob)("get", "B", "--env", "production")
    assert r.code == 5 and "forged" not in r.both
