"""The trust root under attack (attack round 10): a reviewed rewrite never swaps the
store for another one unasked, a CI job never vouches for a line it cannot anchor, and
a refusal a key found is not lifted by a walk that could not see it. Real git objects,
real keys, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import Cli, IdentityFile, assert_one_line_error, git
from envtrail.audit import checkpoint
from envtrail.format import layout
from envtrail.gitstore.repo import GitRepo
from envtrail.ops import gate
from hostile import head, message, point, setv, signed_commit, unsigned_commit

ATTACKER = "CANARY-attacker-value-77d1"
ROOT = Path(__file__).resolve().parents[2]


def foreign_store(tmp_path: Path, make_identity, victim: IdentityFile) -> Path:
    """A store an outsider built from scratch: her own genesis, herself as admin, the
    victim's public key seated in production, and a value of her choosing."""
    return outsiders_store(tmp_path, make_identity, victim)[0]


def outsiders_store(tmp_path: Path, make_identity,
                    victim: IdentityFile) -> tuple[Path, IdentityFile]:
    """:func:`foreign_store`, and the outsider's identity (to go on writing there)."""
    mallory = make_identity("mallory@example.com")
    fake = tmp_path / "fake"
    fake.mkdir()
    m = Cli(fake, mallory)
    assert m("init", "--create", "--env", "production").code == 0
    assert m("access", "grant", victim.principal, victim.publine, "--env", "production",
             "--reason", "seat the victim").code == 0
    setv(m, "A", ATTACKER)
    return fake, mallory


def force_push(store: Path, source: Path) -> None:
    """What a force-push of ``source``'s line does to the victim's clone."""
    git(store, "fetch", "-q", str(source), "main:refs/heads/replacement")
    point(store, git(store, "rev-parse", "replacement").strip())


# -- F4: --accept-rewrite -------------------------------------------------------------

def test_accept_rewrite_refuses_another_genesis_without_force(cli, store, tmp_path,
                                                              make_identity, alice):
    setv(cli, "A", "real")
    assert cli("get", "A", "--env", "production").out == "real"
    pin = checkpoint.load_pin(store)
    fake = foreign_store(tmp_path, make_identity, alice)
    force_push(store, fake)
    # No commit of the lost line is labelled revoke/rotate/signers/policy/repair: what
    # it loses is the genesis itself, and with it every signer and admin.
    r = cli("verify", "--accept-rewrite")
    assert r.code == 5, (r.code, r.out, r.err)
    assert "another genesis" in r.err and "--force" in r.err
    assert checkpoint.load_pin(store) == pin
    for _ in range(2):  # nothing was re-pinned: reads keep refusing, values are not served
        r = cli("get", "A", "--env", "production")
        assert r.code == 5 and ATTACKER not in r.out + r.err
    # alice's next secret does not go to the outsider's key pair.
    assert cli("set", "NEW", "--env", "production", "--reason", "x", input="mine").code == 5
    # After review, --force takes it, and says loudly that this is another store.
    r = cli("verify", "--accept-rewrite", "--force")
    assert r.code == 0, r.out + r.err
    assert "ANOTHER genesis" in r.out and pin in r.out
    assert checkpoint.load_pin(store) == git(store, "rev-list", "--max-parents=0",
                                               "HEAD").strip() != pin


def test_accept_rewrite_guards_a_lost_grant(cli, store, bob):
    """A grant adds a signer and a member: losing it changes who is trusted, whatever
    its label (grant was never on the label list)."""
    setv(cli, "A", "1")
    before = head(store)
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    grant = head(store)
    assert cli("get", "A", "--env", "production").code == 0
    point(store, before)
    r = cli("verify", "--accept-rewrite")
    assert r.code == 5, (r.code, r.out, r.err)
    assert grant[:10] in r.err and "allowed_signers" in r.err
    r = cli("verify", "--accept-rewrite", "--force")
    assert r.code == 0 and f"disappeared: {grant}" in r.out


def test_accept_rewrite_judges_a_lost_commit_by_its_tree_not_its_label(cli, store,
                                                                       make_identity):
    """A commit labelled ``set`` that adds an admin to allowed_signers, vouched for by
    this clone, then dropped: the label says "a value", the tree says "a new admin"."""
    setv(cli, "A", "1")
    parent = head(store)
    carol = make_identity("carol@example.com")
    signers = (store / layout.SIGNERS).read_bytes()
    extra = f'{carol.principal} namespaces="git" {carol.identity.public.openssh} ' \
            "envtrail:admin\n"
    mislabelled = signed_commit(store, cli.identity.identity, cli.identity.principal,
                                [parent], {layout.SIGNERS: signers + extra.encode()},
                                message("set", cli.identity.principal))
    point(store, mislabelled)
    g = GitRepo(store)
    gate.advance(g, parent, mislabelled, g.info(mislabelled).committer_time)
    assert checkpoint.load(store).head == mislabelled
    point(store, parent)  # the line is cut back below it
    r = cli("verify", "--accept-rewrite")
    assert r.code == 5, (r.code, r.out, r.err)
    assert mislabelled[:10] in r.err and "allowed_signers" in r.err


def test_accept_rewrite_of_values_only_needs_no_force(cli, store):
    """Not over-strict: a lost plain value change is listed and accepted as before."""
    setv(cli, "A", "1")
    before = head(store)
    setv(cli, "A", "2")
    lost = head(store)
    assert cli("get", "A", "--env", "production").out == "2"
    point(store, before)
    r = cli("verify", "--accept-rewrite")
    assert r.code == 0, r.out + r.err
    assert f"disappeared: {lost}" in r.out and "ANOTHER" not in r.out
    assert cli("get", "A", "--env", "production").out == "1"


# -- F8: verify in CI -----------------------------------------------------------------

def test_verify_in_ci_without_a_trust_root_refuses_and_pins_nothing(cli, store, tmp_path,
                                                                     make_identity, alice):
    genesis = head(store)
    fake = foreign_store(tmp_path, make_identity, alice)
    clone = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(fake), str(clone))
    job = Cli(clone, alice)
    for ci in ({"GITHUB_ACTIONS": "true"}, {"CI": "true"}, {"GITLAB_CI": "true"}):
        for args in (("verify",), ("verify", "--json"), ("init",)):
            r = job(*args, env=ci)
            assert r.code == 5 and "ENVTRAIL_TRUST_ROOT" in r.err, (args, r.code, r.out, r.err)
            assert checkpoint.load_pin(clone) is None and checkpoint.load(clone) is None
    # With the real genesis as trust root, the replaced line fails in CI too.
    r = job("verify", env={"GITHUB_ACTIONS": "true", "ENVTRAIL_TRUST_ROOT": genesis})
    assert r.code == 5 and "rule 8" in r.out  # DESIGN §7: not the store's line
    assert checkpoint.load_pin(clone) is None
    r = job("verify", "--trust-root", genesis, env={"GITHUB_ACTIONS": "true"})
    assert r.code == 5 and checkpoint.load_pin(clone) is None
    # And the real store, anchored, verifies in CI.
    real = tmp_path / "real-ci"
    git(tmp_path, "clone", "-q", str(store), str(real))
    r = Cli(real, None)("verify", env={"GITHUB_ACTIONS": "true", "ENVTRAIL_TRUST_ROOT": genesis})
    assert r.code == 0, r.out + r.err
    assert checkpoint.load_pin(real) == genesis


def _steps(job: dict) -> list[tuple[str, dict[str, str]]]:
    return [(s["run"], {**job.get("env", {}), **s.get("env", {})})
            for s in job["steps"] if "run" in s]


def _expand(value: str, context: dict[str, str]) -> str:
    for name, real in context.items():
        value = value.replace("${{ " + name + " }}", real)
    assert "${{" not in value, value
    return value


def test_the_shipped_github_workflow_runs_and_anchors_every_job(cli, store, tmp_path, make_identity):
    """examples/github-actions.yml, step by step as Actions would run it (envtrail steps
    only), with GITHUB_ACTIONS set: it works on the real store and refuses a replaced
    one. The trust root comes from a repository variable, the key from a secret."""
    genesis = head(store)
    release = make_identity("ci:release")
    assert cli("access", "grant", release.principal, release.publine, "--env", "production",
               "--reason", "release job").code == 0
    setv(cli, "DEPLOY_TOKEN", "real-token")
    flow = yaml.safe_load((ROOT / "examples/github-actions.yml").read_text())
    context = {"vars.ENVTRAIL_TRUST_ROOT": genesis,
               "secrets.ENVTRAIL_IDENTITY_KEY": release.path.read_text()}
    top = flow.get("env", {})

    def run_job(name: str, repo: Path) -> list:
        results = []
        job = flow["jobs"][name]
        for command, env in _steps({**job, "env": {**top, **job.get("env", {})}}):
            command = command.removeprefix("exec ")  # the shell's place taken: no shell above
            if not command.startswith("envtrail "):
                continue  # checkout, setup-python, pip install
            args = command.split("#")[0].split()[1:]
            if "--" in args:  # the deploy script: print what it was given
                args = [*args[:args.index("--") + 1], "sh", "-c", 'printf %s "$DEPLOY_TOKEN"']
            env = {k: _expand(str(v), context) for k, v in env.items()}
            results.append(Cli(repo, None).sub(*args, env={"GITHUB_ACTIONS": "true",
                                                           "CI": "true", **env}))
        assert results, name
        return results

    good = tmp_path / "good"
    git(tmp_path, "clone", "-q", str(store), str(good))
    assert set(flow["jobs"]) == {"verify", "deploy"}
    for name in flow["jobs"]:
        for r in run_job(name, good):
            assert r.code == 0, (name, r.out, r.err)
    assert run_job("deploy", good)[-1].out == "real-token"
    fake = foreign_store(tmp_path, make_identity, release)
    forged = tmp_path / "forged"
    git(tmp_path, "clone", "-q", str(fake), str(forged))
    for name in flow["jobs"]:
        last = run_job(name, forged)[-1]  # the job's verdict: verify, or the deploy itself
        assert last.code != 0 and ATTACKER not in last.out, (name, last.out)
    # The guide shows the same variable.
    assert "vars.ENVTRAIL_TRUST_ROOT" in (ROOT / "docs/ci.md").read_text()


# -- F10: a keyed refusal stands ------------------------------------------------------

@pytest.fixture
def lying(cli, store, bob):
    """alice (admin, both environments) and bob (staging only); a production commit
    whose fingerprint claims the value did not change, which a keyless read vouched for
    and alice's keyed verify then found. Returns the lying commit."""
    import forge
    from envtrail.model import Change

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    setv(cli, "S", "s1", env="staging")
    setv(cli, "A", "1")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "lie"})
    real = plan.record.changes[0]
    bad = forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, real.old_fp),)))
    assert cli.as_(None)("list", "--env", "production").code == 0  # keyless: cannot see it
    assert checkpoint.load(store).head == bad
    r = cli("verify")
    assert r.code == 1 and "rule 3" in r.out
    assert checkpoint.load(store).refused is not None
    return bad


def _refuses_everyone(cli, bob) -> None:
    keyless = cli.as_(None)
    for r in (keyless("list", "--env", "production"), keyless("access", "list"),
              cli.as_(bob)("get", "S", "--env", "staging"),
              cli("get", "A", "--env", "production")):
        assert r.code == 5, (r.code, r.out, r.err)
        assert "lie" not in r.out


def test_a_keyless_verify_does_not_lift_a_keyed_refusal(cli, store, bob, lying):
    r = cli.as_(None)("verify")
    assert r.code == 1, r.out + r.err
    assert "still refused" in r.out and lying[:10] in r.out
    report = json.loads(cli.as_(None)("verify", "--json").out)
    assert report["ok"] is False and report["findings"] == []
    assert report["refused_needs_key_to"] == ["production", "staging"]  # alice's keys
    cp = checkpoint.load(store)
    assert cp.refused is not None and cp.refused_commits == {lying}
    _refuses_everyone(cli, bob)
    assert checkpoint.load(store).refused is not None


def test_a_read_by_a_member_of_another_environment_does_not_lift_it(cli, store, bob, lying):
    for _ in range(2):
        r = cli.as_(bob)("get", "S", "--env", "staging")
        assert r.code == 5 and "history does not verify" in r.err
    r = cli.as_(bob)("verify")
    assert r.code == 1 and "still refused" in r.out
    assert checkpoint.load(store).refused is not None
    _refuses_everyone(cli, bob)


def test_a_repair_then_a_keyed_walk_lifts_it_for_every_reader(cli, store, bob, lying):
    assert cli("repair", "--reason", "the lying fingerprint INC-3").code == 0
    assert checkpoint.load(store).refused is not None  # the repair's own write lifts nothing
    assert cli.as_(bob)("get", "S", "--env", "staging").code == 5
    assert cli("get", "A", "--env", "production").out == "1"  # restored, and walked with a key
    assert checkpoint.load(store).refused is None
    assert cli.as_(None)("list", "--env", "production").code == 0
    assert cli.as_(bob)("get", "S", "--env", "staging").out == "s1"
    assert cli("get", "A", "--env", "production").out == "1"


def test_a_keyed_finding_above_the_checkpoint_is_not_walked_past_without_a_key(cli, store):
    """The lie arrives after this clone's last read: a keyed verify finds it, and a keyless
    read must not then walk past it incrementally (it cannot see it) and vouch for it."""
    import forge
    from envtrail.model import Change

    setv(cli, "A", "1")
    assert cli("get", "A", "--env", "production").out == "1"
    below = checkpoint.load(store).head
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "lie"})
    real = plan.record.changes[0]
    forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, real.old_fp),)))
    assert head(store) != below and checkpoint.load(store).head == below
    assert cli("verify").code == 1
    for cmd in (("list", "--env", "production"), ("access", "list"), ("verify",)):
        r = cli.as_(None)(*cmd)
        assert r.code in (1, 5), (cmd, r.code, r.out, r.err)
    assert checkpoint.load(store).head == below  # nothing vouched for the lie


def _lie_on(store: Path, cli: Cli, when=None) -> str:
    """alice's production commit whose fingerprint claims the value did not change."""
    import forge
    from envtrail.model import Change

    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "lie"})
    real = plan.record.changes[0]
    return forge.commit_plan(store, cli.identity.identity, forge.with_record(
        plan, changes=(Change("~", "A", real.old_fp, real.old_fp),)), when=when)


def test_a_keyed_verify_widens_a_mark_a_keyless_one_set(cli, store, bob):
    """N2: a keyless verify marks only the unsigned commit it sees; alice's keyed verify then
    finds the lie below it. A repair by an admin without the production key acknowledges
    only the unsigned commit, and must not lift the refusal alice's key found."""
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "join").code == 0
    assert cli("access", "admin", bob.principal, "--reason", "staging admin").code == 0
    setv(cli, "S", "s1", env="staging")
    setv(cli, "A", "1")
    lie = _lie_on(store, cli)
    noise = unsigned_commit(store, lie, [lie], "noise")
    point(store, noise)
    assert cli.as_(None)("verify").code == 1
    cp = checkpoint.load(store)
    assert cp.refused_commits == {noise} and cp.refused_envs == frozenset()
    assert cli("verify").code == 1
    cp = checkpoint.load(store)
    assert cp.refused_commits == {noise, lie} and cp.refused_envs == {"production", "staging"}
    r = cli.as_(bob)("repair", "--reason", "the unsigned commit INC-5")
    assert r.code == 0 and f"acknowledged: {noise[:10]}" in r.out
    assert f"acknowledged: {lie[:10]}" not in r.out  # bob cannot see the lie
    _refuses_everyone(cli, bob)
    assert checkpoint.load(store).refused is not None


def test_a_keyless_accept_rewrite_keeps_a_keyed_refusal(cli, store, bob, lying):
    """N3: the lie is force-pushed again, re-made with a new id. A keyless walk accepts the
    rewrite (one plain value change lost) but cannot see the lie: the mark moves with it."""
    from datetime import timedelta

    parent = git(store, "rev-parse", f"{lying}^").strip()
    point(store, parent)
    when = GitRepo(store).info(lying).committer_time + timedelta(seconds=1)
    remade = _lie_on(store, cli, when=when)
    assert remade != lying
    r = cli.as_(None)("verify", "--accept-rewrite")
    assert r.code == 1 and lying in r.out and "still refused" in r.out, r.out + r.err
    cp = checkpoint.load(store)
    assert cp.head == remade and cp.refused is not None  # accepted, and still refused
    assert cp.refused_envs == {"production", "staging"}
    _refuses_everyone(cli, bob)
    assert cli.as_(None)("verify").code == 1
    assert checkpoint.load(store).refused is not None


@pytest.mark.parametrize("root", ["HEAD", "main", "short", "upper", "39"])
def test_a_trust_root_that_is_no_full_commit_id_is_a_usage_error(cli, store, root):
    """A ref name, a short or upper-case id is refused as written (exit 2), before any
    walk: it is never resolved by git (`HEAD` would vouch for whatever the remote holds),
    nor turned into a rule 8 finding that reads as a replaced history."""
    setv(cli, "A", "1")
    genesis = git(store, "rev-list", "--max-parents=0", "HEAD").strip()
    given = {"short": genesis[:12], "upper": genesis.upper(), "39": genesis[:39]}.get(root, root)
    before = checkpoint.path(store).read_bytes()
    for args, env in ((("verify", "--trust-root", given), {}),
                      (("get", "A", "--env", "production"), {"ENVTRAIL_TRUST_ROOT": given}),
                      (("verify",), {"ENVTRAIL_TRUST_ROOT": f"{genesis},{given}"})):
        r = cli(*args, env=env)
        assert_one_line_error(r, 2)
        assert "a trust root is a full commit id" in r.err, (args, r.err)
    assert checkpoint.path(store).read_bytes() == before
    assert cli("get", "A", "--env", "production", env={"ENVTRAIL_TRUST_ROOT": genesis}).out == "1"


def test_a_rewrite_that_drops_a_commit_an_event_names_is_accepted_and_the_event_stays(
        cli, store):
    """attack29 R1: `--accept-rewrite` re-pinned only when the events line verified too;
    an event naming a commit the reviewed rewrite dropped is a finding of the events
    line, so the clone stayed on rule 8 for good (reads, repair and sync refused). The
    rewrite is accepted on the store line alone, and reads work. The event stays the
    events line's finding: no repair vouches for a commit off the line (acknowledging
    one let a revoked member's event pass, attack31 B2, B4)."""
    setv(cli, "A", "1")
    kept = head(store)
    setv(cli, "A", "2")
    dropped = head(store)
    assert cli("event", "deploy", "--env", "production", "--reason", "deploy A=2").code == 0
    event = git(store, "rev-parse", "refs/envtrail/events").strip()
    assert cli("get", "A", "--env", "production").out == "2"
    point(store, kept)  # the reviewed rewrite: A=2 taken off the line
    assert cli("get", "A", "--env", "production").code == 5
    r = cli("verify", "--accept-rewrite")
    assert r.code == 1 and f"disappeared: {dropped}" in r.out, (r.code, r.out, r.err)
    assert f"{event[:10]} rule 6" in r.out
    assert cli("get", "A", "--env", "production").out == "1"  # re-pinned: reads work
    git(store, "reflog", "expire", "--expire=now", "--all")
    git(store, "gc", "-q", "--prune=now")  # the dropped commit is gone from this clone
    assert cli("event", "restart", "--env", "production", "--reason", "after it").code == 0
    _no_repair_settles(cli, store, event)


def test_an_event_naming_a_commit_made_for_it_is_never_acknowledged(cli, store, make_identity):
    """The acknowledgement above judges an event at a commit off the line only where that
    commit continues the line as a line commit would: mallory's own commit, making her a
    signer and a member, named by her own event, is no state a repair vouches for."""
    from dataclasses import replace
    from datetime import timedelta

    from envtrail.format import envfile
    from envtrail.format.envfile import Member

    setv(cli, "A", "1")
    assert cli("event", "deploy", "--env", "production", "--reason", "real").code == 0
    mallory = make_identity("mallory@example.com")
    key = " ".join(mallory.publine.split()[:2])
    path = envfile.path_for("production")
    prod = envfile.parse((store / path).read_bytes(), path)
    members = {**prod.members, mallory.principal: Member(mallory.principal, key, "AAAA")}
    files = {layout.SIGNERS: ((store / layout.SIGNERS).read_text()
                              + f'{mallory.principal} namespaces="git" {key}\n').encode(),
             path: envfile.render(replace(prod, members=members))}
    line = head(store)
    when = GitRepo(store).info(line).committer_time + timedelta(seconds=5)
    own = signed_commit(store, mallory.identity, mallory.principal, [line], files,
                        message("grant", mallory.principal), when=when)
    _no_repair_settles(cli, store, _plant_event(store, mallory, own,
                                                when + timedelta(seconds=1)))


def test_a_revoked_member_naming_a_commit_he_kept_off_the_line_is_never_acknowledged(
        cli, store, bob):
    """bob, a member, signs a change he keeps off the line (it verifies: a line could
    have held it), is offboarded, then writes an event naming it. At the commit it names
    he was a member; at the line's state current at the event's date he is not: an
    acknowledgement needs both, so `repair` settles nothing."""
    from datetime import timedelta

    import forge

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "A", "1")
    assert cli("event", "deploy", "--env", "production", "--reason", "real").code == 0
    before = head(store)
    kept = forge.commit_plan(store, bob.identity,
                             forge.honest_plan(store, bob.identity, "production", {"A": "b"}))
    point(store, before)  # never on the line
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "left").code == 0
    when = GitRepo(store).info(head(store)).committer_time + timedelta(seconds=60)
    _no_repair_settles(cli, store, _plant_event(store, bob, kept, when))


def test_an_event_naming_a_commit_off_the_line_keeps_the_events_lines_order(cli, store, bob):
    """attack30 A5: for an event naming a commit off the line the order checks were
    skipped, so bob (a member) could name a commit he kept off the line and date his
    event before the events already there, and a repair acknowledged it. Acknowledged
    or not, its time keeps the events line's order: `repair` settles nothing."""
    from datetime import timedelta

    import forge

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "A", "1")
    before = head(store)
    kept = forge.commit_plan(store, bob.identity,
                             forge.honest_plan(store, bob.identity, "production", {"A": "b"}))
    point(store, before)  # never on the line
    setv(cli, "A", "2")
    assert cli("event", "deploy", "--env", "production", "--reason", "later deploy").code == 0
    tip = git(store, "rev-parse", "refs/envtrail/events").strip()
    when = GitRepo(store).info(tip).committer_time - timedelta(seconds=1)
    _no_repair_settles(cli, store, _plant_event(store, bob, kept, when))


def _plant_event(store: Path, who: IdentityFile, after: str, when) -> str:
    """``who``'s production deploy event naming ``after``, dated ``when``, put on the
    events line by plain git (as a fetch that checks nothing would)."""
    from envtrail.audit import record

    tip = git(store, "rev-parse", "refs/envtrail/events").strip()
    rec = record.Record("event", who.principal, "deploy", ("production",),
                        extra=(("After", after), ("Event-Kind", "deploy")))
    planted = signed_commit(store, who.identity, who.principal, [tip], {},
                            record.render(rec), tree_of=tip, when=when)
    git(store, "update-ref", "refs/envtrail/events", planted)
    return planted


def _no_repair_settles(cli: Cli, store: Path, planted: str) -> None:
    """``planted`` is verify's one finding (rule 6), and `repair` refuses to settle it."""
    report = json.loads(cli("verify", "--json").out)
    assert [(f["commit"], f["rule"]) for f in report["findings"]] == [(planted, 6)], report
    line = head(store)
    r = cli("repair", "--reason", "settle it")
    assert r.code == 5 and "cannot repair" in r.err and planted[:10] in r.err, (r.code, r.err)
    assert head(store) == line
