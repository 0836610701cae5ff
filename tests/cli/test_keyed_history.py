"""history, list and blame check the line with the reader's key whenever there is one.

attack12b G8: without --reveal they opened the verified gate keyless even for a reader
holding a key, so a member's commit whose Envtrail-Change claimed an earlier version's
fingerprint ("restore v1") showed as v1 restored, while get and verify refused it. A
reader with no key still reads, and is told the fingerprints were not checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import forge
from conftest import Cli, git
from envtrail.model import Change
from hostile import setv, verify_findings

CANARY = "canary-g8-bob-exfil-endpoint-41d7"
UNCHECKED = "fingerprints not checked: no key to production"


def versions(cli: Cli, key: str = "X") -> list[dict]:
    r = cli("history", key, "--env", "production", "--json")
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


@pytest.fixture
def forged(cli, store, bob):
    """alice sets X to v1 then v2; bob, a production member, lands his own value under a
    trailer that claims X went back to v1's fingerprint. Returns (v1 fp, forged commit)."""
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "on call").code == 0
    setv(cli, "X", "v1-approved")
    setv(cli, "X", "v2")
    v2, v1 = (row["fingerprint"] for row in versions(cli))
    plan = forge.honest_plan(store, bob.identity, "production", {"X": CANARY},
                             reason="restore v1 (INC-3)")
    commit = forge.commit_plan(store, bob.identity, forge.with_record(
        plan, changes=(Change("~", "X", v2, v1),)))
    assert f"~ X {v2} -> {v1}" in git(store, "log", "-1", "--format=%B")
    return v1, commit


@pytest.mark.parametrize("args", [("history", "X"), ("history", "X", "--json"),
                                  ("list",), ("blame",)])
def test_a_lying_fingerprint_is_refused_by_a_key_holders_history_list_and_blame(
        cli, forged, args):
    _, commit = forged
    r = cli(*args, "--env", "production")
    assert r.code == 5, (r.code, r.out, r.err)
    assert r.out == ""
    assert commit[:10] in r.err and "rule 3" in r.err
    assert "restore v1" not in r.both and CANARY not in r.both
    # Refused from the first read on, not only after get or verify marked the line.
    assert cli("get", "X", "--env", "production").code == 5


def test_a_keyless_auditor_reads_on_and_is_told_the_fingerprints_were_not_checked(
        cli, forged):
    v1, commit = forged
    auditor = cli.as_(None)
    r = auditor("history", "X", "--env", "production")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].split("\t")[5] == v1  # the lie is all a keyless walk has
    assert UNCHECKED in r.err and "no identity found" in r.err
    rows = versions(auditor)
    assert rows[0]["commit"] == commit
    assert [row["fingerprint_checked"] for row in rows] == [False] * len(rows)
    for args in (("list",), ("blame",)):
        listed = auditor(*args, "--env", "production", "--json")
        assert listed.code == 0 and UNCHECKED in listed.err, listed.err
        assert [row["fingerprint_checked"] for row in json.loads(listed.out)] == [False]
    # alice's key sees what the auditor's walk let through.
    assert cli("history", "X", "--env", "production").code == 5


def test_a_key_holder_is_not_told_anything_and_each_row_says_it_was_checked(cli):
    setv(cli, "X", "v1")
    setv(cli, "X", "v2")
    for args in (("history", "X"), ("list",), ("blame",)):
        r = cli(*args, "--env", "production", "--json")
        assert r.code == 0 and r.err == "", r.err
        rows = ([json.loads(line) for line in r.out.splitlines()] if args[0] == "history"
                else json.loads(r.out))
        assert rows and all(row["fingerprint_checked"] is True for row in rows), rows


def test_a_new_members_fresh_clone_counts_what_his_key_could_not_check(cli, store, bob,
                                                                       tmp_path):
    """bob joins after X's first two versions: his key opens neither side of them, so
    only the version after his grant counts as checked."""
    setv(cli, "X", "v1")
    setv(cli, "X", "v2")
    setv(cli, "OLD", "o1")
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "joins").code == 0
    setv(cli, "X", "v3")
    clone = tmp_path / "bobs-clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    r = cli.as_(bob).at(clone)("history", "X", "--env", "production", "--json")
    assert r.code == 0, r.err
    assert [json.loads(line)["fingerprint_checked"] for line in r.out.splitlines()] == \
        [True, False, False]
    # He holds production's key now: what went unchecked predates his seat (attack19's
    # note: "no key to production" read as if he had none).
    assert "fingerprints of 2 of 3 versions not checked: they are from before " \
           "production's key was sealed to you" in r.err
    assert "no key to" not in r.err
    # All before his seat; and verify says the same of the line.
    r = cli.as_(bob).at(clone)("history", "OLD", "--env", "production")
    assert r.code == 0, r.err
    assert "fingerprints not checked: they are from before production's key was sealed " \
           "to you" in r.err
    r = cli.as_(bob).at(clone)("verify")
    assert r.code == 0, r.out
    assert "skipped before your key was sealed to you: fingerprints and decryption of " \
           "earlier commits in production" in r.out
    assert "skipped without a key" not in r.out  # staging has no value changes to skip
    report = json.loads(cli.as_(bob).at(clone)("verify", "--json").out)
    assert report["skipped_without_key"] == [] and report["skipped_before_seat"] == ["production"]


def test_a_passphrase_protected_key_never_prompts_without_a_terminal(cli, store, tmp_path):
    """No terminal and no ENVTRAIL_PASSPHRASE: history in carol's fresh clone reads
    keyless, says why, and asks nothing; with the passphrase it checks with the key."""
    secret = "canary-passphrase-history-93b1"
    key = tmp_path / "carol_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", secret, "-C", "carol@example.com",
                    "-f", str(key)], check=True)
    pub = key.with_name("carol_key.pub").read_text().strip()
    assert cli("access", "grant", "carol@example.com", pub, "--env", "production",
               "--reason", "auditor with a locked key").code == 0
    setv(cli, "X", "v1")
    clone = tmp_path / "carols-clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVTRAIL_")}
    env["ENVTRAIL_IDENTITY"] = str(key)
    # A new session has no controlling terminal: nothing can be asked.
    proc = subprocess.run([sys.executable, "-m", "envtrail", "history", "X", "--env",
                           "production"], cwd=clone, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, start_new_session=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert UNCHECKED in proc.stderr and "passphrase-protected" in proc.stderr
    assert "Passphrase for" not in proc.stderr + proc.stdout
    r = Cli(clone)("history", "X", "--env", "production", "--json",
                   env={"ENVTRAIL_IDENTITY": str(key), "ENVTRAIL_PASSPHRASE": secret})
    assert r.code == 0 and r.err == "", r.err
    assert json.loads(r.out)["fingerprint_checked"] is True
    assert secret not in proc.stdout + proc.stderr + r.both


# -- attack14 I7: a seat that does not open for its member ---------------------------------



def seat_sealed_elsewhere(cli: Cli, store, bob, make_identity, lie: bool = True) -> str:
    """alice (an admin) signs a grant that lists bob's key in production but seals its keys
    to mallory's; carol, a member, then lands X under fingerprints that are not the
    values' (only a key that opens production can tell; with ``lie=False``, the true
    ones). Returns carol's commit."""
    from envtrail.audit.record import Record
    from envtrail.audit.view import Snapshot
    from envtrail.format import envfile
    from envtrail.format import signers as signers_file
    from envtrail.format.envfile import Member
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.members import open_keys
    from envtrail.ops.txn import Plan

    carol, mallory = make_identity("carol@example.com"), make_identity("mallory@example.com")
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "production",
               "--reason", "on call").code == 0
    setv(cli, "X", "v1")
    g = GitRepo(store)
    snap = Snapshot(g, g.head())
    prod = snap.env("production")
    keys = open_keys(prod, cli.identity.identity)
    seat = Member(bob.principal, bob.identity.public.openssh,
                  keys.seal_to(mallory.identity.public))
    files = {envfile.path_for("production"): envfile.render(
                 prod.with_members({**prod.members, bob.principal: seat})),
             ".envtrail/allowed_signers": signers_file.render(
                 [*snap.signers, signers_file.Signer(bob.principal,
                                                     bob.identity.public.openssh)])}
    grant = Record("grant", "alice@example.com", "bob joins INC-30", ("production",),
                   extra=(("Member", f"+ {bob.principal}"),))
    forge.commit_plan(store, cli.identity.identity, Plan(files, grant))
    plan = forge.honest_plan(store, carol.identity, "production", {"X": CANARY},
                             reason="rotate INC-31")
    real = plan.record.changes[0]
    if not lie:
        return forge.commit_plan(store, carol.identity, plan)
    return forge.commit_plan(store, carol.identity, forge.with_record(
        plan, changes=(Change("~", "X", "1" * len(real.old_fp), "2" * len(real.new_fp)),)))


def test_a_seat_that_does_not_open_is_a_finding_and_bobs_reads_refuse(cli, store, bob,
                                                                       make_identity):
    """bob is listed in production, but his seat opens only for mallory. His walk used to
    check nothing there and say so; since attack24 U1 (a blinded member is how a later
    rotation hides a change of value) the seat is a finding in his walk, and his reads
    refuse. A key that opens production finds carol's lie too."""
    lie = seat_sealed_elsewhere(cli, store, bob, make_identity)
    grant = git(store, "rev-parse", f"{lie}^").strip()
    me = cli.as_(bob)
    for args in (("history", "X"), ("blame",), ("list",), ("get", "X")):
        r = me(*args, "--env", "production")
        assert r.code == 5, (args, r.err)
        assert f"{grant[:10]} rule 5 (admin): production: bob@example.com's seat does not " \
               "open" in r.err
        assert CANARY not in r.both
    assert {(f["commit"], f["rule"]) for f in verify_findings(me)} == {(grant, 5)}
    found = [f for f in verify_findings(cli) if f["commit"] == lie]
    assert found and {f["rule"] for f in found} == {3}


def test_a_seat_sealed_again_leaves_the_forged_seat_a_finding(cli, store, bob,
                                                             make_identity, tmp_path):
    """alice's later rotation seals production's keys to bob's own key; the grant that
    sealed his seat elsewhere stays a finding in his fresh clone (only a repair or a
    reviewed rewrite settles it), where before it went unchecked and unsaid."""
    carols = seat_sealed_elsewhere(cli, store, bob, make_identity, lie=False)
    grant = git(store, "rev-parse", f"{carols}^").strip()
    rotated = cli("access", "rotate", "--env", "production", "--reason", "reseal bob")
    assert rotated.code == 0, rotated.err
    setv(cli, "X", "v3")
    clone = tmp_path / "bobs-clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    r = cli.as_(bob).at(clone)("history", "X", "--env", "production", "--json")
    assert r.code == 5
    assert f"{grant[:10]} rule 5 (admin)" in r.err
