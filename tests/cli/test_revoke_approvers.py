"""A revoke that leaves an approval count nobody can meet (attack20 Q3b).

Lowering a count needs that very count, so a store whose count outgrows its
approvers is stuck for good: `policy set` refuses to make one, and so does a
revoke, unless it says --break-glass (an incident: cutting someone off comes
first), where it lands and warns.
"""

from conftest import assert_one_line_error, git
from hostile import proposal_id


def _refs(store) -> str:
    return git(store, "for-each-ref", "refs/envtrail/")


def second_admin(cli, make_identity):
    """carol, an admin who is a member of staging only: someone else to ask."""
    carol = make_identity("carol@example.com")
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "staging",
               "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "second admin").code == 0
    return carol


def test_a_proposed_revoke_that_would_leave_too_few_approvers_is_refused(cli, store, bob,
                                                                         make_identity):
    second_admin(cli, make_identity)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    r = cli("policy", "set", "--env", "production", "--approvals", "2", "--reason", "strict")
    assert r.code == 0, r.err
    head, refs = git(store, "rev-parse", "HEAD"), _refs(store)
    # alice and bob are production's two approvers; without bob, two approvals are out
    # of reach for good.
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "left",
            "--propose")
    assert_one_line_error(r, 4)
    assert "production would need 2 approval(s) and has 0 approver(s) who can sign " \
        "besides alice@example.com, and no other admin could ask" in r.err
    assert "--break-glass" in r.err  # the hint names the way in an incident
    assert (git(store, "rev-parse", "HEAD"), _refs(store)) == (head, refs)
    # In an incident it lands, and says what it leaves behind.
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "stolen laptop",
            "--break-glass")
    assert r.code == 0, r.err
    assert "warning: production would need 2 approval(s)" in r.err
    assert git(store, "rev-parse", "HEAD") != head
    assert bob.principal not in (store / "envs/production.yaml").read_text()


def refuse_closing_bobs_key(cli, store, bob, member_of: str, approver_of: str) -> None:
    """bob, a member of ``member_of`` only, is the one listed approver of ``approver_of``
    (added or not): revoking him closes his key, and that count with it (exit 2)."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", member_of,
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", approver_of, "--approvals", "1", "--approvers",
               bob.principal, "--reason", "bob reviews").code == 0
    head = git(store, "rev-parse", "HEAD")
    r = cli("access", "revoke", bob.principal, "--env", member_of, "--reason", "left",
            "--propose")
    assert_one_line_error(r, 4)
    assert f"{approver_of} would need 1 approval(s)" in r.err
    assert git(store, "rev-parse", "HEAD") == head


def test_a_revoke_that_closes_a_listed_approvers_key_is_judged_everywhere(cli, store, bob):
    """bob is production's one listed approver and a member of staging only."""
    refuse_closing_bobs_key(cli, store, bob, "staging", "production")


def test_a_revoke_leaving_only_the_author_warns_and_one_leaving_enough_is_quiet(
        cli, store, bob, make_identity):
    carol = make_identity("carol@example.com")
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "staging",
               "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "someone else to ask").code == 0
    for who in (bob, carol):
        assert cli("access", "grant", who.principal, who.publine, "--env", "production",
                   "--reason", "join").code == 0
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "two eyes").code == 0
    # carol leaves production: alice and bob still approve each other's changes.
    r = cli("access", "revoke", carol.principal, "--env", "production", "--reason", "moved",
            "--propose")
    assert r.code == 0, r.err
    assert "warning" not in r.err
    pid = proposal_id(r)
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    # Now bob leaving would leave alice alone: her own changes there would wait.
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "left",
            "--propose")
    assert r.code == 0, r.err
    assert "warning: production needs 1 approval(s) and has 0 approver(s) besides " \
        "alice@example.com" in r.err
    # staging needs no approvals, and bob still approves production: nothing to say.
    r = cli("access", "revoke", bob.principal, "--env", "staging", "--reason", "moved")
    assert r.code == 0, r.err
    assert "approver" not in r.err


def test_a_revoke_that_closes_the_listed_approver_of_an_environment_not_added_yet(
        cli, store, bob):
    """attack21 R1c: qa's rule, written ahead, lists bob, a member of production only."""
    refuse_closing_bobs_key(cli, store, bob, "production", "qa")
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "stolen",
            "--break-glass")
    assert r.code == 0, r.err
    assert "warning: qa would need 1 approval(s)" in r.err


def test_two_revokes_each_fine_alone_are_named_when_sync_replays_one_on_the_other(
        tmp_path, cli, store, bob, make_identity):
    """attack21 R2: bob and carol, admins of production only, each leave it in their own
    clone (break-glass); alone, each leaves alice, the other and dave to approve. sync
    lands both: alice, the only admin left, could get nothing approved again. The clone
    whose revoke was replayed is told."""
    from test_sync import clone_as, make_remote

    carol, dave = make_identity("carol@example.com"), make_identity("dave@example.com")
    for who in (bob, carol, dave):
        assert cli("access", "grant", who.principal, who.publine, "--env", "production",
                   "--reason", "join").code == 0
    for who in (bob, carol):
        assert cli("access", "admin", who.principal, "--reason", "on call").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "2",
               "--reason", "four eyes").code == 0
    bare = make_remote(tmp_path, store)
    b = clone_as(tmp_path, str(bare), bob, "bob")
    c = clone_as(tmp_path, str(bare), carol, "carol")
    for me, who in ((b, bob), (c, carol)):
        r = me("access", "revoke", who.principal, "--env", "production", "--reason", "leaving",
               "--break-glass")
        assert r.code == 0, r.err
        assert "could never be approved" not in r.err  # alone, each leaves enough
    assert c("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert "replayed your commits" in r.out
    assert "warning: after replaying your commits: production would need 2 approval(s) and " \
        "has 1 approver(s) who can sign besides alice@example.com, and no other admin could " \
        "ask: changes there, and of policy, signers and members, could never be approved" \
        in r.err


def test_a_raised_count_replayed_on_another_clones_revoke_is_named(
        tmp_path, cli, store, bob, make_identity):
    """review13 B4, attack22 S2: alice raises production's count to two while carol, in her
    clone, revokes bob; each is fine alone (three approvers, or no count). Replayed on
    carol's revoke, alice's count leaves two approvers who are both admins: neither could
    get a policy change approved again. sync says so; before, only a replayed revoke
    was looked at."""
    from test_sync import clone_as, make_remote

    carol = make_identity("carol@example.com")
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    for env in ("production", "staging"):
        assert cli("access", "grant", carol.principal, carol.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "second admin").code == 0
    bare = make_remote(tmp_path, store)
    a = clone_as(tmp_path, str(bare), cli.identity, "alice")
    c = clone_as(tmp_path, str(bare), carol, "carol")
    assert c("access", "revoke", bob.principal, "--env", "production",
             "--reason", "left").code == 0
    assert c("sync").code == 0
    r = a("policy", "set", "--env", "production", "--approvals", "2", "--reason", "four eyes")
    assert r.code == 0 and "could never" not in r.err, r.err
    r = a("sync")
    assert r.code == 0, r.err
    assert "warning: after replaying your commits: production would need 2 approval(s) and " \
        "has 1 approver(s) who can sign besides alice@example.com" in r.err
    assert "warning" not in c("sync").err  # carol's side alone stranded nothing


def stranded_by_break_glass(cli, bob, make_identity):
    """production needs two approvals from its members alice, bob and carol; alice is the
    only admin. carol's break-glass revoke leaves alice needing two from bob alone: stuck
    (warned). carol stays a member of staging, an open signer who is no admin."""
    carol = make_identity("carol@example.com")
    for who, env in ((bob, "production"), (carol, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "2",
               "--reason", "four eyes").code == 0
    r = cli("access", "revoke", carol.principal, "--env", "production",
            "--reason", "stolen laptop", "--break-glass")
    assert r.code == 0, r.err
    assert "warning: production would need 2 approval(s) and has 1 approver(s)" in r.err
    return carol


def test_a_change_in_a_store_stuck_already_is_not_told_it_strands_it(cli, store, bob,
                                                                       make_identity):
    """What strands the store is said once, by the change that did it; a later change that
    leaves it as stuck is not the cause (only admins can ask: carol, who could, is none)."""
    carol = stranded_by_break_glass(cli, bob, make_identity)
    r = cli("access", "revoke", carol.principal, "--env", "staging", "--reason", "left",
            "--break-glass")
    assert r.code == 0, r.err
    assert "could never be approved" not in r.err
    assert carol.principal not in (store / "envs/staging.yaml").read_text()


def test_sync_names_no_stranding_the_remote_had_already(tmp_path, cli, store, bob,
                                                        make_identity):
    """The remote is stuck before this clone's staging value is replayed on it: sync
    replays it without blaming it."""
    from test_sync import clone_as, make_remote

    bare = make_remote(tmp_path, store)
    a = clone_as(tmp_path, str(bare), cli.identity, "alice")
    stranded_by_break_glass(cli, bob, make_identity)
    git(store, "push", "-q", str(bare), "HEAD:main")
    r = a("set", "LOCAL", "--env", "staging", "--reason", "mine", input="v")
    assert r.code == 0, r.err
    r = a("sync")
    assert r.code == 0, r.err
    assert "replayed your commits" in r.out
    assert "could never be approved" not in r.err
