"""revert undoes one change to one environment; history follows one variable across rotations."""

import json

from conftest import assert_one_line_error, git

CANARY = "canary-9f8e7d6c5b4a-do-not-print"


def set_(cli, key, value, env="production", reason="r"):
    r = cli("set", key, "--env", env, "--reason", reason, input=value)
    assert r.code == 0, r.err


def value(cli, key, env="production"):
    r = cli("get", key, "--env", env)
    assert r.code == 0, r.err
    return r.out


def head(store):
    return git(store, "rev-parse", "HEAD").strip()


def test_revert_undoes_the_environments_last_change_not_the_stores(cli, store):
    set_(cli, "PAY", "good")
    set_(cli, "PAY", "broken")
    set_(cli, "FLAG", "on", env="staging")  # HEAD~1 would now name the wrong commit
    r = cli("revert", "--env", "production", "--reason", "INC-1 undo")
    assert r.code == 0, r.err
    assert "production: revert: set PAY" in r.out
    assert value(cli, "PAY") == "good"
    assert value(cli, "FLAG", env="staging") == "on"
    message = git(store, "log", "-1", "--format=%B")
    assert "Envtrail-Action: revert" in message
    assert "Envtrail-Revert: " in message
    assert cli("verify").code == 0


def test_revert_of_an_addition_removes_it_and_key_limits_the_scope(cli, store):
    set_(cli, "KEEP", "k")
    r = cli("set", "A", "B", "--env", "production", "--reason", "two", input="A=1\nB=2\n")
    assert r.code == 0, r.err
    two = head(store)
    r = cli("revert", two, "--env", "production", "--key", "A", "--reason", "only A")
    assert r.code == 0, r.err
    listed = cli("list", "--env", "production", "--json").out
    names = [row["key"] for row in json.loads(listed)]
    assert names == ["B", "KEEP"]
    r = cli("revert", two, "--env", "production", "--key", "KEEP", "--reason", "x")
    assert_one_line_error(r, 3)
    assert "did not change KEEP" in r.err


def test_revert_refuses_when_a_later_commit_changed_the_variable(cli, store):
    set_(cli, "PAY", "old")
    set_(cli, "PAY", "bad")
    bad = head(store)
    set_(cli, "PAY", CANARY)
    before = head(store)
    r = cli("revert", bad, "--env", "production", "--reason", "undo")
    assert_one_line_error(r, 6)
    assert "PAY" in r.err
    assert CANARY not in r.both and "old" not in r.err.split("PAY")[0]
    assert head(store) == before  # nothing written
    assert value(cli, "PAY") == CANARY


def test_revert_of_a_commit_that_changed_no_value_is_one_refusal(cli, store, bob):
    """A rotation and a grant both changed no value: the same words, the same exit 3
    (a rotation used to exit 2)."""
    set_(cli, "PAY", "v")
    assert cli("access", "rotate", "--env", "production", "--reason", "rotate").code == 0
    before = head(store)
    r = cli("revert", "HEAD", "--env", "production", "--reason", "undo")
    assert_one_line_error(r, 3)
    assert "changed no value of production" in r.err and "rotation" in r.err
    assert head(store) == before
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    granted = head(store)
    r = cli("revert", "HEAD", "--env", "production", "--reason", "undo")
    assert_one_line_error(r, 3)
    assert "changed no value of production" in r.err and "rotation" not in r.err
    assert head(store) == granted


def test_revert_dry_run_writes_nothing(cli, store):
    set_(cli, "PAY", "a")
    set_(cli, "PAY", "b")
    before = head(store)
    r = cli("revert", "--env", "production", "--reason", "x", "--dry-run")
    assert r.code == 0, r.err
    assert "would revert" in r.out and "~ PAY" in r.out
    assert head(store) == before


def test_history_marks_rotations_and_reveals_each_version(cli, store, bob):
    set_(cli, "PAY", "first", reason="one")
    set_(cli, "PAY", "second", reason="two")
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    rows = [json.loads(line) for line in cli("history", "PAY", "--env", "production",
                                             "--json").out.splitlines()]
    assert [(r["action"], r["change"], r["reencrypted"]) for r in rows] == [
        ("revoke", "re-encrypted", True), ("set", "~", False), ("set", "+", False)]
    assert [r["reason"] for r in rows[1:]] == ["two", "one"]
    assert all(len(r["fingerprint"]) >= 12 for r in rows)
    assert "value" not in rows[0]
    revealed = [json.loads(line) for line in cli("history", "PAY", "--env", "production",
                                                 "--reveal", "--json").out.splitlines()]
    assert [r["value"] for r in revealed] == ["second", "second", "first"]
    plain = cli("history", "PAY", "--env", "production").out
    assert "re-encrypted" in plain and "second" not in plain


def test_history_of_a_misspelt_variable_suggests_the_real_one(cli):
    set_(cli, "PAYMENT_KEY", "v")
    r = cli("history", "PAYMENT_KY", "--env", "production")
    assert_one_line_error(r, 3)
    assert "did you mean PAYMENT_KEY?" in r.err


def test_blame_and_log_key_tell_value_changes_from_rotations(cli, store, bob):
    set_(cli, "PAY", "v", reason="set by alice")
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "offboard bob").code == 0
    blamed = json.loads(cli("blame", "--env", "production", "--json").out)
    assert [(b["key"], b["action"], b["reason"]) for b in blamed] == [("PAY", "set", "set by alice")]
    events = [json.loads(line) for line in cli("log", "--key", "PAY", "--json").out.splitlines()]
    assert [(e["action"], e["reencrypted"]) for e in events] == [("revoke", True), ("set", False)]
    plain = cli("log", "--key", "PAY").out.splitlines()
    assert "re-encrypted PAY" in plain[0] and "~PAY" not in plain[0]


def test_revert_history_and_completion_beside_application_code(tmp_path, alice):
    """A store on its own branch in an app repo: the work tree holds code, not envs/."""
    import subprocess
    import sys

    from conftest import Cli, make_app_store

    app = make_app_store(tmp_path, alice)
    c = Cli(app, alice)
    assert not (app / "envs").exists()
    set_(c, "PAY", "good")
    set_(c, "PAY", "bad")
    r = c("revert", "--env", "production", "--reason", "undo")
    assert r.code == 0, r.err
    assert value(c, "PAY") == "good"
    rows = c("history", "PAY", "--env", "production", "--json").out.splitlines()
    assert [json.loads(row)["action"] for row in rows] == ["revert", "set", "set"]
    done = subprocess.run([sys.executable, "-m", "envtrail"], cwd=app, capture_output=True,
                          text=True, check=False,
                          env={**c._env(None), "_ENVTRAIL_COMPLETE": "complete_bash",
                               "COMP_WORDS": "envtrail get --env production ", "COMP_CWORD": "4"})
    assert done.stdout.split() == ["PAY"]


def test_history_answers_only_from_the_verified_line(cli, store, make_identity):
    # attack12 F5: an outsider's commit naming alice in its trailers showed in history
    # as alice's change (history read the branch head, not the verified line).
    import forge

    set_(cli, "PAY", "good", reason="INC-1 first")
    mallory = make_identity("mallory@example.com")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"PAY": CANARY},
                             reason="Rotate payment key (CHG-812)")
    forged = forge.commit_plan(store, mallory.identity, plan)  # actor: alice; key: mallory's
    assert "Envtrail-Actor: alice@example.com" in git(store, "log", "-1", "--format=%B")
    for args in ((), ("--json",), ("--reveal",)):
        r = cli("history", "PAY", "--env", "production", *args)
        assert_one_line_error(r, 5)
        assert r.out == "" and CANARY not in r.err and forged[:10] in r.err
    git(store, "reset", "-q", "--hard", "HEAD~1")
    r = cli("history", "PAY", "--env", "production", "--json")
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert [(row["actor"], row["reason"]) for row in rows] == [("alice@example.com", "INC-1 first")]
