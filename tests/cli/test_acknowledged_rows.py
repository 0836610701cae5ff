"""After a repair, the commits it acknowledged as findings stay on the line: history,
blame, list and access log must show them as such (attack15 J10), never as an ordinary
change by whoever their trailers name, never as fingerprint-checked, and history
--reveal must keep revealing the honest versions without the forged value."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import replace

import forge
from conftest import git
from envtrail.audit.view import Snapshot
from envtrail.crypto.keys import PublicKey
from envtrail.format import envfile, layout
from envtrail.format.envfile import Member
from envtrail.gitstore.repo import GitRepo
from hostile import head, point, setv, unsigned_commit

ALICE = "alice@example.com"
CANARY = "CANARY-forged-by-outsider-7f3a"


def _outsiders_set(store, cli, mallory, updates: dict[str, str]) -> str:
    """mallory (no signer, no member) pushes values encrypted to production's public key,
    claiming alice with made-up fingerprints, signed with her own key."""
    plan = forge.honest_plan(store, cli.identity.identity, "production", updates,
                             reason="Rotate API key (CHG-812)")
    lie = tuple(replace(c, new_fp=secrets.token_hex(16)) for c in plan.record.changes)
    return forge.commit_plan(store, mallory.identity, forge.with_record(plan, changes=lie))


def _repaired(store, cli, mallory, key: str = "API_KEY") -> tuple[str, str]:
    setv(cli, key, "real-v1")
    forged = _outsiders_set(store, cli, mallory, {key: CANARY})
    assert cli("get", key, "--env", "production").code == 5
    r = cli("repair", "--reason", "undo forgery INC-8")
    assert r.code == 0, r.err
    return forged, head(store)


def _ack(field: dict | None) -> tuple:
    """(repair, admin, reason) of an ``acknowledged`` field, which names rules too."""
    assert field is not None and field["rules"], field
    return field["repair"], field["admin"], field["reason"]


def _rows(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_history_marks_an_acknowledged_forgery_and_never_credits_its_claim(
        cli, store, make_identity):
    forged, repair = _repaired(store, cli, make_identity("mallory@example.com"))
    r = cli("history", "API_KEY", "--env", "production", "--json")
    assert r.code == 0, r.err
    rows = {row["commit"]: row for row in _rows(r.out)}
    bad = rows[forged]
    assert bad["actor"] == ALICE  # the claim, as log gives it, next to its verdict
    assert bad["verified"] is False
    assert bad["fingerprint_checked"] is False  # no walk compared the forger's fingerprint
    assert _ack(bad["acknowledged"]) == (repair, ALICE, "undo forgery INC-8")
    honest = [row for c, row in rows.items() if c != forged]
    assert len(honest) == 2
    assert all(row["verified"] and row["fingerprint_checked"]
               and row["acknowledged"] is None for row in honest)
    text = cli("history", "API_KEY", "--env", "production")
    assert text.code == 0, text.err
    line = next(ln for ln in text.out.splitlines() if forged[:10] in ln)
    assert f"{ALICE} ✗ [acknowledged finding: repair {repair[:10]} by {ALICE}]" in line
    assert all("✗" not in ln for ln in text.out.splitlines() if forged[:10] not in ln)
    # The acknowledged row is marked; the reader's key checked every other one.
    assert "not checked" not in text.err


def test_history_reveal_shows_the_honest_versions_and_never_the_forged_value(
        cli, store, make_identity):
    forged, _ = _repaired(store, cli, make_identity("mallory@example.com"))
    for args in ((), ("--json",)):
        r = cli("history", "API_KEY", "--env", "production", "--reveal", *args)
        assert r.code == 0, (args, r.err)
        assert CANARY not in r.out + r.err
        assert r.out.count("real-v1") == 2  # the first version and the repair's
    rows = {row["commit"]: row for row in _rows(r.out)}
    assert rows[forged]["value"] is None and rows[forged]["readable"] is False
    text = cli("history", "API_KEY", "--env", "production", "--reveal").out
    line = next(ln for ln in text.splitlines() if forged[:10] in ln)
    assert line.endswith("(acknowledged finding: not a verified value)")


def test_a_side_commit_an_acknowledged_merge_brought_in_is_marked_and_never_revealed(
        cli, store, make_identity):
    setv(cli, "API_KEY", "real-v1")
    base = head(store)
    git(store, "switch", "-q", "-c", "side")
    side = _outsiders_set(store, cli, make_identity("mallory@example.com"), {"API_KEY": CANARY})
    git(store, "switch", "-q", "main")
    point(store, unsigned_commit(store, base, [base, side]))
    assert cli("repair", "--reason", "undo merge INC-10").code == 0
    repair = head(store)
    r = cli("history", "API_KEY", "--env", "production", "--reveal", "--json")
    assert r.code == 0, r.err
    assert CANARY not in r.out + r.err
    row = next(row for row in _rows(r.out) if row["commit"] == side)
    assert _ack(row["acknowledged"]) == (repair, ALICE, "undo merge INC-10")
    assert row["fingerprint_checked"] is False and row["verified"] is False
    assert row["value"] is None


def test_blame_and_list_mark_a_last_change_a_repair_acknowledged(cli, store, make_identity):
    """The forger sets API_KEY and OTHER, then a plain git commit puts API_KEY's old
    ciphertext back: the repair (which restores the clean file) does not change API_KEY,
    so that acknowledged commit stays its last change."""
    mallory = make_identity("mallory@example.com")
    setv(cli, "API_KEY", "real-v1")
    original = Snapshot(GitRepo(store), head(store)).env("production").values["API_KEY"]
    _outsiders_set(store, cli, mallory, {"API_KEY": CANARY, "OTHER": CANARY})
    env = Snapshot(GitRepo(store), head(store)).env("production")
    (store / layout.env_path("production")).write_bytes(
        envfile.render(env.with_values({**env.values, "API_KEY": original})))
    git(store, "commit", "-qam", "put it back")
    last = head(store)
    assert cli("repair", "--reason", "undo forgery INC-9").code == 0
    repair = head(store)
    blame = cli("blame", "--env", "production", "--json")
    assert blame.code == 0, blame.err
    row = next(r for r in json.loads(blame.out) if r["key"] == "API_KEY")
    assert row["commit"] == last and row["actor"] is None
    assert row["fingerprint_checked"] is False and row["verified"] is False
    assert _ack(row["acknowledged"]) == (repair, ALICE, "undo forgery INC-9")
    ack = row["acknowledged"]
    listed = cli("list", "--env", "production", "--json")
    assert listed.code == 0, listed.err
    assert next(r for r in json.loads(listed.out) if r["key"] == "API_KEY") == {
        "key": "API_KEY", "time": row["time"], "actor": None, "commit": last,
        "fingerprint_checked": False, "verified": False, "acknowledged": ack}
    assert "not checked" not in blame.err + listed.err
    mark = f"(unattested) ✗ [acknowledged finding: repair {repair[:10]} by {ALICE}]"
    for args in (("blame",), ("list",)):
        text = cli(*args, "--env", "production").out
        assert mark in next(ln for ln in text.splitlines() if ln.startswith("API_KEY")), args


def test_access_log_does_not_credit_the_claimed_actor_with_a_forged_grant(
        cli, store, make_identity):
    mallory = make_identity("mallory@example.com")
    setv(cli, "API_KEY", "real-v1")
    g = GitRepo(store)
    env = Snapshot(g, head(store)).env("production")
    members = dict(env.members)
    members[mallory.principal] = Member(
        mallory.principal, PublicKey.parse(mallory.identity.public.openssh)[0].openssh,
        base64.b64encode(os.urandom(112)).decode())
    plan = forge.Plan({layout.env_path("production"): envfile.render(env.with_members(members))},
                      forge.record.Record("grant", ALICE, "mallory joins INC-5", ("production",),
                                          context="host=x envtrail=0.1.0",
                                          extra=(("Member", f"+ {mallory.principal}"),)))
    forged = forge.commit_plan(store, mallory.identity, plan)
    assert cli("repair", "--reason", "undo forged grant INC-8").code == 0
    repair = head(store)
    r = cli("access", "log", "--env", "production", "--json")
    assert r.code == 0, r.err
    periods = json.loads(r.out)
    theirs = next(p for p in periods if p["principal"] == mallory.principal)
    assert theirs["granted_commit"] == forged
    assert theirs["granted_verified"] is False
    assert _ack(theirs["granted_acknowledged"]) == (repair, ALICE, "undo forged grant INC-8")
    assert theirs["revoked_commit"] == repair and theirs["revoked_verified"] is True
    mine = next(p for p in periods if p["principal"] == ALICE)
    assert mine["granted_verified"] is True and mine["granted_acknowledged"] is None
    text = cli("access", "log", "--env", "production").out
    line = next(ln for ln in text.splitlines() if mallory.principal in ln)
    assert f"{ALICE} ✗ [acknowledged finding: repair {repair[:10]} by {ALICE}]" in line
