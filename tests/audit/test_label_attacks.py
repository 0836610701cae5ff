"""A commit's Envtrail-Action must agree with what its tree does (attack10 F2, F5).

history, blame, log, revert and approvers read a commit by its label; each test
here signs a real commit whose tree does one thing and whose label says another,
and asserts that verify reports it (rule 3), that reads refuse it (exit 5), and
that history, which reads no gate without --reveal, tells the change from the tree.
"""

from __future__ import annotations

import json

import pytest

from conftest import git
from envtrail.audit.record import Record, render
from envtrail.format import layout
from envtrail.format import signers as signers_file
from envtrail.gitstore.repo import GitRepo
from forge import commit_plan, honest_plan, with_record
from hostile import findings_on, head, refused, setv, signed_commit

EVIL = "https://evil.example/steal-CANARY-7f3a"


def _alice(cli):
    return cli.identity.identity


@pytest.fixture
def team(cli, store, bob):
    """alice (admin) and bob (member of production, no admin); A set by alice."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "A", "https://pay.example/hook")
    return bob


def _relabelled(store, who, **record) -> str:
    """``who``'s honest change of A to EVIL, signed under another label."""
    plan = honest_plan(store, who.identity, "production", {"A": EVIL}, reason="INC-9 rotation")
    return commit_plan(store, who.identity, with_record(plan, **record))


@pytest.mark.parametrize(("record", "lies"), [
    pytest.param({"action": "rotate"}, ["Envtrail-Action rotate, but it keeps the key pair of "
                                        "production"], id="rotate"),
    pytest.param({"action": "revoke", "extra": (("Member", "- alice@example.com"),)},
                 ["Envtrail-Action revoke, but it keeps the key pair of production",
                  "Envtrail-Action revoke, but alice@example.com is still a member of "
                  "production"], id="revoke-alice"),
    pytest.param({"action": "grant", "extra": (("Member", "+ bob@example.com"),)},
                 ["Envtrail-Action grant, but it changes values of production"], id="grant"),
])
def test_a_members_value_change_under_a_custody_label_is_rule_3(cli, store, team, record, lies):
    forged = _relabelled(store, team, **record)
    found = findings_on(cli, forged, secrets=(EVIL,))
    assert sorted(found.get(3, [])) == sorted(lies)
    refused(cli, "A", (EVIL,))
    for cmd in (("blame", "--env", "production"),
                ("revert", forged, "--env", "production", "--reason", "undo"),
                ("history", "A", "--env", "production", "--reveal")):
        r = cli(*cmd)
        assert r.code == 5 and "history does not verify" in r.err, (cmd, r.code, r.err)
        assert EVIL not in r.out + r.err


def test_history_tells_a_relabelled_value_change_from_a_rotation_by_the_tree(cli, store, team):
    forged = _relabelled(store, team, action="rotate")
    assert cli("history", "A", "--env", "production", "--json").code == 5  # unverified
    # Once an admin's repair acknowledges it, history shows it as the value change its
    # tree makes, and an honest rotation after it still as a rotation.
    assert cli("repair", "--reason", "INC-10 relabelled change").code == 0
    assert cli("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    rows = [json.loads(line) for line in
            cli("history", "A", "--env", "production", "--json").out.splitlines()]
    assert (rows[0]["change"], rows[0]["reencrypted"], rows[0]["action"]) == \
        ("re-encrypted", True, "rotate")
    lied = next(row for row in rows if row["commit"] == forged)
    assert (lied["action"], lied["change"], lied["reencrypted"]) == ("rotate", "~", False)


def test_a_grant_that_also_seats_another_signer_is_rule_3(cli, store, team, make_identity):
    """An admin's grant of carol that also adds mallory as an admin signer."""
    carol, mallory = make_identity("carol@example.com"), make_identity("mallory@example.com")
    r = cli("access", "grant", carol.principal, carol.publine, "--env", "staging",
            "--reason", "join", "--propose")
    assert r.code == 0, r.err
    proposed = git(store, "for-each-ref", "--format=%(objectname)", "refs/envtrail/proposals/")
    g = GitRepo(store)
    honest = proposed.strip()
    lines = [*signers_file.parse(g.read(honest, layout.SIGNERS)),
             signers_file.Signer(mallory.principal, mallory.identity.public.openssh, admin=True)]
    forged = signed_commit(store, _alice(cli), "alice@example.com",
                           [head(store)],
                           {layout.SIGNERS: signers_file.render(lines),
                            layout.env_path("staging"): g.read(honest, layout.env_path("staging"))},
                           g.info(honest).message)
    git(store, "update-ref", "refs/heads/main", forged)
    git(store, "reset", "-q", "--hard", forged)
    found = findings_on(cli, forged)
    assert found.get(3) == ["Envtrail-Action grant, but it changes the allowed_signers lines "
                            "of mallory@example.com"]
    refused(cli, "A")


@pytest.mark.parametrize(("action", "extra"), [
    pytest.param("policy", (), id="policy"),
    pytest.param("signers", (("Admin", "+ bob@example.com"),), id="signers-naming-bob"),
])
def test_an_admin_signer_slipped_in_under_another_label_is_rule_3(cli, store, team,
                                                                  make_identity, action, extra):
    """attack10 F5's commit on the line: labelled policy (or a re-mark of bob), it adds
    mallory as an admin."""
    mallory = make_identity("mallory@example.com")
    g = GitRepo(store)
    lines = [*signers_file.parse(g.read(head(store), layout.SIGNERS)),
             signers_file.Signer(mallory.principal, mallory.identity.public.openssh, admin=True)]
    rec = Record(action, "alice@example.com", "require ticket numbers", (), extra=extra)
    forged = signed_commit(store, _alice(cli), "alice@example.com", [head(store)],
                           {layout.SIGNERS: signers_file.render(lines)}, render(rec))
    git(store, "update-ref", "refs/heads/main", forged)
    git(store, "reset", "-q", "--hard", forged)
    found = findings_on(cli, forged)
    expected = {
        "policy": ["Envtrail-Action policy, but it does not change .envtrail/policy.yaml",
                   "Envtrail-Action policy, but it changes .envtrail/allowed_signers"],
        "signers": ["Envtrail-Action signers, but it changes the allowed_signers lines of "
                    "mallory@example.com"],
    }[action]
    assert sorted(found.get(3, [])) == sorted(expected)
    refused(cli, "A")
    # mallory's key signs nothing that verifies after a repair puts the signers back.
    assert cli("repair", "--reason", "INC-11 forged signer").code == 0
    assert mallory.principal not in (store / layout.SIGNERS).read_text()


def test_a_value_label_on_a_membership_change_is_rule_3(cli, store, team, make_identity):
    """An admin seats carol in production in a commit labelled as a value change, so
    `log` shows a set where production gained a reader."""
    carol = make_identity("carol@example.com")
    r = cli("access", "grant", carol.principal, carol.publine, "--env", "production",
            "--reason", "join", "--propose")
    assert r.code == 0, r.err
    g = GitRepo(store)
    honest = git(store, "for-each-ref", "--format=%(objectname)",
                 "refs/envtrail/proposals/").strip()
    rec = Record("set", "alice@example.com", "tweak", ("production",))
    forged = signed_commit(store, _alice(cli), "alice@example.com", [head(store)],
                           {layout.env_path("production"): g.read(honest,
                                                                  layout.env_path("production"))},
                           render(rec))
    git(store, "update-ref", "refs/heads/main", forged)
    git(store, "reset", "-q", "--hard", forged)
    assert findings_on(cli, forged).get(3) == [
        "Envtrail-Action set, but it changes the members or keys of production"]
    refused(cli, "A")


def _staging_rotation_labelled_revoke(cli, store, bob, close_key: bool) -> str:
    """alice rotates staging (bob was never in it) under the label "revoke bob", closing
    bob's signing key or not, and puts it on the line."""
    from datetime import UTC, datetime

    from envtrail.audit.view import StoreView
    from envtrail.format import envfile
    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.ops.access import rotated
    from envtrail.ops.txn import signer_for

    g = GitRepo(store)
    snap = StoreView(g).at(head(store))
    env = snap.env("staging")
    assert bob.principal not in env.members
    new_env, rotation = rotated(env, _alice(cli), dict(env.members))
    when = datetime.now(UTC).replace(microsecond=0)
    files = {envfile.path_for("staging"): envfile.render(new_env)}
    extra = (("Member", f"- {bob.principal}"),)
    if close_key:
        files[layout.SIGNERS] = signers_file.render(
            [s.expired(when) if s.principal == bob.principal else s for s in snap.signers])
        extra += (("Signer-Expired", bob.principal),)
    rec = Record("revoke", "alice@example.com", "offboard bob INC-1", ("staging",), rotation,
                 extra=extra)
    forged = create_commit(g, [head(store)], files, render(rec),
                           Author("alice@example.com", "alice@example.com", when),
                           signer_for(_alice(cli)))
    git(store, "update-ref", "refs/heads/main", forged)
    git(store, "reset", "-q", "--hard", forged)
    return forged


def test_a_revoke_cannot_close_the_key_of_someone_still_a_member(cli, store, team):
    # attack11 N5: alice rotates staging (bob was never in it) under the label "revoke
    # bob" and closes bob's signing key, though bob stays a member of production.
    forged = _staging_rotation_labelled_revoke(cli, store, team, close_key=True)
    found = findings_on(cli, forged)
    assert f"Envtrail-Action revoke, but it closes the key of {team.principal}, still a " \
           "member of an environment" in found.get(3, []), found


def test_a_rotation_labelled_as_a_revoke_of_a_non_member_is_rule_3(cli, store, team):
    # The rest of N5: closing no key, the relabelled rotation passed, and log told of
    # bob's revocation from staging, where he never was.
    forged = _staging_rotation_labelled_revoke(cli, store, team, close_key=False)
    found = findings_on(cli, forged)
    assert found.get(3) == [f"Envtrail-Action revoke, but it removes nobody: {team.principal} "
                            "was no member of staging"], found
    refused(cli, "A")


@pytest.mark.parametrize("rule", ["production", "defaults"])
def test_a_policy_change_names_the_rule_it_changes(cli, store, team, rule):
    # An admin drops production's (or the default) ticket rule in a commit recorded as a
    # change of staging's rule: log and approvers read the environment from the record,
    # so the rules the tree changes must be those the record names.
    from envtrail.format import policy as policy_file
    from envtrail.ops.txn import Plan

    scope = ["--env", "production"] if rule == "production" else []
    assert cli("policy", "set", *scope, "--reason-pattern", "INC-[0-9]+",
               "--reason", "INC-1 tickets").code == 0
    assert cli("policy", "set", "--env", "staging", "--reason-pattern", "CHG-[0-9]+",
               "--reason", "INC-2 tickets").code == 0
    assert cli("verify").code == 0  # honest policy changes, each of its own rule, pass
    current = policy_file.parse((store / layout.POLICY).read_bytes())
    envs = {k: dict(v) for k, v in current.environments.items()}
    defaults = current.defaults
    if rule == "production":
        del envs["production"]["reason_pattern"]
    else:
        defaults = policy_file.rule_from({**defaults.as_dict(), "reason_pattern": None})
    envs["staging"]["reason_pattern"] = "CHG-[0-9]{4}"  # what the label owns up to
    data = policy_file.render(policy_file.Policy(defaults, envs))
    rec = Record("policy", "alice@example.com", "INC-3 tidy staging", ("staging",))
    forged = commit_plan(store, _alice(cli), Plan({layout.POLICY: data}, rec))
    found = findings_on(cli, forged)
    changed = "production" if rule == "production" else "the defaults"
    assert found.get(3) == [f"Envtrail-Action policy, but it changes the policy of {changed}"]
    refused(cli, "A")


@pytest.mark.parametrize("rec", [
    # attack12 F2: bob signed his change with a reason (or context) that, printed by a
    # piped log, redrew his row as alice's. envtrail never writes such a trailer.
    {"reason": "\r\x1b[2K2026-11-27T01:26:38+00:00\tproduction\talice@example.com \u2713\tset\x1b7"},
    {"context": "host=\x1b8\x1b[K"},
    # attack12b G1: format characters, which git log, a CI page or an editor shows raw:
    # a zero-width space hides a word from grep, a bidi override reorders the line.
    {"reason": "INC-9 PAYMENT\u200b_KEY fix"},
    {"reason": "CHG-9 \u202edevorppa moc.elpmaxe@ecila\u202c"},
], ids=["escapes", "context", "zero-width", "bidi"])
def test_a_signed_record_with_terminal_escapes_is_no_record(cli, store, team, rec):
    plan = honest_plan(store, team.identity, "production", {"A": EVIL}, reason="INC-9 fix")
    forged = commit_plan(store, team.identity, with_record(plan, **rec))
    found = findings_on(cli, forged, secrets=(EVIL,))
    assert found == {6: ["signed, but not an envtrail commit (no valid Envtrail trailers)"]}
    refused(cli, "A", (EVIL,))
