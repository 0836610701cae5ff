"""grant, revoke (rotation, expiry, offboarding report), rotate, access list/log."""

import json
import os
from pathlib import Path

import pytest

from conftest import Cli, assert_one_line_error, git


def setv(cli, key, value, env="production"):
    r = cli("set", key, "--env", env, "--reason", "r", input=value)
    assert r.code == 0, r.err


def grant(cli, who, env="production"):
    r = cli("access", "grant", who.principal, who.publine, "--env", env, "--reason", "join")
    assert r.code == 0, r.err


@pytest.fixture
def team(cli, store, bob):
    setv(cli, "EARLY", "e1")
    grant(cli, bob)
    grant(cli, bob, "staging")
    setv(cli, "DB", "db1")
    setv(cli, "STG", "s1", env="staging")
    return store


def test_grant_lets_a_member_read_and_write(cli, team, bob):
    b = cli.as_(bob)
    assert b("get", "EARLY", "--env", "production").out == "e1"
    setv(b, "BOBS", "b1")
    assert cli("get", "BOBS", "--env", "production").out == "b1"
    assert "bob@example.com" in (team / ".envtrail/allowed_signers").read_text()
    assert cli("verify").code == 0


def test_only_admins_grant(cli, team, bob, make_identity):
    carol = make_identity("carol@example.com")
    r = cli.as_(bob)("access", "grant", carol.principal, carol.publine, "--env", "production",
                     "--reason", "x")
    assert r.code == 4
    assert "only an admin" in r.err


def test_a_grant_never_puts_a_second_key_on_a_signers_name(cli, team, bob, make_identity):
    # bob signs with his key. A grant of another key under his name (a typo, or a key
    # someone else holds) must neither seat it nor open a second line for him: one
    # person signs with one key. Exit 2, nothing written.
    other = make_identity("bob@example.com")
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "grant", "bob@example.com", other.publine, "--env", "staging",
            "--reason", "x")
    assert_one_line_error(r, 2)
    assert "already a signer with another key" in r.err
    assert git(team, "rev-parse", "HEAD") == before
    assert other.publine.split()[1] not in (team / ".envtrail/allowed_signers").read_text()


def test_a_grant_never_seats_another_signers_key_under_a_new_name(cli, team, bob):
    """attack19 P3: alice pastes bob's public key for dave. verify calls one key on two
    lines a finding, and the seat would hand staging's key pair to bob: refused before
    anything is written (exit 2), whether bob's line is open or closed."""
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "grant", "dave@example.com", bob.publine, "--env", "staging",
            "--reason", "x")
    assert_one_line_error(r, 2)
    assert "that key is bob@example.com's" in r.err
    assert git(team, "rev-parse", "HEAD") == before
    for env in ("production", "staging"):
        assert cli("access", "revoke", bob.principal, "--env", env, "--reason", "left").code == 0
    head = git(team, "rev-parse", "HEAD")
    r = cli("access", "grant", "dave@example.com", bob.publine, "--env", "staging",
            "--reason", "x")
    assert_one_line_error(r, 2)
    assert git(team, "rev-parse", "HEAD") == head
    assert cli("verify").code == 0


def test_granting_an_offboarded_signer_back_says_their_key_signs_again(cli, team, bob,
                                                                      make_identity):
    """attack19 note: re-granting someone whose key an offboarding closed (a stolen laptop)
    silently re-opened it; the grant now says so, while a first grant says nothing."""
    for env in ("production", "staging"):
        assert cli("access", "revoke", bob.principal, "--env", env, "--reason", "left").code == 0
    r = cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
            "--reason", "back")
    assert r.code == 0, r.err
    assert "bob@example.com's key was closed at " in r.err and "sign again" in r.err
    carol = make_identity("carol@example.com")
    r = cli("access", "grant", carol.principal, carol.publine, "--env", "staging",
            "--reason", "join")
    assert r.code == 0 and "closed" not in r.err


def _negated(publine: str) -> str:
    """The same key with the sign bit of x flipped: another Ed25519 key, the same X25519 one."""
    import base64

    kind, data = publine.split()[:2]
    blob = bytearray(base64.b64decode(data))
    blob[-1] ^= 0x80
    return f"{kind} {base64.b64encode(bytes(blob)).decode()}"


def test_a_grant_refuses_a_key_that_opens_another_signers_boxes(cli, team, bob):
    """attack20 Q4: bob's key negated (one bit) is another signing key but the same box
    key: seated as dave's, it let bob read staging under another name."""
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "grant", "dave@example.com", _negated(bob.publine), "--env", "staging",
            "--reason", "dave joins")
    assert_one_line_error(r, 2)
    assert "that key is bob@example.com's" in r.err
    assert git(team, "rev-parse", "HEAD") == before


def test_verify_finds_two_signers_whose_keys_open_the_same_boxes(cli, team, bob):
    """The same, written by hand past `access grant`: a finding on the commit that adds it."""
    from envtrail.format import signers
    from envtrail.gitstore.repo import GitRepo
    from hostile import message, point, signed_commit

    g = GitRepo(team)
    lines = signers.parse(g.read(g.head(), ".envtrail/allowed_signers"))
    dave = signers.Signer("dave@example.com", _negated(bob.publine))
    forged = signed_commit(team, cli.identity.identity, "alice@example.com", [g.head()],
                           {".envtrail/allowed_signers": signers.render([*lines, dave])},
                           message("grant", "alice@example.com", env="staging"))
    point(team, forged)
    r = cli("verify", "--json")
    found = [f for f in json.loads(r.out)["findings"] if f["commit"] == forged]
    assert any(f["rule"] == 1 and "the keys of bob@example.com and dave@example.com open the "
               "same sealed boxes" in f["message"] for f in found), found


def test_a_grant_refuses_a_key_that_is_no_curve_point(cli, team, tmp_path):
    """attack19 P5: a well-formed ssh-ed25519 line whose 32 bytes are no point of the curve
    (ssh-keygen -l takes it) crashed the grant (exit 1, a RuntimeError); it is bad input."""
    import base64
    import struct

    import nacl.bindings

    raw = next(bytes([i]) * 32 for i in range(256) if not _converts(nacl.bindings, bytes([i]) * 32))
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + raw
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "grant", "dave@example.com", f"ssh-ed25519 {base64.b64encode(blob).decode()}",
            "--env", "staging", "--reason", "x")
    assert_one_line_error(r, 2)
    assert "not a usable public key: the key is not a point on the Ed25519 curve" in r.err
    assert git(team, "rev-parse", "HEAD") == before


def _converts(bindings, raw: bytes) -> bool:
    try:
        bindings.crypto_sign_ed25519_pk_to_curve25519(raw)
    except Exception:
        return False
    return True


def test_granting_a_member_their_own_key_again_writes_nothing(cli, team, bob):
    # A repeated grant (a retried script) must not write a commit that changes nothing,
    # nor re-seal or re-open anything.
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "grant", "bob@example.com", bob.publine, "--env", "staging",
            "--reason", "again")
    assert r.code == 0, r.err
    assert "already a member of staging: nothing changed" in r.out
    assert git(team, "rev-parse", "HEAD") == before


def test_revoke_refuses_a_stranger_and_the_last_member(cli, team):
    # Revoking someone who is no member must not rotate (and log a revocation) anyway;
    # revoking an environment's last member would leave it readable by nobody.
    assert cli("env", "add", "qa", "--reason", "new").code == 0
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "revoke", "carol@example.com", "--env", "staging", "--reason", "x")
    assert_one_line_error(r, 3)
    assert "carol@example.com is not a member of staging" in r.err
    r = cli("access", "revoke", "alice@example.com", "--env", "qa", "--reason", "x")
    assert_one_line_error(r, 2)
    assert "last member of qa" in r.err
    assert git(team, "rev-parse", "HEAD") == before


@pytest.mark.parametrize("action", ["grant", "revoke"])
def test_grant_and_revoke_refuse_malformed_names_and_reasons(cli, team, bob, action):
    # A principal is written into allowed_signers as the first field of a line: a space
    # or line break in it would smuggle options or a whole second line (another key for
    # another name) past the admin. A bad environment name or a multi-line reason must
    # not reach a path or a trailer either. Exit 2, nothing written.
    key = (bob.publine,) if action == "grant" else ()
    smuggled = f"bob@example.com\nmallory@example.com {bob.publine.split(' ', 1)[1]}"
    before = git(team, "rev-parse", "HEAD")
    for who, env, reason in ((smuggled, "staging", "x"),
                             ("bob@example.com cert-authority", "staging", "x"),
                             ("bob@example.com", "../staging", "x"),
                             ("bob@example.com", "staging", "join\nEnvtrail-Action: init")):
        r = cli("access", action, who, *key, "--env", env, "--reason", reason)
        assert_one_line_error(r, 2)
    assert git(team, "rev-parse", "HEAD") == before


def test_only_admins_revoke_and_only_where_policy_lets_them_write(cli, team, bob):
    # A member who is no admin must not lock another member out (revoke rotates the
    # keys away from them); and an admin's revoke is a write the environment's policy
    # judges like any other (here: a reason it requires). Exit 4, nothing written.
    before = git(team, "rev-parse", "HEAD")
    r = cli.as_(bob)("access", "revoke", "alice@example.com", "--env", "staging",
                     "--reason", "x")
    assert_one_line_error(r, 4)
    assert "only an admin" in r.err
    assert git(team, "rev-parse", "HEAD") == before
    assert cli("policy", "set", "--env", "staging", "--require-reason",
               "--reason", "audit").code == 0
    before = git(team, "rev-parse", "HEAD")
    r = cli("access", "revoke", "bob@example.com", "--env", "staging")
    assert_one_line_error(r, 4)
    assert "policy refused" in r.err
    assert git(team, "rev-parse", "HEAD") == before


def test_revoke_rotates_and_locks_out(cli, team, bob):
    b = cli.as_(bob)
    old_pub = (team / "envs/production.yaml").read_text().split("public_key: ")[1].split()[0]
    r = cli("access", "revoke", "bob@example.com", "--env", "production", "--reason", "left")
    assert r.code == 0, r.err
    assert (team / "envs/production.yaml").read_text().split("public_key: ")[1].split()[0] != old_pub
    msg = git(team, "log", "-1", "--format=%B")
    assert "Envtrail-Action: revoke" in msg
    # the rotation records how every fingerprint maps across it
    assert sorted(ln.split()[2] for ln in msg.splitlines() if ln.startswith("Envtrail-Change: ~")) == [
        "DB", "EARLY"]
    # current values: denied; and writes: denied
    assert b("get", "DB", "--env", "production").code == 4
    assert b("set", "X", "--env", "production", "--reason", "r", input="x").code == 4
    # still a member of staging, so still a valid signer
    assert "valid-before" not in (team / ".envtrail/allowed_signers").read_text()
    # a new value after the revoke is out of reach too
    setv(cli, "NEW", "n1")
    assert b("get", "NEW", "--env", "production").code == 4
    assert cli("verify").code == 0


def test_offboarding_report_lists_exactly_what_could_be_read(cli, team, bob):
    r = cli("access", "revoke", "bob@example.com", "--env", "production", "--reason", "left",
            "--json")
    assert r.code == 0, r.err
    report = {e["environment"]: e for e in json.loads(r.out)["report"]}
    # EARLY predates bob but was under the key pair he held; NEW (below) never is.
    assert report["production"]["variables"] == ["DB", "EARLY"]
    assert report["staging"]["variables"] == ["STG"]
    periods = report["production"]["periods"]
    assert len(periods) == 1
    assert periods[0]["granted_by"] == "alice@example.com"
    assert periods[0]["revoked_why"] == "left"
    setv(cli, "NEW", "n1")
    plain = cli("access", "revoke", "bob@example.com", "--env", "staging", "--reason", "gone")
    assert plain.code == 0, plain.err
    assert "Offboarding report for bob@example.com" in plain.out
    assert "    NEW" not in plain.out
    assert "    DB" in plain.out and "    STG" in plain.out


def test_revoked_everywhere_expires_signer_and_old_commits_still_verify(cli, team, bob):
    setv(cli.as_(bob), "BOBS", "b1")
    for env in ("production", "staging"):
        assert cli("access", "revoke", "bob@example.com", "--env", env, "--reason", "left").code == 0
    signers = (team / ".envtrail/allowed_signers").read_text()
    bob_line = next(ln for ln in signers.splitlines() if ln.startswith("bob@example.com"))
    assert 'valid-before="' in bob_line
    assert cli("verify").code == 0  # bob's past commit still verifies
    for c in git(team, "rev-list", "HEAD").split():
        git(team, "verify-commit", c)  # and git agrees, valid-before and all
    b = cli.as_(bob)
    assert b("set", "X", "--env", "staging", "--reason", "r", input="x").code == 4


def test_revoked_member_gains_nothing_from_a_rollback(cli, team, bob):
    before = git(team, "rev-parse", "HEAD").strip()
    assert cli("access", "revoke", "bob@example.com", "--env", "production", "--reason", "x").code == 0
    setv(cli, "DB", "db2")
    r = cli("rollback", "--env", "production", "--to", before, "--reason", "restore")
    assert r.code == 0, r.err
    assert cli("get", "DB", "--env", "production").out == "db1"
    assert cli.as_(bob)("get", "DB", "--env", "production").code == 4
    assert cli.as_(bob)("rollback", "--env", "production", "--to", before, "--reason", "x").code == 4
    assert cli("verify").code == 0


def test_rotate_keeps_values_and_members(cli, team, bob):
    old = (team / "envs/production.yaml").read_text()
    r = cli("access", "rotate", "--env", "production", "--reason", "yearly")
    assert r.code == 0, r.err
    new = (team / "envs/production.yaml").read_text()
    assert old.split("public_key: ")[1].split()[0] != new.split("public_key: ")[1].split()[0]
    assert cli.as_(bob)("get", "DB", "--env", "production").out == "db1"
    assert "Envtrail-Action: rotate" in git(team, "log", "-1", "--format=%B")
    masked = cli("diff", "--env", "production", "HEAD~1").out
    assert masked == ""  # same values: a rotation is not a change of any value
    assert cli("verify").code == 0


def test_a_member_who_is_no_admin_cannot_rotate(cli, team, bob):
    # Verify asks an admin for a new key pair (rule 5); a member's rotation used to land,
    # be vouched for by her own clone, and then stop every other clone's reads.
    from conftest import assert_one_line_error

    before = git(team, "rev-parse", "HEAD")
    r = cli.as_(bob)("access", "rotate", "--env", "production", "--reason", "yearly")
    assert_one_line_error(r, 4)
    assert "only an admin" in r.err
    assert git(team, "rev-parse", "HEAD") == before
    assert cli("verify").code == 0


def test_access_list_and_log(cli, team, bob):
    listed = json.loads(cli("access", "list", "--json").out)
    assert {(m["environment"], m["principal"]) for m in listed["members"]} == {
        ("production", "alice@example.com"), ("production", "bob@example.com"),
        ("staging", "alice@example.com"), ("staging", "bob@example.com")}
    assert [(s["principal"], s["admin"]) for s in listed["signers"]] == [
        ("alice@example.com", True), ("bob@example.com", False)]
    cli("access", "revoke", "bob@example.com", "--env", "production", "--reason", "moved teams")
    periods = json.loads(Cli(team, None)("access", "log", "--env", "production", "--json").out)
    assert [(p["principal"], p["granted_by"], p["revoked_why"]) for p in periods] == [
        ("alice@example.com", "alice@example.com", None),
        ("bob@example.com", "alice@example.com", "moved teams")]
    assert periods[1]["revoked_at"] is not None


def test_admin_changes_are_signers_commits(cli, team, bob):
    r = cli("access", "admin", "bob@example.com", "--reason", "second admin")
    assert r.code == 0, r.err
    assert "Envtrail-Action: signers" in git(team, "log", "-1", "--format=%B")
    assert cli.as_(bob)("access", "admin", "alice@example.com", "--remove", "--reason", "x").code == 0
    r = cli.as_(bob)("access", "admin", "bob@example.com", "--remove", "--reason", "x")
    assert r.code == 2 and "without an admin" in r.err
    assert cli("access", "admin", "bob@example.com", "--reason", "x").code == 4  # alice no longer admin
    assert cli("verify").code == 0


def test_grant_reads_a_public_key_file_named_from_home(cli, store, bob):
    """review15 S2: `~/...` was joined to the working folder before being expanded, so it
    never expanded: the file under the home folder was "not found" (exit 3)."""
    keys = Path(os.environ["HOME"]) / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "bob.pub").write_text(bob.publine + "\n")
    r = cli("access", "grant", bob.principal, "~/keys/bob.pub", "--env", "production",
            "--reason", "join")
    assert r.code == 0, r.err
    assert bob.publine.split()[1] in (store / ".envtrail/allowed_signers").read_text()
