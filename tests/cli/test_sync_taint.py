"""What a repair acknowledged as forged stays forged in every clone, whichever way sync
brings the repair in: a fast-forward, or a replay of this clone's own commits on top
(found by the third attacker review)."""

from __future__ import annotations

import json
import shutil

import pytest
from test_sync import make_world, setv

from conftest import git


@pytest.fixture
def forged_then_repaired(tmp_path, store, cli, bob):
    """alice and bob share production; an outsider pushes X, an unsigned commit holding a
    value of his; alice repairs it and pushes. Returns (alice, bob, X)."""
    a, b, _ = make_world(tmp_path, store, cli, bob, "DB_PASS", "s3cret")
    assert b("sync").code == 0
    # The outsider's value, encrypted to the environment's public key (anyone can), in a
    # commit nobody signed. Built from a local set whose signed commit is thrown away.
    state = a.cwd / ".git/envtrail"
    shutil.copytree(state, tmp_path / "saved")
    setv(a, "DB_PASS", "forged-by-eve")
    signed = git(a.cwd, "rev-parse", "HEAD").strip()
    forged = git(a.cwd, "commit-tree", "-p", f"{signed}^", "-m", "eve was here",
                 f"{signed}^{{tree}}").strip()
    git(a.cwd, "reset", "-q", "--hard", forged)
    shutil.rmtree(state)
    shutil.copytree(tmp_path / "saved", state)
    git(a.cwd, "push", "-q", "origin", "main")
    assert a("repair", "--reason", "INC-1 forged value").code == 0
    assert a("sync").code == 0
    return a, b, forged


def _refuses_the_forged_state(b, forged):
    assert forged in json.loads((b.cwd / ".git/envtrail/verified.json").read_text())["tainted"]
    r = b("get", "DB_PASS", "--env", "production", "--at", forged)
    assert r.code == 5, (r.code, r.out, r.err)
    assert "forged-by-eve" not in r.out + r.err
    r = b("rollback", "--env", "production", "--to", forged, "--reason", "back to then")
    assert r.code == 5, (r.code, r.out, r.err)
    assert b("get", "DB_PASS", "--env", "production").out == "s3cret"


def test_a_fast_forward_keeps_the_taint(forged_then_repaired):
    _, b, forged = forged_then_repaired
    assert b("sync").code == 0
    _refuses_the_forged_state(b, forged)


def test_a_replay_keeps_the_taint(forged_then_repaired):
    _, b, forged = forged_then_repaired
    setv(b, "OTHER", "mine")  # unpushed: sync replays it on top of the repair
    r = b("sync")
    assert r.code == 0, r.err
    assert "replayed" in r.out
    _refuses_the_forged_state(b, forged)


@pytest.mark.parametrize("how", ["sync", "git pull"])
def test_a_repair_that_restores_a_state_acknowledged_as_forged_is_refused(
        forged_then_repaired, tmp_path, how):
    """An admin hand-makes a second repair whose values come from X (the CLI refuses such a
    --from); bob's sync, or his next read after a plain fast-forward (the gate checks only
    what is new, so it must know what his checkpoint holds tainted), must refuse it as his
    full verify would, not serve X's value."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from envtrail.audit.record import Record, render
    from envtrail.audit.view import StoreView
    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.model import Secret
    from envtrail.ops.rollback import target_values
    from envtrail.ops.txn import signer_for
    from envtrail.ops.values import plan_values
    from envtrail.runtime import Runtime

    a, b, forged = forged_then_repaired
    assert b("sync").code == 0
    clean = git(a.cwd, "rev-parse", "HEAD").strip()
    noise = git(a.cwd, "commit-tree", "-p", clean, "-m", "unsigned", f"{clean}^{{tree}}").strip()
    g = GitRepo(a.cwd)
    view = StoreView(g)
    ident = a.identity.identity
    old = target_values(view.at(forged), ident, "production")
    rt = Runtime(env={}, cwd=a.cwd, home=tmp_path, host="test", clock=lambda: datetime.now(UTC))
    plan = plan_values(view.at(clean), rt, ident, "production",
                       {k: Secret(v) for k, v in old.items()}, set(), "INC-2", "repair")
    rec = Record("repair", "alice@example.com", "INC-2", ("production",),
                 tuple(replace(c, key=f"production:{c.key}") for c in plan.record.changes),
                 "host=test", (("Acknowledges", f"{noise} 1"), ("Repair-Clean", clean),
                               ("Repair-From", forged)))
    when = datetime.now(UTC).replace(microsecond=0)
    second = create_commit(g, [noise], plan.changes, render(rec),
                           Author("alice@example.com", "alice@example.com", when),
                           signer_for(ident))
    git(a.cwd, "push", "-q", "origin", f"{second}:refs/heads/main")
    before = git(b.cwd, "rev-parse", "HEAD").strip()
    if how == "sync":
        r = b("sync")
        assert r.code == 5, (r.code, r.out, r.err)
        assert git(b.cwd, "rev-parse", "HEAD").strip() == before
        assert b("get", "DB_PASS", "--env", "production").out == "s3cret"
    else:
        git(b.cwd, "pull", "-q", "--ff-only", "origin", "main")
        assert git(b.cwd, "rev-parse", "HEAD").strip() == second
        r = b("get", "DB_PASS", "--env", "production")
        assert r.code == 5, (r.code, r.out, r.err)
        assert "forged-by-eve" not in r.out + r.err


@pytest.mark.parametrize("how", ["sync", "git pull"])
def test_an_honest_repair_reaches_a_clone_that_already_checked_past_its_clean_point(
        tmp_path, store, cli, bob, monkeypatch, how):
    """bob writes D dated 15 minutes ahead (his clock runs fast): his clone found nothing
    wrong; alice's did, and repaired it. bob's sync checks only what is new since D, where
    the repair's clean point is not: it must judge it from the genesis, as a fresh clone
    does, not refuse it forever (fourth attacker review)."""
    from dataclasses import replace
    from datetime import timedelta

    from envtrail.runtime import Runtime

    real = Runtime.from_os.__func__

    def clock(seconds: int) -> None:
        monkeypatch.setattr(Runtime, "from_os", classmethod(lambda cls: replace(
            real(cls), clock=lambda: real(cls).clock() + timedelta(seconds=seconds))))

    a, b, bare = make_world(tmp_path, store, cli, bob, "DB_PASS", "s3cret")
    assert b("sync").code == 0
    clock(900)
    setv(b, "DB_PASS", "ahead")
    assert b("sync").code == 0
    clock(0)
    assert a("sync").code == 5  # alice sees D dated ahead
    git(a.cwd, "fetch", "-q", "origin")
    git(a.cwd, "merge", "-q", "--ff-only", "origin/main")
    assert a("repair", "--reason", "D is dated ahead").code == 0
    assert a("sync").code == 0
    if how == "sync":
        r = b("sync")
        assert r.code == 0, (r.out, r.err)
    else:  # a read then checks what is new, through the gate
        git(b.cwd, "pull", "-q", "--ff-only")
    assert b("get", "DB_PASS", "--env", "production").out == "s3cret"
    assert git(b.cwd, "rev-parse", "HEAD") == git(bare, "rev-parse", "main")
