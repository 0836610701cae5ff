"""Attacks on the store line (issue 11): each builds forged history with real git
objects and real keys, and asserts that verify reports it, that reads refuse it
(exit 5), and that no attacker value is ever returned."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import Cli, git
from envtrail.format import layout
from hostile import (
    NEW_SECRET,
    head,
    message,
    point,
    refused,
    setv,
    signed_commit,
    unsigned_commit,
    verify_findings,
)


@pytest.fixture
def team(cli, store, bob):
    """alice (admin) and bob share production; bob is then revoked and a new secret set.

    Returns (pre_revoke commit, revoke commit).
    """
    setv(cli, "A", "1")
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "B", "2")
    pre = head(store)
    assert cli("access", "revoke", "bob@example.com", "--env", "production",
               "--reason", "left").code == 0
    revoke = head(store)
    setv(cli, "SECRET", NEW_SECRET)
    return pre, revoke


def rules(findings: list[dict]) -> set[int]:
    return {f["rule"] for f in findings}


def test_unsigned_merge_with_a_pre_revocation_commit(cli, store, team, bob):
    pre, _ = team
    # Tree of the old state (bob a member again), merged into the head.
    forged = unsigned_commit(store, pre, [head(store), pre])
    point(store, forged)
    assert 6 in rules(verify_findings(cli))
    refused(cli, "SECRET")
    assert cli.as_(bob)("get", "B", "--env", "production").code == 5


def test_octopus_merge(cli, store, team):
    pre, revoke = team
    point(store, unsigned_commit(store, pre, [head(store), pre, revoke]))
    assert 6 in rules(verify_findings(cli))
    refused(cli, "SECRET")


def test_merge_whose_first_parent_is_old_looks_like_a_fast_forward(cli, store, team, bob):
    pre, _ = team
    current = head(store)
    # Descends from the head (so it looks like a fast-forward to sync and branch
    # protection), but its first-parent line is the state before the revocation.
    forged = signed_commit(store, bob.identity, "bob@example.com", [pre, current], {},
                           message("set", "bob@example.com"), tree_of=pre)
    point(store, forged)
    assert git(store, "merge-base", "--is-ancestor", current, forged, check=False) == ""
    found = verify_findings(cli)
    assert {6, 8} <= rules(found)
    refused(cli, "SECRET", (NEW_SECRET,))


def test_outsiders_own_root_joined_by_a_merge(cli, store, team, make_identity):
    mallory = make_identity("mallory@example.com")
    signers = f"mallory@example.com namespaces=\"git\" {mallory.identity.public.openssh} envtrail:admin\n"
    root = signed_commit(store, mallory.identity, "mallory@example.com", [],
                         {layout.SIGNERS: signers.encode(), layout.CONFIG: b"envtrail: 1\n"},
                         message("init", "mallory@example.com"))
    point(store, unsigned_commit(store, root, [head(store), root]))
    assert 6 in rules(verify_findings(cli))
    refused(cli, "SECRET")


def test_outsiders_replacement_history_is_another_genesis(cli, store, team, make_identity, tmp_path):
    # mallory replaces the whole line with one of her own making, in a clone.
    mallory = make_identity("mallory@example.com")
    fake = tmp_path / "fake"
    fake.mkdir()
    m = Cli(fake, mallory)
    assert m("init", "--create", "--env", "production").code == 0
    setv(m, "SECRET", "attacker-value")
    git(store, "fetch", "-q", str(fake), "main:refs/heads/fake")
    point(store, git(store, "rev-parse", "fake").strip())
    found = verify_findings(cli)
    assert 8 in rules(found)  # not the pinned genesis, and the verified head is gone
    refused(cli, "SECRET", ("attacker-value",))
    # show judges each commit of the replaced line with the line's own findings
    # (attack12b G2: it said "verify ok" for the forged head and genesis).
    for rev in ("HEAD", git(store, "rev-list", "--max-parents=0", "HEAD").strip()):
        shown = json.loads(cli("show", rev, "--json").out)
        assert 8 in {f["rule"] for f in shown["findings"]}, (rev, shown["findings"])


def test_an_unsigned_genesis_is_a_finding_with_what_it_claims(cli, store):
    # A replacement history whose very first commit is unsigned: judged, never a crash,
    # and what it set up (signers, members) is named for whoever reviews it.
    root = unsigned_commit(store, "HEAD", [], message="init by hand")
    point(store, root)
    r = cli("verify", "--json")
    assert r.code == 5 and "Traceback" not in r.err  # another genesis: rule 8
    mine = [f for f in json.loads(r.out)["findings"] if f["commit"] == root]
    assert {f["rule"] for f in mine} >= {1, 5}
    assert any(".envtrail/allowed_signers" in f["message"] for f in mine if f["rule"] == 5)


def test_revoked_member_signs_on_a_pre_revocation_parent(cli, store, team, bob, tmp_path):
    pre, revoke = team
    from envtrail.gitstore.repo import GitRepo

    g = GitRepo(store)
    env_at_pre = g.read(pre, layout.env_path("production"))
    forged = signed_commit(store, bob.identity, "bob@example.com", [pre],
                           {layout.env_path("production"): env_at_pre + b""},
                           message("set", "bob@example.com"),
                           when=g.info(head(store)).committer_time)
    # A force-push: the clone's verified head is no longer on the line.
    point(store, forged)
    assert 8 in rules(verify_findings(cli))
    refused(cli, "SECRET")
    # A fresh clone that pins a later line commit catches the rewind too.
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    c = Cli(fresh, bob)
    r = c("get", "B", "--env", "production", env={"ENVTRAIL_TRUST_ROOT": revoke})
    assert r.code == 5 and "trust root" in r.err
    r = c("verify", "--trust-root", revoke)
    assert r.code == 5 and "trust root" in r.out


def test_member_of_staging_only_injects_a_production_value(cli, store, make_identity):
    carol = make_identity("carol@example.com")
    setv(cli, "A", "1")
    assert cli("access", "grant", "carol@example.com", carol.publine, "--env", "staging",
               "--reason", "staging only").code == 0
    import forge

    # carol encrypts to production's public key (anyone can) and signs honestly.
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "injected"})
    rec = forge.with_record(plan, actor="carol@example.com").record
    forged = signed_commit(store, carol.identity, "carol@example.com", [head(store)],
                           dict(plan.changes), message("set", "carol@example.com",
                                                       changes=rec.changes))
    point(store, forged)
    found = verify_findings(cli.as_(None))  # even a keyless auditor sees it
    assert any(f["rule"] == 4 and "without being a member" in f["message"] for f in found)
    refused(cli, "A", ("injected",))


def test_second_signer_line_for_an_admin_by_a_non_admin(cli, store, bob, make_identity):
    mallory = make_identity("mallory@example.com")
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    signers = (store / layout.SIGNERS).read_text()
    signers += f"alice@example.com namespaces=\"git\" {mallory.identity.public.openssh}\n"
    forged = signed_commit(store, bob.identity, "bob@example.com", [head(store)],
                           {layout.SIGNERS: signers.encode()}, message("signers", "bob@example.com"))
    point(store, forged)
    found = verify_findings(cli)
    assert 5 in rules(found) or 1 in rules(found)
    refused(cli, "A")


def test_commit_dated_far_ahead_is_a_finding_and_stays_one(cli, store):
    from datetime import timedelta

    import forge
    from envtrail.gitstore.repo import GitRepo

    setv(cli, "A", "1")
    g = GitRepo(store)
    future = g.info(head(store)).committer_time + timedelta(days=3)
    forge.commit_plan(store, cli.identity.identity,
                      forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"}),
                      when=future)
    found = verify_findings(cli)
    assert any(f["rule"] == 7 and "first saw" in f["message"] for f in found)
    refused(cli, "A")


def test_a_marker_commit_may_not_change_files(cli, store):
    import forge

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "sneaky"})
    forge.commit_plan(store, cli.identity.identity, forge.with_record(plan, action="approve"))
    assert any(f["rule"] == 4 and "approve commit changes" in f["message"]
               for f in verify_findings(cli))
    refused(cli, "A", ("sneaky",))


def test_question_mark_fingerprints_are_refused(cli, store):
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    forge.commit_plan(store, cli.identity.identity,
                      forge.with_record(plan, changes=(Change("~", "A", "?", "?"),)))
    found = verify_findings(cli.as_(None))
    assert any("fingerprint '?'" in f["message"] for f in found)


def test_shallow_clone_is_refused(cli, store, tmp_path):
    setv(cli, "A", "1")
    setv(cli, "A", "2")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", str(shallow))
    # With its remote at hand, envtrail fetches the rest of the line itself.
    r = Cli(shallow, cli.identity)("get", "A", "--env", "production")
    assert (r.code, r.out) == (0, "2"), r.err
    assert not (shallow / ".git/shallow").exists()
    # Without one, a commit whose parent is missing is never taken for a genesis.
    cut = tmp_path / "cut"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", str(cut))
    git(cut, "remote", "remove", "origin")
    r = Cli(cut, cli.identity)("get", "A", "--env", "production")
    assert r.code == 5 and "shallow" in r.err


def test_fresh_clone_with_trust_root_refuses_a_replaced_history(cli, store, tmp_path, make_identity):
    genesis = head(store)
    setv(cli, "A", "real")
    mallory = make_identity("mallory@example.com")
    fake = tmp_path / "fake"
    fake.mkdir()
    m = Cli(fake, mallory)
    assert m("init", "--create", "--env", "production").code == 0
    setv(m, "A", "attacker")
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(fake), str(clone))
    r = Cli(clone, mallory)("get", "A", "--env", "production",
                            env={"ENVTRAIL_TRUST_ROOT": genesis})
    assert r.code == 5 and "attacker" not in r.out
    # In CI a trust root is required at all.
    r = Cli(clone, mallory)("get", "A", "--env", "production", env={"CI": "true"})
    assert r.code == 5 and "ENVTRAIL_TRUST_ROOT" in r.err


def test_rollback_to_a_commit_off_the_line_is_refused(cli, store):
    import forge

    setv(cli, "A", "good")
    git(store, "switch", "-q", "-c", "side")
    forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity, "production",
                                                     {"A": "evil"}), message="side")
    side = head(store)
    git(store, "switch", "-q", "main")
    r = cli("rollback", "--env", "production", "--to", side, "--reason", "r")
    assert r.code == 5 and "not on the verified store line" in r.err
    assert cli("get", "A", "--env", "production", "--at", side).code == 5
    assert cli("get", "A", "--env", "production").out == "good"


@pytest.mark.parametrize("keyed", [True, False])
def test_keyed_reads_catch_a_lying_fingerprint(cli, store, keyed):
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    real = plan.record.changes[0]
    forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, "0" * len(real.new_fp)),)))
    reader = cli if keyed else cli.as_(None)
    r = reader("get", "A", "--env", "production")
    # With a key the read itself recomputes the fingerprint; without one it cannot
    # (and has no key to decrypt with anyway).
    assert r.code == (5 if keyed else 4), r.err


def test_ciphertext_moved_between_variables_is_caught_by_a_keyed_read(cli, store):
    import forge

    setv(cli, "A", "alpha")
    setv(cli, "B", "beta")
    path = store / layout.env_path("production")
    text = path.read_text()
    lines = text.splitlines()
    a = next(i for i, ln in enumerate(lines) if ln.strip().startswith("A:"))
    b = next(i for i, ln in enumerate(lines) if ln.strip().startswith("B:"))
    lines[a] = "  A:" + lines[b].split(":", 1)[1]
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"C": "c"})
    changes = {layout.env_path("production"): ("\n".join(lines) + "\n").encode()}
    rec = forge.with_record(plan)
    from envtrail.model import Change

    forged = forge.Plan(changes, forge.replace(rec.record, changes=(
        Change("~", "A", rec.record.changes[0].new_fp, rec.record.changes[0].new_fp),)))
    forge.commit_plan(store, cli.identity.identity, forged)
    r = cli("get", "B", "--env", "production")
    assert r.code == 5, r.err


def test_hand_commit_relaxing_policy_is_noticed_by_the_fast_read(cli, store):
    setv(cli, "A", "1")
    assert cli("get", "A", "--env", "production").code == 0  # fast path primed
    (store / layout.POLICY).write_text("envtrail: 1\nenvironments: {}\n")
    git(store, "commit", "-qam", "relax policy")
    refused(cli, "A")


def test_git_verify_commit_accepts_every_commit_on_the_line(cli, store, team):
    for commit in git(store, "rev-list", "HEAD").split():
        git(store, "verify-commit", commit)
    assert git(store, "rev-list", "--merges", "HEAD") == ""
    assert len(git(store, "rev-list", "--max-parents=0", "HEAD").split()) == 1


def test_repair_acknowledges_restores_values_and_strict_still_fails(cli, store, bob):
    import forge

    setv(cli, "A", "good")
    clean = head(store)
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "evil"})
    bad = forge.commit_plan(store, None, plan, message="hotfix by hand")
    refused(cli, "A", ("evil",))
    assert cli.as_(bob)("repair", "--reason", "not admin").code == 4
    r = cli("repair", "--reason", "unsigned hotfix INC-9", "--dry-run")
    assert r.code == 0 and f"would acknowledge: {bad[:10]} rule 1" in r.out
    assert head(store) == bad  # a dry run writes nothing
    r = cli("repair", "--reason", "unsigned hotfix INC-9")
    assert r.code == 0, r.err
    assert f"restored to the last verified state {clean}: envs/production.yaml" in r.out
    assert cli("get", "A", "--env", "production").out == "good"
    r = cli("verify")
    assert r.code == 0 and "acknowledged:" in r.out and "unsigned hotfix INC-9" in r.out
    assert cli("verify", "--strict").code == 1
    git(store, "verify-commit", "HEAD")
    # Nothing left to repair now.
    assert cli("repair", "--reason", "again").code == 2


def test_accept_rewrite_lists_what_disappeared_and_guards_revocations(cli, store, team, bob):
    pre, revoke = team
    point(store, pre)  # someone force-pushed the line back to before the revocation
    r = cli("verify")
    assert r.code == 5 and "rule 8" in r.out
    r = cli("verify", "--accept-rewrite")
    assert r.code == 5 and "revoke" in r.err
    assert cli("get", "A", "--env", "production").code == 5
    r = cli("verify", "--accept-rewrite", "--force")
    assert r.code == 0, r.out + r.err
    assert f"disappeared: {revoke}" in r.out
    assert cli("get", "A", "--env", "production").out == "1"


def test_store_beside_a_large_application_history(tmp_path, alice):
    app = tmp_path / "app"
    app.mkdir()
    git(app, "init", "-q")
    # 3,000 code commits with merges, made fast with fast-import.
    lines = []
    for mark, i in enumerate(range(3000), 1):
        lines += [f"commit refs/heads/{'main' if i % 50 else 'topic'}", f"mark :{mark}",
                  f"committer Dev <dev@example.com> {1700000000 + i} +0000",
                  "data 4", f"c{i:03d}"[:4]]
        if mark > 1:
            lines.append(f"from :{mark - 1}")
        if i % 50 == 0 and mark > 2:
            lines.append(f"merge :{mark - 2}")
        lines += [f"M 644 inline f{i % 7}.txt", "data 2", "x", ""]
    subprocess.run(["git", "fast-import", "--quiet"], cwd=app, input="\n".join(lines) + "\n",
                   text=True, check=True)
    git(app, "reset", "-q", "--hard", "main")
    code_heads = git(app, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
    assert git(app, "rev-list", "--merges", "--count", "main").strip() != "0"
    c = Cli(app, alice)
    assert c("init", "--env", "production").code == 0
    setv(c, "A", "v")
    assert c("get", "A", "--env", "production").out == "v"
    r = c("verify")
    assert r.code == 0 and "verified 2 commit(s)" in r.out
    after = git(app, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
    assert [ln for ln in after.splitlines() if "refs/heads/envtrail" not in ln] == \
        code_heads.splitlines()


def test_a_keyed_reader_rechecks_what_a_keyless_auditor_let_through(cli, store):
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    real = plan.record.changes[0]
    forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, "f" * len(real.new_fp)),)))
    auditor = cli.as_(None)
    r = auditor("verify")
    assert r.code == 0 and "skipped without a key" in r.out and "production" in r.out
    # The checkpoint moved past the lie without a key; a member's read re-checks with one.
    for _ in range(2):  # and keeps refusing: the failed re-check is not remembered as done
        r = cli("get", "A", "--env", "production")
        assert r.code == 5 and "fingerprint" in r.err
    assert cli("verify").code == 1


def test_a_member_granted_later_checks_fingerprints_with_his_key(cli, store, bob):
    """The files from before bob's grant share the key pair he was later seated in: that
    he could not open them must not stop him checking every file after his grant."""
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    real = plan.record.changes[0]
    lie = forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, "f" * len(real.new_fp)),)))
    member = cli.as_(bob)
    assert any(f["commit"] == lie and f["rule"] == 3 and "new fingerprint" in f["message"]
               for f in verify_findings(member))
    r = member("get", "A", "--env", "production")
    assert r.code == 5 and "fingerprint" in r.err


def test_a_revoked_member_verifies_the_rotation_that_shut_him_out_as_clean(cli, store, bob):
    """bob can open the key pair before his revoke but not the one after: the rotation's
    values are skipped for him, not reported as changed."""
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "A", "1")
    assert cli("access", "revoke", "bob@example.com", "--env", "production",
               "--reason", "left").code == 0
    r = cli.as_(bob)("verify", "--json")
    report = json.loads(r.out)
    assert r.code == 0 and report["findings"] == [], report
    assert report["skipped_without_key"] == ["production"]
    assert report["skipped_before_seat"] == []  # he holds no key to production now


def test_ci_fast_path_needs_the_trust_root_too(cli, store):
    setv(cli, "A", "1")
    genesis = git(store, "rev-list", "--max-parents=0", "HEAD").strip()
    assert cli("get", "A", "--env", "production").code == 0  # checkpoint and cache primed
    r = cli("get", "A", "--env", "production", env={"GITHUB_ACTIONS": "true"})
    assert r.code == 5 and "ENVTRAIL_TRUST_ROOT" in r.err
    r = cli("get", "A", "--env", "production",
            env={"GITHUB_ACTIONS": "true", "ENVTRAIL_TRUST_ROOT": genesis})
    assert (r.code, r.out) == (0, "1")
    r = cli("get", "A", "--env", "production", env={"ENVTRAIL_TRUST_ROOT": "0" * 40})
    assert r.code == 5 and "trust root" in r.err


def test_revoke_and_rotate_print_the_id_to_pin_next(cli, store, bob):
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    r = cli("access", "revoke", "bob@example.com", "--env", "production", "--reason", "left")
    assert f"pin next: ENVTRAIL_TRUST_ROOT={head(store)}" in r.out
    r = cli("access", "rotate", "--env", "production", "--reason", "routine")
    assert f"pin next: ENVTRAIL_TRUST_ROOT={head(store)}" in r.out


def test_unreadable_allowed_signers_is_a_finding_not_a_crash(cli, store):
    setv(cli, "A", "1")
    me = cli.identity.identity
    broken = signed_commit(store, me, "alice@example.com", [head(store)],
                           {layout.SIGNERS: b"garbage\n"},
                           message("signers", "alice@example.com", env="production"))
    after = signed_commit(store, me, "alice@example.com", [broken], {},
                          message("event", "alice@example.com"))
    point(store, after)
    found = verify_findings(cli)
    # The commit after the broken file cannot be judged: a rule 1 finding, not a crash.
    assert any(f["commit"] == after and f["rule"] == 1 for f in found)
    refused(cli, "A")


def test_a_fresh_clone_never_pins_a_line_that_does_not_verify(cli, store, tmp_path):
    import forge

    setv(cli, "A", "1")
    forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity, "production",
                                                     {"A": "evil"}), message="by hand")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(store), str(clone))
    assert Cli(clone, cli.identity)("get", "A", "--env", "production").code == 5
    assert not (clone / ".git/envtrail/pin.json").exists()


def test_an_admin_of_another_environment_cannot_seat_himself(cli, store, make_identity):
    """Custody (members, seals, key pair) changes only by an admin who could open the old pair."""
    dave = make_identity("dave@example.com")
    setv(cli, "A", "1")
    assert cli("access", "grant", "dave@example.com", dave.publine, "--env", "staging",
               "--reason", "staging admin").code == 0
    assert cli("access", "admin", "dave@example.com", "--reason", "trusted").code == 0
    text = (store / layout.env_path("production")).read_text()
    sealed = text.split("sealed: ")[1].split()[0]  # alice's seal, copied
    members = text.replace("members:\n", f"members:\n  dave@example.com:\n    key: "
                                         f"{dave.identity.public.openssh}\n    sealed: {sealed}\n", 1)
    forged = signed_commit(store, dave.identity, "dave@example.com", [head(store)],
                           {layout.env_path("production"): members.encode()},
                           message("grant", "dave@example.com"))
    point(store, forged)
    found = verify_findings(cli)
    assert any(f["rule"] == 5 and "without being a member" in f["message"] for f in found)
    refused(cli, "A")


@pytest.mark.parametrize("extra", ["envs/.gitattributes", "envs/notes.txt", ".envtrail/hooks.yaml"])
def test_stowaway_files_in_the_store_are_findings(cli, store, extra):
    import forge

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    forge.commit_plan(store, cli.identity.identity,
                      forge.Plan({**plan.changes, extra: b"*.yaml text eol=crlf\n"}, plan.record))
    found = verify_findings(cli)
    assert any(f["rule"] == 3 and extra in f["message"] for f in found)


def test_an_environment_file_turned_into_a_symlink_is_a_finding(cli, store):
    from envtrail.gitstore.repo import GitRepo

    setv(cli, "A", "1")
    g = GitRepo(store)
    import pygit2

    tree = g.repo.revparse_single("HEAD").tree
    envs = g.repo[tree["envs"].id]
    tb = g.repo.TreeBuilder(envs)
    tb.insert("production.yaml", envs["production.yaml"].id, pygit2.enums.FileMode.LINK)
    root = g.repo.TreeBuilder(tree)
    root.insert("envs", tb.write(), pygit2.enums.FileMode.TREE)
    forged = signed_commit(store, cli.identity.identity, "alice@example.com", [head(store)], {},
                           message("set", "alice@example.com"), tree_of=None)
    commit = g.repo.create_commit_string(g.repo[forged].author, g.repo[forged].committer,
                                         g.repo[forged].message, root.write(),
                                         [g.repo[forged].parent_ids[0]])
    from envtrail.ops.txn import signer_for

    oid = g.repo.create_commit_with_signature(commit, signer_for(cli.identity.identity)(
        commit.encode()))
    git(store, "update-ref", "refs/heads/main", str(oid))
    found = verify_findings(cli)
    assert any("production.yaml is not a file the store may hold" in f["message"] for f in found), found


def test_verify_says_what_an_unsigned_commit_did_to_custody(cli, store, make_identity):
    mallory = make_identity("mallory@example.com")
    signers = (store / layout.SIGNERS).read_text()
    signers += f"mallory@example.com namespaces=\"git\" {mallory.identity.public.openssh} envtrail:admin\n"
    forged = unsigned_commit(store, head(store), [head(store)])
    point(store, forged)
    (store / layout.SIGNERS).write_text(signers)
    git(store, "commit", "-qam", "routine rotation")
    found = verify_findings(cli)
    assert any(f["rule"] == 5 and "unauthenticated change to .envtrail/allowed_signers"
               in f["message"] for f in found)


def test_after_a_repair_the_acknowledged_state_is_never_served(cli, store):
    import forge

    setv(cli, "A", "good")
    bad = forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity,
                                                           "production", {"A": "evil"}),
                            message="by hand")
    assert cli("repair", "--reason", "INC-1").code == 0
    assert cli("get", "A", "--env", "production").out == "good"
    for args in (("get", "A", "--env", "production", "--at", bad),
                 ("export", "--env", "production", "--at", bad),
                 ("rollback", "--env", "production", "--to", bad, "--reason", "r")):
        r = cli(*args)
        assert r.code == 5 and "evil" not in r.out, args
    # Another clone's write, which a read here checks alone: the checkpoint it saves
    # must keep what the repair acknowledged, not replace it with what that walk saw.
    forge.commit_plan(store, cli.identity.identity,
                      forge.honest_plan(store, cli.identity.identity, "production", {"B": "b"}))
    assert cli("get", "B", "--env", "production").out == "b"
    r = cli("get", "A", "--env", "production", "--at", bad)
    assert r.code == 5 and "evil" not in r.out, (r.code, r.err)


def test_a_side_commit_reachable_through_a_merge_is_not_on_the_line(cli, store):
    import forge

    setv(cli, "A", "good")
    base = head(store)
    git(store, "switch", "-q", "-c", "side")
    side = forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity,
                                                            "production", {"A": "evil"}),
                             message="side")
    git(store, "switch", "-q", "main")
    point(store, unsigned_commit(store, base, [base, side]))
    assert cli("repair", "--reason", "INC-2").code == 0
    r = cli("get", "A", "--env", "production", "--at", side)
    assert r.code == 5 and "not on the verified store line" in r.err
    r = cli("rollback", "--env", "production", "--to", side, "--reason", "r")
    assert r.code == 5
    assert cli("get", "A", "--env", "production").out == "good"


def test_access_list_and_log_read_through_the_gate(cli, store, make_identity):
    mallory = make_identity("mallory@example.com")
    signers = (store / layout.SIGNERS).read_text()
    (store / layout.SIGNERS).write_text(
        signers + f"mallory@example.com namespaces=\"git\" "
                  f"{mallory.identity.public.openssh} envtrail:admin\n")
    git(store, "commit", "-qam", "add an admin")
    for args in (("access", "list"), ("access", "log"), ("policy", "show"), ("env", "list")):
        r = cli(*args)
        assert r.code == 5 and "mallory" not in r.out, args


def _outsiders_takeover(store, cli, carol) -> str:
    """One unsigned commit: carol becomes an admin and production's only key holder."""
    from envtrail.audit.view import Snapshot
    from envtrail.crypto.seal import EnvKeys, b64
    from envtrail.format import envfile
    from envtrail.format.envfile import Member
    from envtrail.gitstore.repo import GitRepo

    g = GitRepo(store)
    env = Snapshot(g, head(store)).env("production")
    keys = EnvKeys.generate()
    mine = Member("carol@example.com", carol.identity.public.openssh,
                  keys.seal_to(carol.identity.public))
    taken = envfile.EnvFile("production", b64(keys.public), {"carol@example.com": mine},
                            dict(env.values))
    signers = (store / layout.SIGNERS).read_text() + (
        f"carol@example.com namespaces=\"git\" {carol.identity.public.openssh} envtrail:admin\n")
    (store / layout.env_path("production")).write_bytes(envfile.render(taken))
    (store / layout.SIGNERS).write_text(signers)
    git(store, "commit", "-qam", "routine rotation")
    return head(store)


def test_repair_undoes_an_outsiders_custody_takeover(cli, store, make_identity):
    carol = make_identity("carol@example.com")
    setv(cli, "A", "good")
    taken = _outsiders_takeover(store, cli, carol)
    refused(cli, "A")
    said = [f["message"] for f in verify_findings(cli) if f["commit"] == taken and f["rule"] == 5]
    assert said == ["unauthenticated change to .envtrail/allowed_signers, "
                    "members or keys of production"]
    r = cli("repair", "--reason", "INC-3 takeover")
    assert r.code == 0, r.err
    assert "carol" not in (store / layout.SIGNERS).read_text()
    assert "carol" not in (store / layout.env_path("production")).read_text()
    assert cli("get", "A", "--env", "production").out == "good"
    assert cli.as_(carol)("get", "A", "--env", "production").code == 4
    setv(cli, "B", "after-repair")
    assert cli.as_(carol)("get", "B", "--env", "production").code == 4
    assert cli("verify").code == 0


def test_a_repair_that_restores_nothing_acknowledges_nothing(cli, store, make_identity):
    """An admin cannot whitewash a forged value by naming it in an empty 'repair'."""
    import forge

    setv(cli, "A", "good")
    clean = head(store)
    bad = forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity,
                                                           "production", {"A": "injected"}),
                            message="by hand")
    fake = signed_commit(store, cli.identity.identity, "alice@example.com", [bad], {},
                         message("repair", "alice@example.com", extra=(
                             ("Acknowledges", f"{bad} 1"), ("Repair-Clean", clean),
                             ("Repair-From", clean))))
    point(store, fake)
    found = verify_findings(cli)
    assert any(f["commit"] == bad for f in found)
    assert any(f["commit"] == fake and "different from the clean point" in f["message"]
               for f in found)
    refused(cli, "A", ("injected",))


def test_repair_from_an_earlier_commit_restores_its_values_under_todays_keys(cli, store):
    import forge

    setv(cli, "A", "v1")
    first = head(store)
    setv(cli, "A", "v2")
    forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity, "production",
                                                     {"A": "evil"}), message="by hand")
    r = cli("repair", "--reason", "back to v1", "--from", first)
    assert r.code == 0, r.err
    assert "~ production:A" in r.out
    assert cli("get", "A", "--env", "production").out == "v1"
    assert cli("verify").code == 0


def test_a_repaired_commit_dated_ahead_does_not_trip_fresh_clones_later(cli, store, bob, tmp_path):
    from datetime import timedelta

    import forge
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.verify import verify
    from envtrail.runtime import Runtime

    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    ahead = forge.runtime(store).now() + timedelta(minutes=11)
    forge.commit_plan(store, bob.identity, forge.honest_plan(store, bob.identity, "production",
                                                             {"A": "1"}), when=ahead)
    refused(cli, "A")
    assert cli("repair", "--reason", "clock skew INC-4").code == 0
    setv(cli, "B", "2")  # dated now: before bob's commit
    assert cli("verify").code == 0
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(store), str(fresh))
    later = Runtime({}, fresh, fresh, "ci", clock=lambda: ahead + timedelta(hours=1))
    report = verify(GitRepo(fresh), later)
    assert report.findings == [], [f.line() for f in report.findings]


def test_a_short_fingerprint_in_a_format_2_file_is_caught_without_a_key(cli, store):
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    real = plan.record.changes[0]
    assert len(real.new_fp) == 32
    forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp[:12], real.new_fp[:12]),)))
    found = verify_findings(cli.as_(None))
    assert any(f["rule"] == 3 and "is not 32 hex digits" in f["message"] for f in found)


def _fake_repair(store, identity, principal, clean, named, parent=None, tree_of=None):
    extra = (*(("Acknowledges", f"{c} {rule}") for c, rule in named),
             ("Repair-Clean", clean), ("Repair-From", clean))
    parent = parent or head(store)
    return signed_commit(store, identity, principal, [parent], {},
                         message("repair", principal, extra=extra), tree_of=tree_of or clean)


def test_a_repair_cannot_restore_a_state_already_acknowledged_as_forged(cli, store, make_identity):
    carol = make_identity("carol@example.com")
    setv(cli, "A", "good")
    forged = _outsiders_takeover(store, cli, carol)
    assert cli("repair", "--reason", "INC-5").code == 0
    # carol signs a "repair" naming her own forged commit as the clean point.
    point(store, _fake_repair(store, carol.identity, "carol@example.com", forged,
                              [(head(store), "1")]))
    found = verify_findings(cli)
    assert any("does not follow the findings" in f["message"] for f in found)
    refused(cli, "A")


def test_a_revoked_admin_cannot_repair_his_way_back(cli, store, make_identity):
    dave = make_identity("dave@example.com")
    setv(cli, "A", "1")
    assert cli("access", "grant", "dave@example.com", dave.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "admin", "dave@example.com", "--reason", "trusted").code == 0
    before = head(store)
    assert cli("access", "revoke", "dave@example.com", "--env", "production",
               "--reason", "left").code == 0
    revoke = head(store)
    setv(cli, "B", "after")
    point(store, _fake_repair(store, dave.identity, "dave@example.com", before,
                              [(revoke, "1"), (revoke, "7"), (head(store), "3")]))
    found = verify_findings(cli)
    assert any("does not follow the findings" in f["message"] for f in found)
    refused(cli, "B")


def test_a_revoked_admin_cannot_backdate_a_repair_over_her_own_revocation(cli, store,
                                                                          make_identity):
    # Dated just after the clean point, the repair names the un-admin and the revocation as
    # commits dated after it (rule 7 alone), and its signature is judged at the clean point,
    # where her key was an open admin key. A repair never goes back over an access decision
    # for its date (attack17 G2), and the newest verified state closed her key anyway.
    import time

    from envtrail.gitstore.repo import GitRepo

    dave = make_identity("dave@example.com")
    assert cli("access", "grant", "dave@example.com", dave.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "admin", "dave@example.com", "--reason", "trusted").code == 0
    setv(cli, "A", "1")
    clean = head(store)
    time.sleep(1.1)  # what the repair sweeps is dated after it
    assert cli("access", "admin", "dave@example.com", "--remove",
               "--reason", "steps down").code == 0
    unadmin = head(store)
    assert cli("access", "revoke", "dave@example.com", "--env", "production",
               "--reason", "left").code == 0
    revoke = head(store)
    when = GitRepo(store).info(clean).committer_time
    extra = (("Acknowledges", f"{unadmin} 7"), ("Acknowledges", f"{revoke} 7"),
             ("Repair-Clean", clean), ("Repair-From", clean))
    point(store, signed_commit(store, dave.identity, "dave@example.com", [revoke], {},
                               message("repair", "dave@example.com", extra=extra),
                               tree_of=clean, when=when))
    found = verify_findings(cli)
    repair = head(store)
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found
    refused(cli, "A")


def test_a_no_op_repair_cannot_empty_the_time_floor(cli, store):
    import forge
    from envtrail.gitstore.repo import GitRepo

    # Both changes in the genesis's second: a repair's word for rule 7 is taken only on a
    # change dated after every one before it (threat-model.md, "A repair that calls an
    # honest change dated ahead"), and this test flaked whenever a second turned over.
    when = GitRepo(store).info(head(store)).committer_time
    for value in ("1", "2"):
        forge.commit_plan(store, cli.identity.identity, forge.honest_plan(
            store, cli.identity.identity, "production", {"A": value}, reason="set A"),
            when=when)
    ids = git(store, "rev-list", "--reverse", "HEAD").split()
    point(store, _fake_repair(store, cli.identity.identity, "alice@example.com", ids[0],
                              [(c, "7") for c in ids[1:]], tree_of=ids[0]))
    found = verify_findings(cli)
    assert any("does not follow the findings" in f["message"] for f in found)


def test_at_a_time_inside_the_repaired_damage_is_refused(cli, store):
    import time

    import forge

    setv(cli, "A", "good")
    time.sleep(1.1)
    forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity,
                                                     "production", {"A": "evil"}),
                      message="by hand")
    from envtrail.gitstore.repo import GitRepo

    when = GitRepo(store).info(head(store)).committer_time.isoformat()
    time.sleep(1.1)
    assert cli("repair", "--reason", "INC-6").code == 0
    r = cli("get", "A", "--env", "production", "--at", when)
    assert r.code == 5 and "evil" not in r.out


def test_reverting_a_repair_is_refused(cli, store):
    import forge

    setv(cli, "A", "good")
    forge.commit_plan(store, None, forge.honest_plan(store, cli.identity.identity,
                                                     "production", {"A": "evil"}),
                      message="by hand")
    assert cli("repair", "--reason", "INC-7").code == 0
    r = cli("revert", "--env", "production", "--reason", "undo the repair")
    assert r.code == 5 and "evil" not in r.out
    assert cli("get", "A", "--env", "production").out == "good"


def test_repair_removes_a_stowaway_file_an_outsider_added(cli, store):
    setv(cli, "A", "good")
    (store / "envs/README.txt").write_text("hello\n")
    git(store, "add", "envs/README.txt")
    git(store, "commit", "-qm", "docs")
    refused(cli, "A")
    r = cli("repair", "--reason", "INC-8")
    assert r.code == 0, r.err
    assert "envs/README.txt" in r.out
    assert git(store, "ls-tree", "-r", "--name-only", "HEAD", "envs").split() == [
        "envs/production.yaml", "envs/staging.yaml"]
    assert cli("verify").code == 0
    assert cli("get", "A", "--env", "production").out == "good"


def test_a_repair_is_judged_by_the_signers_of_its_clean_point(cli, store, make_identity):
    """An outsider who drops the admins from allowed_signers cannot lock them out of repair."""
    carol = make_identity("carol@example.com")
    setv(cli, "A", "good")
    (store / layout.SIGNERS).write_text(
        f"carol@example.com namespaces=\"git\" {carol.identity.public.openssh} envtrail:admin\n")
    git(store, "commit", "-qam", "new admins")
    refused(cli, "A")
    r = cli("repair", "--reason", "INC-9 signers replaced")
    assert r.code == 0, r.err
    assert "alice@example.com" in (store / layout.SIGNERS).read_text()
    assert cli("verify").code == 0
    assert cli("get", "A", "--env", "production").out == "good"


def test_a_repair_cannot_keep_a_finding_as_its_clean_point(cli, store, bob):
    """An admin's own unapproved change X, then any finding Y, then a 'repair' whose clean
    point is X acknowledging both: X would be served as clean, never approved (found by the
    attacker review)."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "a second approver").code == 0  # ops/reach.py
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "prod needs review").code == 0
    r = cli("set", "A", "--env", "production", "--reason", "sneaky", "--propose",
            input="unapproved-by-anyone")
    assert r.code == 0, r.err
    proposal = git(store, "for-each-ref", "--format=%(objectname)",
                   "refs/envtrail/proposals/").split()[0]
    point(store, proposal)  # on the line without its approval: a rule 9 finding
    noop = unsigned_commit(store, proposal, [proposal], "noop")
    point(store, noop)
    fake = _fake_repair(store, cli.identity.identity, "alice@example.com", proposal,
                        [(proposal, "9"), (noop, "1")])
    point(store, fake)
    found = verify_findings(cli)
    assert any(f["commit"] == proposal and f["rule"] == 9 for f in found)
    assert any(f["commit"] == fake for f in found)
    refused(cli, "A", ("unapproved-by-anyone",))
    assert cli("get", "A", "--env", "production", "--at", proposal).code == 5


def test_a_repair_cannot_restore_values_from_a_state_already_acknowledged_as_forged(cli, store):
    """Repair 1 acknowledges a forged value; a later hand-made repair takes its values from
    that forged state (found by the second attacker review; the CLI refuses --from it)."""
    from dataclasses import replace

    import forge
    from envtrail.audit.view import StoreView
    from envtrail.gitstore.repo import GitRepo
    from envtrail.model import Secret
    from envtrail.ops.rollback import target_values
    from envtrail.ops.values import plan_values

    setv(cli, "A", "good")
    forged = forge.commit_plan(store, None, forge.honest_plan(
        store, cli.identity.identity, "production", {"A": "forged-by-eve"}))
    assert cli("repair", "--reason", "INC-1 forged value").code == 0
    clean = head(store)
    noop = unsigned_commit(store, clean, [clean], "noop")
    point(store, noop)
    assert cli("repair", "--reason", "INC-2", "--from", forged).code == 5
    ident = cli.identity.identity
    view = StoreView(GitRepo(store))
    old = target_values(view.at(forged), ident, "production")
    plan = plan_values(view.at(clean), forge.runtime(store), ident, "production",
                       {k: Secret(v) for k, v in old.items()}, set(), "INC-2", "repair")
    changes = tuple(replace(c, key=f"production:{c.key}") for c in plan.record.changes)
    fake = signed_commit(store, ident, "alice@example.com", [noop], plan.changes,
                         message("repair", "alice@example.com", changes=changes, extra=(
                             ("Acknowledges", f"{noop} 1"), ("Repair-Clean", clean),
                             ("Repair-From", forged))))
    point(store, fake)
    found = verify_findings(cli)
    assert any(f["commit"] == fake for f in found)
    refused(cli, "A", ("forged-by-eve",))


@pytest.mark.parametrize("case", ["env_gitlink", "envs_gitlink", "env_symlink", "attributes_tree",
                                  "signers_tree", "signers_symlink", "policy_gitlink",
                                  "settings_gitlink"])
def test_a_folder_submodule_or_link_where_a_store_file_belongs_can_be_repaired(cli, store, case):
    """An outsider's commit checks out as a folder (or link) where the store keeps a file;
    repair must still put the file back (found by the second attacker review: exit 6)."""
    import pygit2

    setv(cli, "A", "good")
    r = pygit2.Repository(str(store))
    top = r.head.peel(pygit2.Commit)
    root, envs, settings = top.tree, top.tree["envs"], top.tree[".envtrail"]

    def sub(tree, name, oid, mode):
        tb = r.TreeBuilder(tree)
        tb.insert(name, oid, mode)
        return tb.write()

    modes = pygit2.enums.FileMode
    new = {
        "env_gitlink": lambda: sub(root, "envs", sub(r[envs.id], "production.yaml", top.id,
                                                     modes.COMMIT), modes.TREE),
        "envs_gitlink": lambda: sub(root, "envs", top.id, modes.COMMIT),
        "env_symlink": lambda: sub(root, "envs", sub(r[envs.id], "production.yaml",
                                                     r[envs.id]["production.yaml"].id,
                                                     modes.LINK), modes.TREE),
        "attributes_tree": lambda: sub(root, ".gitattributes", envs.id, modes.TREE),
        "signers_tree": lambda: sub(root, ".envtrail", sub(r[settings.id], "allowed_signers",
                                                           envs.id, modes.TREE), modes.TREE),
        "signers_symlink": lambda: sub(root, ".envtrail", sub(
            r[settings.id], "allowed_signers", r[settings.id]["allowed_signers"].id,
            modes.LINK), modes.TREE),
        "policy_gitlink": lambda: sub(root, ".envtrail", sub(r[settings.id], "policy.yaml",
                                                             top.id, modes.COMMIT), modes.TREE),
        "settings_gitlink": lambda: sub(root, ".envtrail", top.id, modes.COMMIT),
    }[case]()
    who = pygit2.Signature("eve", "eve@example.com")
    forged = str(r.create_commit(None, who, who, "hand", new, [top.id]))
    point(store, forged)  # what a pull of the pushed commit does
    assert verify_findings(cli)
    r2 = cli("repair", "--reason", "INC-8 object types")
    assert r2.code == 0, r2.err
    assert cli("verify").code == 0
    assert cli("get", "A", "--env", "production").out == "good"
    assert git(store, "status", "--porcelain") == ""


def test_a_second_change_trailer_for_one_variable_cannot_tell_history_another_story(
        cli, store, alice):
    # alice's honest commit, re-signed with a lying first change for the same variable
    # (v1 -> v0's fingerprint) ahead of the true one: verify checked the true one and
    # history showed the lie ("it went back to v0").
    from envtrail.audit.history import parse_record
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.repo import GitRepo
    from envtrail.model import Change

    setv(cli, "DB_PASSWORD", "v0-canary-1f7")
    v0_fp = parse_record(GitRepo(store).info(head(store))).changes[0].new_fp
    setv(cli, "DB_PASSWORD", "v1-canary-1f7")
    before = head(store)
    setv(cli, "DB_PASSWORD", "v2-canary-1f7")
    honest = GitRepo(store).info(head(store))
    rec = parse_record(honest)
    true = rec.changes[0]
    lie = Change("~", "DB_PASSWORD", true.old_fp, v0_fp)
    forged = signed_commit(store, alice.identity, alice.principal, [before], {},
                           render(Record(rec.action, rec.actor, rec.reason, rec.environments,
                                         (lie, true), rec.context, rec.extra)),
                           tree_of=honest.id)
    point(store, forged)
    found = [f for f in verify_findings(cli) if f["commit"] == forged]
    assert [f["rule"] for f in found] == [6], found  # a malformed record is no record
    refused(cli, "DB_PASSWORD")
    r = cli("history", "DB_PASSWORD", "--env", "production")
    assert r.code == 5 and v0_fp[:10] not in r.out + r.err, (r.code, r.out)
