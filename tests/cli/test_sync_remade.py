"""What a commit re-made on a moved line decides again on the head it lands on.

Attack round 8 (G5, G6): a revoke re-made by sync or ``propose --redo`` kept the key
decision of the head it was first made on, so an offboarded member stayed an allowed
signer; and a plain sync that un-applied a local proposal re-pointed the deploy event
that ran with it at the remote's values. Real clones, a bare remote, real keys.
"""

import shlex
import sys
import time

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


def offboarded_on_one_clone(tmp_path, store, cli, bob):
    """bob, a member of production only, offboarded on alice's first clone and pushed;
    (that clone, her second clone not synced since, the remote, bob's closed lines)."""
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    revoke(a, "production")
    assert a("sync").code == 0
    return a, a2, bare, signer_lines(a)


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
    a, a2, _bare, closed = offboarded_on_one_clone(tmp_path, store, cli, bob)
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
    assert c("set", "MEANWHILE", "--env", "production", "--reason", "INC-4", "--break-glass",
             input="m").code == 0
    assert c("sync").code == 0
    r = a("sync")
    assert r.code == 0, r.err
    assert events_on(bare)[-1][:2] == ("restart", "alice@example.com")
    assert events_on(bare)[-1][2] == git(bare, "rev-parse", "main").strip()
    assert a("verify").code == 0


def test_an_event_before_this_clones_own_changes_keeps_its_place(
        tmp_path, store, cli, bob, make_identity):
    # The deploy followed the line as the remote had it; alice's later change is
    # replayed over carol's, and the deploy still names the commit it ran after.
    a, _b, c, bare = make_clones(tmp_path, store, cli, bob, make_identity)
    base = head(a)
    assert a("event", "deploy", "--env", "staging", "--reason", "ship").code == 0
    setv(a, "LATER", "l", env="staging")
    setv(c, "MEANWHILE", "m", env="staging")
    assert c("sync").code == 0
    r = a("sync")
    assert r.code == 0, r.err
    assert events_on(bare) == [("deploy", "alice@example.com", base)]
    assert values(a, "staging") == {"LATER": "l", "MEANWHILE": "m"}
    assert a("verify").code == 0


def test_a_value_set_only_after_the_event_ran_is_no_value_it_ran_with(tmp_path, store, cli,
                                                                      bob):
    # The deploy ran after alice's X and before her Y, and bob's Y reached the remote:
    # --theirs Y takes nothing the deploy ran with (no exit 2), but re-made after X's
    # replacement it would follow bob's Y, which it never saw (exit 6).
    a, b, _bare = make_world(tmp_path, store, cli, bob)
    setv(a, "X", CANARY)
    r = a("run", "--env", "production", "--event", "deploy", "--reason", "ship", "--",
          "sh", "-c", f'test "$X" = {CANARY}')
    assert r.code == 0, r.err
    setv(a, "Y", "alice-y")
    setv(b, "Y", "bob-y")
    assert b("sync").code == 0
    before = local_refs_state(a)
    r = a("sync", "--theirs", "Y")
    assert_one_line_error(r, 6)
    assert "ran before the remote's change to production:Y" in r.err
    assert local_refs_state(a) == before


def test_an_admin_mark_replayed_over_an_offboarding_never_re_opens_the_key(
        tmp_path, store, cli, bob):
    # Attack round 8, H9: one clone offboards bob (his key closes) while another marks
    # him admin. The mark is no conflict to settle; re-made on the new head it finds no
    # open line of bob's to mark, so nothing of it lands and his key stays closed.
    a, a2, bare, closed = offboarded_on_one_clone(tmp_path, store, cli, bob)
    assert a2("access", "admin", BOB, "--reason", "on call").code == 0
    r = a2("sync")
    assert r.code == 0, r.err
    assert signer_lines(a2) == closed and "valid-before=" in closed[0]
    assert head(a2) == head(a) == git(bare, "rev-parse", "main").strip()
    assert a2("verify").code == 0


def test_admin_marks_re_made_on_a_moved_line_land_as_made(tmp_path, store, cli, bob):
    # The remote moved for another reason only: re-made, a mark must still set (and an
    # unmark still clear) the mark on bob's open line. Dropped in silence, it leaves an
    # admin meant to be removed, or an on-call admin who cannot act.
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    for n, flags in enumerate(((), ("--remove",))):
        setv(a, f"MOVE{n}", "m")
        assert a("sync").code == 0
        assert a2("access", "admin", BOB, *flags, "--reason", "on call").code == 0
        r = a2("sync")
        assert r.code == 0, r.err
        assert "(signers) ->" in r.out
        (line,) = signer_lines(a2)
        assert line.endswith(signers.ADMIN_MARK) == (not flags)
        assert "valid-before" not in line
        assert a2("verify").code == 0
        assert a("sync").code == 0
    assert_every_commit_signed(a2)


def test_a_grant_by_an_admin_demoted_meanwhile_is_not_replayed(
        tmp_path, store, cli, bob, make_identity):
    # carol, an admin, grants dave while alice takes her admin rights away and pushes.
    # Re-made on the new head, the grant is a non-admin's custody change: replay must
    # refuse it as `access grant` would there (exit 4), push nothing and seat nobody.
    carol, dave = make_identity("carol@example.com"), make_identity("dave@example.com")
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "on call").code == 0
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    c = clone_as(tmp_path, str(bare), carol, "carol")
    r = c("access", "grant", dave.principal, dave.publine, "--env", "production",
          "--reason", "join")
    assert r.code == 0, r.err
    assert a("access", "admin", carol.principal, "--remove", "--reason", "rotation").code == 0
    assert a("sync").code == 0
    remote = git(bare, "rev-parse", "main").strip()
    r = c("sync")
    assert_one_line_error(r, 4)
    assert git(bare, "rev-parse", "main").strip() == remote
    assert dave.principal not in git(bare, "show", "main:envs/production.yaml")
    assert dave.principal not in git(bare, "show", "main:.envtrail/allowed_signers")


def test_a_redone_admin_mark_never_re_opens_an_offboarded_key(
        tmp_path, store, cli, bob, make_identity):
    # H10: the same through `propose --redo`.
    a, _b, _c, _bare = make_clones(tmp_path, store, cli, bob, make_identity)
    r = a("access", "admin", BOB, "--reason", "on call", "--propose")
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    revoke(a, "staging")
    revoke(a, "production", "--break-glass")
    closed = signer_lines(a)
    assert "valid-before=" in closed[0]
    r = a("propose", "--redo", pid)
    assert r.code == 0, r.err
    for ref in git(a.cwd, "for-each-ref", "--format=%(refname)",
                   "refs/envtrail/proposals/").split():
        assert signer_lines(a, rev=ref) == closed
    assert signer_lines(a) == closed and a("verify").code == 0


def test_run_event_follows_the_commit_the_command_ran_with(cli, store, bob):
    # H1: a change landing while the deploy runs; the deploy never saw it, so its event
    # follows the commit it read, not the head when it ended.
    setv(cli, "DB_PASSWORD", CANARY)
    ran_with = head(cli)
    inner = (f"printf new-password | {shlex.quote(sys.executable)} -m envtrail set DB_PASSWORD "
             "--env production --reason mid-run")
    r = cli.sub("run", "--env", "production", "--event", "deploy", "--reason", "ship", "--",
                "sh", "-c", f'test "$DB_PASSWORD" = {CANARY} && {inner}')
    assert r.code == 0, r.err
    assert head(cli) != ran_with
    kind, _actor, after = events_on(cli.cwd)[-1]
    assert (kind, after) == ("deploy", ran_with)
    assert cli("verify").code == 0


def tightened_under_a_set(tmp_path, store, cli, bob, *flags):
    """alice's clone changes production's rule by ``flags`` and pushes while bob's plain
    `set` of Y (the canary) sits unpushed: (alice's clone, bob's, the remote)."""
    a, b, bare = make_world(tmp_path, store, cli, bob)
    assert a("policy", "set", "--env", "production", *flags, "--reason", "tighten").code == 0
    assert a("sync").code == 0
    setv(b, "Y", CANARY)
    return a, b, bare


def test_a_change_the_remote_now_wants_approved_stops_sync_with_the_way_on(
        tmp_path, store, cli, bob):
    # H6: production's count was raised while bob's plain `set` sat unpushed. Replayed,
    # it would land unapproved (rule 9): sync says so as the conflict it is (exit 6,
    # nothing changed), not as an integrity failure that verify cannot reproduce.
    _a, b, bare = tightened_under_a_set(tmp_path, store, cli, bob, "--approvals", "1")
    before, remote = local_refs_state(b), git(bare, "for-each-ref")
    r = b("sync")
    assert_one_line_error(r, 6)
    assert "needs 1 approval(s)" in r.err and "--propose" in r.err and CANARY not in r.err
    assert local_refs_state(b) == before and git(bare, "for-each-ref") == remote
    assert b("verify").code == 0
    # The way on, as the hint says.
    remote_head = git(bare, "rev-parse", "main").strip()
    git(b.cwd, "fetch", "-q", "origin")
    git(b.cwd, "reset", "-q", "--keep", remote_head)
    assert b("verify", "--accept-rewrite").code == 0
    r = b("set", "Y", "--env", "production", "--reason", "again", "--propose", input=CANARY)
    assert r.code == 0, r.err
    assert b("sync").code == 0 and b("verify").code == 0


def test_a_grant_replayed_over_an_offboarding_is_a_conflict_someone_decides(
        tmp_path, store, cli, bob):
    # H3, attack19 P9: one clone offboards bob (his key closes) while another grants him
    # staging. Replayed silently, the grant re-opened the key of someone just fired. It is
    # a conflict on the seat (exit 6, nothing pushed); --theirs drops the grant; --mine
    # re-admits him as `access grant` does on that head: his key signs again (his line
    # re-opened with its own start), and log shows the grant.
    _a, a2, bare, closed = offboarded_on_one_clone(tmp_path, store, cli, bob)
    assert a2("access", "grant", BOB, bob.publine, "--env", "staging",
              "--reason", "back for staging").code == 0
    remote = git(bare, "for-each-ref")
    r = a2("sync")
    assert r.code == 6, (r.out, r.err)
    assert "staging:member:bob@example.com" in r.err
    assert git(bare, "for-each-ref") == remote
    r = a2("sync", "--mine", "staging:member:bob@example.com")
    assert r.code == 0, r.err
    assert BOB in members(a2, "staging") and BOB not in members(a2, "production")
    (line,) = [s for s in signers.parse("\n".join(signer_lines(a2)).encode() + b"\n")]
    (was,) = signers.parse("\n".join(closed).encode() + b"\n")
    assert was.valid_before is not None
    assert line.valid_before is None and line.valid_after == was.valid_after
    assert line.key == was.key and not line.admin
    assert "Envtrail-Action: grant" in git(a2.cwd, "log", "-1", "--format=%B")
    assert a2("verify").code == 0


def test_keeping_the_remotes_offboarding_drops_the_stale_grant(tmp_path, store, cli, bob):
    _a, a2, bare, closed = offboarded_on_one_clone(tmp_path, store, cli, bob)
    assert a2("access", "grant", BOB, bob.publine, "--env", "staging",
              "--reason", "back for staging").code == 0
    r = a2("sync", "--theirs", "staging:member:bob@example.com")
    assert r.code == 0, r.err
    assert BOB not in members(a2, "staging") and signer_lines(a2) == closed
    assert git(a2.cwd, "rev-parse", "HEAD").strip() == git(bare, "rev-parse", "main").strip()
    assert a2("verify").code == 0


@pytest.mark.parametrize("second_env", ["production", "staging"])
def test_two_admins_re_granting_one_offboarded_member_settle_without_a_choice(
        tmp_path, store, cli, bob, second_env):
    # Both of alice's clones see bob offboarded, and each grants him back with his key.
    # The replayed grant decides his signer line on the head it lands on, as the command
    # does: his key is already open there, so nothing about it is a conflict, and a plain
    # sync ends in one signed line (before: a signer:bob conflict that --mine could not
    # settle).
    a, a2, bare, _closed = offboarded_on_one_clone(tmp_path, store, cli, bob)
    assert a2("sync").code == 0
    for c, env in ((a, "production"), (a2, second_env)):
        time.sleep(1.1)  # each re-opening dated its own second, as two people's would be
        assert c("access", "grant", BOB, bob.publine, "--env", env,
                 "--reason", "INC-9 back").code == 0
    assert a("sync").code == 0
    opened = signer_lines(a)
    r = a2("sync")
    assert r.code == 0, r.err
    assert signer_lines(a2) == opened  # the remote's re-opening, not a second one
    assert BOB in members(a2, "production") and BOB in members(a2, second_env)
    assert git(a2.cwd, "rev-parse", "HEAD").strip() == git(bare, "rev-parse", "main").strip()
    assert a2("verify").code == 0
    assert_every_commit_signed(a2)


def test_a_write_the_remote_now_keeps_to_admins_is_refused_on_replay(
        tmp_path, store, cli, bob):
    # production's writers were narrowed to admins while bob's plain `set` sat unpushed.
    # Re-made on that head it is a write the policy refuses, as `set` would there:
    # exit 4 naming the rule, nothing pushed, the value never on the remote.
    _a, b, bare = tightened_under_a_set(tmp_path, store, cli, bob, "--writers", "admins")
    remote = git(bare, "for-each-ref")
    r = b("sync")
    assert_one_line_error(r, 4)
    assert "policy refused" in r.err and CANARY not in r.err
    assert git(bare, "for-each-ref") == remote


def test_a_deploy_before_the_remotes_change_of_its_environment_stops_sync(
        tmp_path, store, cli, bob):
    # H7: carol-side rotation of DB_PASSWORD reached the remote while alice deployed
    # from her unpushed FEATURE_FLAG with the old password. Re-made after the replay of
    # her change, the deploy would follow the new password: sync stops, changing nothing.
    a, b, bare = make_world(tmp_path, store, cli, bob, key="DB_PASSWORD", value="old-pw")
    setv(b, "DB_PASSWORD", "new-pw")
    assert b("sync").code == 0
    setv(a, "FEATURE_FLAG", "on")
    r = a("run", "--env", "production", "--event", "deploy", "--reason", "ship", "--",
          "sh", "-c", 'test "$DB_PASSWORD" = old-pw')
    assert r.code == 0, r.err
    before, remote = local_refs_state(a), git(bare, "for-each-ref")
    r = a("sync")
    assert_one_line_error(r, 6)
    assert "deploy event" in r.err and "production:DB_PASSWORD" in r.err
    assert "old-pw" not in r.err + r.out and "new-pw" not in r.err + r.out
    assert local_refs_state(a) == before and git(bare, "for-each-ref") == remote


def _dave_granted_twice(tmp_path, store, cli, bob, make_identity):
    """alice's first clone grants dave production with one key and pushes; her second
    grants him staging with another, unpushed: (the second clone, the remote, the key
    the remote has)."""
    a, _b, bare = make_world(tmp_path, store, cli, bob)
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    first, second = make_identity("dave@example.com"), make_identity("dave@example.com")
    assert a("access", "grant", "dave@example.com", first.publine, "--env", "production",
             "--reason", "join").code == 0
    assert a("sync").code == 0
    assert a2("access", "grant", "dave@example.com", second.publine, "--env", "staging",
              "--reason", "join").code == 0
    return a2, bare, first


def test_concurrent_grants_of_one_name_with_two_keys_never_seat_both(
        tmp_path, store, cli, bob, make_identity):
    # I6: two admins grant dave, each with another key, in different environments.
    # Re-made on the remote's head, the second grant would leave one name on two keys.
    # Sync names the seat as the conflict: keeping this clone's ends in exit 6 with
    # nothing changed; keeping the remote's drops this clone's grant, and dave signs
    # with one key.
    a2, bare, first = _dave_granted_twice(tmp_path, store, cli, bob, make_identity)
    before, remote = local_refs_state(a2), git(bare, "for-each-ref")
    r = a2("sync")
    assert_one_line_error(r, 6)
    assert "staging:member:dave@example.com" in r.err
    r = a2("sync", "--mine", "staging:member:dave@example.com")
    assert_one_line_error(r, 6)
    assert "another key" in r.err
    r = a2("sync", "--mine", "signer:dave@example.com")
    assert_one_line_error(r, 2)
    assert "not in conflict" in r.err
    assert local_refs_state(a2) == before and git(bare, "for-each-ref") == remote
    r = a2("sync", "--theirs", "staging:member:dave@example.com")
    assert r.code == 0, r.err
    assert a2("verify").code == 0
    lines = signer_lines(a2, "dave@example.com")
    assert len(lines) == 1 and first.publine.split()[1] in lines[0]
    assert "dave@example.com" not in members(a2, "staging")
    assert git(a2.cwd, "rev-parse", "HEAD").strip() == git(bare, "rev-parse", "main").strip()


def test_a_grant_revoked_again_before_the_sync_can_still_be_dropped(
        tmp_path, store, cli, bob, make_identity):
    # J2: alice grants dave staging with one key and revokes him again, unpushed, while
    # her other clone granted dave production with another key and pushed. The grant is
    # still re-made, so its seat is the conflict although it ends removed: --theirs on it
    # drops the grant (the revoke is left a rotation), and her other work lands.
    a2, bare, first = _dave_granted_twice(tmp_path, store, cli, bob, make_identity)
    assert a2("access", "revoke", "dave@example.com", "--env", "staging",
              "--reason", "wrong person").code == 0
    setv(a2, "STAGING_ONLY", "s", env="staging")
    r = a2("sync")
    assert_one_line_error(r, 6)
    assert "staging:member:dave@example.com" in r.err
    r = a2("sync", "--theirs", "staging:member:dave@example.com")
    assert r.code == 0, r.err
    assert a2("verify").code == 0
    assert values(a2, "staging")["STAGING_ONLY"] == "s"
    (line,) = signer_lines(a2, "dave@example.com")
    assert first.publine.split()[1] in line and "valid-before" not in line
    assert "dave@example.com" not in members(a2, "staging")
    assert git(a2.cwd, "rev-parse", "HEAD").strip() == git(bare, "rev-parse", "main").strip()


def test_a_replayed_break_glass_change_lands_as_break_glass(tmp_path, store, cli, bob,
                                                            make_identity):
    # The approval check sync adds to a replay must keep a break-glass change's route:
    # production needs an approval, and bob's incident fix, made with --break-glass while
    # carol pushed elsewhere, replays and stays flagged for review.
    _a, b, c, bare = make_clones(tmp_path, store, cli, bob, make_identity)
    assert b("set", "Y", "--env", "production", "--reason", "INC-5", "--break-glass",
             input=CANARY).code == 0
    setv(c, "MEANWHILE", "m", env="staging")
    assert c("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert "Envtrail-Break-Glass: yes" in git(b.cwd, "log", "-1", "--format=%B")
    assert head(b) == git(bare, "rev-parse", "main").strip()
    assert values(b)["Y"] == CANARY and b("verify").code == 0


def test_an_event_recorded_during_the_run_keeps_the_events_line_in_order(cli, store, bob):
    # While the deploy runs, a change lands and a restart event follows it. The deploy
    # ran with the older commit, but the events line keeps the store line's order, so
    # its event follows the restart's commit rather than an older one (verify holds it).
    setv(cli, "DB_PASSWORD", CANARY)
    py = shlex.quote(sys.executable)
    inner = (f"printf new | {py} -m envtrail set DB_PASSWORD --env production --reason mid "
             f"&& {py} -m envtrail event restart --env production --reason r")
    r = cli.sub("run", "--env", "production", "--event", "deploy", "--reason", "ship", "--",
                "sh", "-c", inner)
    assert r.code == 0, r.err
    (_, _, restart_after), (kind, _, after) = events_on(cli.cwd)[-2:]
    assert kind == "deploy" and after == restart_after == head(cli)
    assert cli("verify").code == 0
