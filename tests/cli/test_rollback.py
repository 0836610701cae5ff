"""rollback by revision, time and key; dry run; the rollback commit verifies."""

import json

import pytest

from conftest import git


def setv(cli, key, value, reason="r", env="production"):
    r = cli("set", key, "--env", env, "--reason", reason, input=value)
    assert r.code == 0, r.err


def export(cli, *extra):
    r = cli("export", "--env", "production", "--format", "json", *extra)
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.fixture
def changed(cli, store):
    setv(cli, "KEEP", "k1")
    setv(cli, "CHANGE", "c1")
    setv(cli, "DROP", "d1")
    good = git(store, "rev-parse", "HEAD").strip()
    setv(cli, "CHANGE", "c2-broken")
    assert cli("unset", "DROP", "--env", "production", "--reason", "x").code == 0
    setv(cli, "ADDED", "a1")
    return good


def test_rollback_by_revision_restores_exactly(cli, store, changed):
    before = export(cli, "--at", changed)
    r = cli("rollback", "--env", "production", "--to", changed, "--reason", "restore INC-9")
    assert r.code == 0, r.err
    assert export(cli) == before == {"KEEP": "k1", "CHANGE": "c1", "DROP": "d1"}
    msg = git(store, "log", "-1", "--format=%B")
    assert "Envtrail-Action: rollback" in msg
    assert f"Envtrail-Rollback-To: {changed}" in msg
    changes = sorted(ln.split()[1:3] for ln in msg.splitlines() if ln.startswith("Envtrail-Change"))
    assert changes == [["+", "DROP"], ["-", "ADDED"], ["~", "CHANGE"]]
    # The restored fingerprint equals the one recorded when c1 was first set.
    c1_fp = git(store, "log", "-1", "--format=%B", f"{changed}~1").split("+ CHANGE ")[1].split()[0]
    assert "~ CHANGE " in msg and msg.split("~ CHANGE ")[1].split()[2] == c1_fp
    git(store, "verify-commit", "HEAD")
    assert cli("verify").code == 0
    assert "KEEP" not in msg  # unchanged values are not rewritten


def test_rollback_by_time_and_per_key(cli, store, alice):
    from datetime import UTC, datetime, timedelta

    from envtrail.gitstore.repo import GitRepo
    from envtrail.model import Secret
    from envtrail.ops.rollback import rollback
    from envtrail.ops.values import write_values
    from envtrail.runtime import Runtime

    base = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def at(minutes, updates, removals=()):
        rt = Runtime({}, store, store, "h", clock=lambda: base + timedelta(minutes=minutes))
        write_values(GitRepo(store), rt, alice.identity, "production",
                     {k: Secret(v) for k, v in updates.items()}, set(removals), "r", "set")

    at(0, {"KEEP": "k1", "CHANGE": "c1", "DROP": "d1"})
    at(10, {"CHANGE": "c2-broken", "ADDED": "a1"}, {"DROP"})
    when = (base + timedelta(minutes=5)).isoformat()
    # The rollbacks are made at pinned times too, after the pinned history.
    later = Runtime({}, store, store, "h", clock=lambda: base + timedelta(minutes=20))
    rollback(GitRepo(store), later, alice.identity, "production", when, ["CHANGE"], "r", False)
    assert export(cli) == {"KEEP": "k1", "CHANGE": "c1", "ADDED": "a1"}
    rollback(GitRepo(store), later, alice.identity, "production", when, ["DROP", "ADDED"], "r",
             False)
    assert export(cli) == {"KEEP": "k1", "CHANGE": "c1", "DROP": "d1"}
    assert git(store, "log", "-1", "--format=%B").count("Envtrail-Change") == 2


def test_dry_run_changes_nothing(cli, store, changed):
    head = git(store, "rev-parse", "HEAD")
    r = cli("rollback", "--env", "production", "--to", changed, "--reason", "r", "--dry-run")
    assert r.code == 0, r.err
    assert "would roll back" in r.out
    assert "~ CHANGE" in r.out and "- ADDED" in r.out and "+ DROP" in r.out
    # No value shows (only as whole tokens: a hex fingerprint may contain "c1").
    assert not {"c1", "c2-broken", "d1", "a1"} & set(r.out.split())
    assert git(store, "rev-parse", "HEAD") == head
    assert git(store, "status", "--porcelain") == ""


def test_rollback_to_current_state_is_a_no_op(cli, store):
    setv(cli, "A", "1")
    head = git(store, "rev-parse", "HEAD")
    r = cli("rollback", "--env", "production", "--to", "HEAD", "--reason", "r")
    assert r.code == 0
    assert "nothing to roll back" in r.out
    assert git(store, "rev-parse", "HEAD") == head


def test_rollback_needs_membership_at_target(cli, store, bob):
    setv(cli, "A", "old")
    old = git(store, "rev-parse", "HEAD").strip()
    assert cli("access", "grant", "bob@example.com", str(bob.path) + ".pub", "--env",
               "production", "--reason", "join").code == 0
    setv(cli, "A", "new")
    r = cli.as_(bob)("rollback", "--env", "production", "--to", old, "--reason", "r")
    # bob was no member at `old`: he may not restore what he could not read then.
    assert r.code == 4
    assert "not a member of production at" in r.err
    assert cli("get", "A", "--env", "production").out == "new"
    assert cli("rollback", "--env", "production", "--to", old, "--reason", "r").code == 0
    assert cli.as_(bob)("get", "A", "--env", "production").out == "old"
