"""The gate and its fast path, condition by condition.

The fast path may answer only when the checkpoint vouches for exactly what it
would return; each test below breaks one of its conditions on a real store and
asserts that it declines (so the gate, which verifies, answers instead), and
that it does answer when nothing is new.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import assert_one_line_error, git
from envtrail.audit import checkpoint
from envtrail.errors import IntegrityError, NotFoundError
from envtrail.format import envfile
from envtrail.gitstore.discover import journal_path
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import fastread, gate
from envtrail.runtime import Runtime
from hostile import head, setv


def rt(store, **env) -> Runtime:
    return Runtime(env=env, cwd=store, home=store, host="test")


@pytest.fixture
def verified(cli, store):
    """A store whose production values were just read through the gate."""
    setv(cli, "A", "1")
    assert cli("get", "A", "--env", "production").out == "1"
    return store


def fast(store, alice, env="production", **envvars):
    return fastread.committed_env(rt(store, **envvars), store, alice.identity, env)


def test_nothing_new_is_answered_from_the_checkpoint(verified, alice):
    found = fast(verified, alice)
    assert found is not None
    assert found[0] == head(verified)
    commit, values = fastread.read(rt(verified), verified, alice.identity, "production", ["A"])
    assert commit == head(verified) and values["A"].reveal() == "1"


def test_no_checkpoint_or_an_unknown_environment_takes_the_gate(verified, alice):
    assert fast(verified, alice, env="nope") is None
    checkpoint.clear(verified)
    assert fast(verified, alice) is None


def test_a_checkpoint_naming_another_environments_file_takes_the_gate(tmp_path, alice):
    # Beside application code nothing on disk is compared: the cached file must itself
    # name the environment asked for (a copy of production's must not read as staging).
    import json

    from conftest import Cli, make_app_store

    root = make_app_store(tmp_path, alice, envs=("production", "staging"))
    cli = Cli(root, alice)
    setv(cli, "A", "prod-only")
    setv(cli, "A", "staging", env="staging")
    assert cli("get", "A", "--env", "staging").out == "staging"
    state = checkpoint.path(root).parent
    doc = json.loads(checkpoint.path(root).read_text())
    doc["envs"]["staging"] = doc["envs"]["production"]
    checkpoint.path(root).write_text(json.dumps(doc))
    (state / "cache/staging.yaml").write_bytes((state / "cache/production.yaml").read_bytes())
    assert fast(root, alice, env="production") is not None
    assert fast(root, alice, env="staging") is None


def test_an_interrupted_write_takes_the_gate(verified, alice):
    journal_path(verified).write_text("{}")
    assert fast(verified, alice) is None


def test_a_hand_commit_moving_head_takes_the_gate(verified, alice):
    (verified / "note.txt").write_text("x")
    git(verified, "add", "note.txt")
    git(verified, "commit", "-q", "-m", "hand")
    assert fast(verified, alice) is None


def test_a_detached_head_reads_the_configured_branch_or_takes_the_gate(verified, alice):
    git(verified, "checkout", "-q", "--detach")
    # The store branch is still the verified one; the work tree is not the store now.
    (verified / "envs" / "production.yaml").write_bytes(b"hand edit\n")
    assert fast(verified, alice) is not None
    git(verified, "config", "--unset", "envtrail.branch")
    assert fast(verified, alice) is None


def test_a_tampered_cache_or_work_tree_takes_the_gate(verified, alice):
    env_file = verified / "envs" / "production.yaml"
    original = env_file.read_bytes()
    env_file.write_bytes(original + b"# hand edit\n")
    assert fast(verified, alice) is None
    env_file.unlink()
    assert fast(verified, alice) is None
    env_file.write_bytes(original)
    assert fast(verified, alice) is not None
    cache = checkpoint.path(verified).parent / "cache" / "production.yaml"
    cache.write_bytes(cache.read_bytes() + b"\n")
    assert fast(verified, alice) is None


def test_a_cache_file_that_went_missing_is_written_again_by_the_next_save(verified, alice, cli):
    """production's file does not change below; only the cache file's absence says to write
    it, or every read of production would take the slow gate from now on."""
    cache = checkpoint.path(verified).parent / "cache" / "production.yaml"
    cache.unlink()
    assert fast(verified, alice) is None
    setv(cli, "S", "1", env="staging")
    assert fast(verified, alice) is not None


def test_trust_roots_the_line_was_not_checked_for_take_the_gate(verified, alice):
    genesis = git(verified, "rev-list", "--max-parents=0", "HEAD").strip()
    assert fast(verified, alice, ENVTRAIL_TRUST_ROOT=genesis) is None
    assert fast(verified, alice, CI="true") is None  # CI without a trust root
    line = gate.open_line(GitRepo(verified), rt(verified, ENVTRAIL_TRUST_ROOT=genesis), alice.identity)
    assert line.head == head(verified)
    assert fast(verified, alice, ENVTRAIL_TRUST_ROOT=genesis) is not None
    assert fast(verified, alice, CI="true", ENVTRAIL_TRUST_ROOT=genesis) is not None


def test_a_key_that_has_not_rechecked_an_unkeyed_line_takes_the_gate(verified, alice, bob, cli):
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    cp = checkpoint.load(verified)
    # As if the line had been vouched for only by a keyless auditor.
    checkpoint.save(verified, checkpoint.Checkpoint(cp.head, cp.envs, frozenset(), frozenset(),
                                                    cp.roots, cp.floor))
    assert fast(verified, bob) is None
    assert fast(verified, alice) is None
    assert fast(verified, alice, env="staging") is None
    gate.open_line(GitRepo(verified), rt(verified), alice.identity)
    after = checkpoint.load(verified)
    assert after.attempted == {alice.identity.public.openssh}
    assert after.keyed == {"production", "staging"}
    assert fast(verified, alice) is not None
    assert fast(verified, bob) is not None  # production was checked with a key


def test_an_unreadable_file_met_while_asking_whether_a_key_rechecks_is_a_finding(
        verified, alice, bob, cli):
    """bob's key has not re-checked the line, so the gate asks which environments it opens;
    a new environment file it cannot read is skipped there and reported by the walk."""
    import forge
    from envtrail.ops.txn import Plan

    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert bob.identity.public.openssh not in checkpoint.load(verified).attempted
    plan = forge.honest_plan(verified, alice.identity, "production", {"A": "2"})
    forge.commit_plan(verified, alice.identity,
                      Plan({**plan.changes, "envs/broken.yaml": b"public_key: [not, a, key]\n"},
                           plan.record))
    r = cli.as_(bob)("get", "A", "--env", "production")
    assert_one_line_error(r, 5)
    assert "envs/broken.yaml" in r.err


def test_the_gate_refuses_revisions_off_the_line_and_resolves_on_it(verified, alice, cli):
    first = head(verified)
    setv(cli, "A", "2")
    line = gate.open_line(GitRepo(verified), rt(verified), alice.identity)
    assert line.resolve(rt(verified), None) == head(verified)
    assert line.resolve(rt(verified), first) == first
    assert set(line.at(rt(verified), first).env("production").values) == {"A"}
    side = git(verified, "commit-tree", f"{first}^{{tree}}", "-m", "side").strip()
    with pytest.raises(IntegrityError, match="not on the verified store line"):
        line.resolve(rt(verified), side)
    unverified = gate.open_line(GitRepo(verified), rt(verified), alice.identity, verify=False)
    assert unverified.warnings and not unverified.verified
    assert unverified.resolve(rt(verified), side) == side


def test_an_empty_repository_has_no_line(tmp_path, alice):
    git(tmp_path, "init", "-q")
    line = gate.open_line(GitRepo(tmp_path), rt(tmp_path), alice.identity)
    assert line.head is None
    with pytest.raises(NotFoundError):
        line.resolve(rt(tmp_path), None)


def test_fast_reads_check_names_before_anything(verified, alice):
    from envtrail.errors import UsageError

    with pytest.raises(UsageError, match="environment name"):
        fastread.read(rt(verified), verified, alice.identity, "../production", None)
    with pytest.raises(UsageError, match="variable name"):
        fastread.read(rt(verified), verified, alice.identity, "production", ["A", "1BAD"])


def test_a_read_at_a_revision_or_without_verifying_never_takes_the_fast_path(verified, alice, cli):
    first = head(verified)
    setv(cli, "A", "2")
    assert cli("get", "A", "--env", "production").out == "2"  # the checkpoint is at the head
    old = fastread.read_verified(rt(verified), verified, alice.identity, "production", ["A"], at=first)
    assert old.commit == first and old.values["A"].reveal() == "1"
    now = fastread.read_verified(rt(verified), verified, alice.identity, "production", ["A"])
    assert now.commit == head(verified) and now.values["A"].reveal() == "2" and not now.warnings
    loose = fastread.read_verified(rt(verified), verified, alice.identity, "production", ["A"],
                                   verify=False)
    assert loose.values["A"].reveal() == "2" and any("WITHOUT verifying" in w for w in loose.warnings)


def test_the_line_counts_only_what_it_checked_now(verified, alice, cli):
    g = GitRepo(verified)
    again = gate.open_line(g, rt(verified), alice.identity)
    assert again.checked == 0 and again.head == head(verified) and again.warnings == ()
    setv(cli, "B", "2")
    cp = checkpoint.load(verified)
    assert cp.head == head(verified)  # own writes advance the checkpoint
    # Put the checkpoint one commit back: the gate has exactly one commit to check.
    checkpoint.save(verified, checkpoint.Checkpoint(git(verified, "rev-parse", "HEAD~1").strip(),
                                                    cp.envs, cp.keyed, cp.attempted, cp.roots, 0))
    line = gate.open_line(g, rt(verified), alice.identity)
    assert line.checked == 1 and line.floor == g.info(head(verified)).committer_time


def test_the_gate_finishes_a_write_that_was_killed_before_anything_reads(verified, alice, cli):
    import subprocess
    import sys

    before = head(verified)
    crash = subprocess.run([sys.executable, "-m", "envtrail", "set", "A", "--env", "production",
                            "--reason", "crash"], cwd=verified, input=b"3", capture_output=True,
                           env={**cli._env(None), "ENVTRAIL_TEST_CRASH": "moved"}, check=False)
    assert crash.returncode != 0
    assert journal_path(verified).exists()
    line = gate.open_line(GitRepo(verified), rt(verified), alice.identity)
    assert not journal_path(verified).exists()
    assert git(verified, "status", "--porcelain") == ""
    assert line.head == head(verified) != before
    assert line.snapshot.env("production").values.keys() == {"A"}


def test_a_fresh_clone_pins_the_genesis_once_and_says_so(verified, alice, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(verified), str(clone))
    genesis = git(clone, "rev-list", "--max-parents=0", "HEAD").strip()
    first = gate.open_line(GitRepo(clone), rt(clone), alice.identity)
    assert len(first.warnings) == 1 and genesis in first.warnings[0] and "pinned" in first.warnings[0]
    assert checkpoint.load_pin(clone) == genesis
    assert first.checked == len(git(clone, "rev-list", "HEAD").split())
    assert gate.open_line(GitRepo(clone), rt(clone), alice.identity).warnings == ()


def test_own_writes_advance_the_checkpoint_only_from_its_head(verified, alice, cli):
    g = GitRepo(verified)
    cp = checkpoint.load(verified)
    setv(cli, "B", "2")
    after = checkpoint.load(verified)
    assert after.head == head(verified) and after.floor >= cp.floor
    assert after.envs["production"] != cp.envs["production"]
    assert fast(verified, alice) is not None  # the new file was cached too
    gate.advance(g, cp.head, cp.head, g.info(head(verified)).committer_time)  # stale parent: no-op
    assert checkpoint.load(verified) == after


def test_a_cache_edited_together_with_the_work_tree_takes_the_gate(verified, alice, cli):
    # Someone with write access to .git edits both copies the same way: only the
    # blob id the checkpoint recorded tells the edit apart.
    setv(cli, "B", "2")
    assert cli("get", "B", "--env", "production").out == "2"
    env_file = verified / "envs" / "production.yaml"
    cache = checkpoint.path(verified).parent / "cache" / "production.yaml"
    lines = env_file.read_text().splitlines(keepends=True)
    a_line = next(ln for ln in lines if ln.lstrip().startswith("A:"))
    b_line = next(ln for ln in lines if ln.lstrip().startswith("B:"))
    forged = "".join(ln if ln != b_line else b_line.replace(b_line.split(":", 1)[1],
                                                            a_line.split(":", 1)[1]) for ln in lines)
    assert forged != env_file.read_text()
    env_file.write_text(forged)
    cache.write_text(forged)
    assert fast(verified, alice) is None
    assert cli("get", "B", "--env", "production").out == "2"


def test_an_incremental_check_keeps_the_time_floor(verified, alice):
    import forge

    floor = GitRepo(verified).info(head(verified)).committer_time
    plan = forge.honest_plan(verified, alice.identity, "production", {"A": "2"})
    forge.commit_plan(verified, alice.identity, plan, when=floor - timedelta(hours=1))
    with pytest.raises(IntegrityError, match="rule 7"):
        gate.open_line(GitRepo(verified), rt(verified), alice.identity)


def test_a_walk_raises_the_checkpoints_time_floor_to_what_it_checked(verified, alice):
    """A commit this clone did not write (so no ``advance``) is walked by the next read; the
    floor the checkpoint keeps must be its time, or a commit dated between the old floor
    and it would pass the next incremental check."""
    import forge

    old_floor = checkpoint.load(verified).floor
    later = GitRepo(verified).info(head(verified)).committer_time + timedelta(minutes=5)
    plan = forge.honest_plan(verified, alice.identity, "production", {"A": "2"})
    forge.commit_plan(verified, alice.identity, plan, when=later)
    gate.open_line(GitRepo(verified), rt(verified), alice.identity)
    assert checkpoint.load(verified).floor == int(later.timestamp()) > old_floor
    plan = forge.honest_plan(verified, alice.identity, "production", {"A": "3"})
    forge.commit_plan(verified, alice.identity, plan, when=later - timedelta(minutes=2))
    with pytest.raises(IntegrityError, match="rule 7"):
        gate.open_line(GitRepo(verified), rt(verified), alice.identity)


def test_a_commit_dated_ahead_is_remembered_when_first_seen(verified, alice):
    import forge

    plan = forge.honest_plan(verified, alice.identity, "production", {"A": "2"})
    ahead = forge.commit_plan(verified, alice.identity, plan, when=datetime.now(UTC) + timedelta(hours=2))
    with pytest.raises(IntegrityError, match="rule 7"):
        gate.open_line(GitRepo(verified), rt(verified), alice.identity)
    assert ahead in checkpoint.load_ahead(verified)


def test_a_replaced_history_never_moves_the_pin(verified, alice, tmp_path):
    from conftest import Cli

    pin = checkpoint.load_pin(verified)
    assert pin == git(verified, "rev-list", "--max-parents=0", "HEAD").strip()
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert Cli(other, alice)("init", "--env", "production").code == 0
    git(verified, "fetch", "-q", str(other), "main:refs/heads/replacement")
    git(verified, "reset", "-q", "--hard", "replacement")
    checkpoint.clear(verified)  # a fresh checkpoint: only the pin remembers the old line
    for _ in range(2):
        with pytest.raises(IntegrityError, match="another genesis"):
            gate.open_line(GitRepo(verified), rt(verified), alice.identity)
        assert checkpoint.load_pin(verified) == pin


def test_once_verify_finds_a_problem_the_checkpoint_vouched_for_reads_refuse(cli, store):
    """DESIGN: once verify has failed, reads keep failing until a repair. A checkpoint
    moved past a forged commit (here by ``advance``, as a lighter check with a gap once
    let one through) stops being trusted as soon as a whole walk finds it."""
    import shutil

    setv(cli, "K", "1")
    assert cli("get", "K", "--env", "production").out == "1"
    good = head(store)
    saved = store.parent / "saved"
    shutil.copytree(store / ".git/envtrail", saved)
    setv(cli, "K", "evil")
    signed = head(store)
    forged = git(store, "commit-tree", "-p", good, "-m", "unsigned", f"{signed}^{{tree}}").strip()
    git(store, "reset", "-q", "--hard", forged)
    shutil.rmtree(store / ".git/envtrail")
    shutil.copytree(saved, store / ".git/envtrail")
    g = GitRepo(store)
    gate.advance(g, good, forged, g.info(forged).committer_time)
    assert cli("get", "K", "--env", "production").out == "evil"  # the gap, served
    r = cli("verify")
    assert r.code == 1 and "rule 1" in r.out
    assert checkpoint.load(store).refused is not None
    refused = cli("get", "K", "--env", "production")
    assert refused.code == 5, (refused.code, refused.out, refused.err)
    assert "evil" not in refused.out + refused.err and "rule 1" in refused.err
    # Commands that read without a key neither serve nor clear the mark (attack round 4).
    for cmd in (("list", "--env", "production"), ("access", "list"), ("policy", "show"),
                ("env", "list")):
        assert cli(*cmd).code == 5, cmd
    assert checkpoint.load(store).refused is not None
    assert cli("repair", "--reason", "undo the unsigned commit").code == 0
    assert cli("get", "K", "--env", "production").out == "1"
    assert cli("verify").code == 0
    assert checkpoint.load(store).refused is None


def test_a_keyless_read_neither_serves_past_nor_clears_a_keyed_verifys_mark(cli, store):
    """Some reads open the line without a key (list by a keyless auditor, access list,
    policy show, env list): they cannot see a lying fingerprint, so once a keyed verify
    found one below the checkpoint they refuse, and leave the mark for a keyed walk to
    clear (fourth attacker round)."""
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    real = plan.record.changes[0]
    forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, "0" * len(real.new_fp)),)))
    keyless = cli.as_(None)
    assert keyless("list", "--env", "production").code == 0  # cannot see the lie
    assert checkpoint.load(store).head == head(store)
    assert cli("verify").code == 1
    assert checkpoint.load(store).refused is not None
    for cmd in (("list", "--env", "production"), ("access", "list"), ("policy", "show"),
                ("env", "list")):
        assert keyless(*cmd).code == 5, cmd
        assert cli(*cmd).code == 5, cmd
    assert checkpoint.load(store).refused is not None
    assert cli("get", "A", "--env", "production").code == 5
    # status says what reads do (attack12 F6: it said "verified up to the line head").
    assert checkpoint.load(store).head == head(store)
    st = json.loads(cli("status", "--json").out)
    assert st["verified"].startswith("NO: ") and "rule 3" in st["verified"], st["verified"]
    assert any("envtrail repair" in step for step in st["next_steps"])


def test_head_in_a_revision_is_the_verified_line_head(cli, store, alice):
    # Another writer commits between the check and the revision's reading: HEAD is
    # still the line this command verified, not a commit it never checked.
    setv(cli, "A", "1")
    first = head(store)
    setv(cli, "A", "2")
    checked = head(store)
    line = gate.open_line(GitRepo(store), rt(store), alice.identity)
    setv(cli, "A", "3")  # the other writer
    assert line.resolve(rt(store), "HEAD") == checked
    assert line.resolve(rt(store), "@") == checked
    assert line.resolve(rt(store), "HEAD~1") == first == line.resolve(rt(store), "@^")


def test_head_in_a_revision_is_the_store_line_beside_code(tmp_path, alice):
    from conftest import Cli, make_app_store

    app = make_app_store(tmp_path, alice)
    c = Cli(app, alice)
    for value in ("old", "new"):
        assert c("set", "A", "--env", "production", "--reason", "r", input=value).code == 0
    # HEAD is the code branch; the store's HEAD~1 is the store line's.
    r = c("rollback", "--env", "production", "--to", "HEAD~1", "--reason", "back")
    assert r.code == 0, r.err
    assert c("get", "A", "--env", "production").out == "old"


def test_another_environments_key_cannot_vouch_for_what_a_keyless_read_let_through(
        cli, store, bob):
    """A keyless read walks past a lying fingerprint in production; bob, whose key opens
    staging only, then walks something new. His walk must not count as production checked
    with a key: alice's next read still re-checks the line and refuses."""
    import forge
    from envtrail.model import Change

    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    setv(cli, "S", "1", env="staging")
    setv(cli, "A", "1")
    assert cli("get", "A", "--env", "production").out == "1"  # checked with alice's key
    assert checkpoint.load(store).keyed == {"production", "staging"}
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "2"})
    real = plan.record.changes[0]
    forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, "0" * len(real.new_fp)),)))
    assert cli.as_(None)("list", "--env", "production").code == 0  # cannot see the lie
    assert checkpoint.load(store).keyed == {"staging"}
    # bob's change arrives from elsewhere (his clone): his read walks it with his key.
    forge.commit_plan(store, bob.identity, forge.honest_plan(
        store, bob.identity, "staging", {"S": "2"}))
    assert cli.as_(bob)("get", "S", "--env", "staging").out == "2"
    assert checkpoint.load(store).keyed == {"staging"}
    r = cli("get", "A", "--env", "production")
    assert r.code == 5, (r.code, r.out, r.err)


@pytest.mark.parametrize("version", [3, 5, "4", None])
def test_a_checkpoint_of_another_layout_vouches_for_nothing(verified, alice, version):
    """A verified.json another envtrail version wrote may mean something else by its
    fields: it counts as none, and the fast path declines."""
    import json

    assert fast(verified, alice) is not None
    doc = json.loads(checkpoint.path(verified).read_text())
    doc["version"] = version
    checkpoint.path(verified).write_text(json.dumps(doc))
    assert checkpoint.load(verified) is None
    assert fast(verified, alice) is None


def test_forgetting_a_checkpoint_twice_is_no_error(verified, alice):
    """``verify --accept-rewrite`` forgets the checkpoint, whether or not there is one."""
    checkpoint.clear(verified)
    assert checkpoint.load(verified) is None and fast(verified, alice) is None
    checkpoint.clear(verified)
    assert checkpoint.load_tainted(verified) == frozenset()


def test_events_judged_against_one_store_head_are_judged_again_when_it_moved(verified, cli):
    before = head(verified)
    checkpoint.save_events(verified, before, "e" * 40)
    assert checkpoint.load_events(verified, before) == "e" * 40
    setv(cli, "B", "2")
    assert checkpoint.load_events(verified, head(verified)) is None


def test_after_a_keyless_walk_a_read_waits_for_the_key_to_check_every_environment(
        cli, store, bob):
    """attack29 F1: alice is in production and staging; bob, in staging only, commits a
    staging change whose fingerprints lie (only a staging key sees it). A keyless walk
    past it (`access list` opened the line without her key; a keyless auditor's read
    still does) moved the checkpoint, and the fast path then served production: it
    asked whether a key had re-checked the line for the environment read only, where
    the gate asks it for every environment the key opens. A read now takes the gate,
    which walks with her key and refuses."""
    import forge

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    setv(cli, "A", "1")
    setv(cli, "S", "s1", env="staging")
    assert cli("get", "A", "--env", "production").code == 0
    bad = forge.lying_set(store, bob.identity, "staging", "S", "s2")
    git(store, "reset", "-q", "--hard", bad)  # taken by plain git, as a pull would
    assert cli("access", "list").code == 5  # walked with her key now: it sees the lie
    assert cli.as_(None)("access", "list").code == 0  # a keyless auditor's cannot
    assert checkpoint.load(store).head == bad
    r = cli("get", "A", "--env", "production")
    assert r.code == 5 and "rule 3" in r.err, (r.code, r.out, r.err)
    assert cli("get", "A", "--env", "production").code == 5  # and it stays refused


@pytest.mark.parametrize("cache", ["missing", "garbled"])
def test_a_cached_file_the_fast_path_cannot_read_sends_a_new_key_to_the_gate(
        verified, cli, bob, cache):
    """bob, in production only, reads with nothing new while no key has checked staging
    and his key has not walked the line. Only staging's cached file tells the fast path he
    holds no seat there: missing or unparseable, it cannot vouch for that and takes the
    gate, which reads the committed file (no seat: his read is answered)."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    doc = json.loads(checkpoint.path(verified).read_text())
    doc["keyed"], doc["attempted"] = ["production"], []
    checkpoint.path(verified).write_text(json.dumps(doc))
    assert fast(verified, bob) is not None  # a readable cache: no seat in staging
    cached = checkpoint.path(verified).parent / "cache" / "staging.yaml"
    if cache == "missing":
        cached.unlink()
    else:
        cached.write_bytes(b"not: [an environment file")
    assert fast(verified, bob) is None
    assert cli.as_(bob)("get", "A", "--env", "production").out == "1"


def test_a_cached_file_changed_on_disk_vouches_for_no_missing_seat(verified, cli, bob):
    """bob holds seats in production and staging; no key has checked staging and his key
    has not walked the line, so his read takes the gate. A cached staging file put back to
    a well-formed one without his seat (staging as it was before his grant) must not let
    the fast path skip that walk: the cache vouches only for the bytes it verified, and
    the gate writes them again."""
    older = checkpoint.path(verified).parent / "cache" / "staging.yaml"
    before = older.read_bytes()  # staging, verified, before bob's seats
    for env in ("production", "staging"):
        assert cli("access", "grant", bob.principal, bob.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("get", "A", "--env", "production").out == "1"  # the checkpoint moves
    now = older.read_bytes()
    assert now != before and bob.publine.split()[1] in now.decode()
    doc = json.loads(checkpoint.path(verified).read_text())
    doc["keyed"], doc["attempted"] = ["production"], []
    checkpoint.path(verified).write_text(json.dumps(doc))
    assert fast(verified, bob) is None  # his seat in staging: a walk with his key first
    older.write_bytes(before)
    assert envfile.parse(before).member_with_key(bob.identity.public.openssh) is None
    assert fast(verified, bob) is None
    assert cli.as_(bob)("get", "A", "--env", "production").out == "1"
    assert older.read_bytes() == now  # written again from the committed file


def test_the_checkpoints_key_pairs_answer_only_where_it_stands(verified, cli):
    # Elsewhere they would be too many (a walk from before it: an honest pair made later
    # reads as re-used) or too few (from after it: a re-used pair reads as new).
    cp = checkpoint.load(verified)
    assert cp.head == head(verified) and cp.keys
    assert checkpoint.keys_at(verified, cp.head) == cp.keys
    parent = git(verified, "rev-parse", "HEAD~1").strip()
    assert checkpoint.keys_at(verified, parent) is None
    assert checkpoint.keys_at(verified, None) is None
