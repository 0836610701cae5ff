"""What a commit re-made on a moved line decides again on the head it lands on.

Attack round 8 (G5, G6): a revoke re-made by sync or ``propose --redo`` kept the key
decision of the head it was first made on, so an offboarded member stayed an allowed
signer; and a plain sync that un-applied a local proposal re-pointed the deploy event
that ran with it at the remote's values. Real clones, a bare remote, real keys.
"""

import pytest
from test_approvals import _proposal_id
from test_sync import clone_as, head, make_world, setv, values
from test_sync_events import events_on
from test_sync_refs import EVENTS, local_refs_state, make_clones, propose

from conftest import assert_one_line_error, git
from envtrail.format import envfile, signers

BOB = "bob@example.com"
CANARY = "canary-unlanded-deploy-3b9f"


def signer_lines(cli, principal=BOB, rev="HEAD"):
    text = git(cli.cwd, "show", f"{rev}:.envtrail/allowed_signers")
    return [ln for ln in text.splitlines() if ln.startswith(principal + " ")]


def members(cli, env, rev="HEAD"):
    path = f"envs/{env}.yaml"
    return list(envfile.parse(git(cli.cwd, "show", f"{rev}:{path}").encode(), path).members)


def assert_every_commit_signed(cli):
    for commit in git(cli.cwd, "rev-list", "HEAD").split():
        git(cli.cwd, "verify-commit", commit)


def revoke(cli, env, *flags):
    r = cli("access", "revoke", BOB, "--env", env, "--reason", "INC-8 offboard", *flags)
    assert r.code == 0, r.err
    return r


@pytest.fixture
def two_admin_clones(tmp_path, store, cli, bob):
    """bob is a member of production and staging; alice has two clones of one remote."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    return a, clone_as(tmp_path, str(bare), cli.identity, "alice2"), bare


def test_revokes_from_each_environment_on_two_clones_close_the_key(two_admin_clones):
    # Each revoke saw bob still a member elsewhere, so neither closed his key; the one
    # replayed second leaves him a member nowhere and must close it, as `access revoke`
    # would have on that head.
    a, a2, bare = two_admin_clones
    revoke(a, "staging")
    assert a("sync").code == 0
    revoke(a2, "production")
    assert "valid-before" not in signer_lines(a2)[0]
    r = a2("sync")
    assert r.code == 0, r.err
    assert BOB not in members(a2, "production") + members(a2, "staging")
    (line,) = signer_lines(a2)
    assert "valid-before=" in line
    message = git(a2.cwd, "log", "-1", "--format=%B")
    assert "Envtrail-Action: revoke" in message
    assert f"Envtrail-Signer-Expired: {BOB}" in message
    (closed,) = [s for s in signers.parse((line + "\n").encode()) if s.principal == BOB]
    when = int(git(a2.cwd, "log", "-1", "--format=%ct").strip())
    assert closed.valid_before.timestamp() == when  # the replayed commit's own time
    assert a2("verify").code == 0
    assert head(a2) == git(bare, "rev-parse", "main").strip()
    assert_every_commit_signed(a2)


def test_revokes_of_the_same_last_membership_on_two_clones_settle_without_a_choice(
        tmp_path, store, cli, bob):
    # Both close bob's key, at different times. That is no conflict to settle (the
    # --mine it used to suggest re-closed a closed line and failed verify): the second
    # lands as the rotation it still is, and bob's line keeps the first close.
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    revoke(a, "production")
    assert a("sync").code == 0
    closed = signer_lines(a)
    revoke(a2, "production")
    r = a2("sync")
    assert r.code == 0, r.err
    message = git(a2.cwd, "log", "-1", "--format=%B")
    assert "Envtrail-Action: rotate" in message
    assert "Envtrail-Signer-Expired" not in message and "Envtrail-Member" not in message
    assert signer_lines(a2) == closed
    assert a2("verify").code == 0 and a("sync").code == 0 and a("verify").code == 0
    assert_every_commit_signed(a2)


def test_a_replayed_revoke_keeps_the_key_of_a_member_the_remote_seated_elsewhere(
        tmp_path, store, cli, bob):
    # The other way round: the remote made bob a member of staging meanwhile, so the
    # replayed revoke from production must not close his key.
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    assert a("access", "grant", BOB, bob.publine, "--env", "staging",
             "--reason", "join").code == 0
    assert a("sync").code == 0
    revoke(a2, "production")
    assert "valid-before" in signer_lines(a2)[0]  # closed on its own head
    r = a2("sync")
    assert r.code == 0, r.err
    assert "valid-before" not in signer_lines(a2)[0]
    assert "Envtrail-Signer-Expired" not in git(a2.cwd, "log", "-1", "--format=%B")
    assert a2("verify").code == 0


def test_a_redone_revoke_proposal_closes_the_key_of_a_member_now_nowhere(
        tmp_path, store, cli, bob, make_identity):
    # production needs an approval: bob's revoke from it is proposed (he is still in
    # staging, so it closes nothing), then he is revoked from staging directly (still in
    # production, so nothing closes either). Re-made on the new head, the proposal
    # leaves him a member nowhere and must close his key.
    a, _b, c, _bare = make_clones(tmp_path, store, cli, bob, make_identity)
    r = revoke(a, "production", "--propose")
    old = _proposal_id(r)
    revoke(a, "staging")
    assert "valid-before" not in signer_lines(a)[0]
    r = a("propose", "--redo", old)
    assert r.code == 0, r.err
    new = _proposal_id(r)
    proposal = git(a.cwd, "rev-parse", f"refs/envtrail/proposals/{new}").strip()
    assert f"Envtrail-Signer-Expired: {BOB}" in git(a.cwd, "log", "-1", "--format=%B", proposal)
    assert a("sync").code == 0 and c("sync").code == 0
    assert c("approve", new, "--reason", "ok").code == 0 and c("sync").code == 0
    assert a("sync").code == 0
    r = a("apply", new)
    assert r.code == 0, r.err
    assert BOB not in members(a, "production") + members(a, "staging")
    assert "valid-before=" in signer_lines(a)[0]
    assert a("verify").code == 0
    assert_every_commit_signed(a)


def test_a_plain_sync_never_re_points_a_deploy_that_ran_with_an_unlanded_proposal(
        tmp_path, store, cli, bob, make_identity):
    # alice applies an approved proposal on her clone and deploys with it; carol's
    # applied change reached the remote first. sync puts alice's proposal back (its
    # approvals named the old base): re-made, the deploy would follow carol's value,
    # which it never ran with. It stops instead, changing nothing.
    a, b, c, bare = make_clones(tmp_path, store, cli, bob, make_identity)
    mine, theirs = propose(a, value=CANARY), propose(c, value="carol-value")
    for clone in (a, c):
        assert clone("sync").code == 0
    for approver, pid in ((b, mine), (a, theirs)):
        assert approver("sync").code == 0
        assert approver("approve", pid, "--reason", "ok").code == 0
        assert approver("sync").code == 0
    assert a("sync").code == 0 and c("sync").code == 0
    assert c("apply", theirs).code == 0 and c("sync").code == 0
    assert a("apply", mine).code == 0
    r = a("run", "--env", "production", "--event", "deploy", "--reason", "ship v2", "--",
          "sh", "-c", f'test "$API_KEY" = {CANARY}')
    assert r.code == 0, r.err
    before, remote = local_refs_state(a), git(bare, "for-each-ref")
    r = a("sync")
    assert_one_line_error(r, 6)
    assert "deploy event" in r.err and mine in r.err and "nothing was changed" in r.err
    assert CANARY not in r.out + r.err and "carol-value" not in r.out + r.err
    assert local_refs_state(a) == before and git(bare, "for-each-ref") == remote
    # The documented way on: drop the unpushed event, sync, then record what happened.
    git(a.cwd, "update-ref", "-d", EVENTS)
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {mine} is a proposal again" in r.out
    assert values(a)["API_KEY"] == "carol-value"
    assert git(bare, "for-each-ref", EVENTS) == "" and a("verify").code == 0


def test_an_event_for_another_environment_does_not_stop_the_sync(
        tmp_path, store, cli, bob, make_identity):
    # The un-applied proposal changed production only; a staging event ran with nothing
    # it changed, so it is re-made after the remote's head as any other.
    a, b, c, bare = make_clones(tmp_path, store, cli, bob, make_identity)
    mine = propose(a, value=CANARY)
    assert a("sync").code == 0 and b("sync").code == 0
    assert b("approve", mine, "--reason", "ok").code == 0 and b("sync").code == 0
    assert a("sync").code == 0
    assert a("apply", mine).code == 0
    assert a("event", "restart", "--env", "staging", "--reason", "r").code == 0
    setv(c, "MEANWHILE", "m", env="staging")
    assert c("sync").code == 0
    r = a("sync")
    assert r.code == 0, r.err
    assert events_on(bare)[-1][:2] == ("restart", "alice@example.com")
    assert events_on(bare)[-1][2] == git(bare, "rev-parse", "main").strip()
    assert a("verify").code == 0
