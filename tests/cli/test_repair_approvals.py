"""A repair needs the approvals its changes would need, by the rules of the states it
vouches for: never by a forged parent that lowered the count (third attacker review)."""

from __future__ import annotations

import json
from dataclasses import replace

import pygit2
from test_approvals import _force_onto_line, _head, _proposal_id, make_team

from conftest import assert_one_line_error, git
from envtrail.audit.history import parse_record
from envtrail.audit.record import Record, render
from envtrail.audit.repairs import ACK, CLEAN, FROM
from envtrail.gitstore.commit import Author, create_commit
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.txn import signer_for
from hostile import drop_signer, setv, signed_approval


def _lower_the_count_by_hand(store) -> str:
    """An unsigned commit that sets production's approvals to 0: a finding, which a repair
    then undoes (what an admin with push rights, or an outsider, could push)."""
    policy = (store / ".envtrail/policy.yaml").read_text()
    assert "approvals: 1" in policy
    (store / ".envtrail/policy.yaml").write_text(policy.replace("approvals: 1", "approvals: 0"))
    git(store, "add", ".envtrail/policy.yaml")
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "relax")
    return _head(store)


def _an_approved_rotation(cli, store, bob, make_identity):
    """production needs one approval; API_KEY goes from v1 to v2, approved by bob.
    Returns (the team, the commit where API_KEY is still v1)."""
    team = make_team(cli, bob, make_identity)
    before = _head(store)
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    return team, before


def test_a_forged_lower_count_does_not_free_the_repair_from_approvals(cli, store, bob,
                                                                      make_identity):
    team, before = _an_approved_rotation(cli, store, bob, make_identity)
    _lower_the_count_by_hand(store)
    # Restoring v1 changes production's values: the clean point's rule (1 approval) holds.
    head = _head(store)
    assert_one_line_error(cli("repair", "--reason", "undo", "--from", before), 4)
    assert _head(store) == head
    # Landed by hand without approval, the same repair is a rule 9 finding and reads refuse.
    r = cli("repair", "--reason", "undo", "--from", before, "--propose")
    assert r.code == 0, r.err
    fix = _proposal_id(r)
    _force_onto_line(store, fix)
    found = cli("verify")
    assert found.code == 1
    assert "rule 9 (approvals): needs 1 approval(s) of production" in found.out
    assert_one_line_error(cli.as_(team["bob"])("get", "API_KEY", "--env", "production"), 5)
    # With bob's approval it is clean.
    git(store, "reset", "-q", "--hard", head)
    assert cli.as_(team["bob"])("approve", fix, "--reason", "agreed").code == 0
    assert cli.as_(team["bob"])("apply", fix).code == 0
    assert cli("verify").code == 0
    assert cli.as_(team["bob"])("get", "API_KEY", "--env", "production").out == "v1"


def test_a_forged_parent_holding_the_repairs_tree_does_not_hide_its_changes(cli, store, bob,
                                                                            make_identity):
    """The repair's changes are measured from the last verified state, not from a forged
    parent that already holds the repair's tree (attacker review, fourth round)."""
    team, old = _an_approved_rotation(cli, store, bob, make_identity)
    approved = _head(store)
    # The repair an admin would make (v1 back, under today's keys), as a proposal...
    git(store, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "noise")
    fix = _proposal_id(cli("repair", "--reason", "back to v1", "--from", old, "--propose"))
    tree = git(store, "rev-parse", f"refs/envtrail/proposals/{fix}^{{tree}}").strip()
    # ... and an unsigned commit on the approved head that already holds that tree.
    forged = git(store, "commit-tree", "-p", approved, "-m", "x", tree).strip()
    # The admin's repair of it, signed by hand with exactly that tree: against its
    # parent it changes nothing; against the approved state it brings v1 back.
    g = GitRepo(store)
    proposed = parse_record(g.info(git(store, "rev-parse", f"refs/envtrail/proposals/{fix}")
                                   .strip()))
    rec = replace(proposed, extra=((ACK, f"{forged} 1"), (CLEAN, approved), (FROM, old)))
    when = g.info(forged).committer_time
    repair = create_commit(g, [forged], {}, render(rec),
                           Author("alice@example.com", "alice@example.com", when),
                           signer_for(cli.identity.identity), tree=pygit2.Oid(hex=tree))
    git(store, "reset", "-q", "--hard", repair)
    found = cli("verify")
    assert found.code == 1, found.out
    assert f"{repair[:10]} rule 9 (approvals): needs 1 approval(s) of production" in found.out
    assert "v1" not in cli.as_(team["bob"])("get", "API_KEY", "--env", "production").out



def test_a_backdated_repair_cannot_name_a_verified_commit_for_more_than_rule_7(cli, store,
                                                                               bob):
    """A repair may sweep a verified commit dated after itself only by naming it for rule 7
    alone; naming another rule too would keep it valid while rule 9 no longer counted the
    swept commit's policy (attacker review, fourth round)."""
    from datetime import timedelta

    # bob approves, so that the count stays within reach (ops/reach.py).
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "DB_PASS", "s3cret")
    assert cli("policy", "set", "--env", "production", "--approvals", "1", "--no-break-glass",
               "--reason", "two-person rule").code == 0
    policy_commit = _head(store)
    g = GitRepo(store)
    clean = g.info(policy_commit).parents[0]
    for rules in (("7",), ("7", "9")):
        rec = Record("repair", "alice@example.com", "cleanup", (), (),
                     extra=(*((ACK, f"{policy_commit} {r}") for r in rules), (CLEAN, clean)))
        when = g.info(policy_commit).committer_time - timedelta(seconds=1)
        repair = create_commit(g, [policy_commit], {}, render(rec),
                               Author("alice@example.com", "alice@example.com", when),
                               signer_for(cli.identity.identity),
                               tree=pygit2.Oid(hex=git(store, "rev-parse", f"{clean}^{{tree}}")
                                               .strip()))
        git(store, "reset", "-q", "--hard", repair)
        found = cli("verify", "--strict")
        assert found.code == 1, (rules, found.out)
        assert f"{repair[:10]} rule {9 if rules == ('7',) else 3}" in found.out, found.out
        git(store, "reset", "-q", "--hard", policy_commit)


def test_a_backdated_repair_is_approved_only_by_who_still_approves_after_what_it_sweeps(
        cli, store, bob, make_identity):
    # An admin dates a repair before dave's approved revocation, which it sweeps as
    # dated after it (rule 7 alone: the admitted limit); rule 9 still holds it, and the
    # revoked dave, an approver at the clean point, cannot be the one who approves it.
    import time

    from hostile import point, signed_approval, verify_findings

    make_team(cli, bob, make_identity)
    dave = make_identity("dave@example.com")
    r = cli("access", "grant", dave.principal, dave.publine, "--env", "production",
            "--reason", "join", "--propose")
    pid = _proposal_id(r)
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    clean = _head(store)
    time.sleep(1.1)  # what the repair sweeps is dated after it
    pid = _proposal_id(cli("access", "revoke", dave.principal, "--env", "production",
                           "--reason", "offboard", "--propose"))
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    repair = _backdated_repair(store, cli, clean, ("production",))
    point(store, signed_approval(store, dave, repair, repair))
    found = [f["message"] for f in verify_findings(cli) if f["rule"] == 9]
    assert any("dave@example.com is not an approver" in m for m in found), found
    assert cli("get", "API_KEY", "--env", "production").code == 5


def test_a_repair_proposal_counts_its_approvals_when_a_forgery_dropped_its_authors_key(
        cli, store, bob, make_identity):
    # The forged parent no longer lists alice: her proposed repair is judged, as the line
    # judges a repair, at its clean point, so bob's approval counts and bob can apply it.
    team, before = _an_approved_rotation(cli, store, bob, make_identity)
    drop_signer(store, "alice@example.com")
    r = cli("repair", "--reason", "INC-9 undo the takeover", "--from", before, "--propose")
    assert r.code == 0, r.err
    fix = _proposal_id(r)
    bob_cli = cli.as_(team["bob"])
    assert bob_cli("approve", fix, "--reason", "checked").code == 0
    applied = bob_cli("apply", fix)
    assert applied.code == 0, applied.err
    assert bob_cli("verify").code == 0
    assert bob_cli("get", "API_KEY", "--env", "production").out == "v1"


def test_the_author_applies_her_repair_proposal_when_a_forgery_dropped_her_key(
        cli, store, bob, make_identity):
    # At the forged head alice is no signer; where her repair is judged (its clean point)
    # she is, so once bob approved she applies it herself.
    team, before = _an_approved_rotation(cli, store, bob, make_identity)
    drop_signer(store, "alice@example.com")
    fix = _proposal_id(cli("repair", "--reason", "INC-9 undo the takeover", "--from", before,
                           "--propose"))
    early = cli("apply", fix)  # refused for want of approvals, not for who she is
    assert early.code == 4 and "0 of 1 approval" in early.err, early.err
    assert cli.as_(team["bob"])("approve", fix, "--reason", "checked").code == 0
    applied = cli("apply", fix)
    assert applied.code == 0, applied.err
    assert cli("verify").code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "v1"


def test_an_outsider_still_cannot_apply_a_repair_proposal(cli, store, bob, make_identity):
    team, before = _an_approved_rotation(cli, store, bob, make_identity)
    drop_signer(store, "alice@example.com")
    fix = _proposal_id(cli("repair", "--reason", "INC-9 undo the takeover", "--from", before,
                           "--propose"))
    assert cli.as_(team["bob"])("approve", fix, "--reason", "checked").code == 0
    outsider = cli.as_(make_identity("mallory@example.com"))("apply", fix)
    assert outsider.code == 4, outsider.err
    assert "approval" not in outsider.err  # refused as who they are, before anything else
    assert "not an allowed signer" in outsider.err, outsider.err


def test_a_backdated_repair_cannot_undo_an_environment_made_since_without_its_approvers(
        cli, store, bob, make_identity):
    # payments is made (and given a count) after the clean point; a repair dated back over
    # it puts the clean tree back, deleting it. Production's approver alone must not do.
    import time

    from hostile import point, signed_approval, verify_findings

    team = make_team(cli, bob, make_identity)
    # carol, a second admin: payments' only approver (alice) could never approve alice.
    pid = _proposal_id(cli("access", "admin", team["carol"].principal, "--reason", "second",
                           "--propose"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    clean = _head(store)
    time.sleep(1.1)  # what the repair sweeps is dated after it
    assert cli("env", "add", "payments", "--reason", "launch").code == 0
    pid = _proposal_id(cli("policy", "set", "--env", "payments", "--approvals", "1",
                           "--reason", "four eyes on payments", "--propose"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    repair = _backdated_repair(store, cli, clean, ())
    point(store, signed_approval(store, team["bob"], repair, repair))
    found = [f["message"] for f in verify_findings(cli) if f["rule"] == 9]
    assert any("payments has 0 of 1" in m for m in found), found
    assert cli("env", "list").code == 5


def test_a_backdated_repair_is_not_approved_with_a_key_a_revocation_it_sweeps_closed(
        cli, store, bob, make_identity):
    # bob stays a listed approver of production after his revocation closed his key;
    # the repair dated back over it must not count an approval made with that key.
    import time

    from hostile import point, signed_approval, verify_findings

    team = make_team(cli, bob, make_identity)
    pid = _proposal_id(cli("policy", "set", "--env", "production", "--approvers",
                           "bob@example.com,carol@example.com", "--reason", "named",
                           "--propose"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    clean = _head(store)
    time.sleep(1.1)  # what the repair sweeps is dated after it
    pid = _proposal_id(cli("access", "revoke", "bob@example.com", "--env", "production",
                           "--reason", "left", "--propose"))
    assert cli.as_(team["carol"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    assert "valid-before" in (store / ".envtrail/allowed_signers").read_text()
    repair = _backdated_repair(store, cli, clean, ("production",))
    point(store, signed_approval(store, team["bob"], repair, repair))
    found = [f["message"] for f in verify_findings(cli) if f["rule"] == 9]
    assert any("signed with a key that was not theirs" in m for m in found), found
    assert cli("get", "API_KEY", "--env", "production").code == 5


def _backdated_repair(store, cli, clean: str, envs: tuple[str, ...]) -> str:
    """alice's repair on top of the head, dated at ``clean`` and putting its tree back,
    naming every commit since for rule 7 alone (they are dated after it)."""
    swept = git(store, "rev-list", f"{clean}..HEAD").split()
    g = GitRepo(store)
    rec = Record("repair", "alice@example.com", "put back the clean state", envs,
                 extra=(*((ACK, f"{c} 7") for c in swept), (CLEAN, clean), (FROM, clean)))
    return create_commit(g, [_head(store)], {}, render(rec),
                         Author("alice@example.com", "alice@example.com",
                                g.info(clean).committer_time),
                         signer_for(cli.identity.identity),
                         tree=g.repo.get(clean).peel(pygit2.Commit).tree_id)


def test_a_plain_git_commit_in_a_proposal_chain_is_shown_as_not_counting(cli, store, bob,
                                                                          make_identity):
    """A proposal ref anyone can push may carry a commit with no envtrail record on top:
    it is judged "not a good signed approval", not taken for a repair's signer."""
    make_team(cli, bob, make_identity)
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    ref = f"refs/envtrail/proposals/{pid}"
    tip = git(store, "rev-parse", ref).strip()
    plain = git(store, "commit-tree", f"{tip}^{{tree}}", "-p", tip, "-m", "lgtm").strip()
    git(store, "update-ref", ref, plain)
    r = cli("review", pid)
    assert r.code == 0, r.err
    assert f"does not count: {plain[:10]} is not a good signed approval" in r.out
    assert "approvals: 0 of 1" in r.out


def _resigned_repair_proposal(cli, store, bob, make_identity, who, extra_of):
    """A real repair proposal (API_KEY back to v1 under a noise finding), signed again by
    ``who`` with the extra trailers ``extra_of(proposed record)`` and filed as a proposal
    of its own, with bob's approval on top by hand. Returns its proposal id."""
    team, old = _an_approved_rotation(cli, store, bob, make_identity)
    git(store, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "noise")
    fix = _proposal_id(cli("repair", "--reason", "back to v1", "--from", old, "--propose"))
    g, ref = GitRepo(store), f"refs/envtrail/proposals/{fix}"
    proposed = g.info(git(store, "rev-parse", ref).strip())
    rec = parse_record(proposed)
    rec = replace(rec, actor=who.principal, extra=extra_of(rec))
    tree = pygit2.Oid(hex=git(store, "rev-parse", f"{ref}^{{tree}}").strip())
    resigned = create_commit(g, list(proposed.parents), {}, render(rec),
                             Author(who.principal, who.principal, proposed.committer_time),
                             signer_for(who.identity), tree=tree)
    approval = signed_approval(store, team["bob"], resigned, resigned)
    git(store, "update-ref", "-d", ref)
    git(store, "update-ref", f"refs/envtrail/proposals/{resigned[:12]}", approval)
    return resigned[:12]


def test_a_repair_proposal_without_a_clean_point_is_judged_at_its_parent(cli, store, bob,
                                                                         make_identity):
    pid = _resigned_repair_proposal(
        cli, store, bob, make_identity, cli.identity,
        lambda rec: tuple((k, v) for k, v in rec.extra if k != CLEAN))
    r = cli("review", pid, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["approved_by"] == ["bob@example.com"]


def test_a_repair_proposal_is_not_signed_as_of_a_clean_point_off_its_line(cli, store, bob,
                                                                          make_identity):
    """An outsider names as the clean point a commit of her own, off the line, whose
    allowed_signers make her an admin: her signature is judged at the proposal's parent
    all the same, so the approval on it counts for nothing."""
    carol = make_identity("carol@example.com")
    signers = store / ".envtrail/allowed_signers"
    here = _head(store)
    signers.write_text(signers.read_text() + f'carol@example.com namespaces="git" '
                                             f"{carol.identity.public.openssh} envtrail:admin\n")
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-am", "side")
    side = _head(store)
    git(store, "reset", "-q", "--hard", here)
    pid = _resigned_repair_proposal(
        cli, store, bob, make_identity, carol,
        lambda rec: tuple((k, side if k == CLEAN else v) for k, v in rec.extra))
    r = cli("review", pid, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["approved_by"] == [] and not doc["ready"], doc


def test_an_approved_repair_of_an_unreadable_policy_applies(cli, store, bob, make_identity):
    """Found in review: apply's reach check (would this leave the store stuck?) read the
    forged head's policy.yaml, which a repair undoes and which may not even parse: the one
    way out would have failed with exit 5."""
    team, before = _an_approved_rotation(cli, store, bob, make_identity)
    (store / ".envtrail/policy.yaml").write_text("envtrail: [\n")
    git(store, "commit", "-q", "--no-verify", "-am", "broken policy")
    fix = _proposal_id(cli("repair", "--reason", "undo the broken policy", "--from", before,
                           "--propose"))
    assert cli.as_(team["bob"])("approve", fix, "--reason", "agreed").code == 0
    applied = cli.as_(team["bob"])("apply", fix)
    assert applied.code == 0, applied.err
    assert cli("verify").code == 0
