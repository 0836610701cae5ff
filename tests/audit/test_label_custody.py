"""Each custody and store-wide label checked against the one tree that would make it lie.

Where test_label_attacks.py relabels a value change, these hand-sign (alice, the
admin, with her real key) the trees of honest grants, revokes, rotations and
environment creations, each with one thing more or one trailer wrong, and pin the
exact rule 3 findings verify reports; reads then refuse the line (exit 5). The
last tests hold `review`, which reads the same effect for approvers, to the tree.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import git
from envtrail.audit.record import Record, render
from envtrail.audit.view import StoreView
from envtrail.crypto.seal import Encryptor, EnvKeys, b64
from envtrail.format import envfile, layout
from envtrail.format import signers as signers_file
from envtrail.format.envfile import EnvFile, Member
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.access import rotated
from envtrail.ops.members import open_keys
from forge import commit_plan, honest_plan, with_record
from hostile import findings_on, head, point, refused, setv, signed_commit

ALICE = "alice@example.com"
PROD, STAGING = envfile.path_for("production"), envfile.path_for("staging")


@pytest.fixture
def team(cli, store, bob, make_identity):
    return make_team(cli, store, bob, make_identity)


def make_team(cli, store, bob, make_identity):
    """alice (admin); bob a member of production; A set there; carol and dave known keys."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "A", "https://pay.example/hook")
    return {"alice": cli.identity, "bob": bob, "carol": make_identity("carol@example.com"),
            "dave": make_identity("dave@example.com")}


class Tree:
    """The store at HEAD, and the pieces an admin's hand-made commit is built from."""

    def __init__(self, store, team):
        self.store, self.team = store, team
        self.snap = StoreView(GitRepo(store)).at(head(store))
        self.alice = team["alice"].identity

    def env(self, name: str) -> EnvFile:
        return self.snap.env(name)

    def seat(self, env: EnvFile, who: str, key_of: str | None = None) -> Member:
        """``who`` sealed ``env``'s keys (under ``key_of``'s public key, if given)."""
        public = self.team[key_of or who].identity.public
        return Member(self.team[who].principal, public.openssh,
                      open_keys(env, self.alice).seal_to(public))

    def signers(self, *new: str, expire: str | None = None, admin: str | None = None) -> bytes:
        lines = [s.expired(self.snap_time()) if s.principal == expire else
                 signers_file.Signer(s.principal, s.key, True) if s.principal == admin else s
                 for s in self.snap.signers]
        lines += [signers_file.Signer(self.team[w].principal, self.team[w].identity.public.openssh)
                  for w in new]
        return signers_file.render(lines)

    def snap_time(self):
        return GitRepo(self.store).info(head(self.store)).committer_time

    def policy(self) -> bytes:
        return (self.store / layout.POLICY).read_bytes() + b"# tightened\n"

    def created(self, name: str, values: dict[str, str] | None = None) -> EnvFile:
        """A new environment sealed to alice, holding ``values``."""
        keys = EnvKeys.generate()
        enc = Encryptor(keys.public, name, envfile.FORMAT_VERSION)
        public = self.alice.public
        return EnvFile(name, b64(keys.public),
                       {ALICE: Member(ALICE, public.openssh, keys.seal_to(public))},
                       {k: str(enc.encrypt(k, v)) for k, v in (values or {}).items()})


def _forge(cli, store, files: dict[str, bytes | None], rec: Record) -> str:
    forged = signed_commit(store, cli.identity.identity, ALICE, [head(store)], files, render(rec))
    point(store, forged)
    return forged


def _rec(action: str, env: str | tuple[str, ...] = "production", changes=(), **extra) -> Record:
    envs = (env,) if isinstance(env, str) else env
    return Record(action, ALICE, "INC-42 forged label", envs, changes,
                  extra=tuple((k.replace("_", "-"), v) for k, v in extra.items()))


def _lies(cli, forged: str, action: str, *why: str) -> None:
    """verify reports exactly ``why`` as the label's lies (rule 3) and reads refuse."""
    found = findings_on(cli, forged)
    said = sorted(m for m in found.get(3, []) if m.startswith(f"Envtrail-Action {action}, but "))
    assert said == sorted(f"Envtrail-Action {action}, but {w}" for w in why), found
    refused(cli, "A")


def _revoked_bob(t: Tree) -> tuple[dict[str, bytes | None], tuple]:
    """What `access revoke bob --env production` writes (bob is a member nowhere else)."""
    prod = t.env("production")
    new, rotation = rotated(prod, t.alice, {ALICE: prod.members[ALICE]})
    return {PROD: envfile.render(new), layout.SIGNERS: t.signers(expire="bob@example.com")}, \
        rotation


def _granted(t: Tree, who: str, env: str = "staging") -> dict[str, bytes | None]:
    """What `access grant WHO --env ENV` writes for a principal new to the store."""
    e = t.env(env)
    seated = {**e.members, t.team[who].principal: t.seat(e, who)}
    return {envfile.path_for(env): envfile.render(e.with_members(seated)),
            layout.SIGNERS: t.signers(who)}


# -- values, init and the trailers only some actions may carry ---------------------------


def test_an_unknown_action_on_a_value_change_is_rule_3(cli, store, team):
    plan = honest_plan(store, team["alice"].identity, "production", {"A": "x"})
    forged = commit_plan(store, team["alice"].identity, with_record(plan, action="frobnicate"))
    assert findings_on(cli, forged).get(3) == ["unknown Envtrail-Action 'frobnicate'"]
    refused(cli, "A")


def test_a_value_change_carrying_member_and_admin_trailers_is_rule_3(cli, store, team):
    plan = honest_plan(store, team["alice"].identity, "production", {"A": "x"})
    extra = (("Member", "+ bob@example.com"), ("Admin", "+ bob@example.com"))
    forged = commit_plan(store, team["alice"].identity, with_record(plan, extra=extra))
    _lies(cli, forged, "set", "it carries an Envtrail-Member", "it carries an Envtrail-Admin")


def test_a_value_change_that_also_changes_the_policy_is_rule_3(cli, store, team):
    t = Tree(store, team)
    plan = honest_plan(store, t.alice, "production", {"A": "x"})
    forged = _forge(cli, store, {**plan.changes, layout.POLICY: t.policy()}, plan.record)
    _lies(cli, forged, "set", f"it changes {layout.POLICY}")


def test_an_init_naming_another_environment_than_it_creates_is_rule_3(cli, store, team):
    t = Tree(store, team)
    forged = _forge(cli, store, {envfile.path_for("qa"): envfile.render(t.created("qa"))},
                    _rec("init", "dev"))
    _lies(cli, forged, "init", "the environments it creates are not those it names")


def test_an_init_that_also_sets_values_and_changes_the_policy_is_rule_3(cli, store, team):
    t = Tree(store, team)
    files = {envfile.path_for("qa"): envfile.render(t.created("qa", {"A": "seeded"})),
             layout.POLICY: t.policy()}
    forged = _forge(cli, store, files, _rec("init", "qa"))
    _lies(cli, forged, "init", f"it changes {layout.POLICY}", "it sets values of qa")


def test_an_init_that_also_changes_an_existing_environment_is_rule_3(cli, store, team):
    t = Tree(store, team)
    plan = honest_plan(store, t.alice, "production", {"A": "x"})
    forged = _forge(cli, store, {envfile.path_for("qa"): envfile.render(t.created("qa")),
                                 PROD: plan.changes[PROD]}, _rec("init", "qa"))
    _lies(cli, forged, "init", "the environments it creates are not those it names",
          "it sets values of production")


# -- grant -------------------------------------------------------------------------------


@pytest.mark.parametrize(("envs", "member"), [
    pytest.param("production", "+ carol@example.com", id="names-production"),
    pytest.param((), "+ carol@example.com", id="names-none"),
])
def test_a_grant_that_changes_another_environment_than_it_names_is_rule_3(cli, store, team,
                                                                          envs, member):
    forged = _forge(cli, store, _granted(Tree(store, team), "carol"),
                    _rec("grant", envs, Member=member))
    _lies(cli, forged, "grant", "it changes staging, which it does not name",
          "it does not change the environment it names")


def test_a_grant_that_creates_the_environment_is_rule_3(cli, store, team):
    t = Tree(store, team)
    forged = _forge(cli, store, {envfile.path_for("qa"): envfile.render(t.created("qa"))},
                    _rec("grant", "qa", Member=f"+ {ALICE}"))
    _lies(cli, forged, "grant", "it creates qa")


@pytest.mark.parametrize(("seated", "member", "lies"), [
    pytest.param("carol", "- carol@example.com", [
        "its Envtrail-Member does not read '+ PRINCIPAL'",
        "it changes the allowed_signers lines of carol@example.com",
        "it changes the membership of carol@example.com in staging"], id="member-reads-minus"),
    pytest.param("dave", "+ carol@example.com", [
        "it changes the allowed_signers lines of dave@example.com",
        "it changes the membership of dave@example.com in staging",
        "carol@example.com is no member of staging after it"], id="seats-someone-else"),
])
def test_a_grants_member_trailer_must_name_whom_it_seats(cli, store, team, seated, member,
                                                          lies):
    forged = _forge(cli, store, _granted(Tree(store, team), seated),
                    _rec("grant", "staging", Member=member))
    _lies(cli, forged, "grant", *lies)


def test_a_grant_that_rotates_the_key_pair_is_rule_3(cli, store, team):
    t = Tree(store, team)
    staging = t.env("staging")
    new, _ = rotated(staging, t.alice, dict(staging.members))
    new = new.with_members({**new.members, "carol@example.com": t.seat(new, "carol")})
    # (seat() opens the keys with alice's copy, which the rotation resealed for her)
    forged = _forge(cli, store, {STAGING: envfile.render(new), layout.SIGNERS: t.signers("carol")},
                    _rec("grant", "staging", Member="+ carol@example.com"))
    _lies(cli, forged, "grant", "it replaces the key pair of staging",
          f"it changes the membership of {ALICE} in staging")


def test_a_grant_that_also_removes_a_member_is_rule_3(cli, store, team):
    t = Tree(store, team)
    prod = t.env("production")
    members = {ALICE: prod.members[ALICE], "carol@example.com": t.seat(prod, "carol")}
    forged = _forge(cli, store, {PROD: envfile.render(prod.with_members(members)),
                                 layout.SIGNERS: t.signers("carol")},
                    _rec("grant", Member="+ carol@example.com"))
    _lies(cli, forged, "grant", "it removes bob@example.com from production")


# -- revoke ------------------------------------------------------------------------------


def test_a_revoke_whose_member_reads_plus_is_rule_3(cli, store, team):
    files, rotation = _revoked_bob(Tree(store, team))
    forged = _forge(cli, store, files, _rec("revoke", changes=rotation, Member="+ bob@example.com",
                                            Signer_Expired="bob@example.com"))
    _lies(cli, forged, "revoke", "its Envtrail-Member does not read '- PRINCIPAL'",
          "its Envtrail-Signer-Expired is not the member it removes",
          "it changes the allowed_signers lines of bob@example.com",
          "it also removes bob@example.com from production")


def test_a_revoke_naming_another_environment_than_it_changes_is_rule_3(cli, store, team):
    files, rotation = _revoked_bob(Tree(store, team))
    forged = _forge(cli, store, files, _rec("revoke", "staging", changes=rotation,
                                            Member="- bob@example.com",
                                            Signer_Expired="bob@example.com"))
    _lies(cli, forged, "revoke", "it changes production, which it does not name",
          "it does not change the environment it names")


def test_a_revoke_expiring_another_signer_than_it_removes_is_rule_3(cli, store, team):
    files, rotation = _revoked_bob(Tree(store, team))
    forged = _forge(cli, store, files, _rec("revoke", changes=rotation, Member="- bob@example.com",
                                            Signer_Expired="carol@example.com"))
    _lies(cli, forged, "revoke", "its Envtrail-Signer-Expired is not the member it removes")


def test_a_revoke_that_also_changes_the_policy_is_rule_3(cli, store, team):
    t = Tree(store, team)
    files, rotation = _revoked_bob(t)
    forged = _forge(cli, store, {**files, layout.POLICY: t.policy()},
                    _rec("revoke", changes=rotation, Member="- bob@example.com",
                         Signer_Expired="bob@example.com"))
    _lies(cli, forged, "revoke", f"it changes {layout.POLICY}")


def test_a_revoke_that_removes_two_members_is_rule_3(cli, store, team):
    carol = team["carol"]
    assert cli("access", "grant", carol.principal, carol.publine, "--env", "production",
               "--reason", "join").code == 0
    files, rotation = _revoked_bob(Tree(store, team))
    forged = _forge(cli, store, files, _rec("revoke", changes=rotation, Member="- bob@example.com",
                                            Signer_Expired="bob@example.com"))
    _lies(cli, forged, "revoke", "it also removes carol@example.com from production")


@pytest.mark.parametrize("closes", ["by-its-tree", "by-its-trailer"])
def test_a_revoke_closing_the_key_of_a_member_elsewhere_is_rule_3(cli, store, team, closes):
    """bob is in staging too: revoking him from production may not close his key, whether
    the tree expires his line (no trailer says so) or only the trailer claims to."""
    bob = team["bob"]
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    t = Tree(store, team)
    files, rotation = _revoked_bob(t)
    extra = {"Member": "- bob@example.com"}
    if closes == "by-its-trailer":
        del files[layout.SIGNERS]
        extra["Signer_Expired"] = "bob@example.com"
    forged = _forge(cli, store, files, _rec("revoke", changes=rotation, **extra))
    _lies(cli, forged, "revoke", *(
        ("it closes the key of bob@example.com, still a member of an environment",
         "it closes the key of bob@example.com without an Envtrail-Signer-Expired")
        if closes == "by-its-tree" else
        ("its Envtrail-Signer-Expired names a key it does not close",)))


KEPT_OPEN = "it leaves bob@example.com a member nowhere but does not close their key"


@pytest.mark.parametrize("lie", ["trailer-only", "tree-only", "reopened", "kept-open"])
def test_a_revoke_tells_exactly_whether_it_closed_the_key(cli, store, team, lie):
    """bob is a member of production only, so revoking him there closes his key: the
    record must say so exactly when the tree does it (show and log go by the trailer),
    a revoke may only close his lines, never open or move them, and one that leaves him
    a member nowhere must close them (else the departed stays an allowed signer)."""
    t = Tree(store, team)
    files, rotation = _revoked_bob(t)
    extra = {"Member": "- bob@example.com", "Signer_Expired": "bob@example.com"}
    if lie == "trailer-only":
        del files[layout.SIGNERS]
        why: tuple[str, ...] = ("its Envtrail-Signer-Expired names a key it does not close",
                                KEPT_OPEN)
    elif lie == "tree-only":
        del extra["Signer_Expired"]
        why = ("it closes the key of bob@example.com without an Envtrail-Signer-Expired",)
    elif lie == "kept-open":  # what sync and redo wrote before: a plain rotation of keys
        del files[layout.SIGNERS]
        del extra["Signer_Expired"]
        why = (KEPT_OPEN,)
    else:  # bob's line made valid from later on instead of closed
        files[layout.SIGNERS] = signers_file.render(
            [replace(s, valid_after=t.snap_time()) if s.principal == "bob@example.com" else s
             for s in t.snap.signers])
        why = ("it changes the allowed_signers lines of bob@example.com other than by "
               "closing them",)
    forged = _forge(cli, store, files, _rec("revoke", changes=rotation, **extra))
    _lies(cli, forged, "revoke", *why)


def test_a_revoke_of_a_non_member_that_closes_a_key_is_only_that_finding(cli, store, team):
    """staging rotated (bob was never in it) as "revoke bob", closing bob's key though he
    stays in production: the lie is the closed key; it removes nobody only because bob
    was elsewhere, which that finding already says."""
    t = Tree(store, team)
    staging = t.env("staging")
    new, rotation = rotated(staging, t.alice, dict(staging.members))
    forged = _forge(cli, store, {STAGING: envfile.render(new),
                                 layout.SIGNERS: t.signers(expire="bob@example.com")},
                    _rec("revoke", "staging", changes=rotation, Member="- bob@example.com",
                         Signer_Expired="bob@example.com"))
    _lies(cli, forged, "revoke",
          "it closes the key of bob@example.com, still a member of an environment")


# -- rotate ------------------------------------------------------------------------------


def test_a_rotation_that_also_changes_the_policy_is_rule_3(cli, store, team):
    t = Tree(store, team)
    prod = t.env("production")
    new, rotation = rotated(prod, t.alice, dict(prod.members))
    forged = _forge(cli, store, {PROD: envfile.render(new), layout.POLICY: t.policy()},
                    _rec("rotate", changes=rotation))
    _lies(cli, forged, "rotate", f"it changes {layout.POLICY}")


def test_a_revoke_labelled_rotate_is_rule_3(cli, store, team):
    files, rotation = _revoked_bob(Tree(store, team))
    forged = _forge(cli, store, files, _rec("rotate", changes=rotation))
    _lies(cli, forged, "rotate", f"it changes {layout.SIGNERS}",
          "it removes bob@example.com from production")


@pytest.mark.parametrize(("seated", "key_of", "named"), [
    pytest.param("carol", None, "carol@example.com", id="a-new-member"),
    pytest.param("bob", "carol", "bob@example.com", id="a-new-key-for-bob"),
])
def test_a_rotation_that_seats_a_reader_is_rule_3(cli, store, team, seated, key_of, named):
    t = Tree(store, team)
    prod = t.env("production")
    new, rotation = rotated(prod, t.alice, dict(prod.members))
    new = new.with_members({**new.members, named: t.seat(new, seated, key_of)})
    forged = _forge(cli, store, {PROD: envfile.render(new)}, _rec("rotate", changes=rotation))
    _lies(cli, forged, "rotate", f"it seats {named} in production")


def test_a_rotation_that_removes_the_environment_is_rule_3(cli, store, team):
    """envtrail never deletes an environment's file; a commit that does is no rotation."""
    forged = _forge(cli, store, {STAGING: None}, _rec("rotate", "staging"))
    _lies(cli, forged, "rotate", "it removes staging")


def test_a_new_public_key_under_a_value_label_is_rule_3(cli, store, team):
    """Only the environment's public key changes (every member keeps their sealed copy):
    later writes would encrypt to a key pair whose private half nobody was handed."""
    prod = Tree(store, team).env("production")
    swapped = replace(prod, public_key=b64(EnvKeys.generate().public))
    forged = _forge(cli, store, {PROD: envfile.render(swapped)}, _rec("set"))
    _lies(cli, forged, "set", "it changes the members or keys of production")


# -- policy and signers ------------------------------------------------------------------


def test_a_policy_change_that_also_changes_a_value_is_rule_3(cli, store, team):
    t = Tree(store, team)
    plan = honest_plan(store, t.alice, "production", {"A": "x"})
    forged = _forge(cli, store, {layout.POLICY: t.policy(), PROD: plan.changes[PROD]},
                    _rec("policy", ()))
    _lies(cli, forged, "policy", "it changes production")


def test_a_policy_label_naming_an_environment_on_a_signers_change_is_rule_3(cli, store, team):
    """The label owns up to production's rules; the tree adds a signer and leaves the
    policy alone."""
    forged = _forge(cli, store, {layout.SIGNERS: Tree(store, team).signers("carol")},
                    _rec("policy", "production"))
    _lies(cli, forged, "policy", f"it does not change {layout.POLICY}",
          f"it changes {layout.SIGNERS}")


@pytest.mark.parametrize(("admin", "lie"), [
    pytest.param(None, "its Envtrail-Admin does not read '+ PRINCIPAL' or '- PRINCIPAL'",
                 id="no-admin-trailer"),
    pytest.param("- bob@example.com", "bob@example.com is an admin after it", id="says-unmark"),
])
def test_an_admin_mark_that_disagrees_with_its_trailer_is_rule_3(cli, store, team, admin, lie):
    t = Tree(store, team)
    extra = {"Admin": admin} if admin else {}
    forged = _forge(cli, store, {layout.SIGNERS: t.signers(admin="bob@example.com")},
                    _rec("signers", (), **extra))
    _lies(cli, forged, "signers", lie)


def test_honest_admin_marks_and_environments_verify(cli, store, team):
    """The honest forms of the commits above: nothing to report."""
    bob = team["bob"]
    assert cli("access", "admin", bob.principal, "--reason", "on call").code == 0
    assert cli("env", "add", "qa", "--reason", "new stage").code == 0, "env add"
    assert cli("access", "admin", bob.principal, "--remove", "--reason", "off call").code == 0
    r = cli("verify", "--json")
    assert r.code == 0 and json.loads(r.out)["ok"], r.out


# -- review: the same effect, shown to approvers -----------------------------------------


def _propose(store, cli, files, rec) -> str:
    proposal = signed_commit(store, cli.identity.identity, ALICE, [head(store)], files,
                             render(rec))
    git(store, "update-ref", f"refs/envtrail/proposals/{proposal[:12]}", proposal)
    return proposal[:12]


def test_review_shows_a_revokes_closed_key_and_resealed_members(cli, store, team):
    r = cli("access", "revoke", "bob@example.com", "--env", "production", "--reason", "left",
            "--propose")
    assert r.code == 0, r.err
    pid = git(store, "for-each-ref", "--format=%(refname:lstrip=3)",
              "refs/envtrail/proposals/").strip()
    doc = json.loads(cli("review", pid, "--json").out)
    assert doc["mislabelled"] == []
    closed = [s for s in doc["tree"]["signers"] if s["principal"] == "bob@example.com"]
    assert [(s["change"], s["valid_after"]) for s in closed] == [("-", None), ("+", None)]
    assert closed[0]["valid_before"] is None and closed[1]["valid_before"].startswith("20")
    (prod,) = doc["tree"]["environments"]
    assert (prod["new_key_pair"], prod["members_removed"], prod["members_rekeyed"],
            prod["members_resealed"]) == (True, ["bob@example.com"], [], [ALICE])


def test_review_tells_a_new_key_from_a_new_seal_and_flags_a_closed_key(cli, store, team):
    bob = team["bob"]
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    t = Tree(store, team)
    prod = t.env("production")
    new, rotation = rotated(prod, t.alice, dict(prod.members))
    new = new.with_members({**new.members, "bob@example.com": t.seat(new, "bob", "carol")})
    pid = _propose(store, cli, {PROD: envfile.render(new),
                                layout.SIGNERS: t.signers(expire="bob@example.com")},
                   _rec("revoke", changes=rotation, Member="- bob@example.com"))
    doc = json.loads(cli("review", pid, "--json").out)
    (env,) = doc["tree"]["environments"]
    assert (env["members_rekeyed"], env["members_resealed"]) == (["bob@example.com"], [ALICE])
    assert sorted(doc["mislabelled"]) == sorted(f"Envtrail-Action revoke, but {w}" for w in (
        "it seats bob@example.com in production",
        "bob@example.com is still a member of production",
        "it closes the key of bob@example.com, still a member of an environment",
        "it closes the key of bob@example.com without an Envtrail-Signer-Expired"))


def test_review_shows_when_a_regranted_key_opens_again(cli, store, team):
    bob = team["bob"]
    assert cli("access", "revoke", bob.principal, "--env", "production", "--reason",
               "left").code == 0
    r = cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
            "--reason", "back", "--propose")
    assert r.code == 0, r.err
    pid = git(store, "for-each-ref", "--format=%(refname:lstrip=3)",
              "refs/envtrail/proposals/").strip()
    doc = json.loads(cli("review", pid, "--json").out)
    assert doc["mislabelled"] == []
    lines = {s["change"]: s for s in doc["tree"]["signers"]}
    # The closed line opens again with its own start (stock git keeps accepting what bob
    # signed before he left): the review shows the close removed, the start unchanged.
    assert lines["-"]["valid_before"].startswith("20") and lines["+"]["valid_before"] is None
    assert lines["+"]["valid_after"] == lines["-"]["valid_after"]


def test_review_flags_a_revoke_whose_trailer_alone_closes_a_members_key(cli, store, team):
    """The trailer claims bob's key is closed, though bob stays in staging: verify reports
    it, and so must the review an approver reads before it lands."""
    bob = team["bob"]
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    files, rotation = _revoked_bob(Tree(store, team))
    del files[layout.SIGNERS]
    pid = _propose(store, cli, files, _rec("revoke", changes=rotation, Member="- bob@example.com",
                                           Signer_Expired="bob@example.com"))
    doc = json.loads(cli("review", pid, "--json").out)
    assert doc["mislabelled"] == ["Envtrail-Action revoke, but its Envtrail-Signer-Expired "
                                  "names a key it does not close"]


def test_review_flags_a_policy_proposal_that_changes_another_environments_rule(cli, store,
                                                                              team):
    """Proposed as a change of staging's rule, the tree drops production's: the approver
    is told before approving, as verify would tell after."""
    r = cli("policy", "set", "--env", "production", "--reason-pattern", "INC-[0-9]+",
            "--reason", "INC-1 tickets", "--propose")
    assert r.code == 0, r.err
    honest = git(store, "for-each-ref", "--format=%(objectname)",
                 "refs/envtrail/proposals/").strip()
    proposal = signed_commit(store, cli.identity.identity, ALICE, [head(store)], {},
                             render(_rec("policy", "staging")), tree_of=honest)
    git(store, "update-ref", f"refs/envtrail/proposals/{proposal[:12]}", proposal)
    doc = json.loads(cli("review", proposal[:12], "--json").out)
    assert doc["mislabelled"] == ["Envtrail-Action policy, but it changes the policy of "
                                  "production"]
    assert json.loads(cli("review", honest[:12], "--json").out)["mislabelled"] == []
