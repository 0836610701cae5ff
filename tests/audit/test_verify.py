"""verify catches each kind of tampering; verified reads refuse afterwards."""

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

import forge
from conftest import Cli, git
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Change
from envtrail.ops import audit
from envtrail.ops.values import read_values
from hostile import message, point, signed_commit


@pytest.fixture
def history(cli, store, alice):
    """A clean history: two values set, verified once."""
    cli("set", "A", "--env", "production", "--reason", "a", input="1")
    cli("set", "B", "--env", "production", "--reason", "b", input="2")
    r = cli("verify")
    assert r.code == 0, r.out + r.err
    return store


def findings(cli):
    r = cli("verify", "--json")
    report = json.loads(r.out)
    assert (r.code == 0) == report["ok"]
    return report["findings"]


def assert_reads_refused_but_no_verify_reads(cli, key="A", expected="1"):
    r = cli("get", key, "--env", "production")
    assert r.code == 5, r.err
    assert "history does not verify" in r.err
    r = cli("get", key, "--env", "production", "--no-verify")
    assert (r.code, r.out) == (0, expected)
    assert "WITHOUT verifying" in r.err


def test_clean_history_verifies_and_checkpoint_advances(cli, history):
    report = json.loads(cli("verify", "--json").out)
    genesis = git(history, "rev-list", "--max-parents=0", "HEAD").strip()
    assert {k: report[k] for k in ("ok", "head", "commits", "findings", "genesis", "pin")} == {
        "ok": True, "head": git(history, "rev-parse", "HEAD").strip(), "commits": 3,
        "findings": [], "genesis": genesis, "pin": genesis}
    assert (history / ".git/envtrail/verified.json").exists()


def test_unsigned_commit_editing_environment(cli, history, alice):
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    forge.commit_plan(history, None, plan, message="quick fix")
    f = findings(cli)
    assert [(x["rule"], x["name"]) for x in f] == [(1, "signature")]
    assert "unsigned" in f[0]["message"]
    assert_reads_refused_but_no_verify_reads(cli, "B", "2")


def test_commit_signed_by_a_key_that_is_not_an_allowed_signer(cli, history, alice, tmp_path):
    key = tmp_path / "mallory"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mallory", "-f",
                    str(key)], check=True)
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    for path, data in plan.changes.items():
        (history / path).write_bytes(data)
    git(history, "-c", f"user.signingkey={key}", "commit", "-q", "-S", "-a", "-m",
        "production: set A")
    # git itself agrees: a good signature by a key it cannot vouch for.
    assert git(history, "log", "-1", "--format=%G?").strip() == "U"
    f = findings(cli)
    assert [(x["rule"], x["message"]) for x in f] == [
        (1, "not an envtrail commit, signature unknown-key")]
    assert_reads_refused_but_no_verify_reads(cli, "B", "2")


def test_lying_change_trailers(cli, history, alice):
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    lie = forge.with_record(plan, changes=(Change("~", "B", "000000000000", "111111111111"),))
    forge.commit_plan(history, alice.identity, lie)
    f = findings(cli)
    assert [x["rule"] for x in f] == [3]
    assert "trailers omit A" in f[0]["message"]
    assert "trailers name unchanged B" in f[0]["message"]
    assert_reads_refused_but_no_verify_reads(cli, "B", "2")


def test_lying_fingerprint_caught_with_a_key_only(cli, history, alice):
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    real = plan.record.changes[0]
    lie = forge.with_record(plan, changes=(Change("~", "A", real.old_fp, "0123456789abcdef" * 2),))
    forge.commit_plan(history, alice.identity, lie)
    f = findings(cli)
    assert [x["rule"] for x in f] == [3]
    assert "new fingerprint 0123456789abcdef0123456789abcdef does not match" in f[0]["message"]
    # An auditor without a key cannot recompute fingerprints; the rest still holds.
    assert findings(cli.as_(None)) == []


def test_a_lying_old_fingerprint_is_caught_with_a_key(cli, history, alice):
    """The old fingerprint of a change is the new one of the commit before: a walk asks
    for it twice, the second time from the keyring's cache, and must still compare it."""
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    real = plan.record.changes[0]
    lie = forge.with_record(plan, changes=(Change("~", "A", "0123456789abcdef" * 2, real.new_fp),))
    forge.commit_plan(history, alice.identity, lie)
    f = findings(cli)
    assert [x["rule"] for x in f] == [3]
    assert "old fingerprint 0123456789abcdef0123456789abcdef does not match" in f[0]["message"]


def test_forged_actor(cli, history, alice):
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    forge.commit_plan(history, alice.identity, forge.with_record(plan, actor="bob@example.com"))
    f = findings(cli)
    # The trailer, the author and the committer all name someone who did not sign.
    assert [(x["rule"], x["name"]) for x in f] == [(2, "actor")] * 3
    assert "bob@example.com" in f[0]["message"]
    assert {"the commit's author is not the signer 'alice@example.com'",
            "the commit's committer is not the signer 'alice@example.com'"} <= {x["message"] for x in f}
    assert_reads_refused_but_no_verify_reads(cli, "B", "2")


def test_backdated_commit(cli, history, alice):
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    parent_time = GitRepo(history).info(GitRepo(history).head()).committer_time
    forge.commit_plan(history, alice.identity, plan, when=parent_time - timedelta(days=2))
    f = findings(cli)
    assert [(x["rule"], x["name"]) for x in f] == [(7, "time")]
    assert_reads_refused_but_no_verify_reads(cli, "B", "2")


def test_even_a_clean_merge_is_a_finding(cli, history, alice):
    # A side branch with a valid envtrail commit of its own, merged back by plain git.
    side = forge.honest_plan(history, alice.identity, "staging", {"X": "x"})
    git(history, "switch", "-q", "-c", "feature")
    forge.commit_plan(history, alice.identity, side)
    git(history, "switch", "-q", "main")
    git(history, "merge", "-q", "--no-ff", "--no-edit", "feature")
    f = findings(cli)
    assert [(x["rule"], x["name"]) for x in f] == [(6, "line")]
    assert "merge commit" in f[0]["message"]
    assert_reads_refused_but_no_verify_reads(cli, "B", "2")


def test_a_merge_is_shown_signed_as_its_first_parent_trusts_it(cli, history, make_identity):
    """An outsider adds his own key to allowed_signers on a side branch and signs the
    merge of it: `show` and `log` judge the signature by the line's parent, never by the
    side's allowed_signers, so the merge is not shown as a good signature."""
    mallory = make_identity("mallory@example.com")
    base = git(history, "rev-parse", "HEAD").strip()
    git(history, "switch", "-q", "-c", "side")
    path = history / ".envtrail/allowed_signers"
    path.write_text(path.read_text() + f'mallory@example.com namespaces="git" '
                                       f"{mallory.identity.public.openssh}\n")
    git(history, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-a", "-m", "side")
    side = git(history, "rev-parse", "HEAD").strip()
    git(history, "switch", "-q", "main")
    merge = signed_commit(history, mallory.identity, mallory.principal, [base, side], {},
                          message("set", mallory.principal), tree_of=side)
    point(history, merge)
    shown = cli("show", merge).out
    assert "signature  unknown-key" in shown and "merge commit (2 parents)" in shown, shown
    [row] = [line for line in cli("log").out.splitlines() if merge[:10] in line]
    assert "mallory@example.com ✗" in row, row
    assert [(x["rule"], x["name"]) for x in findings(cli)] == [(6, "line")]


def test_rewritten_history_is_reported(cli, history, alice):
    git(history, "reset", "-q", "--hard", "HEAD~1")
    # envtrail itself refuses to write on a rewritten history...
    r = cli("set", "B", "--env", "production", "--reason", "again", input="2b")
    assert r.code == 5
    assert "rule 8" in r.err
    # A write that asks nothing first meets it under its own write lock: refused at once,
    # never waiting on itself.
    r = cli("access", "rotate", "--env", "production", "--reason", "yearly")
    assert r.code == 5 and "rule 8" in r.err, r.err
    # ...so the rewrite continues behind its back.
    forge.commit_plan(history, alice.identity,
                      forge.honest_plan(history, alice.identity, "production", {"B": "2b"}))
    f = findings(cli)
    assert [(x["rule"], x["name"]) for x in f] == [(8, "history")]
    r = cli("get", "B", "--env", "production")
    assert r.code == 5
    assert "no longer on the store line" in r.err
    assert cli("get", "B", "--env", "production", "--no-verify").out == "2b"


def test_verify_exit_codes_and_plain_output(cli, history, alice):
    r = cli("verify")
    assert r.code == 0
    assert r.out.strip().endswith(": ok")
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    forge.commit_plan(history, alice.identity, forge.with_record(plan, actor="bob@example.com"))
    r = cli("verify")
    assert r.code == 1
    assert "rule 2 (actor)" in r.out
    # The checkpoint did not advance past the bad commit.
    cp = json.loads((history / ".git/envtrail/verified.json").read_text())
    assert cp["head"] == git(history, "rev-parse", "HEAD~1").strip()


def test_reads_with_nothing_new_do_not_walk_history(history, alice):
    g = GitRepo(history)
    rt = forge.runtime(history)
    first = read_values(g, rt, alice.identity, "production", ["A"])
    assert first.checked == 0  # the fixture's verify already covered HEAD
    # A valid commit that did not come through this clone's envtrail (as if pulled).
    plan = forge.honest_plan(history, alice.identity, "production", {"C": "3"})
    forge.commit_plan(history, alice.identity, plan)
    g = GitRepo(history)
    second = read_values(g, rt, alice.identity, "production", ["A"])
    assert second.checked == 1  # only the one new commit
    g = GitRepo(history)
    third = read_values(g, rt, alice.identity, "production", ["A"])
    assert (third.checked, g.walked) == (0, 0)


def test_auditor_without_identity_runs_verify_and_log(history):
    auditor = Cli(history, None)
    assert auditor("verify").code == 0
    r = auditor("log", "--json")
    assert r.code == 0
    assert len(r.out.splitlines()) == 3


def test_show_reports_findings_for_that_commit(cli, history, alice):
    plan = forge.honest_plan(history, alice.identity, "production", {"A": "evil"})
    forge.commit_plan(history, alice.identity, forge.with_record(plan, actor="bob@example.com"))
    r = cli("show", "HEAD")
    assert r.code == 0
    assert "verify     FAILED" in r.out
    assert "rule 2 (actor)" in r.out
    assert "verify     ok" in cli("show", "HEAD~1").out
    shown = audit.show(GitRepo(history), forge.runtime(history), "HEAD")
    assert {f.rule for f in shown.findings} == {2}


def test_own_writes_keep_the_fast_path_open(history, alice):
    from envtrail.ops import fastread

    rt = forge.runtime(history)

    def fast():
        return fastread.committed_env(rt, history, alice.identity, "production")

    assert fast() is not None
    Cli(history, alice)("set", "C", "--env", "production", "--reason", "c", input="3")
    assert fast() is not None  # checkpoint advanced
    (history / "envs/production.yaml").write_text("tampered\n")
    assert fast() is None  # falls back to the gate
    r = Cli(history, alice)("get", "C", "--env", "production")
    assert (r.code, r.out) == (0, "3")
    assert "differs from the store branch" in r.err


def test_get_with_nothing_new_never_imports_pygit2(history, alice):
    env = {**os.environ, "ENVTRAIL_IDENTITY": str(alice.path)}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "envtrail", "get", "A",
                           "--env", "production"], cwd=history, env=env, capture_output=True,
                          text=True, check=True)
    assert proc.stdout == "1"
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}
    assert "envtrail.ops.fastread" in imported
    assert not {"pygit2", "rich", "pydantic", "re2", "bcrypt", "cryptography"} & imported


def test_verify_unseals_each_environment_key_once(cli, history, alice):
    from envtrail.audit import line
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.view import StoreView

    for i in range(5):
        assert cli("set", "A", "--env", "production", "--reason", "r", input=f"v{i}").code == 0
    assert cli("access", "rotate", "--env", "production", "--reason", "r").code == 0
    assert cli("set", "A", "--env", "production", "--reason", "r", input="after").code == 0
    g = GitRepo(history)
    keyring = Keyring(alice.identity)
    report = line.walk(StoreView(g), g.store_head(), keyring=keyring, now=forge.runtime(history).now())
    assert report.findings == []
    assert report.checked == 10
    # production before and after the rotation; staging once, where its seat was made
    # (a seat that does not open is a finding: attack24 U1), though it holds no values
    assert keyring.unseals == 3


def test_a_clock_running_behind_does_not_make_a_backdated_commit(history, alice):
    from datetime import timedelta

    from envtrail.model import Secret
    from envtrail.ops.values import write_values
    from envtrail.runtime import Runtime

    g = GitRepo(history)
    parent_time = g.info(g.head()).committer_time
    behind = Runtime({}, history, history, "skewed", clock=lambda: parent_time - timedelta(hours=3))
    written = write_values(g, behind, alice.identity, "production", {"A": Secret("later")}, set(),
                           "clock is behind", "set")
    assert g.info(written.commit).committer_time == parent_time
    assert Cli(history, alice)("verify").code == 0


def test_a_keyring_answers_none_where_its_identity_holds_no_seat(cli, store, bob):
    """bob opened production while a member; once revoked, the same keyring (which keeps
    what it opened) answers None for the files that no longer seat him."""
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.view import Snapshot

    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("set", "A", "--env", "production", "--reason", "r", input="CANARY-seat").code == 0
    g = GitRepo(store)
    seated = Snapshot(g, g.store_head()).env("production")
    ring = Keyring(bob.identity)
    assert ring.plaintext(seated, "A") == "CANARY-seat"
    assert cli("access", "revoke", "bob@example.com", "--env", "production",
               "--reason", "left").code == 0
    g = GitRepo(store)
    unseated = Snapshot(g, g.store_head()).env("production")
    assert unseated.member_with_key(bob.identity.public.openssh) is None
    assert ring.keys(unseated) is None
    assert ring.plaintext(unseated, "A") is None
    assert ring.fingerprint(unseated, "A") is None
    assert Keyring(None).plaintext(seated, "A") is None
