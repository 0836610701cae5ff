"""`review` and `proposals` show what a proposal's tree changes, not only its label
(attack10 F5): an approver approves what the commit does."""

from __future__ import annotations

import json

from test_approvals import _proposal_id, make_team

from conftest import assert_one_line_error, git
from envtrail.audit.record import Record, render
from envtrail.crypto.keys import PublicKey
from envtrail.format import layout
from envtrail.format import signers as signers_file
from envtrail.gitstore.repo import GitRepo
from hostile import head, signed_approval, signed_commit


def _fingerprint(who) -> str:
    return PublicKey.parse(who.publine)[0].fingerprint()


def test_a_policy_labelled_proposal_that_adds_an_admin_shows_the_admin(cli, store, bob,
                                                                       make_identity):
    team = make_team(cli, bob, make_identity)
    mallory = make_identity("mallory@example.com")
    g = GitRepo(store)
    lines = [*signers_file.parse(g.read(head(store), layout.SIGNERS)),
             signers_file.Signer(mallory.principal, mallory.identity.public.openssh, admin=True)]
    rec = Record("policy", "alice@example.com", "require ticket numbers in reasons", ())
    proposal = signed_commit(store, cli.identity.identity, "alice@example.com", [head(store)],
                             {layout.SIGNERS: signers_file.render(lines)}, render(rec))
    pid = proposal[:12]
    git(store, "update-ref", f"refs/envtrail/proposals/{pid}", proposal)

    shown = cli.as_(team["bob"])("review", pid)
    assert shown.code == 0, shown.err
    assert (f"allowed_signers + mallory@example.com {_fingerprint(mallory)} admin"
            in shown.out.splitlines()[4]), shown.out
    assert ("does not do what its record says: Envtrail-Action policy, but it changes "
            ".envtrail/allowed_signers") in shown.out
    # Said once: the verify finding that is the same disagreement is not printed again.
    body = shown.out.split("  state:")[0]
    assert body.count("Envtrail-Action policy, but it changes .envtrail/allowed_signers") == 1
    doc = json.loads(cli.as_(team["bob"])("review", pid, "--json").out)
    assert doc["mislabelled"] == [
        "Envtrail-Action policy, but it does not change .envtrail/policy.yaml",
        "Envtrail-Action policy, but it changes .envtrail/allowed_signers"]
    assert doc["tree"] == {
        "files": [layout.SIGNERS], "environments": [],
        "signers": [{"change": "+", "principal": mallory.principal,
                     "key": _fingerprint(mallory), "admin": True,
                     "valid_after": None, "valid_before": None}]}
    listed = cli("proposals")
    assert "mallory@example.com" in listed.out and "admin" in listed.out
    assert json.loads(cli("proposals", "--json").out)[0]["tree"] == doc["tree"]
    # Not approved: bob's key judges the proposed commit first (attack24 U1b), and the
    # label is held to the tree.
    r = cli.as_(team["bob"])("approve", pid, "--reason", "looks fine")
    assert_one_line_error(r, 5)
    assert "does not verify: " in r.err and "with your key" in r.err
    assert "Envtrail-Action policy, but" in r.err
    # Approved by hand all the same, it still does not land.
    approval = signed_approval(store, team["bob"], proposal, proposal, envs=())
    git(store, "update-ref", f"refs/envtrail/proposals/{pid}", approval)
    before = head(store)
    r = cli("apply", pid)
    assert_one_line_error(r, 5)
    assert "Envtrail-Action policy, but" in r.err
    assert head(store) == before


def test_an_honest_proposals_review_shows_its_members_keys_and_masked_values(cli, store, bob,
                                                                              make_identity):
    team = make_team(cli, bob, make_identity)
    dave = make_identity("dave@example.com")
    r = cli("access", "grant", dave.principal, dave.publine, "--env", "production",
            "--reason", "contractor", "--propose")
    grant = _proposal_id(r)
    shown = cli.as_(team["bob"])("review", grant).out
    assert f"allowed_signers + dave@example.com {_fingerprint(dave)}\n" in shown
    assert "production: + member dave@example.com\n" in shown
    assert "does not do what its record says" not in shown
    doc = json.loads(cli("review", grant, "--json").out)
    tree = doc["tree"]
    assert doc["mislabelled"] == []
    assert tree["environments"] == [{
        "environment": "production", "created": False, "removed": False,
        "new_key_pair": False, "members_added": [dave.principal], "members_removed": [],
        "members_rekeyed": [], "members_resealed": [], "values": []}]

    secret = "CANARY-proposed-value-91d2"
    r = cli("set", "NEW_KEY", "--env", "production", "--reason", "rotate",
            "--propose", input=secret)
    assert r.code == 0, r.err
    value = _proposal_id(r)
    shown = cli("review", value)
    assert "production: + NEW_KEY" in shown.out and secret not in shown.out + shown.err
    r = cli("access", "rotate", "--env", "production", "--reason", "yearly", "--propose")
    shown = cli("review", _proposal_id(r)).out
    assert "production: new key pair, ~ API_KEY\n" in shown
    listed = cli("proposals", "--json")
    assert secret not in listed.out


def test_a_proposal_with_an_unreadable_allowed_signers_still_lists(cli, store, bob,
                                                                   make_identity):
    """The tree shows the file as changed; one bad proposal does not hide the others."""
    make_team(cli, bob, make_identity)
    rec = Record("policy", "alice@example.com", "tidy", ())
    proposal = signed_commit(store, cli.identity.identity, "alice@example.com", [head(store)],
                             {layout.SIGNERS: b"not a signer line\n"}, render(rec))
    git(store, "update-ref", f"refs/envtrail/proposals/{proposal[:12]}", proposal)
    listed = cli("proposals", "--json")
    assert listed.code == 0, listed.err
    assert json.loads(listed.out)[0]["tree"] == {"files": [layout.SIGNERS], "signers": [],
                                                 "environments": []}
    assert f"{layout.SIGNERS} changed" in cli("review", proposal[:12]).out
