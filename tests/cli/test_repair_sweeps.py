"""A repair over honest commits made on top of a finding (attack15 J7).

bob, a production member, lands a ``set`` whose fingerprints lie: only a walk with a
production key sees it. carol, a staging-only member and admin, verifies without that
key (as documented) and keeps working in staging. alice's keyed clone then finds the
lie. The repair must get the store back: it undoes carol's value change with the rest
(and says so, in its output, its record, ``verify`` and ``show``), but it may never go
back over a change of members, keys, signers or policy, and it never writes a commit
that ``verify`` would refuse.
"""

from __future__ import annotations

import json
import re

import pytest
from test_sync import clone_as, make_remote

import forge
from conftest import git
from envtrail.audit import record
from envtrail.audit.repairs import ACK, CLEAN, FROM, SWEEPS
from envtrail.gitstore.repo import GitRepo
from hostile import head, point, proposal_id, setv, signed_commit

CANARY = "CANARY-bob-lie-7f3a"


@pytest.fixture
def team(cli, store, bob, make_identity):
    carol = make_identity("carol@example.com")
    for who, env in ((bob, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("access", "admin", carol.principal, "--reason", "staging lead").code == 0
    setv(cli, "API_KEY", "prod-v1")
    setv(cli, "S", "stage-v1", env="staging")
    assert cli.as_(bob)("get", "API_KEY", "--env", "production").out == "prod-v1"
    return carol


@pytest.fixture
def lie(store, team, bob):
    """(the clean point, bob's lying commit)."""
    clean = head(store)
    return clean, forge.lying_set(store, bob.identity, "production", "API_KEY", CANARY)


def test_a_keyed_finding_then_an_honest_commit_is_repaired_once(cli, store, team, lie):
    _, bad = lie
    carol = cli.as_(team)
    assert carol("verify").code == 0  # without a production key the lie is invisible
    setv(carol, "S", "stage-v2", env="staging")
    honest = head(store)
    assert cli("get", "API_KEY", "--env", "production").code == 5  # alice's key sees it

    r = cli("repair", "--reason", "undo bob INC-8")
    assert r.code == 0, r.err
    repair = head(store)
    assert f"acknowledged: {bad[:10]} rule 3" in r.out
    assert f"undid (came after the first finding): {honest[:10]} set by carol@example.com " \
           "(set S): ~staging:S" in r.out
    assert "redo those changes" in r.out
    assert CANARY not in r.out + r.err
    message = GitRepo(store).info(repair).message
    assert f"Envtrail-Sweeps: {honest}\n" in message and f"Envtrail-Acknowledges: {bad} 3" \
        in message

    # One repair is enough: reads work again, for alice and for carol.
    assert cli("get", "API_KEY", "--env", "production").out == "prod-v1"
    assert carol("get", "S", "--env", "staging").out == "stage-v1"  # her change is undone
    r = cli("verify")
    assert r.code == 0, r.out
    assert f"swept: {honest[:10]} (its value changes undone by alice@example.com in " \
           f"{repair[:10]}: undo bob INC-8)" in r.out
    report = json.loads(cli("verify", "--json").out)
    assert report["ok"] and {a["commit"] for a in report["acknowledged"]} == {bad}
    assert report["swept"] == [{"commit": honest, "repair": repair,
                                "admin": "alice@example.com", "reason": "undo bob INC-8"}]
    assert cli("verify", "--strict").code == 1  # a sweep is a decision on record
    shown = cli("show", honest)
    assert f"swept by a repair: its value changes undone by alice@example.com in " \
           f"{repair[:10]}: undo bob INC-8" in shown.out
    assert json.loads(cli("show", honest, "--json").out)["swept_by"][0]["repair"] == repair
    # Without a production key (carol, an auditor with none) the lie is never seen, and the
    # repair that names it still verifies, saying what could not be checked there.
    for keyless in (carol, cli.as_(None)):
        r = keyless("verify", "--json")
        report = json.loads(r.out)
        assert r.code == 0 and report["ok"], report["findings"]
        assert [(a["commit"], a["message"]) for a in report["acknowledged"]] == [
            (bad, "a fingerprint finding only a walk with a key sees: not checked here")]
        assert [s["commit"] for s in report["swept"]] == [honest]
    # attack16 K2: history shows carol's swept change as hers and honest, never as an
    # acknowledged finding (it was none), and bob's lie as the finding it was.
    rows = _json_lines(carol("history", "S", "--env", "staging", "--json").out)
    mine = next(row for row in rows if row["commit"] == honest)
    assert mine["actor"] == "carol@example.com" and mine["verified"] is True
    assert mine["acknowledged"] is None
    rows = _json_lines(cli("history", "API_KEY", "--env", "production", "--json").out)
    assert next(row for row in rows if row["commit"] == bad)["acknowledged"]["repair"] == repair
    # carol redoes her change as the repair said; the line goes on verifying.
    setv(carol, "S", "stage-v2", env="staging")
    assert cli("verify").code == 0 and carol("verify").code == 0


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_reproducers_second_repair_after_a_refused_one_also_settles(cli, store, team, lie):
    """A repair written by an older envtrail (one verify refuses) is itself a finding the
    next repair acknowledges, sweeping the honest commit under it."""
    clean, bad = lie
    carol = cli.as_(team)
    setv(carol, "S", "stage-v2", env="staging")
    honest = head(store)
    assert cli("get", "API_KEY", "--env", "production").code == 5
    old = record.Record("repair", "alice@example.com", "old envtrail", ("production", "staging"),
                        extra=((ACK, f"{bad} 3"), (CLEAN, clean), (FROM, clean)))
    stale = signed_commit(store, cli.identity.identity, "alice@example.com", [honest], {},
                          record.render(old), tree_of=clean)
    point(store, stale)
    r = cli("verify", "--json")
    assert r.code == 1
    assert any(f["commit"] == stale for f in json.loads(r.out)["findings"])
    r = cli("repair", "--reason", "second try INC-8")
    assert r.code == 0, r.err
    assert f"{honest[:10]} set by carol@example.com" in r.out
    assert cli("verify").code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "prod-v1"


def _admin_change(carol, kind: str, dave) -> None:
    """An honest change of custody, signers or policy by carol (staging only, admin)."""
    args = {
        "grant": ("access", "grant", dave.principal, dave.publine, "--env", "staging"),
        "revoke": ("access", "revoke", "carol@example.com", "--env", "staging"),
        "rotate": ("access", "rotate", "--env", "staging"),
        "admin": ("access", "admin", dave.principal),
        "policy": ("policy", "set", "--env", "staging", "--reason-pattern", "INC-[0-9]+"),
    }[kind]
    r = carol(*args, "--reason", f"{kind} INC-2")
    assert r.code == 0, r.err


@pytest.mark.parametrize("kind", ["grant", "revoke", "rotate", "admin", "policy"])
def test_repair_refuses_to_go_back_over_an_honest_admin_change(cli, store, team, lie, bob,
                                                                make_identity, kind):
    _, bad = lie
    carol = cli.as_(team)
    dave = make_identity("dave@example.com")
    if kind == "admin":  # a signer line to make admin: dave joins staging first
        _admin_change(carol, "grant", dave)
    if kind == "revoke":  # carol offboards bob from staging, where he had joined
        assert carol("access", "grant", bob.principal, bob.publine, "--env", "staging",
                     "--reason", "join").code == 0
        r = carol("access", "revoke", bob.principal, "--env", "staging", "--reason", "left")
        assert r.code == 0, r.err
    else:
        _admin_change(carol, kind, dave)
    first = GitRepo(store).first_parents(head(store), bad)[0][-1]  # the first one after bad
    before = _refs(store)
    for args in (("repair", "--reason", "undo bob", "--dry-run"), ("repair", "--reason", "undo")):
        r = cli(*args)
        assert r.code == 5, (r.code, r.out, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 2 and lines[1].startswith("hint: ")
        assert re.match(rf"envtrail: error: cannot repair: {first[:10]} \(\w+ by "
                        r"carol@example\.com\) came after the first finding and it changes ",
                        lines[0]), lines[0]
        assert _refs(store) == before  # nothing written
    assert cli("get", "API_KEY", "--env", "production").code == 5


def _refs(store) -> str:
    return git(store, "for-each-ref") + git(store, "rev-parse", "HEAD")


@pytest.mark.parametrize(("kind", "verifies"), [("set", True), ("grant", False),
                                                ("revoke", False), ("rotate", False),
                                                ("admin", False), ("policy", False)])
def test_a_hand_made_repair_may_sweep_only_a_change_of_values(cli, store, team, lie,
                                                              make_identity, kind, verifies):
    """The walk's side of the rule: alice signs the repair `repair` refuses to write,
    naming carol's change as swept. Restoring the clean point would reopen staging to
    who was revoked, drop who was granted, undo a rotation or a policy: refused."""
    clean, bad = lie
    carol = cli.as_(team)
    dave = make_identity("dave@example.com")
    if kind == "set":
        setv(carol, "S", "stage-v2", env="staging")
    elif kind == "revoke":
        assert carol("access", "grant", dave.principal, dave.publine, "--env", "staging",
                     "--reason", "join").code == 0
        assert carol("access", "revoke", dave.principal, "--env", "staging",
                     "--reason", "left").code == 0
    else:
        if kind == "admin":
            _admin_change(carol, "grant", dave)
        _admin_change(carol, kind, dave)
    honest = head(store)
    between = GitRepo(store).first_parents(honest, bad)[0]  # newest first, bad excluded
    rec = record.Record("repair", "alice@example.com", "undo bob INC-8",
                        ("production", "staging"),
                        extra=((ACK, f"{bad} 3"), *((SWEEPS, c) for c in reversed(between)),
                               (CLEAN, clean), (FROM, clean)))
    repair = signed_commit(store, cli.identity.identity, "alice@example.com", [honest], {},
                           record.render(rec), tree_of=clean)
    point(store, repair)
    report = json.loads(cli("verify", "--json").out)
    if verifies:
        assert report["ok"], report["findings"]
        assert [s["commit"] for s in report["swept"]] == [honest]
    else:
        assert not report["ok"] and report["swept"] == []
        assert any(f["commit"] == repair and "does not follow the findings it names" in
                   f["message"] for f in report["findings"]), report["findings"]
        assert cli("get", "API_KEY", "--env", "production").code == 5


def _hand_repair(cli, store, parent: str, clean: str, *extra,
                 envs=("production", "staging")) -> str:
    """A repair alice signs by hand on ``parent``: the clean point's tree, ``extra``
    trailers (Acknowledges, Sweeps) and the clean point named; returns it."""
    rec = record.Record("repair", "alice@example.com", "by hand", envs,
                        extra=(*extra, (CLEAN, clean), (FROM, clean)))
    return signed_commit(store, cli.identity.identity, "alice@example.com", [parent], {},
                         record.render(rec), tree_of=clean)


@pytest.mark.parametrize("named", ["right", "lie swept", "honest unnamed", "honest twice",
                                   "honest acknowledged", "clean swept", "staging unnamed"])
def test_a_repair_names_exactly_what_it_sweeps(cli, store, team, lie, named):
    """Only the right names verify: the lying commit swept instead of acknowledged settles
    nothing, carol's change left unnamed would be undone silently, named twice or as a
    finding it has not, or a commit before the first finding swept, is refused."""
    clean, bad = lie
    setv(cli.as_(team), "S", "stage-v2", env="staging")
    honest = head(store)
    extra = {
        "right": ((ACK, f"{bad} 3"), (SWEEPS, honest)),
        "lie swept": ((SWEEPS, bad), (SWEEPS, honest)),
        "honest unnamed": ((ACK, f"{bad} 3"),),
        "honest twice": ((ACK, f"{bad} 3"), (SWEEPS, honest), (SWEEPS, honest)),
        "honest acknowledged": ((ACK, f"{bad} 3"), (ACK, f"{honest} 3")),
        "clean swept": ((ACK, f"{bad} 3"), (SWEEPS, honest), (SWEEPS, clean)),
        "staging unnamed": ((ACK, f"{bad} 3"), (SWEEPS, honest)),
    }[named]
    # attack16 K4: a repair that restores staging must say so, or `log --env staging`
    # would not show what undid carol's change.
    envs = ("production",) if named == "staging unnamed" else ("production", "staging")
    repair = _hand_repair(cli, store, honest, clean, *extra, envs=envs)
    point(store, repair)
    report = json.loads(cli("verify", "--json").out)
    if named == "right":
        assert report["ok"], report["findings"]
        assert [s["commit"] for s in report["swept"]] == [honest]
        return
    assert not report["ok"]
    why = ("a repair restores staging without naming it in Envtrail-Environment"
           if named == "staging unnamed" else "does not follow the findings it names")
    assert any(f["commit"] == repair and why in f["message"] for f in report["findings"]), \
        report["findings"]
    if named != "staging unnamed":
        assert report["swept"] == []


def test_a_repair_that_would_not_verify_is_refused_and_changes_nothing(cli, store, team, lie,
                                                                      monkeypatch):
    """Another writer lands a forged commit while the repair is being planned: the repair
    it planned names too little. It checks its own commit first and writes nothing."""
    import envtrail.ops.repair as repair_module

    real = repair_module.transact
    landed: list[str] = []

    def racing(*args, **kwargs):
        plan = forge.honest_plan(store, cli.identity.identity, "production", {"X": "hand"})
        landed.append(forge.commit_plan(store, None, plan, message="hand edit"))
        return real(*args, **kwargs)

    monkeypatch.setattr(repair_module, "transact", racing)
    r = cli("repair", "--reason", "undo bob INC-8")
    assert r.code == 5, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert lines[0].startswith("envtrail: error: refusing to write a repair that would not "
                               "verify: "), lines
    assert "a repair that does not follow the findings it names" in lines[0]
    assert len(lines) == 2 and lines[1].startswith("hint: nothing was written")
    assert head(store) == landed[0]  # the line did not move
    assert GitRepo(store).store_head() == landed[0]
    monkeypatch.setattr(repair_module, "transact", real)
    r = cli("repair", "--reason", "undo both INC-8")
    assert r.code == 0, r.err
    assert cli("verify").code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "prod-v1"


@pytest.mark.parametrize(("kind", "keyless_ok"), [("set", True), ("grant", False),
                                                  ("rotate", False), ("policy", False)])
def test_a_walk_without_a_key_takes_an_admins_word_only_for_a_change_of_values(
        cli, store, team, lie, bob, make_identity, kind, keyless_ok):
    """A repair may acknowledge a lying fingerprint that a walk without a key cannot see.
    Named so, carol's honest grant, rotation or policy change (whose effect bob, with no
    staging key, does see) is never taken for one: the repair that would undo it is
    refused by him as by alice."""
    clean, bad = lie
    carol = cli.as_(team)
    if kind == "set":
        setv(carol, "S", "stage-v2", env="staging")
    else:
        _admin_change(carol, kind, make_identity("dave@example.com"))
    honest = head(store)
    rec = record.Record("repair", "alice@example.com", "undo bob INC-8",
                        ("production", "staging"),
                        extra=((ACK, f"{bad} 3"), (ACK, f"{honest} 3"), (CLEAN, clean),
                               (FROM, clean)))
    repair = signed_commit(store, cli.identity.identity, "alice@example.com", [honest], {},
                           record.render(rec), tree_of=clean)
    point(store, repair)
    report = json.loads(cli.as_(bob)("verify", "--json").out)
    assert report["ok"] == keyless_ok, report["findings"]
    if not keyless_ok:
        assert any(f["commit"] == repair for f in report["findings"])
        assert cli.as_(bob)("get", "API_KEY", "--env", "production").code == 5
    # alice holds a staging key: carol's commit has no finding to acknowledge.
    report = json.loads(cli("verify", "--json").out)
    assert not report["ok"]
    assert any(f["commit"] == repair for f in report["findings"])


def test_the_staging_members_own_clone_reads_again_after_the_repair(tmp_path, cli, store, team,
                                                                    bob):
    """The J7 story across clones: carol never holds a production key. After alice's
    repair lands on the remote, carol's sync takes it, her reads work, and her verify
    lists what it could not check; she redoes her undone change."""
    bare = make_remote(tmp_path, store)
    alice = clone_as(tmp_path, str(bare), cli.identity, "alice")
    carol = clone_as(tmp_path, str(bare), team, "carol")
    assert alice("verify").code == 0 and carol("verify").code == 0
    bad = forge.lying_set(store, bob.identity, "production", "API_KEY", CANARY)  # bob's clone, in effect
    git(store, "push", "-q", str(bare), "main")
    assert carol("sync").code == 0  # nothing wrong to her: no production key
    setv(carol, "S", "stage-v2", env="staging")
    assert carol("sync").code == 0
    honest = head(carol.cwd)
    r = alice("sync")
    assert r.code == 5, (r.out, r.err)  # her key sees bob's lie
    git(alice.cwd, "fetch", "-q", "origin")
    git(alice.cwd, "merge", "-q", "--ff-only", "origin/main")
    r = alice("repair", "--reason", "undo bob INC-8")
    assert r.code == 0, r.err
    assert f"{honest[:10]} set by carol@example.com" in r.out
    assert alice("sync").code == 0
    r = carol("sync")
    assert r.code == 0, (r.out, r.err)
    assert carol("get", "S", "--env", "staging").out == "stage-v1"
    report = json.loads(carol("verify", "--json").out)
    assert report["ok"], report["findings"]
    assert [a["commit"] for a in report["acknowledged"]] == [bad]
    assert [s["commit"] for s in report["swept"]] == [honest]
    setv(carol, "S", "stage-v2", env="staging")
    assert carol("sync").code == 0 and alice("sync").code == 0
    assert alice("get", "S", "--env", "staging").out == "stage-v2"
    assert alice("get", "API_KEY", "--env", "production").out == "prod-v1"


def test_a_keyless_read_does_not_lift_a_keyed_refusal_on_the_repairs_word(tmp_path, cli, store,
                                                                          team, lie):
    """In the clone where alice's key found the lie, carol's keyless read meets the repair
    (made in another clone) and cannot check what it acknowledges: the refusal stands until
    a walk with the key passes."""
    carol = cli.as_(team)
    assert cli("verify").code == 1  # marks this clone
    bare = make_remote(tmp_path, store)
    other = clone_as(tmp_path, str(bare), team, "other").as_(cli.identity)  # alice there
    assert other("repair", "--reason", "undo bob INC-8").code == 0
    git(other.cwd, "push", "-q", "origin", "main")
    git(store, "pull", "-q", "--ff-only", str(bare), "main")
    r = carol("get", "S", "--env", "staging")
    assert r.code == 5, (r.out, r.err)
    r = carol("verify")
    assert r.code == 1 and "still refused" in r.out, r.out
    assert cli("get", "API_KEY", "--env", "production").out == "prod-v1"  # alice's key lifts it
    assert carol("get", "S", "--env", "staging").out == "stage-v1"


@pytest.mark.parametrize("case", ["approved", "not a member"])
def test_a_repair_never_sweeps_an_approved_change_nor_one_its_author_could_not_make(
        cli, store, team, bob, make_identity, case):
    """attack16 K1: restoring files needs neither a key nor approvals, so a sweep could
    take back a change staging's approvers let through, on one admin's word, or a
    change in an environment the repairing admin is no member of. Neither `repair` nor
    a hand-made repair that verify accepts may do it."""
    carol = cli.as_(team)
    if case == "approved":
        erin = make_identity("erin@example.com")  # approves without a production key
        assert cli("access", "grant", erin.principal, erin.publine, "--env", "staging",
                   "--reason", "join").code == 0
        assert cli("policy", "set", "--env", "staging", "--approvals", "1",
                   "--reason", "INC-1 four eyes").code == 0
        admin = cli
    else:  # dave: an admin of production only, who sees bob's lie with his key
        dave = make_identity("dave@example.com")
        assert cli("access", "grant", dave.principal, dave.publine, "--env", "production",
                   "--reason", "join").code == 0
        assert cli("access", "admin", dave.principal, "--reason", "prod lead").code == 0
        admin = cli.as_(dave)
    clean = head(store)
    bad = forge.lying_set(store, bob.identity, "production", "API_KEY", CANARY)
    if case == "approved":
        r = carol("set", "S", "--env", "staging", "--reason", "INC-3", "--propose",
                  input="stage-v2")
        pid = proposal_id(r)
        r = cli.as_(erin)("approve", pid, "--reason", "INC-3 ok")
        assert r.code == 0, r.err
        r = carol("apply", pid)
        assert r.code == 0, r.err
    else:
        setv(carol, "S", "stage-v2", env="staging")
    between = GitRepo(store).first_parents(head(store), bad)[0]  # newest first, bad excluded
    before = _refs(store)
    r = admin("repair", "--reason", "undo bob INC-8")
    assert r.code == 5, (r.code, r.out, r.err)
    assert f"cannot repair: {between[-1][:10]}" in r.err
    assert ("where a change needs approvals" if case == "approved" else
            "the repair's author is no member") in r.err
    assert CANARY not in r.out + r.err and _refs(store) == before
    # The walk's side: the same sweep, signed by hand, is no valid repair.
    who = admin.identity
    rec = record.Record("repair", who.principal, "undo bob INC-8", ("production", "staging"),
                        extra=((ACK, f"{bad} 3"), *((SWEEPS, c) for c in reversed(between)),
                               (CLEAN, clean), (FROM, clean)))
    repair = signed_commit(store, who.identity, who.principal, [head(store)], {},
                           record.render(rec), tree_of=clean)
    point(store, repair)
    report = json.loads(cli("verify", "--json").out)
    assert not report["ok"] and report["swept"] == []
    assert any(f["commit"] == repair and "does not follow the findings it names" in
               f["message"] for f in report["findings"]), report["findings"]
    assert cli("get", "S", "--env", "staging").code == 5


@pytest.mark.usefixtures("lie")  # bob's lie stands, seen by alice's key
def test_a_repair_never_sweeps_a_commit_an_event_follows(cli, store, team):
    """attack16 K3: carol deployed staging with her honest change. Swept, it would leave
    her deploy event after a state a repair undid: a finding in every clone that no
    repair settles. `repair` refuses it instead, naming the commit, and writes nothing."""
    carol = cli.as_(team)
    setv(carol, "S", "stage-v2", env="staging")
    honest = head(store)
    assert carol("event", "deploy", "--env", "staging", "--reason", "ship 2.4").code == 0
    before = _refs(store)
    r = cli("repair", "--reason", "undo bob INC-8")
    assert r.code == 5, (r.code, r.out, r.err)
    assert f"cannot repair: {honest[:10]}" in r.err and "an event follows it" in r.err
    assert _refs(store) == before
    assert carol("verify").code == 0  # carol's own line is untouched


def test_repair_says_to_rotate_a_key_pair_a_forged_seat_handed_out(cli, store, bob,
                                                                   make_identity):
    """attack19 P3: a commit that sealed staging's keys to someone (here bob, a member but
    no admin, seats carol by hand) is acknowledged and undone by `repair`, which puts the
    same key pair back: carol still holds it, so the repair must say to rotate."""
    from conftest import git as run_git
    from envtrail.format import envfile
    from envtrail.format.envfile import Member
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.members import open_keys
    from hostile import message, signed_commit

    carol = make_identity("carol@example.com")
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    g = GitRepo(store)
    head = g.head()
    env = envfile.parse(g.read(head, "envs/staging.yaml"), "envs/staging.yaml")
    keys = open_keys(env, bob.identity)
    seated = env.with_members({**env.members, carol.principal: Member(
        carol.principal, carol.identity.public.openssh, keys.seal_to(carol.identity.public))})
    forged = signed_commit(store, bob.identity, bob.principal, [head],
                           {"envs/staging.yaml": envfile.render(seated)},
                           message("grant", bob.principal, env="staging"))
    run_git(store, "update-ref", "refs/heads/main", forged)
    run_git(store, "reset", "-q", "--hard", forged)
    # This clone checked the line up to the clean point: its repair walks from there
    # (attack20 Q5: the warning looked only at what that walk read).
    r = cli("repair", "--reason", "undo bob's seat for carol")
    assert r.code == 0, r.err
    assert (f"staging: {forged[:10]} sealed its keys to carol@example.com, who is no member "
            "at the clean point; the repair keeps that key pair: run `envtrail access rotate "
            "--env staging`") in r.err
    assert "production:" not in r.err
    assert cli("verify").code == 0


def test_a_repair_from_before_an_environment_was_added_keeps_it_as_at_the_clean_point(
        cli, store):
    """review15 B5: `repair --from REV` failed ("no environment 'qa'", exit 3) when an
    environment was added after REV; it now restores what REV holds and keeps qa."""
    setv(cli, "X", "v1")
    rev = head(store)
    setv(cli, "X", "v2")
    assert cli("env", "add", "qa", "--reason", "a new stage").code == 0
    setv(cli, "Q", "q1", env="qa")
    git(store, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "noise")
    r = cli("repair", "--reason", "back to v1", "--from", rev, "--dry-run")
    assert r.code == 0, r.err
    assert f"qa did not exist at {rev[:10]}: its values stay as at the clean point" in r.err
    assert cli("repair", "--reason", "back to v1", "--from", rev).code == 0
    assert cli("get", "X", "--env", "production").out == "v1"
    assert cli("get", "Q", "--env", "qa").out == "q1"
    assert cli("verify").code == 0
