"""Each way a repair can stray from "values only, back to a verified state" is a finding
on the repair itself, under its own rule: 5 for who may repair, 4 for the clean point's
policy and membership, 3 for what its tree and trailers do (DESIGN section 7).

Every case starts from the repair ``repair --from`` really writes over a forged value,
then signs it again with one thing changed, on the same forged parent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from envtrail.audit import line
from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.audit.record import render
from envtrail.audit.repairs import FROM
from envtrail.audit.view import StoreView
from envtrail.gitstore.commit import Author, create_commit
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.txn import signer_for
from forge import commit_plan, honest_plan
from hostile import head, point, setv

TRAILERS = "a repair's Envtrail-Change trailers do not describe how it differs from the clean point"


@dataclass(frozen=True)
class Scene:
    pregrant: str  # production without bob
    older: str  # A=1 (the Repair-From of the real repair)
    mid: str  # A=1.5
    clean: str  # A=2; production wants a ticket and alice or an admin as writer
    bad: str  # A=evil, unsigned
    real: str  # the repair envtrail wrote: A back to 1
    carol: object  # an admin, a member of staging only


@pytest.fixture
def scene(cli, store, alice, bob, make_identity) -> Scene:
    setv(cli, "A", "0")
    pregrant = head(store)
    carol = make_identity("carol@example.com")
    for who, env in ((bob, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("access", "admin", "carol@example.com", "--reason", "ops").code == 0
    setv(cli, "A", "1")
    older = head(store)
    setv(cli, "A", "1.5")
    mid = head(store)
    setv(cli, "A", "2")
    assert cli("policy", "set", "--env", "production", "--reason-pattern", "INC-[0-9]+",
               "--writers", "alice@example.com,admins", "--reason", "tickets").code == 0
    clean = head(store)
    bad = commit_plan(store, None, honest_plan(store, alice.identity, "production", {"A": "evil"},
                                                  reason="INC-666"))
    assert cli("repair", "--reason", "INC-1", "--from", older).code == 0
    real = head(store)
    point(store, bad)
    return Scene(pregrant, older, mid, clean, bad, real, carol)


def variant(store, scene: Scene, who, files=None, **record) -> str:
    """The real repair, signed by ``who`` with ``record`` fields and ``files`` changed in
    its tree."""
    g = GitRepo(store)
    rec = parse_record(g.info(scene.real))
    rec = replace(rec, actor=who.principal, **record)
    when = g.info(scene.real).committer_time
    return create_commit(g, [scene.bad], files or {}, render(rec),
                         Author(who.principal, who.principal, when), signer_for(who.identity),
                         base=scene.real)


def from_(scene: Scene, rec_extra, source: str):
    return tuple((k, source if k == FROM else v) for k, v in rec_extra)


def own(store, commit: str, identity) -> dict[int, list[str]]:
    """The findings on ``commit`` itself, by rule, from a walk with ``identity``'s key."""
    report = line.walk(StoreView(GitRepo(store)), commit, keyring=Keyring(identity.identity),
                       now=datetime.now(UTC))
    out: dict[int, list[str]] = {}
    for f in report.findings:
        if f.commit == commit:
            out.setdefault(f.rule, []).append(f.message)
    return out


def extra_of(store, scene: Scene):
    return parse_record(GitRepo(store).info(scene.real)).extra


def test_the_repair_envtrail_writes_is_clean(store, scene, alice):
    assert own(store, scene.real, alice) == {}


def test_a_member_who_is_no_admin_nor_writer_cannot_repair(store, scene, bob, alice):
    assert own(store, variant(store, scene, bob), alice) == {
        4: ["writers: bob@example.com may not change production"],
        5: ["bob@example.com is not an admin but made a repair"]}


@pytest.mark.parametrize("source", ["not-a-commit", "bad", "0" * 40])
def test_repair_from_must_be_a_line_commit_at_or_before_the_clean_point(store, scene, alice,
                                                                        source):
    source = scene.bad if source == "bad" else source
    commit = variant(store, scene, alice, extra=from_(scene, extra_of(store, scene), source))
    assert own(store, commit, alice) == {
        3: ["Repair-From is not a line commit at or before the clean point"]}


@pytest.mark.parametrize(("path", "named"), [(".envtrail/policy.yaml", ".envtrail"),
                                             (".gitattributes", ".gitattributes")])
def test_a_repair_restores_no_admin_file_of_its_own(store, scene, alice, path, named):
    data = GitRepo(store).read(scene.clean, path) + b"# mine\n"
    found = own(store, variant(store, scene, alice, {path: data}), alice)
    assert found[3][0] == f"a repair leaves {named} different from the clean point " \
                          f"{scene.clean[:10]}"


def test_a_repair_adds_no_file_beside_the_store(store, scene, alice):
    found = own(store, variant(store, scene, alice, {"README.md": b"hi\n"}), alice)
    assert found == {3: ["a repair changes files outside envs/ and .envtrail/"]}


def test_a_repair_keeps_the_clean_points_environments(store, scene, alice):
    found = own(store, variant(store, scene, alice, {"envs/staging.yaml": None}), alice)
    assert "a repair's environments differ from the clean point's" in found[3]


def test_without_repair_from_the_values_are_the_clean_points(store, scene, alice):
    commit = variant(store, scene, alice, extra=from_(scene, extra_of(store, scene), scene.clean))
    # One finding each for the tree and the environment, none from judging its values as
    # a restore (their change is no restore here, so the trailers describe no change).
    assert own(store, commit, alice) == {3: [
        *(f"a repair leaves {named} different from the clean point {scene.clean[:10]}"
          for named in ("envs", "production")), TRAILERS]}


def test_a_repair_brings_back_no_member_nor_key(store, scene, alice):
    old = GitRepo(store).read(scene.pregrant, "envs/production.yaml")
    found = own(store, variant(store, scene, alice, {"envs/production.yaml": old}), alice)
    # Its values are not judged as a restore: the custody finding says it all.
    assert found == {3: ["a repair changes the members or keys of production", TRAILERS]}


def test_a_repair_obeys_the_clean_points_policy(store, scene, alice):
    found = own(store, variant(store, scene, alice, reason="no ticket"), alice)
    assert list(found) == [4] and "reason_pattern" in found[4][0], found


def test_an_admin_who_is_no_member_restores_no_values(store, scene, alice):
    found = own(store, variant(store, scene, scene.carol), alice)
    assert found == {4: ["carol@example.com restored values of production without being a "
                         "member of it"]}


def test_a_repairs_trailers_describe_how_it_differs_from_the_clean_point(store, scene, alice):
    found = own(store, variant(store, scene, alice, changes=()), alice)
    assert found == {3: [TRAILERS]}


def test_with_a_key_the_restored_values_are_those_of_repair_from(store, scene, alice):
    commit = variant(store, scene, alice, extra=from_(scene, extra_of(store, scene), scene.mid))
    assert own(store, commit, alice) == {
        3: ["production: the restored values are not those of Repair-From"]}


def test_with_a_key_every_restored_value_must_decrypt(store, scene, alice):
    from envtrail.format import envfile

    data = GitRepo(store).read(scene.real, "envs/production.yaml")
    env = envfile.parse(data)
    token = env.values["A"]
    at = len(token) // 2
    broken = token[:at] + ("B" if token[at] != "B" else "C") + token[at + 1:]
    forged = envfile.render(replace(env, values={**env.values, "A": broken}))
    found = own(store, variant(store, scene, alice, {"envs/production.yaml": forged}), alice)
    assert found == {3: ["production: A: ciphertext does not authenticate",
                         "production: a restored value does not decrypt"]}


def test_a_repair_from_before_a_member_joined_is_clean_to_him_and_to_an_auditor(
        cli, store, alice, make_identity):
    """What a verifier's key cannot open at Repair-From it cannot compare: dave, granted
    after that point, and an auditor with no key both find the honest repair clean."""
    setv(cli, "A", "1")
    older = head(store)
    dave = make_identity("dave@example.com")
    assert cli("access", "grant", dave.principal, dave.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "A", "2")
    commit_plan(store, None, honest_plan(store, alice.identity, "production", {"A": "evil"}))
    assert cli("repair", "--reason", "INC-2", "--from", older).code == 0
    repair = head(store)
    assert cli.as_(dave)("get", "A", "--env", "production").out == "1"
    assert own(store, repair, dave) == {}
    report = line.walk(StoreView(GitRepo(store)), repair, keyring=Keyring(None),
                       now=datetime.now(UTC))
    assert [f for f in report.findings if f.commit == repair] == []
