"""sync carries proposals, approvals and the events line: real clones, a bare remote, real keys."""

import json

import pytest
from test_approvals import _proposal_id
from test_sync import clone_as, head, make_remote, setv, values

from conftest import assert_one_line_error, git
from envtrail.gitstore.remote import MIRROR_ROOT
from hostile import raw_commit

CANARY = "canary-proposed-5d1e0b"
PROPOSALS = "refs/envtrail/proposals/"
EVENTS = "refs/envtrail/events"


@pytest.fixture
def team(tmp_path, store, cli, bob, make_identity):
    """production needs one approval; alice (admin), bob and carol are members of it and of
    staging; three clones."""
    return make_clones(tmp_path, store, cli, bob, make_identity)


def make_clones(tmp_path, store, cli, bob, make_identity):
    """The clones of ``team``: (alice, bob, carol, the bare remote)."""
    carol = make_identity("carol@example.com")
    for who in (bob, carol):
        for env in ("production", "staging"):
            assert cli("access", "grant", who.principal, who.publine, "--env", env,
                       "--reason", "join").code == 0
    setv(cli, "API_KEY", "v1")
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    bare = make_remote(tmp_path, store)
    a = clone_as(tmp_path, str(bare), cli.identity, "alice")
    b = clone_as(tmp_path, str(bare), bob, "bob")
    c = clone_as(tmp_path, str(bare), carol, "carol")
    return a, b, c, bare


def propose(cli, key="API_KEY", value="v2", reason="rotate"):
    r = cli("set", key, "--env", "production", "--reason", reason, "--propose", input=value)
    assert r.code == 0, r.err
    return _proposal_id(r)


def remote_refs(bare, prefix):
    out = git(bare, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split() for line in out.splitlines())


def chain_actors(where, ref):
    """Envtrail-Actor of each commit on a proposal ref, the proposal first."""
    log = git(where, "log", "--reverse", "--format=%(trailers:key=Envtrail-Actor,valueonly)%x00",
              f"main..{ref}")
    return [x.strip() for x in log.split("\0") if x.strip()]


def assert_signed(where, *refs):
    """Stock git accepts the signature of every commit these refs reach."""
    for commit in git(where, "rev-list", *refs).split():
        git(where, "verify-commit", commit)


def local_refs_state(cli):
    """Everything of this clone's own a refused sync could change (the remote mirror aside)."""
    state = cli.cwd / ".git" / "envtrail"
    files = {p.name: p.read_bytes() for p in sorted(state.iterdir())
             if p.is_file() and p.name != "lock"}
    refs = [ln for ln in git(cli.cwd, "for-each-ref").splitlines()
            if "\trefs/remotes/" not in ln and f"\t{MIRROR_ROOT}" not in ln]
    return refs, git(cli.cwd, "status", "--porcelain"), files


# -- proposals ------------------------------------------------------------------------


def test_a_proposal_and_its_approval_travel_and_apply_in_another_clone(team):
    a, b, c, bare = team
    pid = propose(a, value=CANARY)
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: pushed" in r.out
    assert f"{PROPOSALS}{pid}" in remote_refs(bare, PROPOSALS)
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: received" in r.out
    listed = json.loads(b("proposals", "--json").out)
    assert [p["id"] for p in listed] == [pid] and listed[0]["author"] == "alice@example.com"
    assert b("review", pid, "--reveal").out.count(CANARY) == 1
    assert b("approve", pid, "--reason", "checked").code == 0
    r = b("sync")
    assert f"proposal {pid}: pushed its new approvals" in r.out
    r = c("sync")
    assert c("apply", pid).code == 0, "carol applies what alice proposed and bob approved"
    r = c("sync")
    assert r.code == 0 and r.out.startswith("pushed"), r.out + r.err
    assert f"proposal {pid}: removed from the remote" in r.out
    assert remote_refs(bare, PROPOSALS) == {}
    for clone in (a, b):
        r = clone("sync")
        assert r.code == 0, r.err
        assert f"proposal {pid}: removed here" in r.out
        assert git(clone.cwd, "for-each-ref", PROPOSALS) == ""
        assert values(clone)["API_KEY"] == CANARY
        assert clone("verify").code == 0
    assert head(a) == head(b) == head(c) == git(bare, "rev-parse", "main").strip()
    assert git(bare, "rev-list", "--merges", "main") == ""
    assert_signed(a.cwd, "main")


def test_a_proposal_a_pusher_deletes_still_counts_for_the_offboarding_report(team):
    """attack19 P1: bob read alice's proposal, then deleted its ref on the remote with plain
    git. alice's sync used to drop it as "applied or withdrawn", and her revoke of bob then
    left its value off the report of what to rotate."""
    a, b, _, bare = team
    pid = propose(a, key="NEWKEY", value=CANARY)
    assert a("sync").code == 0 and b("sync").code == 0
    assert CANARY in b("review", pid, "--reveal").out
    git(b.cwd, "push", "-q", "origin", f":{PROPOSALS}{pid}")
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: removed here: the remote no longer has it and it is not on " \
           "the line" in r.out
    assert git(a.cwd, "for-each-ref", PROPOSALS) == ""
    assert json.loads(a("proposals", "--json").out) == []
    kept = git(a.cwd, "for-each-ref", "--format=%(refname)", "refs/envtrail/withdrawn/")
    assert kept.split() == [f"refs/envtrail/withdrawn/{pid}"]
    r = a("access", "revoke", "bob@example.com", "--env", "production", "--reason", "left",
          "--break-glass", "--json")
    assert r.code == 0, r.err
    report = {e["environment"]: e for e in json.loads(r.out)["report"]}
    assert report["production"]["proposed"] == ["NEWKEY"]
    assert CANARY not in r.out + r.err
    assert "refs/envtrail/withdrawn/" not in "".join(remote_refs(bare, "refs/envtrail/"))


def test_an_approval_that_does_not_count_never_blocks_an_apply(team, cli):
    """attack19 P13: anyone who signs appended an approval that does not count (here the
    author's own) to a ready proposal and pushed the ref; sync spread it and `apply` then
    refused the proposal for good. sync now drops it, and what follows it, from its copy
    and from the remote's."""
    from hostile import signed_approval

    a, b, c, bare = team
    pid = propose(a)
    assert a("sync").code == 0 and b("sync").code == 0
    assert b("approve", pid, "--reason", "checked").code == 0
    assert b("sync").code == 0 and c("sync").code == 0
    ready = git(c.cwd, "rev-parse", f"{PROPOSALS}{pid}").strip()
    proposal = git(c.cwd, "rev-parse", f"{ready}~1").strip()
    junk = signed_approval(c.cwd, cli.identity, ready, proposal)  # alice approving her own
    git(c.cwd, "push", "-q", "origin", f"{junk}:{PROPOSALS}{pid}")
    r = a("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: an approval on the remote's copy does not count " \
           "(an approval that does not count: alice@example.com approves their own change)" \
           in r.out
    assert remote_refs(bare, PROPOSALS)[f"{PROPOSALS}{pid}"] == ready
    assert git(a.cwd, "rev-parse", f"{PROPOSALS}{pid}").strip() == ready
    r = a("apply", pid)
    assert r.code == 0, r.err
    assert a("sync").code == 0 and a("verify").code == 0


def test_an_approval_that_does_not_count_is_dropped_when_both_sides_approved(team, cli):
    """The same as bob's own approval waits unpushed: his sync re-makes it on the remote's
    copy cut before the approval that does not count, and pushes that."""
    from hostile import signed_approval

    a, b, c, bare = team
    pid = propose(a)
    assert a("sync").code == 0 and b("sync").code == 0 and c("sync").code == 0
    assert b("approve", pid, "--reason", "checked").code == 0
    tip = git(c.cwd, "rev-parse", f"{PROPOSALS}{pid}").strip()
    junk = signed_approval(c.cwd, cli.identity, tip, tip)  # alice approving her own
    git(c.cwd, "push", "-q", "origin", f"{junk}:{PROPOSALS}{pid}")
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: an approval on the remote's copy does not count" in r.out
    assert f"proposal {pid}: merged approvals: the remote's, then 1 of yours" in r.out
    pushed = remote_refs(bare, PROPOSALS)[f"{PROPOSALS}{pid}"]
    assert git(bare, "rev-parse", f"{pushed}~1").strip() == tip  # junk gone, bob's on top
    assert a("sync").code == 0
    r = a("apply", pid)
    assert r.code == 0, r.err


def test_a_junk_commit_on_a_proposal_ref_is_replaced_by_a_copy_that_verifies(team):
    """attack20 Q2: anyone who can push, with no key, put an unsigned commit on a proposal
    ref; every sync then refused the remote's copy and never pushed an approval over it."""
    from hostile import unsigned_commit

    a, b, c, bare = team
    pid = propose(a)
    assert a("sync").code == 0 and b("sync").code == 0 and c("sync").code == 0
    tip = git(c.cwd, "rev-parse", f"{PROPOSALS}{pid}").strip()
    junk = unsigned_commit(c.cwd, tip, [tip], "junk")
    git(c.cwd, "push", "-q", "origin", f"{junk}:{PROPOSALS}{pid}")
    assert b("approve", pid, "--reason", "checked").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: the remote's copy does not verify ({junk[:10]} is not signed " \
           "by a key the line allowed then" in r.out
    approved = git(b.cwd, "rev-parse", f"{PROPOSALS}{pid}").strip()
    assert remote_refs(bare, PROPOSALS)[f"{PROPOSALS}{pid}"] == approved
    assert a("sync").code == 0
    r = a("apply", pid)
    assert r.code == 0, r.err


def test_concurrent_approvals_from_two_clones_both_survive(team):
    a, b, c, bare = team
    assert a("policy", "set", "--env", "production", "--approvals", "2", "--propose",
             "--reason", "more eyes").code == 0  # needs the current count (1) to land
    raised = _proposal_id_of(a)
    assert a("sync").code == 0
    assert b("sync").code == 0
    assert b("approve", raised, "--reason", "ok").code == 0
    assert b("sync").code == 0
    assert a("sync").code == 0
    assert a("apply", raised).code == 0
    assert a("sync").code == 0
    for clone in (b, c):
        assert clone("sync").code == 0

    pid = propose(a)
    assert a("sync").code == 0
    assert b("sync").code == 0 and c("sync").code == 0
    assert b("approve", pid, "--reason", "bob ok").code == 0
    assert c("approve", pid, "--reason", "carol ok").code == 0  # neither has seen the other's
    assert b("sync").code == 0
    mine = git(c.cwd, "rev-parse", PROPOSALS + pid).strip()
    r = c("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: merged approvals: the remote's, then 1 of yours" in r.out
    on_remote = remote_refs(bare, PROPOSALS)[PROPOSALS + pid]
    assert chain_actors(bare, on_remote) == ["alice@example.com", "bob@example.com",
                                             "carol@example.com"]
    message = git(bare, "log", "-1", "--format=%B", on_remote)
    assert f"Envtrail-Replayed: {mine}" in message  # carol's own approval, re-made by carol
    assert git(bare, "rev-list", "--merges", on_remote) == ""
    assert_signed(c.cwd, on_remote)
    assert a("sync").code == 0
    shown = json.loads(a("review", pid, "--json").out)
    assert shown["approved_by"] == ["bob@example.com", "carol@example.com"] and shown["ready"]
    assert a("apply", pid).code == 0
    assert a("sync").code == 0 and a("verify").code == 0
    assert_signed(a.cwd, "main")


def _proposal_id_of(cli):
    ids = git(cli.cwd, "for-each-ref", "--format=%(refname:lstrip=3)", PROPOSALS).split()
    assert len(ids) == 1, ids
    return ids[0]


def test_an_approval_by_someone_else_is_never_re_signed(team):
    a, b, c, bare = team
    pid = propose(a)
    assert a("sync").code == 0
    assert b("sync").code == 0 and c("sync").code == 0
    assert c("approve", pid, "--reason", "carol").code == 0
    assert c("sync").code == 0
    # Bob approves in his clone, then syncs with alice's key: bob's approval is not hers.
    assert b("approve", pid, "--reason", "bob").code == 0
    before = git(b.cwd, "rev-parse", PROPOSALS + pid).strip()
    r = b.as_(a.identity)("sync")
    assert r.code == 0, r.err
    assert "is not yours to re-make" in r.out
    assert git(b.cwd, "rev-parse", PROPOSALS + pid).strip() == before
    assert chain_actors(bare, PROPOSALS + pid) == ["alice@example.com", "carol@example.com"]
    r = b("sync")  # with bob's own key, bob's approval is re-made on top of carol's
    assert r.code == 0, r.err
    assert chain_actors(bare, PROPOSALS + pid) == ["alice@example.com", "carol@example.com",
                                                   "bob@example.com"]


def test_a_proposal_across_a_revocation_is_re_made_before_it_is_pushed(team, tmp_path):
    from envtrail.errors import AccessDenied
    from envtrail.format import envfile
    from envtrail.ops.members import open_keys

    a, b, c, bare = team
    old = propose(b, key="NEW_SECRET", value=CANARY)  # bob's, made before carol leaves
    old_commit = git(b.cwd, "rev-parse", PROPOSALS + old).strip()
    assert a("access", "revoke", "carol@example.com", "--env", "production",
             "--reason", "left", "--break-glass").code == 0
    assert a("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {old}: re-made as" in r.out and "new key pair" in r.out
    pushed = remote_refs(bare, PROPOSALS)
    assert len(pushed) == 1 and PROPOSALS + old not in pushed
    tip = next(iter(pushed.values()))
    # The old commit, sealed to the key carol held, never left bob's clone, where it is
    # kept aside so that its seats stay counted (review14 B3).
    assert old_commit not in git(bare, "rev-list", "--all").split()
    assert git(b.cwd, "rev-parse", f"refs/envtrail/withdrawn/{old}").strip() == old_commit
    assert git(bare, "rev-parse", tip + "^").strip() == head(a)
    # carol's key opens nothing that was pushed for production since.
    text = git(bare, "show", f"{tip}:envs/production.yaml")
    with pytest.raises(AccessDenied):
        open_keys(envfile.parse(text.encode(), "envs/production.yaml"), c.identity.identity)
    assert c("sync").code == 0
    r = c("review", next(iter(pushed))[len(PROPOSALS):], "--reveal")
    assert r.code == 4 and CANARY not in r.both
    assert_signed(b.cwd, tip)


def test_a_proposed_grant_of_someone_offboarded_since_never_leaves_the_clone(
        team, cli, tmp_path):
    """attack20 Q6: alice proposed (offline) to seat carol in staging; meanwhile carol was
    offboarded (her key closed). sync pushed the proposal as it was, or re-made it sealed
    to the new key pair, and `propose --redo` re-opened her key: each handed the keys of
    staging to someone just let go, with nobody asked."""
    a, _b, c, bare = team
    assert a("access", "revoke", "carol@example.com", "--env", "staging",
             "--reason", "staging only for the team").code == 0
    assert a("sync").code == 0
    a2 = clone_as(tmp_path, str(bare), cli.identity, "alice2")
    carol_pub = c.identity.identity.public.line("carol@example.com")
    r = a2("access", "grant", "carol@example.com", carol_pub, "--env", "staging",
           "--reason", "back on staging", "--propose")
    assert r.code == 0, r.err
    pid = _proposal_id(r)
    assert a("access", "revoke", "carol@example.com", "--env", "production",
             "--reason", "left the company", "--break-glass").code == 0
    assert a("sync").code == 0
    r = a2("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid} is not pushed: it seats carol@example.com, offboarded" in r.err
    assert PROPOSALS + pid not in remote_refs(bare, PROPOSALS)
    assert len(remote_refs(bare, PROPOSALS)) == 0
    r = a2("propose", "--redo", pid)
    assert r.code == 6, (r.out, r.err)
    assert "offboarded on the line since it was proposed" in r.err


# -- forged proposal refs -------------------------------------------------------------


def _forge(kind, a, bare, make_identity, tmp_path):
    """A hostile ``refs/envtrail/proposals/<id>`` on the remote; its id back."""
    from envtrail.audit.record import Record, render
    from envtrail.gitstore.commit import Author, create_commit
    from envtrail.gitstore.repo import GitRepo
    from envtrail.ops.txn import signer_for

    g = GitRepo(a.cwd)
    base = head(a)
    data = (a.cwd / "envs/production.yaml").read_bytes().replace(b"API_KEY", b"API_KEX")
    rec = Record("set", "alice@example.com", "forged", ("production",))
    when = g.info(base).committer_time
    author = Author("alice@example.com", "alice@example.com", when)
    if kind == "unsigned":
        tree = git(a.cwd, "rev-parse", f"{base}^{{tree}}").strip()
        commit = git(a.cwd, "commit-tree", tree, "-p", base, input=render(rec)).strip()
    elif kind == "stranger":
        mallory = make_identity("mallory@example.com")
        rec = Record("set", mallory.principal, "forged", ("production",))
        commit = create_commit(g, [base], {"envs/production.yaml": data}, render(rec),
                               Author(mallory.principal, mallory.principal, when),
                               signer_for(mallory.identity))
    elif kind == "odd-bytes":  # a commit libgit2 cannot read (git's fsck accepts it)
        tree = git(a.cwd, "rev-parse", f"{base}^{{tree}}").strip()
        commit = raw_commit(a.cwd, b"tree %s\nparent %s\nauthor %s\ncommitter %s\n"
                                   b"encoding no-such-codec\n\n%s" % (
                                       tree.encode(), base.encode(), b"eve <e@x> 1 +0000",
                                       b"eve <e@x> 99999999999999 +0000", render(rec).encode()))
    else:  # signed by a member, but on a commit that is not on the store line
        off = create_commit(g, [base], {"envs/production.yaml": data}, render(rec), author,
                            signer_for(a.identity.identity))
        commit = create_commit(g, [off], {}, render(rec), author,
                               signer_for(a.identity.identity))
    pid = commit[:12]
    git(a.cwd, "push", "-q", "origin", f"{commit}:{PROPOSALS}{pid}")
    return pid


@pytest.mark.parametrize("kind", ["unsigned", "stranger", "off-line", "odd-bytes"])
def test_a_forged_proposal_ref_is_not_taken_served_or_fatal(team, make_identity, tmp_path, kind):
    a, b, _c, bare = team
    real = propose(a)
    assert a("sync").code == 0
    forged = _forge(kind, a, bare, make_identity, tmp_path)
    r = b("sync")
    assert r.code == 0, r.err
    assert f"proposal {real}: received" in r.out
    assert f"proposal {forged}: not taken from the remote" in r.out
    assert git(b.cwd, "for-each-ref", "--format=%(refname)", PROPOSALS).split() == \
        [PROPOSALS + real]
    assert [p["id"] for p in json.loads(b("proposals", "--json").out)] == [real]
    assert_one_line_error(b("review", forged), 3)
    assert b("sync").code == 0  # and again: still not fatal, still not taken
    assert PROPOSALS + forged in remote_refs(bare, PROPOSALS)  # left alone there


# -- apply, redo and break-glass approvals across sync -------------------------------


def test_an_apply_that_loses_the_push_race_becomes_a_proposal_again(team):
    a, b, c, bare = team
    pid = propose(a, value=CANARY)
    assert a("sync").code == 0
    assert b("sync").code == 0 and b("approve", pid, "--reason", "ok").code == 0
    assert b("sync").code == 0
    assert c("sync").code == 0
    assert c("apply", pid).code == 0  # on carol's line, not pushed yet
    setv(c, "AFTER_APPLY", "x", env="staging")  # carol's own write on top of it
    setv(b, "MEANWHILE", "m", env="staging")
    assert b("sync").code == 0  # the remote moves past the proposal's base
    r = c("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid} is a proposal again" in r.out
    assert f"propose --redo {pid}" in r.out
    assert values(c)["API_KEY"] == "v1"  # the approved change did not land on a line it
    assert values(c, "staging") == {"MEANWHILE": "m", "AFTER_APPLY": "x"}  # was not approved for
    assert head(c) == git(bare, "rev-parse", "main").strip()
    assert chain_actors(c.cwd, PROPOSALS + pid) == ["alice@example.com", "bob@example.com"]
    assert remote_refs(bare, PROPOSALS) == {PROPOSALS + pid: git(
        c.cwd, "rev-parse", PROPOSALS + pid).strip()}
    assert json.loads(c("review", pid, "--json").out)["stale"] is True
    assert c("verify").code == 0
    # The author re-proposes it; one approval again; it lands.
    assert a("sync").code == 0
    r = a("propose", "--redo", pid)
    assert r.code == 0, r.err
    new = _proposal_id(r)
    assert a("sync").code == 0 and b("sync").code == 0
    assert b("approve", new, "--reason", "again").code == 0 and b("apply", new).code == 0
    assert b("sync").code == 0 and b("verify").code == 0
    assert values(b)["API_KEY"] == CANARY
    assert remote_refs(bare, PROPOSALS) == {}
    assert_signed(b.cwd, "main")


@pytest.mark.parametrize("args", [
    ("access", "grant", "dave@example.com", "DAVE", "--env", "production"),
    ("access", "rotate", "--env", "production"),
    ("policy", "set", "--env", "production", "--approvals", "2"),
    ("access", "revoke", "carol@example.com", "--env", "production"),
])
def test_propose_redo_re_makes_any_write_action(team, make_identity, args):
    a, b, _c, _bare = team
    dave = make_identity("dave@example.com")
    args = tuple(dave.publine if x == "DAVE" else x for x in args)
    key_before = (a.cwd / "envs/production.yaml").read_text().split("public_key:")[1].split()[0]
    r = a(*args, "--reason", "proposed", "--propose")
    assert r.code == 0, r.err
    old = _proposal_id(r)
    setv(a, "MOVES", "the line", env="staging")
    assert_one_line_error(a("apply", old), 6)
    r = a("propose", "--redo", old)
    assert r.code == 0, r.err
    new = _proposal_id(r)
    assert new != old
    assert git(a.cwd, "for-each-ref", "--format=%(refname)", PROPOSALS).split() == \
        [PROPOSALS + new]
    assert git(a.cwd, "rev-parse", f"{PROPOSALS}{new}^").strip() == head(a)
    assert a.as_(b.identity)("approve", new, "--reason", "ok").code == 0
    assert a("apply", new).code == 0
    assert a("verify").code == 0
    assert_signed(a.cwd, "main")
    members = json.loads(a("access", "list", "--env", "production", "--json").out)
    names = {m["principal"] for m in (members if isinstance(members, list) else
                                      members.get("members", []))}
    if args[1] == "grant":
        assert "dave@example.com" in names
    if args[1] == "revoke":
        assert "carol@example.com" not in names
    if args[0] == "policy":
        assert "production:\n    approvals: 2\n" in (a.cwd / ".envtrail/policy.yaml").read_text()
    key_after = (a.cwd / "envs/production.yaml").read_text().split("public_key:")[1].split()[0]
    assert (key_after != key_before) == (args[1] in ("rotate", "revoke"))


def test_a_retroactive_approval_survives_a_replay(team):
    a, b, c, bare = team
    assert a("set", "API_KEY", "--env", "production", "--reason", "incident", "--break-glass",
             input="hot").code == 0
    glass = head(a)
    assert a("sync").code == 0
    assert b("sync").code == 0
    assert b("approve", glass[:12], "--reason", "reviewed").code == 0
    setv(c, "ELSEWHERE", "e", env="staging")
    assert c("sync").code == 0 and c("sync").code == 0
    r = b("sync")
    assert r.code == 0, r.err
    assert "(approve) ->" in r.out
    body = git(bare, "log", "-1", "--format=%B", "main")
    assert f"Envtrail-Approves: {glass}" in body and "Envtrail-Actor: bob@example.com" in body
    assert "unreviewed" not in b("status").out
    assert b("verify", "--strict").code == 0
    assert_signed(b.cwd, "main")


def test_the_same_proposal_applied_in_two_clones_lands_once(team):
    a, b, c, bare = team
    pid = propose(a, value=CANARY)
    assert a("sync").code == 0
    assert b("sync").code == 0 and c("sync").code == 0
    for clone, who in ((b, "bob"), (c, "carol")):
        assert clone("approve", pid, "--reason", who).code == 0
        assert clone("apply", pid).code == 0  # each on their own approval, unsynced
    assert b("sync").code == 0
    r = c("sync")
    assert r.code == 0, r.err
    assert "(approve) dropped" in r.out
    assert head(c) == head(b) == git(bare, "rev-parse", "main").strip()
    assert "carol" not in git(bare, "log", "-2", "--format=%B", "main")
    assert values(c)["API_KEY"] == CANARY
    assert remote_refs(bare, PROPOSALS) == {}
    assert c("verify").code == 0


def test_a_proposal_ref_left_behind_after_apply_is_not_served_again(team):
    a, b, c, bare = team
    pid = propose(a)
    assert a("sync").code == 0 and b("sync").code == 0
    assert b("approve", pid, "--reason", "ok").code == 0
    tip = git(b.cwd, "rev-parse", PROPOSALS + pid).strip()
    assert b("apply", pid).code == 0 and b("sync").code == 0
    git(b.cwd, "push", "-q", "origin", f"{tip}:{PROPOSALS}{pid}")  # an old ref pushed back
    r = c("sync")
    assert r.code == 0, r.err
    assert f"proposal {pid}: removed from the remote (applied already)" in r.out
    assert git(c.cwd, "for-each-ref", PROPOSALS) == "" and remote_refs(bare, PROPOSALS) == {}
