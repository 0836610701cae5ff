"""After a repair, `status` and `log` name each acknowledged finding with the repair, the
admin and the reason, as `verify` does (DESIGN section 7; attack15 J12); before any
repair they show nothing of the kind; `verify --strict` says on its last line that it
fails on them."""

from __future__ import annotations

import json

import pytest

import forge
from hostile import head, setv

ALICE = "alice@example.com"
REASON = "undo forgery INC-8"


def _forged_by_outsider(store, cli, make_identity) -> str:
    """mallory, no signer of this store, pushes a value claiming alice, signed by her own key."""
    plan = forge.honest_plan(store, cli.identity.identity, "production",
                             {"API_KEY": "forged-by-mallory"}, reason="rotate INC-7")
    return forge.commit_plan(store, make_identity("mallory@example.com").identity, plan)


@pytest.fixture
def repaired(store, cli, make_identity):
    """(forged, repair, what verify --json acknowledged) after alice repaired a forgery."""
    setv(cli, "API_KEY", "real-v1")
    forged = _forged_by_outsider(store, cli, make_identity)
    r = cli("repair", "--reason", REASON)
    assert r.code == 0, r.err
    repair = head(store)
    r = cli("verify", "--json")
    assert r.code == 0, r.err
    acknowledged = json.loads(r.out)["acknowledged"]
    assert {a["commit"] for a in acknowledged} == {forged}
    assert 1 in {a["rule"] for a in acknowledged}  # signed by a key nobody listed
    return forged, repair, acknowledged


def _log(cli, *args) -> list[dict]:
    r = cli("log", "--json", *args)
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines() if line.strip()]


def test_status_json_lists_what_verify_acknowledged(cli, repaired):
    forged, repair, by_verify = repaired
    r = cli("status", "--json")
    assert r.code == 0, r.err
    shown = json.loads(r.out)["acknowledged"]
    assert shown == [{"commit": forged, "rule": a["rule"], "name": a["name"], "repair": repair,
                      "admin": ALICE, "reason": REASON} for a in by_verify]
    # The same finding, repair, admin and reason that verify names.
    keys = ("commit", "rule", "name", "repair", "admin", "reason")
    assert [{k: a[k] for k in keys} for a in by_verify] == shown


def test_status_text_names_each_acknowledged_finding(cli, repaired):
    forged, repair, by_verify = repaired
    r = cli("status")
    assert r.code == 0, r.err
    lines = [ln for ln in r.out.splitlines() if ln.startswith("acknowledged")]
    assert lines == [f"acknowledged {forged[:10]} rule {a['rule']} ({a['name']}) by {ALICE} "
                     f"in {repair[:10]}: {REASON}" for a in by_verify]


def test_log_json_marks_the_acknowledged_row_and_only_it(cli, repaired):
    forged, repair, by_verify = repaired
    rows = _log(cli)
    bad = [row for row in rows if row["commit"] == forged]
    assert bad and all(row["acknowledged"] == {
        "repair": repair, "admin": ALICE, "reason": REASON,
        "rules": sorted(a["rule"] for a in by_verify)} for row in bad)
    assert bad[0]["verified"] is False  # the existing fields are as they were
    others = [row for row in rows if row["commit"] != forged]
    assert len(others) >= 3  # init, the honest set, the repair
    assert all(row["acknowledged"] is None for row in others)


def test_log_marks_it_through_filters_and_limits(cli, repaired):
    """The repair row may be filtered out or past the limit: the mark does not depend on it."""
    forged, repair, _ = repaired
    for args in (("--key", "API_KEY", "-n", "2"), ("--actor", ALICE), ("--env", "production")):
        row = next(row for row in _log(cli, *args) if row["commit"] == forged)
        assert row["acknowledged"]["repair"] == repair, args


def test_log_text_marks_the_acknowledged_row(cli, repaired):
    forged, repair, by_verify = repaired
    r = cli("log")
    assert r.code == 0, r.err
    rules = ", ".join(f"{a['rule']} ({a['name']})" for a in by_verify)
    word = "rule" if len(by_verify) == 1 else "rules"
    mark = f"[acknowledged {word} {rules} by {ALICE} in {repair[:10]}: {REASON}]"
    for line in r.out.splitlines():
        assert (mark in line) == (forged[:10] in line), line
    assert any(forged[:10] in line for line in r.out.splitlines())


def test_a_read_that_checks_the_repair_is_enough(store, cli, make_identity):
    """No `verify` needed: the gate's walk of the repair is what status and log read."""
    setv(cli, "API_KEY", "real-v1")
    forged = _forged_by_outsider(store, cli, make_identity)
    assert cli("repair", "--reason", REASON).code == 0
    assert cli("get", "API_KEY", "--env", "production").out == "real-v1"
    status = json.loads(cli("status", "--json").out)
    assert [a["commit"] for a in status["acknowledged"]] == [forged]
    row = next(row for row in _log(cli) if row["commit"] == forged)
    assert row["acknowledged"]["admin"] == ALICE


def test_before_any_repair_nothing_extra_shows(store, cli, make_identity):
    setv(cli, "API_KEY", "real-v1")
    assert cli("verify").code == 0
    status = cli("status", "--json")
    assert json.loads(status.out)["acknowledged"] == []
    assert "acknowledged" not in cli("status").out
    assert all(row["acknowledged"] is None for row in _log(cli))
    assert "acknowledged" not in cli("log").out
    # A forgery nobody repaired yet is a bare ✗, not an acknowledged finding.
    forged = _forged_by_outsider(store, cli, make_identity)
    row = next(row for row in _log(cli) if row["commit"] == forged)
    assert row["verified"] is False and row["acknowledged"] is None
    assert json.loads(cli("status", "--json").out)["acknowledged"] == []


def test_verify_strict_says_on_its_last_line_that_it_fails(cli, repaired):
    r = cli("verify")
    assert r.code == 0 and r.out.splitlines()[-1].endswith(": ok"), r.out
    r = cli("verify", "--strict")
    assert r.code == 1, (r.code, r.err)
    last = r.out.splitlines()[-1]
    assert last.endswith(": FAILED under --strict: 1 acknowledged finding(s)"), last
    assert "ok" not in last.split(": ", 1)[1]


def test_verify_strict_on_a_clean_line_is_ok(cli):
    setv(cli, "API_KEY", "real-v1")
    r = cli("verify", "--strict")
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1].endswith(": ok")


def test_each_finding_is_credited_to_the_repair_that_acknowledged_it(store, cli, make_identity):
    setv(cli, "API_KEY", "real-v1")
    made = []
    for n in (1, 2):
        forged = _forged_by_outsider(store, cli, make_identity)
        assert cli("repair", "--reason", f"undo forgery INC-{n}").code == 0
        made.append((forged, head(store), f"undo forgery INC-{n}"))
        setv(cli, "OTHER", f"honest-{n}")
    assert cli("verify").code == 0
    shown = json.loads(cli("status", "--json").out)["acknowledged"]
    assert [(a["commit"], a["repair"], a["reason"]) for a in shown if a["rule"] == 1] == made
    rows = {row["commit"]: row["acknowledged"] for row in _log(cli)}
    assert [(c, rows[c]["repair"], rows[c]["reason"]) for c, _, _ in made] == made
    assert sum(a is not None for a in rows.values()) == 2
