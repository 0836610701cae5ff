"""proposals and review say whether the store line a proposal sits on verifies.

They read proposals without refusing (a repair has to be reviewed on exactly such a
line), but approve and apply refuse a line that does not verify, so a listing that said
"ready to apply" there, or a review that revealed values above it, told another story.
"""

from __future__ import annotations

import json

import pytest
from test_approvals import _head, _proposal_id, make_team
from test_keyed_history import seat_sealed_elsewhere

import forge
from conftest import assert_one_line_error
from envtrail.model import Change

PROPOSED = "canary-proposed-api-key-77c2"


@pytest.fixture
def blocked(cli, store, bob, make_identity):
    """carol (staging only) lands a staging value whose fingerprint lies; a keyless read
    walks past it; bob proposes a production change on that head; alice's keyed verify
    then finds the lie. Returns (team, proposal id, the lying commit)."""
    team = make_team(cli, bob, make_identity)
    carol = team["carol"]
    plan = forge.honest_plan(store, carol.identity, "staging", {"S": "carols"})
    real = plan.record.changes[0]
    lie = forge.commit_plan(store, carol.identity, forge.with_record(
        plan, changes=(Change("+", "S", None, "0" * len(real.new_fp)),)))
    assert cli.as_(None)("env", "list").code == 0  # keyless: cannot see the lie
    r = cli.as_(bob)("set", "API_KEY", "--env", "production", "--reason", "rotate",
                     "--propose", input=PROPOSED)
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    assert _head(store) == lie  # the proposal sits on the lying commit, not stale
    assert cli("verify").code == 1
    return team, pid, lie


def test_a_proposal_on_a_line_that_does_not_verify_is_shown_blocked(cli, blocked):
    _, pid, lie = blocked
    listed = cli("proposals")
    assert listed.code == 0, listed.err
    assert "the store line does not verify" in listed.err and lie[:10] in listed.err
    assert "blocked" in listed.out and "ready to apply" not in listed.out
    doc = json.loads(cli("proposals", "--json").out)
    assert [(p["id"], p["line_verifies"], p["stale"]) for p in doc] == [(pid, False, False)]
    assert lie[:10] in doc[0]["line_problem"] and "rule 3" in doc[0]["line_problem"]
    shown = cli("review", pid)
    assert shown.code == 0, shown.err
    assert f"line: does NOT verify: {lie[:10]} rule 3" in shown.out
    assert "state: blocked" in shown.out
    reviewed = json.loads(cli("review", pid, "--json").out)
    assert reviewed["line_verifies"] is False and lie[:10] in reviewed["line_problem"]
    assert PROPOSED not in cli("review", pid).both


def test_review_reveals_no_value_above_a_line_that_does_not_verify(cli, blocked):
    team, pid, lie = blocked
    for who in (cli, cli.as_(team["bob"])):
        r = who("review", pid, "--reveal")
        assert_one_line_error(r, 5)
        assert lie[:10] in r.err and PROPOSED not in r.both
    assert_one_line_error(cli.as_(team["bob"])("approve", pid, "--reason", "ok"), 5)


def test_a_proposal_on_a_verified_line_says_so(cli, store, bob, make_identity):
    team = make_team(cli, bob, make_identity)
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input=PROPOSED))
    shown = cli("review", pid)
    assert shown.code == 0, shown.err
    assert f"line: verifies up to {_head(store)[:10]}, the proposal's base" in shown.out
    assert "state: waiting for approvals" in shown.out
    listed = cli("proposals", "--json")
    assert listed.err == "" and json.loads(listed.out)[0]["line_verifies"] is True
    assert cli.as_(team["bob"])("review", pid, "--reveal").code == 0


def test_a_clone_missing_a_commit_of_the_line_still_lists_and_reviews(cli, store):
    """An object missing from the clone is one exit 5 error for reads; listing and
    reviewing say the line does not verify, as on any such line, rather than fail with
    an unexpected error where judging a proposal reads the line below it."""
    from conftest import git
    from hostile import setv

    setv(cli, "K", "v1")
    setv(cli, "K", "v2")
    pid = _proposal_id(cli("set", "K", "--env", "production", "--reason", "r", "--propose",
                           input="v3"))
    gone = git(store, "rev-parse", "HEAD~1").strip()
    (store / ".git" / "objects" / gone[:2] / gone[2:]).unlink()
    (store / ".git" / "envtrail" / "verified.json").unlink()  # nothing vouches for it now
    listed = cli("proposals", "--json")
    assert listed.code == 0, listed.err
    doc = json.loads(listed.out)
    assert [(p["id"], p["line_verifies"]) for p in doc] == [(pid, False)]
    assert "missing from this clone" in doc[0]["findings"][0]
    shown = cli("review", pid)
    assert shown.code == 0, shown.err
    assert "line: does NOT verify" in shown.out and "missing from this clone" in shown.out
    assert_one_line_error(cli("get", "K", "--env", "production"), 5)


def test_a_proposed_repair_is_reviewed_on_the_line_it_settles(cli, blocked):
    """The one change that may land on a line that does not verify: its review says how
    the line stands, but neither blocks it nor hides its values from a member."""
    _, _, lie = blocked
    r = cli("repair", "--reason", "drop carol's staging value", "--propose")
    assert r.code == 0, r.err
    fix = _proposal_id(r)
    shown = cli("review", fix)
    assert shown.code == 0, shown.err
    assert f"line: does NOT verify: {lie[:10]} rule 3" in shown.out
    assert "blocked" not in shown.out.split("state:")[1]
    assert cli("review", fix, "--reveal").code == 0


def test_a_member_whose_seat_does_not_open_is_not_told_his_key_verified_the_line(
        cli, store, bob, make_identity):
    """attack14 I7: bob is listed in production, but his seat opens only for mallory, and
    carol lands a lying fingerprint there. bob's walk checked nothing in production, so
    proposals and review must not tell him plainly that the line verifies. Since attack24
    U1 his walk finds the seat itself: the line does not verify for him at all."""
    dave = make_identity("dave@example.com")
    assert cli("access", "grant", dave.principal, dave.publine, "--env", "staging",
               "--reason", "join").code == 0
    lie = seat_sealed_elsewhere(cli, store, bob, make_identity)
    r = cli.as_(dave)("set", "S", "--env", "staging", "--reason", "new", "--propose",
                      input=PROPOSED)
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    me = cli.as_(bob)
    plain = me("proposals")
    assert plain.code == 0, plain.err
    assert "blocked (the store line does not verify" in plain.out
    shown = me("review", pid)
    assert shown.code == 0, shown.err
    assert "line: verifies up to" not in shown.out
    found = me("verify")
    assert found.code == 1
    assert "production: bob@example.com's seat does not open with their key" in found.out
    # A key that opens production sees what bob's walk let through.
    assert cli("verify").code == 1 and lie[:10] in cli("verify").out


def test_a_list_on_a_line_that_does_not_verify_reads_its_key_pairs_once(cli, store,
                                                                       monkeypatch):
    # The checkpoint never moves past a finding, so it does not know the key pairs used up
    # to such a head; each proposal on it was judged by a walk that read them from the
    # whole line again (f786570; attack35 F2: 1.3 s per proposal on 10,000 commits).
    from conftest import git
    from envtrail.audit import effect, line
    from envtrail.ops import gate, proposal

    assert cli("set", "A", "--env", "production", "--reason", "a", input="1").code == 0
    git(store, "commit", "--allow-empty", "-qm", "unsigned, by hand")
    with monkeypatch.context() as hand:  # proposals made by hand on that head
        hand.setattr(gate, "_refuse", lambda finding: None)
        for i in range(3):
            r = cli("set", f"P{i}", "--env", "production", "--reason", f"p{i}", "--propose",
                    input=f"p{i}")
            assert r.code == 0, r.err
    reads = []

    def counted(view, commit):
        reads.append(commit)
        return effect.keys_until(view, commit)

    monkeypatch.setattr(line, "keys_until", counted)
    monkeypatch.setattr(proposal, "keys_until", counted, raising=False)
    listed = json.loads(cli("proposals", "--json").out)
    assert [(p["stale"], p["line_verifies"], p["findings"]) for p in listed] == \
        [(False, False, [])] * 3
    assert len(reads) == 1
