"""`propose --withdraw ID` (review15 R3b): the way out for a proposal that can never land.

The hint used to be `git update-ref -d refs/envtrail/proposals/<id>`, which forgot the
seats the proposal had sealed (who could read its values): the offboarding report and
the restore notes count them. Withdrawing shelves it under refs/envtrail/withdrawn/ as
`propose --redo` does, and the next sync removes it from the remote and from the other
clones, which shelve it too.
"""

from __future__ import annotations

import json

from test_approvals import _proposal_id, make_team
from test_approve_dead_proposals import make_stuck
from test_restore_exposure import setv
from test_sync_refs import CANARY, make_clones, propose, remote_refs

from conftest import assert_one_line_error, git

PROPOSALS = "refs/envtrail/proposals/"
WITHDRAWN = "refs/envtrail/withdrawn/"


def _refs(where, prefix):
    return git(where, "for-each-ref", "--format=%(refname)", prefix).split()


def test_a_withdrawn_proposal_leaves_the_remote_and_every_clone_and_still_counts(
        tmp_path, store, cli, bob, make_identity):
    a, b, _, bare = make_clones(tmp_path, store, cli, bob, make_identity)
    pid = propose(a, key="NEWKEY", value=CANARY)
    assert a("sync").code == 0 and b("sync").code == 0
    assert CANARY in b("review", pid, "--reveal").out
    before = git(b.cwd, "for-each-ref")
    r = b("propose", "--withdraw", pid)  # neither its author nor an admin
    assert_one_line_error(r, 4)
    assert "only its author alice@example.com or an admin" in r.err
    assert git(b.cwd, "for-each-ref") == before
    r = a("propose", "--withdraw", pid[:8])
    assert r.code == 0, r.err
    assert f"proposal {pid} withdrawn" in r.out and "envtrail sync" in r.out
    assert _refs(a.cwd, PROPOSALS) == [] and _refs(a.cwd, WITHDRAWN) == [WITHDRAWN + pid]
    assert json.loads(a("proposals", "--json").out) == []
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: removed from the remote" in r.out
    assert remote_refs(bare, "refs/envtrail/").keys() <= {"refs/envtrail/events"}
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: removed here" in r.out
    assert _refs(b.cwd, PROPOSALS) == [] and _refs(b.cwd, WITHDRAWN) == [WITHDRAWN + pid]
    assert a("sync").code == 0 and _refs(a.cwd, WITHDRAWN) == [WITHDRAWN + pid]  # stays put
    # bob read it: the report of what to rotate when he leaves still names it.
    r = a("access", "revoke", bob.principal, "--env", "production", "--reason", "left",
          "--break-glass", "--json")
    assert r.code == 0, r.err
    report = {e["environment"]: e for e in json.loads(r.out)["report"]}
    assert report["production"]["proposed"] == ["NEWKEY"]
    assert CANARY not in r.out + r.err


def test_the_author_or_an_admin_withdraws_and_nobody_else(cli, store, bob, make_identity):
    team = make_team(cli, bob, make_identity)
    mine = _proposal_id(cli.as_(bob)("set", "API_KEY", "--env", "production", "--reason",
                                     "rotate", "--propose", input="v2"))
    theirs = _proposal_id(cli.as_(bob)("set", "OTHER", "--env", "production", "--reason",
                                       "new", "--propose", input="o"))
    before = git(store, "for-each-ref")
    for who in (team["carol"], team["ci"]):
        assert_one_line_error(cli.as_(who)("propose", "--withdraw", mine), 4)
    assert_one_line_error(cli.as_(make_identity("eve@example.com"))(
        "propose", "--withdraw", mine), 4)
    assert_one_line_error(cli("propose", "--withdraw", "abcdef123456"), 3)
    assert_one_line_error(cli("propose", "--withdraw", mine, "--redo", mine), 2)
    assert_one_line_error(cli("propose"), 2)
    assert git(store, "for-each-ref") == before
    assert cli.as_(bob)("propose", "--withdraw", mine).code == 0  # its author
    assert cli("propose", "--withdraw", theirs).code == 0  # an admin
    assert _refs(store, PROPOSALS) == []
    assert _refs(store, WITHDRAWN) == sorted([WITHDRAWN + mine, WITHDRAWN + theirs])
    assert cli("verify").code == 0


def test_a_withdrawn_grant_still_counts_as_a_reader_for_a_restore(cli, store, make_identity):
    """The seat a withdrawn grant sealed stays counted: a rollback to a value dave could
    read in it says so (with the ref deleted by hand, it said nothing)."""
    dave = make_identity("dave@example.com")
    first = setv(cli, "K", "read-by-dave")
    pid = _proposal_id(cli("access", "grant", dave.principal, dave.publine, "--env",
                           "production", "--reason", "dave joins", "--propose"))
    setv(cli, "K", "second")
    assert cli("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    assert cli("propose", "--withdraw", pid).code == 0
    r = cli("rollback", "--env", "production", "--to", first, "--reason", "undo")
    assert r.code == 0, r.err
    assert "K is back to a value dave@example.com could read" in r.err


def test_the_stuck_refusals_give_the_withdraw_command(cli, store, bob, make_identity):
    """apply's refusal of a proposal that would leave the store stuck names
    `propose --withdraw`, never a `git update-ref -d` that forgets its seats."""
    pid = make_stuck(cli, bob, make_identity)
    r = cli("apply", pid)
    assert_one_line_error(r, 4)
    assert f"`envtrail propose --withdraw {pid}`" in r.err and "update-ref" not in r.err
    assert "propose --withdraw" in cli("proposals").out
    assert cli("propose", "--withdraw", pid).code == 0
    assert json.loads(cli("proposals", "--json").out) == []
