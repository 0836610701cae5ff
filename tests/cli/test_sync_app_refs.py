"""sync's mirror of the remote's refs/envtrail/* beside a store branch named ``envtrail``
(the application-repository layout), and clones that still hold the old mirror refs."""

import json

from test_sync import clone_as, make_remote, setv
from test_sync_events import event, events_on
from test_sync_refs import EVENTS, PROPOSALS, propose, remote_refs

from conftest import Cli, git, make_app_store

CANARY = "canary-app-proposal-4b7c1e"
OLD_MIRROR = "refs/remotes/origin/envtrail/"  # where sync mirrored refs/envtrail/* before


def app_clones(tmp_path, alice, bob):
    """An application repository whose store bob may read too: (alice, bob, the bare remote)."""
    app = make_app_store(tmp_path, alice)
    owner = Cli(app, alice)
    assert owner("access", "grant", bob.principal, bob.publine, "--env", "production",
                 "--reason", "join").code == 0
    setv(owner, "API_KEY", "v1")
    bare = make_remote(tmp_path, app)
    return clone_as(tmp_path, str(bare), alice, "a"), clone_as(tmp_path, str(bare), bob, "b"), bare


def tracking(clone):
    return git(clone.cwd, "rev-parse", "--verify", "refs/remotes/origin/envtrail").strip()


def test_events_and_proposals_travel_between_clones_of_an_application_repo(tmp_path, alice, bob):
    a, b, bare = app_clones(tmp_path, alice, bob)
    event(a, "deploy")
    pid = propose(a, value=CANARY)
    r = a("sync")
    assert r.code == 0, r.err
    assert f"{PROPOSALS}{pid}" in remote_refs(bare, PROPOSALS)
    assert [e[:2] for e in events_on(bare)] == [("deploy", "alice@example.com")]
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: received" in r.out
    assert git(b.cwd, "rev-parse", EVENTS) == git(bare, "rev-parse", EVENTS)
    assert [p["id"] for p in json.loads(b("proposals", "--json").out)] == [pid]
    assert b("review", pid, "--reveal").out.count(CANARY) == 1
    event(b, "restart")
    assert b("sync").code == 0
    r = a("sync")  # the clone that pushed first keeps syncing too
    assert r.code == 0 and "events: 1 received" in r.out, r.out + r.err
    for clone in (a, b):
        assert tracking(clone) == git(bare, "rev-parse", "envtrail").strip()
        assert git(clone.cwd, "for-each-ref", OLD_MIRROR) == ""
        git(clone.cwd, "fetch", "-q", "origin")  # plain git fetch is not broken either
        assert clone("verify").code == 0


def test_old_mirror_refs_in_an_application_clone_are_cleared(tmp_path, alice, bob):
    """A clone that got the old mirror refs before it had a tracking branch (a single-branch
    clone, say) syncs, and gets its tracking branch back."""
    a, b, bare = app_clones(tmp_path, alice, bob)
    event(a, "deploy")
    assert a("sync").code == 0
    stale = tracking(b)
    git(b.cwd, "update-ref", "-d", "refs/remotes/origin/envtrail")
    git(b.cwd, "update-ref", OLD_MIRROR + "events", stale)  # not even an events commit
    git(b.cwd, "update-ref", OLD_MIRROR + "proposals/0123456789ab", stale)
    r = b("sync")
    assert r.code == 0, r.err
    assert git(b.cwd, "rev-parse", EVENTS) == git(bare, "rev-parse", EVENTS)
    assert git(b.cwd, "for-each-ref", OLD_MIRROR) == ""
    assert tracking(b) == git(bare, "rev-parse", "envtrail").strip()


def test_old_mirror_refs_in_a_dedicated_clone_are_ignored_and_cleared(tmp_path, store, cli, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    bare = make_remote(tmp_path, store)
    a = clone_as(tmp_path, str(bare), cli.identity, "alice")
    b = clone_as(tmp_path, str(bare), bob, "bob")
    event(a, "deploy")
    assert a("sync").code == 0
    wrong = git(b.cwd, "rev-parse", "main").strip()
    git(b.cwd, "update-ref", OLD_MIRROR + "events", wrong)  # what an old sync left, gone stale
    git(b.cwd, "update-ref", OLD_MIRROR + "proposals/0123456789ab", wrong)
    git(b.cwd, "update-ref", "refs/remotes/origin/envtrail-notes", wrong)  # not ours: kept
    r = b("sync")
    assert r.code == 0, r.err
    assert "events: 1 received" in r.out
    assert git(b.cwd, "rev-parse", EVENTS) == git(bare, "rev-parse", EVENTS)
    assert git(b.cwd, "for-each-ref", OLD_MIRROR) == ""
    assert git(b.cwd, "rev-parse", "refs/remotes/origin/envtrail-notes").strip() == wrong
    assert b("proposals", "--json").out.strip() in ("", "[]")
