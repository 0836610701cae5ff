"""Approvals, break-glass and events: signed commits in the same verified timeline."""

import json

import pytest

from conftest import assert_one_line_error, git
from envtrail.format import policy
from hostile import proposal_id as _proposal_id
from hostile import signed_approval as _signed_approval


def test_policy_set_records_approval_rules(cli, store, make_identity):
    release = make_identity("ci:release")
    assert cli("access", "grant", release.principal, release.publine, "--env", "production",
               "--reason", "the release pipeline").code == 0
    r = cli("policy", "set", "--env", "production", "--approvals", "1", "--approvers",
            "alice@example.com,ci:release", "--no-break-glass", "--review", "2d",
            "--reason", "two eyes on production")
    assert r.code == 0, r.err
    rule = policy.parse((store / ".envtrail/policy.yaml").read_bytes()).rule_for("production")
    assert (rule.approvals, rule.approvers, rule.break_glass, rule.review_seconds) == \
        (1, ("alice@example.com", "ci:release"), False, 2 * 86400)
    staging = policy.parse((store / ".envtrail/policy.yaml").read_bytes()).rule_for("staging")
    assert (staging.approvals, staging.approvers, staging.break_glass) == (0, None, True)
    shown = cli("policy", "show").out
    assert "production" in shown and "alice@example.com,ci:release" in shown


def test_policy_set_refuses_bad_approval_values(cli, store):
    head = git(store, "rev-parse", "HEAD")
    assert_one_line_error(cli("policy", "set", "--env", "production", "--approvers", "not a name",
                              "--reason", "x"), 2)
    assert_one_line_error(cli("policy", "set", "--env", "production", "--review",
                              "soon", "--reason", "x"), 2)
    assert cli("policy", "set", "--env", "production", "--approvals", "-1",
               "--reason", "x").code == 2
    assert git(store, "rev-parse", "HEAD") == head


def test_a_count_no_approvers_could_meet_is_refused_and_one_only_others_could_warns(
        cli, store, bob, make_identity):
    """attack19 P4: a count above the number of approvers froze policy, signers and members
    for good (lowering it needs that count); exit 2, nothing written. So does one only the
    author's peers could meet where she is the only admin (review13 B3: nobody else could
    ask for the change that lowers it). With another admin to ask, it lands, with a warning
    that the author's own changes wait."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    before = git(store, "rev-parse", "HEAD")
    # Too many; more than the listed approvers besides alice (granting adds none); a
    # listed name that cannot sign (attack20 Q3: a typo).
    for flags in (("--approvals", "3"), ("--approvals", "2", "--approvers", bob.principal),
                  ("--approvals", "1", "--approvers", "alice@example.com,bob@exmaple.com"),
                  ("--approvals", "2")):  # alice and bob: only bob for alice, the only admin
        r = cli("policy", "set", "--env", "production", *flags, "--reason", "typo")
        assert_one_line_error(r, 4)
        assert "could never be approved" in r.err
        assert git(store, "rev-parse", "HEAD") == before
    carol = make_identity("carol@example.com")
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "staging",
               "--reason", "second admin").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "second admin").code == 0
    r = cli("policy", "set", "--env", "production", "--approvals", "2", "--reason", "strict")
    assert r.code == 0, r.err
    assert "production needs 2 approval(s) and has 1 approver(s) besides alice@example.com" \
        in r.err
    r = cli("policy", "set", "--env", "staging", "--require-reason", "--reason", "fine",
            "--propose")  # a policy change now needs production's count itself
    assert r.code == 0 and "approver(s)" not in r.err  # a rule whose count it leaves alone


def test_policy_file_with_bad_approval_keys_is_refused():
    from envtrail.errors import IntegrityError

    for bad in ("approvals: two", "approvals: -1", "approvers: everyone", "break_glass: 1",
                "break_glass_review: 24"):
        doc = f"envtrail: 1\nenvironments:\n  production:\n    {bad}\n".encode()
        with pytest.raises(IntegrityError):
            policy.parse(doc)


# -- proposals, approvals, apply ----------------------------------------------


@pytest.fixture
def team(cli, store, bob, make_identity):
    """production needs one approval; bob and ci:deploy are members, carol only of staging."""
    return make_team(cli, bob, make_identity)


def make_team(cli, bob, make_identity) -> dict:
    """Members for the approval tests (see ``team``)."""
    carol, ci = make_identity("carol@example.com"), make_identity("ci:deploy")
    for who, env in ((bob, "production"), (ci, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("set", "API_KEY", "--env", "production", "--reason", "first",
               input="v1").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    return {"bob": bob, "carol": carol, "ci": ci}


def _head(store) -> str:
    return git(store, "rev-parse", "HEAD").strip()


def test_a_write_that_needs_approval_is_refused_without_propose(cli, store, team):
    head = _head(store)
    r = cli("set", "API_KEY", "--env", "production", "--reason", "rotate", input="v2")
    assert_one_line_error(r, 4)
    assert "needs 1 approval" in r.err and "--propose" in r.err
    assert _head(store) == head
    # refused before the value is asked for: nothing on stdin, still the approval refusal
    assert_one_line_error(cli("set", "API_KEY", "--env", "production", "--reason", "r"), 4)
    # staging has no approval rule: it lands at once
    assert cli("set", "X", "--env", "staging", "--reason", "free", input="s").code == 0


def test_propose_approve_apply(cli, store, team, alice):
    bob = team["bob"]
    head = _head(store)
    r = cli("set", "API_KEY", "--env", "production", "--reason", "rotate", "--propose",
            input="v2")
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    assert _head(store) == head
    assert cli("get", "API_KEY", "--env", "production").out == "v1"
    listed = cli("proposals", "--json")
    assert listed.code == 0
    assert '"needed": 1' in listed.out and '"ready": false' in listed.out
    shown = cli.as_(bob)("review", pid, "--reveal")
    assert shown.code == 0 and "API_KEY=v2" in shown.out
    assert "v2" not in cli("review", pid).out
    assert_one_line_error(cli("apply", pid), 4)
    ok = cli.as_(bob)("approve", pid, "--reason", "checked the new key")
    assert ok.code == 0, ok.err
    assert cli.as_(bob)("approve", pid, "--reason", "again").code == 2
    applied = cli.as_(bob)("apply", pid)
    assert applied.code == 0, applied.err
    assert cli("get", "API_KEY", "--env", "production").out == "v2"
    assert cli("verify").code == 0
    assert git(store, "for-each-ref", "refs/envtrail/proposals/") == ""
    # the proposal and its approval are on the line, and plain git accepts both signatures
    log = git(store, "log", "--format=%H %s", "-2").splitlines()
    assert "approve" in log[0]
    for line in log:
        git(store, "verify-commit", line.split()[0])
    body = git(store, "log", "-1", "--format=%B")
    assert f"Envtrail-Approves: {log[1].split()[0]}" in body
    assert "approved   bob@example.com" in cli("show", log[1].split()[0]).out
    assert '"approved_by": []' in cli("show", "HEAD", "--json").out


def test_who_may_not_approve(cli, store, team, alice, make_identity):
    r = cli("set", "API_KEY", "--env", "production", "--reason", "rotate", "--propose",
            input="v2")
    pid = _proposal_id(r)
    own = cli("approve", pid, "--reason", "lgtm")
    assert_one_line_error(own, 4)
    assert "own change" in own.err
    robot = cli.as_(team["ci"])("approve", pid, "--reason", "lgtm")
    assert_one_line_error(robot, 4)
    assert "not an approver" in robot.err
    outsider = cli.as_(team["carol"])("approve", pid, "--reason", "lgtm")
    assert_one_line_error(outsider, 4)
    stranger = cli.as_(make_identity("eve@example.com"))("approve", pid, "--reason", "lgtm")
    assert stranger.code == 4
    assert git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip() == \
        git(store, "log", "-1", "--format=%H", f"refs/envtrail/proposals/{pid}").strip()
    assert "approve" not in git(store, "log", "-1", "--format=%s",
                                f"refs/envtrail/proposals/{pid}")


def test_apply_after_the_line_moved_is_refused(cli, store, team):
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("set", "Y", "--env", "staging", "--reason", "unrelated", input="y").code == 0
    head = _head(store)
    r = cli("apply", pid)
    assert_one_line_error(r, 6)
    assert f"propose --redo {pid}" in r.err
    assert _head(store) == head


def _force_onto_line(store, pid: str) -> None:
    """What a member with push access could do: put a proposal on the line by plain git."""
    git(store, "reset", "-q", "--hard", f"refs/envtrail/proposals/{pid}")


def test_an_unapproved_change_on_the_line_is_a_finding_and_reads_refuse(cli, store, team):
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "sneak",
                           "--propose", input="evil"))
    _force_onto_line(store, pid)
    r = cli("verify")
    assert r.code == 1
    assert "rule 9 (approvals)" in r.out and "leaves it with 0" in r.out
    assert_one_line_error(cli.as_(team["bob"])("get", "API_KEY", "--env", "production"), 5)


def test_show_judges_a_line_commit_within_the_line(cli, store, team):
    # attack12 F8: show judged the commit alone and said "verify ok" for a change verify
    # reports as unapproved. A commit of the line is now judged within it; one off the
    # line says that only its signature and tree were checked.
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "sneak",
                           "--propose", input="evil"))
    proposal = git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()
    shown = json.loads(cli("show", proposal, "--json").out)
    assert (shown["judged"], shown["findings"]) == ("commit", [])  # off the line: alone
    plain = cli("show", proposal).out
    assert "verify     ok (its signature and tree only: it is on neither line)" in plain
    _force_onto_line(store, pid)
    shown = json.loads(cli("show", proposal, "--json").out)
    assert shown["judged"] == "line"
    assert [f["rule"] for f in shown["findings"]] == [9], shown["findings"]
    plain = cli("show", proposal).out
    assert "verify     FAILED (within the store line, without a key)" in plain
    assert "rule 9 (approvals): needs 1 approval(s)" in plain


def test_log_and_show_count_only_approvals_rule_9_counts(cli, store, team):
    # attack12 F12: bob's own approval of his own change showed as "[approved by bob]"
    # in log and under "approved" in show, while verify refused it.
    bob = team["bob"]
    pid = _proposal_id(cli.as_(bob)("set", "API_KEY", "--env", "production", "--reason",
                                    "rotate", "--propose", input="v2"))
    change = git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, change, change))
    r = cli("verify")
    assert r.code == 1 and "bob@example.com approves their own change" in r.out

    def approved_by() -> tuple[list, list]:
        rows = [json.loads(line) for line in cli("log", "--json").out.splitlines()]
        logged = next(row["approved_by"] for row in rows if row["commit"] == change)
        return logged, json.loads(cli("show", change, "--json").out)["approved_by"]

    assert approved_by() == ([], [])
    git(store, "reset", "-q", "--hard", _signed_approval(store, cli.identity, change, change))
    assert cli("verify").code == 0
    assert approved_by() == (["alice@example.com"], ["alice@example.com"])


def test_an_approval_after_the_next_change_is_not_shown_as_one(cli, store, team):
    # attack12b G3: rule 9 asks for the approvals directly after the change; one that
    # lands after another change counts 0, and log and show must not say otherwise.
    pid = _proposal_id(cli.as_(team["bob"])("set", "API_KEY", "--env", "production",
                                            "--reason", "rotate", "--propose", input="v2"))
    change = git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()
    _force_onto_line(store, pid)
    from forge import commit_plan, honest_plan  # (writes refuse the unverified line)

    commit_plan(store, cli.identity.identity,
                honest_plan(store, cli.identity.identity, "staging", {"NOTE": "x"}))
    git(store, "reset", "-q", "--hard",
        _signed_approval(store, cli.identity, _head(store), change))
    r = cli("verify")
    assert r.code == 1 and "needs 1 approval(s)" in r.out, r.out
    rows = [json.loads(line) for line in cli("log", "--json").out.splitlines()]
    assert next(row["approved_by"] for row in rows if row["commit"] == change) == []
    assert json.loads(cli("show", change, "--json").out)["approved_by"] == []


def test_an_approval_of_another_commit_does_not_count(cli, store, team):
    bob = team["bob"]
    first = _proposal_id(cli("set", "A", "--env", "production", "--reason", "one",
                             "--propose", input="a"))
    second = _proposal_id(cli("set", "B", "--env", "production", "--reason", "two",
                              "--propose", input="b"))
    first_commit = git(store, "rev-parse", f"refs/envtrail/proposals/{first}").strip()
    second_commit = git(store, "rev-parse", f"refs/envtrail/proposals/{second}").strip()
    crafted = _signed_approval(store, bob, second_commit, first_commit)
    git(store, "update-ref", f"refs/envtrail/proposals/{second}", crafted)
    assert cli.as_(bob)("apply", second).code == 4  # the proposal already says it does not count
    git(store, "reset", "-q", "--hard", crafted)
    r = cli("verify")
    assert r.code == 1
    assert f"{second_commit[:10]} rule 9 (approvals): needs 1 approval(s)" in r.out
    assert "an approval that does not count" in r.out
    # the same signed approval naming the right commit is clean
    git(store, "reset", "-q", "--hard", _signed_approval(store, bob, second_commit, second_commit))
    assert cli("verify").code == 0


@pytest.mark.parametrize("args", [
    ["policy", "set", "--env", "production", "--approvals", "0", "--reason", "lower"],
    ["access", "rotate", "--env", "production", "--reason", "swap keys"],
])
def test_admin_changes_need_approval_too(cli, store, team, args):
    head = _head(store)
    assert_one_line_error(cli(*args), 4)
    assert _head(store) == head
    pid = _proposal_id(cli(*args, "--propose"))
    _force_onto_line(store, pid)
    r = cli("verify")
    assert r.code == 1 and "rule 9 (approvals)" in r.out


def test_granting_a_second_identity_needs_approval(cli, store, team, make_identity):
    dave = make_identity("dave@example.com")
    args = ["access", "grant", dave.principal, dave.publine, "--env", "staging",
            "--reason", "new hire"]
    assert_one_line_error(cli(*args), 4)  # staging needs none, but allowed_signers changes
    pid = _proposal_id(cli(*args, "--propose"))
    _force_onto_line(store, pid)
    assert "rule 9 (approvals)" in cli("verify").out


# -- break-glass ------------------------------------------------------------------


def test_break_glass_lands_now_and_stays_flagged_until_another_approver_approves(
        cli, store, team, alice):
    bob = team["bob"]
    r = cli("set", "API_KEY", "--env", "production", "--reason", "INC-7 leaked key",
            "--break-glass", input="fixed")
    assert r.code == 0, r.err
    commit = _head(store)
    assert f"stays flagged until approvers run `envtrail approve {commit[:12]}" in r.err
    assert "Envtrail-Break-Glass: yes" in git(store, "log", "-1", "--format=%B")
    assert cli.as_(bob)("get", "API_KEY", "--env", "production").out == "fixed"
    loose = cli("verify")
    assert loose.code == 0
    assert f"warning: {commit[:10]} unreviewed break-glass change by alice@example.com" in loose.out
    assert cli("verify", "--strict").code == 1
    assert_one_line_error(cli("approve", commit, "--reason", "mine"), 4)
    assert_one_line_error(cli.as_(team["ci"])("approve", commit, "--reason", "bot"), 4)
    assert cli("verify", "--strict").code == 1
    ok = cli.as_(bob)("approve", commit[:12], "--reason", "reviewed after the incident")
    assert ok.code == 0, ok.err
    git(store, "verify-commit", "HEAD")
    assert cli("verify", "--strict").code == 0
    assert "warning" not in cli("verify").out
    assert cli.as_(bob)("approve", commit, "--reason", "twice").code == 2  # once per approver
    # only break-glass changes are approved after the fact
    assert cli.as_(bob)("approve", "HEAD~1", "--reason", "late").code == 2


def test_break_glass_where_no_approval_is_needed_leaves_nothing_flagged(cli, store, team):
    # staging needs no approvals: the claim is recorded, but there is nothing to review,
    # so the write must not tell the user to go and collect approvals.
    r = cli("set", "API_KEY", "--env", "staging", "--reason", "INC-6", "--break-glass",
            input="fixed")
    assert r.code == 0, r.err
    assert "Envtrail-Break-Glass: yes" in git(store, "log", "-1", "--format=%B")
    assert "flagged" not in r.err and "approve" not in r.err
    assert "break-glass" not in cli("verify").out
    assert cli("verify", "--strict").code == 0


def test_break_glass_turns_overdue_after_the_review_window(cli, store, team):
    from datetime import timedelta

    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.verify import verify
    from envtrail.runtime import Runtime

    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-8", "--break-glass",
               input="x").code == 0
    g = GitRepo(store)
    later = g.info(g.store_head()).committer_time + timedelta(hours=25)
    rt = Runtime(env={}, cwd=store, home=store, host="test", clock=lambda: later)
    report = verify(g, rt)
    assert report.ok and not report.passes(strict=True)
    assert "OVERDUE" in report.warnings[0]


def test_status_lists_break_glass_until_another_member_approves(cli, store, team):
    import json

    bob = team["bob"]
    assert json.loads(cli("status", "--json").out)["break_glass"] == []
    assert cli.as_(bob)("set", "API_KEY", "--env", "production", "--reason", "INC-10 leak",
                        "--break-glass", input="fixed").code == 0
    glass = _head(store)
    assert cli("set", "X", "--env", "staging", "--reason", "after", input="s").code == 0
    shown = json.loads(cli("status", "--json").out)["break_glass"]
    assert [(u["environment"], u["commit"], u["author"], u["approvals"], u["needed"],
             u["overdue"]) for u in shown] == \
        [("production", glass, "bob@example.com", 0, 1, False)]
    text = cli("status").out
    assert f"break-glass  production: {glass[:10]} by bob@example.com at " in text
    assert "0 of 1 approval(s), review by " in text and "OVERDUE" not in text
    assert f"envtrail approve {glass[:12]}" in text
    assert cli.as_(bob)("approve", glass, "--reason", "my own").code == 4  # not by the author
    assert len(json.loads(cli("status", "--json").out)["break_glass"]) == 1
    assert cli("approve", glass, "--reason", "reviewed in the postmortem").code == 0
    assert json.loads(cli("status", "--json").out)["break_glass"] == []
    assert "break-glass" not in cli("status").out


def test_status_marks_break_glass_overdue_after_the_policy_window(cli, store, team):
    from datetime import timedelta

    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.status import status
    from envtrail.runtime import Runtime

    assert cli("policy", "set", "--env", "production", "--review", "2h", "--reason",
               "short review", "--propose").code == 0
    pid = git(store, "for-each-ref", "--format=%(refname:lstrip=3)",
              "refs/envtrail/proposals/").strip()
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    assert cli("set", "API_KEY", "--env", "production", "--reason", "INC-11", "--break-glass",
               input="x").code == 0
    g = GitRepo(store)
    landed = g.info(g.store_head()).committer_time

    def at(delta: timedelta):
        rt = Runtime(env={}, cwd=store, home=store, host="test", clock=lambda: landed + delta)
        return status(g, rt, None).break_glass

    (inside,) = at(timedelta(hours=2))
    assert not inside.overdue and inside.due == landed + timedelta(hours=2)
    (late,) = at(timedelta(hours=2, seconds=1))
    assert late.overdue and late.commit == g.store_head() and late.author == "alice@example.com"
    assert (len(late.approved_by), late.needed) == (0, 1)


def test_break_glass_refused_where_policy_says_no_and_for_grants(cli, store, team,
                                                                make_identity):
    pid = _proposal_id(cli("policy", "set", "--env", "production", "--no-break-glass",
                           "--reason", "no glass", "--propose"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "agreed").code == 0
    assert cli("apply", pid).code == 0
    head = _head(store)
    r = cli("set", "API_KEY", "--env", "production", "--reason", "INC-9", "--break-glass",
            input="x")
    assert_one_line_error(r, 4)
    assert "break_glass: false" in r.err
    assert _head(store) == head
    dave = make_identity("dave@example.com")
    assert cli("access", "grant", dave.principal, dave.publine, "--env", "production",
               "--reason", "x", "--break-glass").code == 2  # no such option on grant


def test_propose_redo_remakes_a_stale_value_proposal(cli, store, team):
    bob = team["bob"]
    old = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli.as_(bob)("approve", old, "--reason", "ok").code == 0
    assert cli("set", "Y", "--env", "staging", "--reason", "moves the line", input="y").code == 0
    assert_one_line_error(cli.as_(bob)("propose", "--redo", old), 4)  # only the author
    r = cli("propose", "--redo", old)
    assert r.code == 0, r.err
    new = _proposal_id(r)
    assert new != old
    assert git(store, "for-each-ref", "--format=%(refname)", "refs/envtrail/proposals/") \
        .split() == [f"refs/envtrail/proposals/{new}"]
    assert cli("apply", new).code == 4  # bob's approval named the old commit
    assert cli.as_(bob)("approve", new, "--reason", "again").code == 0
    assert cli("apply", new).code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "v2"
    assert cli("verify").code == 0


def test_revert_needs_approval_and_can_be_proposed(cli, store, team):
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "rotate",
                           "--propose", input="v2"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    change = git(store, "rev-parse", "HEAD~1").strip()
    assert_one_line_error(cli("revert", change, "--env", "production", "--reason", "undo"), 4)
    r = cli("revert", change, "--env", "production", "--reason", "undo", "--propose")
    assert r.code == 0, r.err
    undo = _proposal_id(r)
    assert "Envtrail-Revert: " + change in git(store, "log", "-1", "--format=%B",
                                               f"refs/envtrail/proposals/{undo}")
    assert cli.as_(team["bob"])("approve", undo, "--reason", "ok").code == 0
    assert cli("apply", undo).code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "v1"


def test_an_unapproved_change_is_repaired_at_once_back_to_the_approved_state(cli, store, team):
    # Going back to the last verified state changes nothing that was approved, so it
    # needs no approval (a repair that brings back older values does: test_repair_approvals).
    bob = team["bob"]
    pid = _proposal_id(cli("set", "API_KEY", "--env", "production", "--reason", "sneak",
                           "--propose", input="evil"))
    _force_onto_line(store, pid)
    assert_one_line_error(cli.as_(bob)("get", "API_KEY", "--env", "production"), 5)
    r = cli("repair", "--reason", "undo the sneak")
    assert r.code == 0, r.err
    assert cli.as_(bob)("get", "API_KEY", "--env", "production").out == "v1"
    v = cli("verify", "--json")
    assert v.code == 0 and '"rule": 9' in v.out  # acknowledged, visible


def test_a_rule_written_ahead_for_an_environment_not_made_yet_blocks_no_store_wide_change(
        cli, store, team):
    # Nobody can approve for an environment that does not exist; its count still counts.
    first = _proposal_id(cli("policy", "set", "--env", "payments", "--approvals", "1",
                             "--reason", "ready for launch", "--propose"))
    assert cli.as_(team["bob"])("approve", first, "--reason", "ok").code == 0
    assert cli("apply", first).code == 0
    assert "payments" in (store / ".envtrail/policy.yaml").read_text()
    # Another admin to ask, so that two approvals stay within reach (ops/reach.py).
    pid = _proposal_id(cli("access", "admin", team["carol"].principal, "--reason", "second",
                           "--propose"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    pid = _proposal_id(cli("policy", "set", "--env", "production", "--approvals", "2",
                           "--reason", "stricter", "--propose"))
    assert cli.as_(team["bob"])("approve", pid, "--reason", "ok").code == 0
    applied = cli.as_(team["bob"])("apply", pid)
    assert applied.code == 0, applied.err
    assert cli("verify").code == 0


def test_env_add_under_a_default_count_of_members_names_the_way_through(cli, store, bob):
    """review14 R5: with a default count whose approvers are the members, `env add`
    asked for --propose, and then nobody could approve it (the new environment has no
    member but its author); approved, it would have left nothing approvable again. It is
    refused at once with the way through: name the approvers of the new environment."""
    for env in ("production", "staging"):
        assert cli("access", "grant", bob.principal, bob.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("policy", "set", "--approvals", "1", "--reason", "four eyes").code == 0
    head = git(store, "rev-parse", "HEAD")
    for args in ((), ("--propose",)):
        r = cli("env", "add", "qa", "--reason", "qa env", *args)
        assert_one_line_error(r, 4)
        assert "policy set --env qa --approvers" in r.err
    assert git(store, "rev-parse", "HEAD") == head
    assert git(store, "for-each-ref", "refs/envtrail/proposals/") == ""
    pid = _proposal_id(cli("policy", "set", "--env", "qa", "--approvers",
                           f"alice@example.com,{bob.principal}", "--reason", "qa's approvers",
                           "--propose"))
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    assert cli("apply", pid).code == 0
    pid = _proposal_id(cli("env", "add", "qa", "--reason", "qa env", "--propose"))
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    applied = cli("apply", pid)
    assert applied.code == 0, applied.err
    assert "qa" in cli("env", "list").out
    assert cli("verify").code == 0


def test_env_add_under_a_default_count_is_proposed_and_approved(cli, store, bob):
    """attack19 P10: with a default approval count, `env add` was refused with a hint to
    use --propose, an option it did not have. It takes it now; the default rule's listed
    approvers approve the new environment."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--approvals", "1", "--approvers",
               f"alice@example.com,{bob.principal}", "--reason", "four eyes").code == 0
    head = git(store, "rev-parse", "HEAD")
    refused = cli("env", "add", "qa", "--reason", "qa env")
    assert refused.code == 4 and "--propose" in refused.err
    assert git(store, "rev-parse", "HEAD") == head
    r = cli("env", "add", "qa", "--reason", "qa env", "--propose")
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    assert git(store, "rev-parse", "HEAD") == head
    assert cli.as_(bob)("approve", pid, "--reason", "ok").code == 0
    applied = cli("apply", pid)
    assert applied.code == 0, applied.err
    assert "qa" in cli("env", "list").out
    assert cli("verify").code == 0
