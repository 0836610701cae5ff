"""Every clone judges a repair of a date alike, whenever it fetched the commits (attack20 Q1).

Rule 7 (dated more than 10 minutes after this clone first saw it) is found only by a
clone that met a commit early. Its honest ``repair`` must stand in every clone that met
the commits later, a fresh clone made after the dates have passed included; otherwise
the repair splits the team until a rewrite. Real clones of a real bare remote, real
keys; each member's clock is set per command (a clock run fast, a late fetch).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from test_sync import clone_as, head, make_world, setv

import forge
from conftest import git
from hostile import message, point, signed_commit

MINUTE = 60


def _bring_in(a) -> None:
    """What the sync refusal's hint leads to: the remote line in the clone, unread."""
    git(a.cwd, "fetch", "-q", "origin")
    git(a.cwd, "merge", "-q", "--ff-only", "origin/main")


def _late_clones_take_it(tmp_path, cli, bare, b, clock, when: int, values: dict[str, str],
                         pull: bool = False):
    """bob's clone syncs (or pulls) and a fresh clone is made at ``when``: both accept the
    repair and read ``values`` (None: the variable is gone)."""
    clock(when)
    if pull:
        git(b.cwd, "pull", "-q", "--ff-only", "origin", "main")
    else:
        r = b("sync")
        assert r.code == 0, (r.out, r.err)
    fresh = clone_as(tmp_path, str(bare), cli.identity, f"fresh{when}")
    r = fresh("verify", "--json")
    assert r.code == 0, r.out
    report = json.loads(r.out)
    assert report["ok"] and report["acknowledged"], report
    for reader in (b, fresh):
        for key, value in values.items():
            r = reader("get", key, "--env", "production")
            assert (r.code, r.out) == ((0, value) if value is not None else (3, "")), \
                (key, r.code, r.out, r.err)
    return fresh


def test_an_honest_repair_after_a_parent_a_little_fast_stands_in_late_clones(
        tmp_path, store, cli, bob, clock):
    """The q1 scene: K is dated 9 minutes ahead (no finding anywhere), DB 11 minutes ahead,
    both pushed at once (one clock moved between them, or a member on purpose). alice
    meets them at once: DB is ahead for her, and her repair undoes it. Every clone that
    meets the repair after the dates, bob's and a fresh one, must take it and read."""
    a, b, bare = make_world(tmp_path, store, cli, bob, "K", "v1")
    assert b("sync").code == 0
    clock(9 * MINUTE)
    setv(b, "K", "v2")
    clock(11 * MINUTE + 5)
    setv(b, "DB", "d2")
    assert b("sync").code == 0
    clock(10)
    r = a("sync")
    assert r.code == 5 and "rule 7" in r.err, (r.out, r.err)
    _bring_in(a)
    clock(15)
    r = a("repair", "--reason", "bob's clock was fast")
    assert r.code == 0, (r.out, r.err)
    assert a("sync").code == 0
    assert a("verify").code == 0
    _late_clones_take_it(tmp_path, cli, bare, b, clock, 20 * MINUTE, {"K": "v2", "DB": None})


def test_one_clock_a_little_over_ten_minutes_fast_splits_no_clone(tmp_path, store, cli, bob,
                                                                  clock):
    """q1c: bob's clock is 10 min 10 s fast. alice syncs 15 s after his K (9 min 55 s
    ahead of her: no finding), then at once after his DB (over 10 minutes ahead: a
    finding). Her honest repair must stand in bob's clone and in a fresh one."""
    fast = 10 * MINUTE + 10
    a, b, bare = make_world(tmp_path, store, cli, bob, "K", "v1")
    assert b("sync").code == 0
    clock(fast)
    setv(b, "K", "v2")
    assert b("sync").code == 0
    clock(15)
    assert a("sync").code == 0
    clock(20 + fast)
    setv(b, "DB", "d2")
    assert b("sync").code == 0
    clock(21)
    assert a("sync").code == 5
    _bring_in(a)
    clock(22)
    r = a("repair", "--reason", "bob's clock")
    assert r.code == 0, (r.out, r.err)
    assert a("sync").code == 0
    _late_clones_take_it(tmp_path, cli, bare, b, clock, 15 * MINUTE, {"K": "v2", "DB": None})


def test_a_commit_dated_now_on_one_dated_ahead_is_swept_alike_in_late_clones(
        tmp_path, store, cli, bob, clock):
    """q1b: bob pushes DB dated 11 minutes ahead, then K dated now on top of it (his own
    build ignores the floor). alice, meeting both at once, finds DB ahead; a clone that
    meets them late counts DB's date and finds K "going backwards" instead. alice's repair
    names DB and sweeps K; late clones must settle K's finding with it, not refuse it."""
    a, b, bare = make_world(tmp_path, store, cli, bob, "K", "v1")
    assert b("sync").code == 0
    clock(11 * MINUTE)
    setv(b, "DB", "d2")
    now = clock(0)
    backdated = forge.commit_plan(b.cwd, bob.identity,
                                  forge.honest_plan(b.cwd, bob.identity, "production",
                                                    {"K": "v2"}), when=now)
    git(b.cwd, "push", "-q", "origin", "HEAD:main")
    clock(5)
    assert a("sync").code == 5
    _bring_in(a)
    found = {(f["commit"], f["rule"]) for f in json.loads(a("verify", "--json").out)["findings"]}
    assert found == {(git(a.cwd, "rev-parse", "HEAD^").strip(), 7)}
    clock(10)
    r = a("repair", "--reason", "bob's clock")
    assert r.code == 0, (r.out, r.err)
    assert backdated[:10] in r.out  # swept, and said so
    assert a("sync").code == 0
    # (bob's own clone holds K as a finding, so its sync stops before fetching: he pulls)
    fresh = _late_clones_take_it(tmp_path, cli, bare, b, clock, 20 * MINUTE,
                                 {"K": "v1", "DB": None}, pull=True)
    report = json.loads(fresh("verify", "--json").out)
    assert [s["commit"] for s in report["swept"]] == [backdated]


def _hand_repair(c, clean: str, acks: list[tuple[str, str]], when: datetime) -> str:
    """A repair restoring ``clean`` whole, as an admin can sign it by hand."""
    extra = (*(("Acknowledges", f"{commit} {rule}") for commit, rule in acks),
             ("Repair-Clean", clean), ("Repair-From", clean))
    repair = signed_commit(c.cwd, c.identity.identity, "alice@example.com", [head(c)], {},
                           message("repair", "alice@example.com", extra=extra),
                           tree_of=clean, when=when)
    point(c.cwd, repair)
    return repair


def _refuses(c, repair: str) -> None:
    found = json.loads(c("verify", "--json").out)["findings"]
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found
    assert c("get", "K", "--env", "production").code == 5


def test_a_repair_calling_a_change_ahead_of_a_commit_of_its_own_second_fails_everywhere(
        tmp_path, store, cli, bob, clock):
    """The other side of the rule: bob's K and DB are dated in one second, so no clone
    ever met DB ahead of K. A repair alice signs by hand naming DB "dated ahead" (to undo
    it) is refused by her clone, which met both early, and by a fresh clone made later."""
    a, b, bare = make_world(tmp_path, store, cli, bob, "K", "v1")
    assert b("sync").code == 0
    now = clock(0)
    for key, value in (("K", "v2"), ("DB", "d2")):
        forge.commit_plan(b.cwd, bob.identity,
                          forge.honest_plan(b.cwd, bob.identity, "production", {key: value}),
                          when=now)
    git(b.cwd, "push", "-q", "origin", "HEAD:main")
    assert a("sync").code == 0
    k, db = git(a.cwd, "rev-parse", "HEAD^").strip(), head(a)
    repair = _hand_repair(a, k, [(db, "7")], now + timedelta(seconds=1))
    git(a.cwd, "push", "-q", "origin", "HEAD:main")
    _refuses(a, repair)
    clock(30 * MINUTE)
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(bare), str(fresh))
    late = a.at(fresh)
    assert late("init").code == 5
    _refuses(late, repair)


def test_repair_refuses_to_write_what_a_late_clone_would_refuse(tmp_path, store, cli, bob,
                                                                clock):
    """Belt and braces, whatever this clone's own record says: bob's K and DB are dated in
    one second, a minute ahead, and alice's record of first sightings (a clock stepped
    back, say) has DB met 700 s before its date. Her walk finds DB ahead, but a late clone
    could never take a repair's word for it (K, before it, is dated as late): `repair`
    walks as that clone would and refuses (exit 5, one line, nothing written)."""
    a, b, _ = make_world(tmp_path, store, cli, bob, "K", "v1")
    assert b("sync").code == 0
    when = clock(0) + timedelta(seconds=60)
    for key, value in (("K", "v2"), ("DB", "d2")):
        forge.commit_plan(b.cwd, bob.identity,
                          forge.honest_plan(b.cwd, bob.identity, "production", {key: value}),
                          when=when)
    git(b.cwd, "push", "-q", "origin", "HEAD:main")
    _bring_in(a)
    record = a.cwd / ".git/envtrail/ahead.json"
    seen = json.loads(record.read_text()) if record.exists() else {}
    record.write_text(json.dumps({**seen, head(a): int(when.timestamp()) - 700}))
    found = json.loads(a("verify", "--json").out)["findings"]
    assert [(f["commit"], f["rule"]) for f in found] == [(head(a), 7)], found
    before = (git(a.cwd, "for-each-ref"), git(a.cwd, "status", "--porcelain"))
    r = a("repair", "--reason", "bob's clock")
    assert r.code == 5, (r.out, r.err)
    lines = r.err.splitlines()
    assert lines[0].startswith("envtrail: error: refusing to write a repair that a clone "
                               "fetching it after its dates would refuse: "), r.err
    assert len(lines) == 2 and "--accept-rewrite" in lines[1], r.err
    assert (git(a.cwd, "for-each-ref"), git(a.cwd, "status", "--porcelain")) == before
