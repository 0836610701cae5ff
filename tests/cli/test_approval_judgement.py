"""Rule 9's judgement of single approvals, written by hand with real keys: what is no
approval never counts as one (not in ``verify``, not in ``show``), and each approval is
judged against the rules of the state it names (eighth mutation session)."""

from __future__ import annotations

import json

import pytest
from test_approvals import _force_onto_line, _head, _proposal_id, make_team

import forge
from conftest import Cli, assert_one_line_error, git
from envtrail.audit.record import Record, render
from hostile import point, signed_approval, signed_commit


@pytest.fixture
def team(cli, bob, make_identity):
    """production needs one approval, by bob (see test_approvals.make_team)."""
    return make_team(cli, bob, make_identity)


def _proposal_commit(store, pid: str) -> str:
    return git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()


def _approved_by(cli, commit: str) -> list[str]:
    r = cli("show", commit, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)["approved_by"]


def test_a_commit_that_is_no_approve_record_never_counts_as_an_approval(cli, store, team):
    # bob, production's approver, signs a commit whose action is no `approve` but which
    # carries an Envtrail-Approves trailer naming the unapproved change before it.
    bob = team["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    change = _proposal_commit(store, pid)
    _force_onto_line(store, pid)
    rec = Record("set", bob.principal, "looks fine", ("staging",), extra=(("Approves", change),))
    point(store, signed_commit(store, bob.identity, bob.principal, [change], {}, render(rec)))
    found = cli("verify")
    assert found.code == 1
    assert f"{change[:10]} rule 9 (approvals): needs 1 approval(s) of production; the next " \
        "change leaves it with 0" in found.out
    assert _approved_by(cli, change) == []
    assert_one_line_error(cli.as_(bob)("get", "API_KEY", "--env", "production"), 5)


def test_an_approval_on_the_line_of_a_commit_off_it_is_nobodys_approval_of_it(cli, store, team):
    # bob's approval of a proposal is put on the line itself, where the proposal is not:
    # it approves nothing there, and `show` of the proposal lists no approver.
    bob = team["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    change = _proposal_commit(store, pid)
    point(store, signed_approval(store, bob, _head(store), change))
    found = cli("verify")
    assert found.code == 1
    assert f"an approval that does not count: {change[:10]} is not before it on the line" \
        in found.out
    assert _approved_by(cli, change) == []
    assert_one_line_error(cli.as_(bob)("get", "API_KEY", "--env", "production"), 5)


def test_an_approval_of_a_plain_git_commit_is_a_finding_not_a_crash(cli, store, team):
    # A commit with no envtrail record (a finding in itself) needs no approval: bob's
    # approval of it says so, and the walk goes on to judge what follows.
    bob = team["bob"]
    git(store, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "noise")
    plain = _head(store)
    point(store, signed_approval(store, bob, plain, plain))
    found = cli("verify")
    assert found.code == 1, found.err
    assert f"an approval that does not count: {plain[:10]} needs no approval" in found.out
    assert_one_line_error(cli.as_(bob)("get", "API_KEY", "--env", "production"), 5)


def test_a_late_approval_on_top_of_an_unreadable_state_does_not_count(cli, store, alice, team):
    # A break-glass change, then a commit that leaves production's file unparseable, then
    # bob's approval on top of it: whether bob still approves production cannot be read
    # there, so his approval does not review the change.
    from envtrail.format import layout

    bob = team["bob"]
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-3", "--break-glass",
               input="hot").code == 0
    glass = _head(store)
    garbled = signed_commit(store, alice.identity, alice.principal, [glass],
                            {layout.env_path("production"): b"values: [unclosed\n"},
                            render(Record("set", alice.principal, "garble", ("production",))))
    point(store, signed_approval(store, bob, garbled, glass))
    found = cli("verify")
    assert found.code == 1, found.err
    assert "an approval that does not count: the state it follows cannot be read" in found.out
    assert f"{glass[:10]} unreviewed break-glass change" in found.out


def test_a_commit_that_changes_no_environment_and_no_store_file_needs_no_approval(
        cli, store, alice, team):
    # production needs one approval, but a commit that only re-serialises its file (a
    # comment added: the same values, members and keys) changes nothing it guards.
    from envtrail.format import layout
    from hostile import verify_findings

    path = layout.env_path("production")
    same = signed_commit(store, alice.identity, alice.principal, [_head(store)],
                         {path: (store / path).read_bytes() + b"# reformatted\n"},
                         render(Record("set", alice.principal, "tidy", ("production",))))
    point(store, same)
    assert [f for f in verify_findings(cli) if f["rule"] == 9] == []
    assert cli.as_(team["bob"])("get", "API_KEY", "--env", "production").out == "v1"


def test_approvals_shown_are_good_signed_ones_each_approver_once(cli, store, alice, team):
    # Two break-glass changes; the second revokes bob (a member of production only), which
    # closes his key. bob approves the first twice before that, and the revocation by
    # hand with the closed key after it: `show` names him once, for good signatures only.
    import time

    bob = team["bob"]
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-4", "--break-glass",
               input="hot").code == 0
    glass = _head(store)
    point(store, signed_approval(store, bob, glass, glass))
    point(store, signed_approval(store, bob, _head(store), glass))
    assert _approved_by(cli, glass) == ["bob@example.com"]
    # Only now does bob's key close, and his late approval is signed after that.
    assert cli("access", "revoke", bob.principal, "--env", "production", "--reason", "INC-5",
               "--break-glass").code == 0
    revoked = _head(store)
    assert "valid-before" in (store / ".envtrail/allowed_signers").read_text()
    time.sleep(1.1)
    from datetime import UTC, datetime

    late = signed_commit(store, bob.identity, bob.principal, [revoked], {},
                         render(Record("approve", bob.principal, "late", ("production",),
                                       extra=(("Approves", revoked),))),
                         when=datetime.now(UTC).replace(microsecond=0))
    point(store, late)
    assert _approved_by(cli, revoked) == []
    found = cli("verify")
    assert found.code == 1
    assert f"{late[:10]} rule 1 (signature)" in found.out


def test_status_before_the_first_write_lists_no_break_glass(tmp_path):
    # A store folder with no commit yet has no line: nothing to walk, nothing unreviewed.
    fresh = tmp_path / "fresh"
    (fresh / ".envtrail").mkdir(parents=True)
    git(fresh, "init", "-q")
    r = Cli(fresh)("status", "--json")
    assert r.code == 0, r.err
    shown = json.loads(r.out)
    assert (shown["head"], shown["break_glass"]) == (None, [])


def test_a_repair_naming_a_clean_point_off_the_line_is_judged_by_its_parents_rules(
        cli, store, alice, team):
    # alice (an admin) names as her repair's clean point a commit of her own off the line,
    # whose policy asks no approvals, and lowers production's count with it: the count
    # is the line's, at the repair's parent, and nobody approved the repair.
    import pygit2

    from envtrail.audit.repairs import CLEAN, FROM
    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for
    from hostile import verify_findings

    here = _head(store)
    policy = store / ".envtrail/policy.yaml"
    policy.write_text(policy.read_text().replace("approvals: 1", "approvals: 0"))
    git(store, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-am", "side")
    side = _head(store)
    git(store, "reset", "-q", "--hard", here)
    g = GitRepo(store)
    rec = Record("repair", alice.principal, "relax", (), extra=((CLEAN, side), (FROM, side)))
    repair = create_commit(g, [here], {}, render(rec),
                           Author(alice.principal, alice.principal, g.info(here).committer_time),
                           signer_for(alice.identity),
                           tree=g.repo.get(side).peel(pygit2.Commit).tree_id)
    point(store, repair)
    assert [f["message"] for f in verify_findings(cli) if f["rule"] == 9 and
            f["commit"] == repair] == ["needs 1 approval(s) of production; the line head "
                                       "leaves it with 0 (production has 0 of 1 approval(s) "
                                       "by its approvers)"]
    assert_one_line_error(cli.as_(team["bob"])("get", "API_KEY", "--env", "production"), 5)


def test_an_approval_naming_a_change_on_an_unreadable_policy_is_a_finding_not_a_crash(
        cli, store, alice, team):
    # A push breaks policy.yaml; alice's signed change follows it (what it needs cannot be
    # read there: the verifier reports the policy) and bob approves that change. What
    # the approval names needs nothing the ledger can read: a finding, never a crash.
    from envtrail.format import layout

    bob = team["bob"]
    plan = forge.honest_plan(store, alice.identity, "staging", {"NOTE": "x"})  # before the break
    broken = signed_commit(store, alice.identity, alice.principal, [_head(store)],
                           {layout.POLICY: b"envtrail: 1\nenvironments: [\n"},
                           render(Record("policy", alice.principal, "garble", ())))
    change = signed_commit(store, alice.identity, alice.principal, [broken], plan.changes,
                           render(plan.record))
    point(store, signed_approval(store, bob, change, change, envs=("staging",)))
    found = cli("verify", "--json")
    assert found.code == 1 and "unexpected" not in found.err, found.err
    messages = [f["message"] for f in json.loads(found.out)["findings"]]
    assert any(".envtrail/policy.yaml" in m for m in messages), messages
    assert f"an approval that does not count: {change[:10]} needs no approval" in messages
