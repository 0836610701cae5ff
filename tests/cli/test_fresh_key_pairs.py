"""Rule 5: a new key pair is new (attack33 K1, K1b).

A revocation rotates an environment's key pair so that the revoked member's old seat
opens nothing written after it. An admin who is a member could hand that back in band:
a "rotation" to the retired pair (approvers see an ordinary rotation), or a new
environment carrying production's pair (its grants need none of production's
approvals). Every audit view then said the member was out. Each is a finding now, in a
clone that walks the whole line and in one that walks only what is new.
"""

from test_sync import clone_as, head
from test_sync_events import world

from conftest import Cli, git
from envtrail.audit import checkpoint
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.crypto import seal
from envtrail.crypto.seal import b64
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile, Member
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.members import open_keys
from envtrail.ops.txn import Plan
from forge import commit_plan
from hostile import setv

REUSED = "a key pair the store line used before"


def _pair_at(clone, commit, who, env="production"):
    g = GitRepo(clone.cwd)
    return open_keys(StoreView(g).env_at(commit, env), who.identity)


def _refused_everywhere(tmp_path, bare, cli, watcher, commit):
    """A clone that verified up to before ``commit`` refuses to take it (sync walks only
    what is new) or to read from it (after a plain pull), and a fresh clone's verify
    names it and its reads refuse."""
    before = head(watcher)
    r = watcher("sync")
    assert r.code == 5 and "rule 5" in r.err and REUSED in r.err, (r.code, r.out, r.err)
    assert head(watcher) == before
    # A plain fast-forward pull: its next read walks only what is new, and refuses.
    git(watcher.cwd, "pull", "-q", "--ff-only", "origin", "main")
    assert head(watcher) == commit
    r = watcher("get", "K", "--env", "production")
    assert r.code == 5 and REUSED in r.err, (r.code, r.out, r.err)
    git(tmp_path, "clone", "-q", str(bare), str(tmp_path / "fresh"))
    fresh = Cli(tmp_path / "fresh", cli.identity)
    assert fresh("init").code == 5  # it walks the line first
    found = fresh("verify")
    assert found.code == 1 and f"{commit[:10]} rule 5" in found.out and REUSED in found.out
    assert fresh("get", "K", "--env", "production").code == 5


def test_a_rotation_back_to_a_retired_key_pair_is_a_finding(
        tmp_path, store, cli, bob, alice, monkeypatch):
    a, _, bare = world(tmp_path, store, cli, bob)
    setv(a, "K", "v1")
    retired = _pair_at(a, head(a), alice)  # the pair bob's seat opens
    assert a("access", "revoke", bob.principal, "--env", "production",
             "--reason", "bob leaves").code == 0
    setv(a, "K", "v3-after-bob")
    assert a("sync").code == 0
    watcher = clone_as(tmp_path, str(bare), cli.identity, "watcher")
    assert watcher("verify").code == 0  # its checkpoint knows every pair used so far
    monkeypatch.setattr(seal.EnvKeys, "generate", classmethod(lambda cls: retired))
    assert a("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    forged = head(a)
    assert _pair_at(a, forged, alice).public == retired.public
    git(a.cwd, "push", "-q", "--no-verify", "origin", "HEAD:main")
    _refused_everywhere(tmp_path, bare, cli, watcher, forged)


def test_a_new_environment_with_another_environments_key_pair_is_a_finding(
        tmp_path, store, cli, bob, alice):
    a, _, bare = world(tmp_path, store, cli, bob)
    setv(a, "K", "v1")
    assert a("sync").code == 0
    watcher = clone_as(tmp_path, str(bare), cli.identity, "watcher")
    assert watcher("verify").code == 0
    production = _pair_at(a, head(a), alice)
    mirror = EnvFile("mirror", b64(production.public), {alice.principal: Member(
        alice.principal, alice.identity.public.openssh, production.seal_to(alice.identity.public))},
        {})
    rec = Record("init", alice.principal, "a mirror", ("mirror",))
    forged = commit_plan(a.cwd, alice.identity,
                         Plan({envfile.path_for("mirror"): envfile.render(mirror)}, rec))
    git(a.cwd, "push", "-q", "--no-verify", "origin", f"{forged}:main")
    _refused_everywhere(tmp_path, bare, cli, watcher, forged)


def test_honest_rotations_and_new_environments_are_no_finding(tmp_path, store, cli, bob):
    a, _, _ = world(tmp_path, store, cli, bob)
    assert a("access", "revoke", bob.principal, "--env", "production",
             "--reason", "bob leaves").code == 0
    assert a("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    assert a("env", "add", "mirror", "--reason", "a mirror").code == 0
    r = a("verify")
    assert r.code == 0, r.out


def test_the_clone_that_made_a_pair_knows_it_without_walking_again(tmp_path, store, cli, bob,
                                                                   alice):
    """A write vouches for its own commit without a walk: the checkpoint must learn the
    pair the write made, or that clone takes a later commit re-using it unseen."""
    a, _, bare = world(tmp_path, store, cli, bob)
    assert a("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    assert a("sync").code == 0
    other = clone_as(tmp_path, str(bare), cli.identity, "other")
    production = _pair_at(other, head(other), alice)
    mirror = EnvFile("mirror", b64(production.public), {alice.principal: Member(
        alice.principal, alice.identity.public.openssh, production.seal_to(alice.identity.public))},
        {})
    forged = commit_plan(other.cwd, alice.identity, Plan(
        {envfile.path_for("mirror"): envfile.render(mirror)},
        Record("init", alice.principal, "a mirror", ("mirror",))))
    git(other.cwd, "push", "-q", "--no-verify", "origin", f"{forged}:main")
    r = a("sync")
    assert r.code == 5 and REUSED in r.err, (r.code, r.out, r.err)


def _respelt(key: str) -> str:
    """The same 32 bytes in another base64 spelling: the last digit's two unused bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    digit = alphabet.index(key[42])
    return key[:42] + alphabet[digit | 1 if digit & 3 == 0 else digit & ~3] + key[43:]


def _mirror_of(pair, who, name="mirror", public=None):
    return EnvFile(name, public or b64(pair.public), {who.principal: Member(
        who.principal, who.identity.public.openssh, pair.seal_to(who.identity.public))}, {})


def test_a_pair_spelt_another_way_is_no_new_pair(store, cli, alice):
    """attack34 N1: keys were compared as text, and three other base64 spellings decode to
    the same key: production's pair re-spelt passed as new. A file names its key in the
    one canonical spelling, or it does not parse."""
    import base64

    g = GitRepo(store)
    production = open_keys(StoreView(g).env_at(g.head(), "production"), alice.identity)
    other = _respelt(b64(production.public))
    assert other != b64(production.public) and base64.b64decode(other) == production.public
    forged = commit_plan(store, alice.identity, Plan(
        {envfile.path_for("mirror"): envfile.render(_mirror_of(production, alice, public=other))},
        Record("init", alice.principal, "a mirror", ("mirror",))))
    found = cli("verify")
    assert found.code == 1 and f"{forged[:10]} rule 3" in found.out, found.out
    assert cli("get", "K", "--env", "mirror").code == 5


def test_a_pair_a_bogus_repair_brought_in_counts_as_used(store, cli, alice):
    """attack34 N4: a repair's pairs were never counted: an admin's bogus "repair" made a
    pair (and could seat anyone in it), her real repair undid it, and a later environment
    with that pair passed as new."""
    from envtrail.audit.repairs import CLEAN, FROM
    from envtrail.crypto.seal import EnvKeys

    setv(cli, "K", "v1")
    g = GitRepo(store)
    clean = g.head()
    pair = EnvKeys.generate()
    commit_plan(store, alice.identity, Plan(
        {envfile.path_for("mirror"): envfile.render(_mirror_of(pair, alice))},
        Record("repair", alice.principal, "bogus", ("mirror",),
               extra=((CLEAN, clean), (FROM, clean)))))
    assert cli("verify").code == 1
    assert cli("repair", "--reason", "undo the bogus one").code == 0
    assert cli("verify").code == 0
    again = commit_plan(store, alice.identity, Plan(
        {envfile.path_for("mirror2"): envfile.render(_mirror_of(pair, alice, "mirror2"))},
        Record("init", alice.principal, "a mirror", ("mirror2",))))
    found = cli("verify")
    assert found.code == 1 and f"{again[:10]} rule 5" in found.out and REUSED in found.out


def test_apply_refuses_a_proposed_rotation_to_a_retired_pair(store, cli, alice, bob,
                                                            monkeypatch):
    """`apply` walks the proposal from the line head with the pairs the checkpoint knows
    there (a proposal is checked as a read would check it, before the line moves)."""
    from hostile import proposal_id

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    g = GitRepo(store)
    retired = open_keys(StoreView(g).env_at(g.head(), "production"), alice.identity)
    assert cli("access", "revoke", bob.principal, "--env", "production",
               "--reason", "bob leaves").code == 0
    assert cli("verify").code == 0
    line = g.head()
    with monkeypatch.context() as m:
        m.setattr(seal.EnvKeys, "generate", classmethod(lambda cls: retired))
        pid = proposal_id(cli("access", "rotate", "--env", "production", "--reason", "yearly",
                              "--propose"))
    r = cli("apply", pid)
    assert r.code == 5 and "rule 5" in r.err and REUSED in r.err, (r.code, r.out, r.err)
    assert GitRepo(store).head() == line


def test_a_clone_whose_checkpoint_lags_its_branch_reads_the_pairs_from_the_line(
        tmp_path, store, cli, bob, alice, monkeypatch):
    """A clone that moved its branch with a plain pull has a checkpoint that knows none of
    the pairs used since: sync must still know them, or it takes a rotation back to one."""
    a, _, bare = world(tmp_path, store, cli, bob)
    assert a("sync").code == 0
    watcher = clone_as(tmp_path, str(bare), cli.identity, "watcher")
    assert watcher("verify").code == 0  # its checkpoint stands here
    assert a("access", "rotate", "--env", "production", "--reason", "first").code == 0
    retired = _pair_at(a, head(a), alice)
    assert a("access", "rotate", "--env", "production", "--reason", "second").code == 0
    assert a("sync").code == 0
    git(watcher.cwd, "pull", "-q", "--ff-only", "origin", "main")  # no envtrail read since
    monkeypatch.setattr(seal.EnvKeys, "generate", classmethod(lambda cls: retired))
    assert a("access", "rotate", "--env", "production", "--reason", "back").code == 0
    git(a.cwd, "push", "-q", "--no-verify", "origin", "HEAD:main")
    before = head(watcher)
    r = watcher("sync")
    assert r.code == 5 and REUSED in r.err, (r.code, r.out, r.err)
    assert head(watcher) == before


def test_a_proposed_rotation_to_a_retired_pair_is_shown_failing_and_gets_no_approval(
        store, cli, alice, bob, monkeypatch):
    """`proposals` and `review` judge a proposal as `apply` will (every rule but the
    approvals it waits for), so nobody spends an approval on one that can never land."""
    import json

    from hostile import proposal_id

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "K", "v1")
    g = GitRepo(store)
    retired = open_keys(StoreView(g).env_at(g.head(), "production"), alice.identity)
    assert cli("access", "rotate", "--env", "production", "--reason", "yearly").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "two people").code == 0
    with monkeypatch.context() as m:
        m.setattr(seal.EnvKeys, "generate", classmethod(lambda cls: retired))
        pid = proposal_id(cli("access", "rotate", "--env", "production", "--reason", "again",
                              "--propose"))
    listed = cli("proposals")
    assert listed.code == 0 and "does not verify: " in listed.out and REUSED in listed.out
    doc = json.loads(cli("proposals", "--json").out)
    assert [p["id"] for p in doc] == [pid] and REUSED in doc[0]["findings"][0]
    shown = cli("review", pid)
    assert shown.code == 0 and "does not verify:" in shown.out and REUSED in shown.out
    # Where no checkpoint stands at the head (none here, and a trust root the line lacks
    # keeps the check from writing one), the pairs used so far are read from the line.
    checkpoint.clear(store)
    lost = cli("proposals", "--json", env={"ENVTRAIL_TRUST_ROOT": "1" * 40})
    assert checkpoint.load(store) is None
    assert REUSED in json.loads(lost.out)[0]["findings"][0], lost.out
    tip = git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()
    r = cli.as_(bob)("approve", pid, "--reason", "looks fine")
    assert r.code == 5 and REUSED in r.err, (r.code, r.out, r.err)
    assert git(store, "rev-parse", f"refs/envtrail/proposals/{pid}").strip() == tip


def test_a_proposal_whose_line_cannot_be_walked_is_listed_as_not_verifying(store, cli):
    """`proposals` lists what it cannot judge (here a grafted clone, whose line no walk
    reads) as not verifying, and still lists everything else."""
    import json

    from hostile import proposal_id

    setv(cli, "K", "v1")
    pid = proposal_id(cli("set", "K", "--env", "production", "--reason", "r", "--propose",
                          input="v2"))
    (store / ".git" / "info" / "grafts").write_text("")
    r = cli("proposals", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert [p["id"] for p in doc] == [pid] and "shallow or grafted" in doc[0]["findings"][0]


def test_a_proposal_dated_ahead_is_approved_once_the_clock_catches_up(store, cli, bob, clock):
    """`approve` judges the proposal as `apply` will: one dated more than ten minutes
    ahead of the approver's clock does not verify yet, and does once the clock is there."""
    from hostile import proposal_id

    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "two people").code == 0
    clock(3600)  # the author's clock runs an hour ahead
    pid = proposal_id(cli("set", "K", "--env", "production", "--reason", "r", "--propose",
                          input="v1"))
    clock(0)
    r = cli.as_(bob)("approve", pid, "--reason", "fine")
    assert r.code == 5 and "does not verify: " in r.err and "rule 7" in r.err, (r.code, r.err)
    assert "more than 10 minutes after this clone first saw it" in r.err
    clock(3600)
    assert cli.as_(bob)("approve", pid, "--reason", "fine").code == 0
