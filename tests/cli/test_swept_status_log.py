"""After a repair swept an honest commit (undid its value changes along with the findings,
``Envtrail-Sweeps``), `log` and `status` say so, with the repair, its admin and its reason,
as they do for an acknowledged finding and as `verify` and `show` already did (attack16
K2): a postmortem reader of `log` must see that a change's values were undone, by whom
and why. The commit is marked as swept, never as a finding it was not.

The setup is test_repair_sweeps' J7 story: bob's set lies in its fingerprints (only a
production key sees it), carol (staging only) writes on top of it, alice repairs.
"""

from __future__ import annotations

import json

import pytest

import forge
from hostile import head, setv

ALICE = "alice@example.com"
REASON = "undo bob INC-8"


@pytest.fixture
def swept(cli, store, bob, make_identity):
    """(bob's lie, carol's swept set, the repair, carol's redo after it), all verified."""
    carol = make_identity("carol@example.com")
    for who, env in ((bob, "production"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    setv(cli, "API_KEY", "prod-v1")
    setv(cli, "S", "stage-v1", env="staging")
    bad = forge.lying_set(store, bob.identity, "production", "API_KEY", "CANARY-swept")
    as_carol = cli.as_(carol)
    setv(as_carol, "S", "stage-v2", env="staging")
    honest = head(store)
    r = cli("repair", "--reason", REASON)
    assert r.code == 0, r.err
    repair = head(store)
    setv(as_carol, "S", "stage-v2", env="staging")  # she redoes it, as the repair said
    redo = head(store)
    r = cli("verify", "--json")
    assert r.code == 0, r.out
    assert [s["commit"] for s in json.loads(r.out)["swept"]] == [honest]
    return bad, honest, repair, redo


def _log(cli, *args) -> list[dict]:
    r = cli("log", "--json", *args)
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines() if line.strip()]


def _said(repair: str) -> str:
    return f"its value changes undone by {ALICE} in {repair[:10]}: {REASON}"


def test_log_json_gives_the_swept_row_the_repair_and_only_it(cli, swept):
    bad, honest, repair, redo = swept
    rows = _log(cli)
    by_verify = json.loads(cli("verify", "--json").out)["swept"]
    by_show = json.loads(cli("show", honest, "--json").out)["swept_by"]
    mine = [row for row in rows if row["commit"] == honest]
    assert mine and all(row["swept_by"] == {"commit": honest, "repair": repair, "admin": ALICE,
                                            "reason": REASON} for row in mine)
    assert [mine[0]["swept_by"]] == by_verify == by_show  # one JSON shape for one thing
    # Swept, not a finding: still carol's, signed by her, and not acknowledged.
    assert mine[0]["actor"] == "carol@example.com" and mine[0]["verified"] is True
    assert mine[0]["acknowledged"] is None
    # bob's lie is the acknowledged finding; carol's redo, the repair and the rest are plain.
    assert next(row for row in rows if row["commit"] == bad)["acknowledged"]["repair"] == repair
    others = [row for row in rows if row["commit"] != honest]
    assert {redo, repair, bad} <= {row["commit"] for row in others}
    assert all(row["swept_by"] is None for row in others)


def test_log_text_marks_the_swept_row(cli, swept):
    _, honest, repair, redo = swept
    r = cli("log")
    assert r.code == 0, r.err
    mark = f"[swept: {_said(repair)}]"
    lines = r.out.splitlines()
    for line in lines:
        assert (mark in line) == (honest[:10] in line), line
    assert any(honest[:10] in line for line in lines)
    assert any(redo[:10] in line for line in lines)  # the redo is there, unmarked


def test_log_marks_it_through_filters_and_limits(cli, swept):
    """The repair's row may be filtered out or past the limit: the mark does not need it."""
    _, honest, repair, _ = swept
    for args in (("--env", "staging"), ("--key", "S", "-n", "2"),
                 ("--actor", "carol@example.com")):
        row = next(row for row in _log(cli, *args) if row["commit"] == honest)
        assert row["swept_by"]["repair"] == repair, args


def test_status_names_the_swept_commit(cli, swept):
    _, honest, repair, _ = swept
    r = cli("status", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["swept"] == json.loads(cli("verify", "--json").out)["swept"] == [
        {"commit": honest, "repair": repair, "admin": ALICE, "reason": REASON}]
    r = cli("status")
    assert r.code == 0, r.err
    assert [ln for ln in r.out.splitlines() if ln.startswith("swept")] == [
        f"swept        {honest[:10]} ({_said(repair)})"]  # carol's redo is no such line


def test_history_marks_the_swept_version_and_reveals_only_verified_ones(cli, swept):
    """history credits the swept version to carol, marks it with the repair, and with
    --reveal shows every verified version of S but not the swept one, whose state stood on
    bob's forgery (it used to stop the whole command with exit 5)."""
    _, honest, repair, redo = swept
    r = cli("history", "S", "--env", "staging", "--json")
    assert r.code == 0, r.err
    rows = {row["commit"]: row for row in map(json.loads, r.out.splitlines())}
    assert rows[honest]["swept_by"] == {"commit": honest, "repair": repair, "admin": ALICE,
                                        "reason": REASON}
    assert rows[honest]["actor"] == "carol@example.com" and rows[honest]["acknowledged"] is None
    assert [c for c, row in rows.items() if row["swept_by"]] == [honest]
    r = cli("history", "S", "--env", "staging", "--reveal", "--json")
    assert r.code == 0, r.err
    shown = {row["commit"]: row for row in map(json.loads, r.out.splitlines())}
    assert shown[honest]["value"] is None and shown[honest]["readable"] is False
    assert shown[redo]["value"] == "stage-v2" and shown[repair]["value"] == "stage-v1"
    text = cli("history", "S", "--env", "staging", "--reveal")
    assert text.code == 0, text.err
    for line in text.out.splitlines():
        swept_row = honest[:10] in line
        assert (f"[swept: repair {repair[:10]} by {ALICE}]" in line) == swept_row, line
        assert ("(swept by a repair: not a verified value)" in line) == swept_row, line


def test_a_reader_without_a_key_sees_it_too(cli, swept):
    """An auditor with no key cannot see bob's lie, but the sweep is on record for him."""
    _, honest, repair, _ = swept
    auditor = cli.as_(None)
    assert auditor("verify").code == 0
    row = next(row for row in _log(auditor) if row["commit"] == honest)
    assert row["swept_by"]["repair"] == repair
    assert [s["commit"] for s in json.loads(auditor("status", "--json").out)["swept"]] == [honest]


def test_before_any_repair_nothing_is_swept(cli):
    setv(cli, "API_KEY", "real-v1")
    assert cli("verify").code == 0
    assert json.loads(cli("status", "--json").out)["swept"] == []
    assert "swept" not in cli("status").out
    rows = _log(cli)
    assert rows and all(row["swept_by"] is None for row in rows)
    assert "swept" not in cli("log").out
