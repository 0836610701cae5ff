"""`policy set`, `access revoke` and `access admin` refuse a change that would leave the
store stuck: no admin could get a change of policy, signers or members approved
(ops/reach.py). That answer is only right while it agrees with rule 9's, which judges
such a change once it is made (audit/approvals.py `requirement`). Here both are asked
about the same states, built with real commits and keys: for every admin, "could
everyone else who can sign approve my store-wide change" must get the same answer.
"""

from __future__ import annotations

import pytest

from conftest import git
from envtrail.audit.history import parse_record
from envtrail.audit.view import StoreView
from envtrail.format import layout
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import reach
from hostile import head, message, signed_commit

# Each: the policy file's rules under "environments" (qa has no file: a rule written
# ahead of `env add`), and the answer rule 9 gives for (alice, carol), the two admins.
STATES = {
    # production's approvers besides alice: bob only (ci:deploy is a member, never one).
    "two of production's": (["production: {approvals: 2}"], (False, True)),
    "one of production's": (["production: {approvals: 1}"], (True, True)),
    # A rule ahead of `env add` with nobody to ask raises the count in all (2), but asks
    # no quorum of its own: carol still has alice and bob.
    "qa ahead, nobody to ask": (["production: {approvals: 1}", "qa: {approvals: 2}"],
                                (False, True)),
    # ... while one that lists its approvers asks them.
    "qa ahead, carol listed": (["qa: {approvals: 1, approvers: [carol@example.com]}"],
                               (True, False)),
    # A listed ci:* principal does approve.
    "ci listed": (["production: {approvals: 1, approvers: ['ci:deploy']}"], (True, True)),
    "staging's two": (["staging: {approvals: 2}"], (False, False)),
}


@pytest.fixture
def team(cli, store, alice, bob, make_identity):
    """alice and carol admins; production: alice, bob, ci:deploy; staging: alice, carol."""
    carol, deploy = make_identity("carol@example.com"), make_identity("ci:deploy")
    for who, env in ((bob, "production"), (deploy, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "second admin").code == 0
    return {"alice@example.com": alice, "carol@example.com": carol}


def _policy(rules: list[str]) -> bytes:
    return ("envtrail: 1\ndefaults: {require_reason: true, reason_pattern: null, "
            "writers: any}\nenvironments:\n" + "".join(f"  {r}\n" for r in rules)).encode()


@pytest.mark.parametrize("name", sorted(STATES))
def test_reach_and_rule_9_agree_on_who_can_approve_a_store_wide_change(store, team, alice,
                                                                         name):
    rules, expected = STATES[name]
    parent = signed_commit(store, alice.identity, alice.principal, [head(store)],
                           {layout.POLICY: _policy(rules)}, message("policy", alice.principal))
    g = GitRepo(store)
    view = StoreView(g)
    snap = view.at(parent)
    signing = reach.open_signers(snap.signers)
    answers = []
    for admin in ("alice@example.com", "carol@example.com"):
        # The admin's change of policy, made: what rule 9 asks of it.
        change = signed_commit(store, team[admin].identity, admin, [parent],
                               {layout.POLICY: _policy(rules) + b"# reworded\n"},
                               message("policy", admin))
        need = view_requirement(view, g, change)
        others = [p for p in need.approvers if p != admin and p in signing]
        by_rule_9 = need.met(others)
        # The same asked before it is made.
        by_reach = reach.find_frozen(snap.policy, reach.approvers_by_env(
            snap, snap.policy, signing), {admin}, admin) is None
        assert by_reach == by_rule_9, (name, admin)
        answers.append(by_rule_9)
    assert tuple(answers) == expected, git(store, "show", f"{parent}:{layout.POLICY}")


def view_requirement(view, g, commit):
    from envtrail.audit.approvals import requirement

    info = g.info(commit)
    need = requirement(view, info, parse_record(info))
    assert need is not None
    return need
