"""A re-made proposal keeps its values: one a member revoked since could read is named.

A proposal's values are sealed to the environment's key pair, so every member of it
reads them with `review --reveal`; `propose --redo` and sync re-encrypt the change to
today's keys, but cannot make a revoked member forget the value. The offboarding report
lists it as `(proposed)`; the re-make itself warns, naming variables, never values.
Real keys, real clones.
"""

from __future__ import annotations

from test_sync_refs import make_clones, propose

from conftest import git
from hostile import proposal_id, setv

BOB = "bob@example.com"
CANARY = "sk_live_CANARY_redo_4Kp"
OLD_API = "api-old-CANARY-91"


def test_redo_of_a_proposal_a_revoked_member_could_read_warns_by_name(cli, store, bob):
    for env in ("production", "staging"):
        assert cli("access", "grant", BOB, bob.publine, "--env", env, "--reason", "join").code == 0
    setv(cli, "API_KEY", "api-1")
    # One value new, one the line had: bob could read both in the proposal.
    r = cli("set", "API_KEY", "PAYMENTS_KEY", "--env", "production", "--reason", "rotate",
            "--propose", input=f"API_KEY={OLD_API}\nPAYMENTS_KEY={CANARY}\n")
    assert r.code == 0, r.err
    before = proposal_id(r)
    assert CANARY in cli.as_(bob)("review", before, "--reveal").out
    # A staging proposal while bob stays a member there: nobody who left could read it.
    kept = proposal_id(cli("set", "STAGE_KEY", "--env", "staging", "--reason", "new",
                           "--propose", input="stage-1"))
    assert cli("access", "revoke", BOB, "--env", "production", "--reason", "left").code == 0

    r = cli("propose", "--redo", before)
    assert r.code == 0, r.err
    remade = proposal_id(r)
    warnings = [ln for ln in r.err.splitlines() if ln.startswith("envtrail: warning: ")]
    assert warnings == [
        f"envtrail: warning: proposal {before}: production:API_KEY, production:PAYMENTS_KEY "
        f"could be read in it by {BOB}, no longer a member with that key; the re-made {remade} "
        "keeps the "
        "same values: rotate them before applying"]
    assert CANARY not in r.both and OLD_API not in r.both
    r = cli("propose", "--redo", kept)
    assert r.code == 0, r.err
    assert "warning" not in r.err

    # Made after the revoke: sealed to the new key pair only, even for a name bob read.
    after = proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "again",
                            "--propose", input="api-after"))
    setv(cli, "OTHER", "moves the line", env="staging")
    r = cli("propose", "--redo", after)
    assert r.code == 0, r.err
    assert "warning" not in r.err
    assert cli("verify").code == 0


def test_sync_warns_when_it_re_makes_a_proposal_a_revoked_member_could_read(
        tmp_path, store, cli, bob, make_identity):
    a, b, _c, _bare = make_clones(tmp_path, store, cli, bob, make_identity)
    old = propose(b, key="NEW_SECRET", value=CANARY)  # made while carol is a member
    assert a("access", "revoke", "carol@example.com", "--env", "production",
             "--reason", "left", "--break-glass").code == 0
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {old}: re-made as" in r.out
    remade = git(b.cwd, "for-each-ref", "--format=%(refname:lstrip=3)",
                 "refs/envtrail/proposals/").split()
    assert r.err.splitlines() == [
        f"envtrail: warning: proposal {old}: production:NEW_SECRET could be read in it by "
        f"carol@example.com, no longer a member with that key; the re-made {remade[0]} keeps "
        "the same "
        "value: rotate it before applying"]
    assert CANARY not in r.both
    # Re-made across a rotation that removed nobody: no warning.
    r = b("set", "LATER", "--env", "staging", "--reason", "new", "--propose", input="later")
    assert r.code == 0, r.err
    later = proposal_id(r)
    assert a("access", "rotate", "--env", "staging", "--reason", "yearly").code == 0
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {later}: re-made as" in r.out and "staging got a new key pair" in r.out
    assert "warning" not in r.err


def test_redo_warns_when_the_line_already_holds_the_value_a_former_reader_saw(cli, store, bob):
    """attack17 B: nothing left to re-make (the same value landed by break-glass), yet the
    value on the line is the one bob could read in the proposal."""
    assert cli("access", "grant", BOB, bob.publine, "--env", "production", "--reason",
               "join").code == 0
    old = proposal_id(cli("set", "STRIPE_KEY", "--env", "production", "--reason", "new",
                          "--propose", input=CANARY))
    assert cli("access", "revoke", BOB, "--env", "production", "--reason", "left").code == 0
    setv(cli, "STRIPE_KEY", CANARY)
    r = cli("propose", "--redo", old)
    assert r.code == 0, r.err
    assert [ln for ln in r.err.splitlines() if ln.startswith("envtrail: warning: ")] == [
        f"envtrail: warning: proposal {old}: production:STRIPE_KEY could be read in it by "
        f"{BOB}, no longer a member with that key; the line now holds the same value: "
        "rotate it"]
    assert CANARY not in r.both


def test_redo_warns_of_a_readers_old_key_after_a_re_grant_with_a_new_one(cli, store, bob,
                                                                         make_identity):
    """attack17 C: bob's laptop is stolen, he is revoked and granted again with a new key:
    still a member by name, but the old key opens the old proposal."""
    assert cli("access", "grant", BOB, bob.publine, "--env", "production", "--reason",
               "join").code == 0
    old = proposal_id(cli("set", "STRIPE_KEY", "--env", "production", "--reason", "new",
                          "--propose", input=CANARY))
    assert cli("access", "revoke", BOB, "--env", "production", "--reason", "stolen").code == 0
    laptop = make_identity(BOB)
    assert cli("access", "grant", BOB, laptop.publine, "--env", "production", "--reason",
               "new laptop").code == 0
    r = cli("propose", "--redo", old)
    assert r.code == 0, r.err
    remade = proposal_id(r)
    assert [ln for ln in r.err.splitlines() if ln.startswith("envtrail: warning: ")] == [
        f"envtrail: warning: proposal {old}: production:STRIPE_KEY could be read in it by "
        f"{BOB}, no longer a member with that key; the re-made {remade} keeps the same "
        "value: rotate it before applying"]
