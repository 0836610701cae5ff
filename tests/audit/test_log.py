"""The audit trail from a scripted multi-actor history with pinned clocks."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Cli, git
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret
from envtrail.ops import access, setup, values
from envtrail.runtime import Runtime

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECRET_VALUES = ["alpha-secret", "bravo-secret", "charlie-secret", "delta-secret"]


def rt_at(root, hours, env=None):
    return Runtime(env=env or {}, cwd=root, home=root, host="laptop-1",
                   clock=lambda: T0 + timedelta(hours=hours))


@pytest.fixture
def scripted(tmp_path, alice, bob, make_identity):
    """alice creates the store, grants bob and a CI identity; each changes something."""
    ci = make_identity("ci:release")
    root = tmp_path / "s"
    root.mkdir()
    genesis = setup.init(rt_at(root, 0), alice.identity, ["production", "staging"],
                         create=True).commit
    g = GitRepo(root)
    a, b, c = alice.identity, bob.identity, ci.identity
    access.grant(g, rt_at(root, 1), a, "bob@example.com", b.public, "production", "onboard bob")
    access.grant(g, rt_at(root, 1.5), a, "ci:release", c.public, "production", "ci deploys")
    values.write_values(g, rt_at(root, 2), a, "production",
                        {"DB_URL": Secret(SECRET_VALUES[0]), "API_KEY": Secret(SECRET_VALUES[1])},
                        set(), "initial values", "set")
    values.write_values(g, rt_at(root, 3), b, "production", {"API_KEY": Secret(SECRET_VALUES[2])},
                        set(), "rotate API key INC-7", "set")
    gha = {"GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "release", "GITHUB_RUN_ID": "812",
           "ENVTRAIL_TRUST_ROOT": genesis}
    values.write_values(g, rt_at(root, 4, gha), c, "production",
                        {"PAYMENT_KEY": Secret(SECRET_VALUES[3])}, {"DB_URL"}, "release 1.2", "set")
    values.write_values(g, rt_at(root, 5), a, "staging", {"DEBUG": Secret("1")}, set(),
                        "staging debug", "set")
    return root


def events(cli, *args):
    r = cli("log", "--json", *args)
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


def test_events_come_out_exactly(scripted, alice):
    cli = Cli(scripted, None)
    ev = events(cli)
    got = [(e["environment"], e["action"], e["actor"], e["key"], e["change"]) for e in ev]
    assert got == [
        ("staging", "set", "alice@example.com", "DEBUG", "+"),
        ("production", "set", "ci:release", "DB_URL", "-"),
        ("production", "set", "ci:release", "PAYMENT_KEY", "+"),
        ("production", "set", "bob@example.com", "API_KEY", "~"),
        ("production", "set", "alice@example.com", "API_KEY", "+"),
        ("production", "set", "alice@example.com", "DB_URL", "+"),
        ("production", "grant", "alice@example.com", None, None),
        ("production", "grant", "alice@example.com", None, None),
        ("production, staging", "init", "alice@example.com", None, None),
    ]
    assert all(e["verified"] for e in ev)
    assert set(ev[0]) == {"commit", "time", "environment", "action", "actor", "verified",
                          "signature", "reason", "context", "key", "change", "reencrypted",
                          "old_fp", "new_fp", "break_glass", "approved_by", "event",
                          "acknowledged", "swept_by"}
    # nothing was ever repaired
    assert all(e["acknowledged"] is None and e["swept_by"] is None for e in ev)
    rotate = ev[3]
    assert rotate["old_fp"] == ev[4]["new_fp"]
    assert rotate["new_fp"] != rotate["old_fp"]
    assert rotate["reason"] == "rotate API key INC-7"
    assert rotate["time"] == (T0 + timedelta(hours=3)).isoformat()
    # context is parsed into an object, so a SIEM need not split the string itself
    assert ev[1]["context"]["ci"] == "github-actions"
    assert ev[1]["context"]["run"] == "812"
    raw = cli("log", "--json").out
    assert not any(v in raw for v in SECRET_VALUES)


@pytest.mark.parametrize(("args", "expected"), [
    (("--env", "staging"), ["DEBUG", None]),  # with the init that created staging
    (("--key", "API_KEY"), ["API_KEY", "API_KEY"]),
    (("--actor", "bob@example.com"), ["API_KEY"]),
    (("--actor", "ci:release"), ["DB_URL", "PAYMENT_KEY"]),
    (("--since", "2026-01-05T12:00:00Z"), ["DEBUG", "DB_URL", "PAYMENT_KEY", "API_KEY"]),
    (("--until", "2026-01-05T11:00:00Z"), ["API_KEY", "DB_URL", None, None, None]),
    (("--since", "2026-01-05T12:30:00Z", "--until", "2026-01-05T13:30:00Z"), ["DB_URL", "PAYMENT_KEY"]),
    (("-n", "2"), ["DEBUG", "DB_URL", "PAYMENT_KEY"]),
    (("--env", "production", "--key", "DB_URL", "-n", "1"), ["DB_URL"]),
])
def test_each_filter_selects_exactly(scripted, args, expected):
    assert [e["key"] for e in events(Cli(scripted, None), *args)] == expected


def test_plain_log_table_when_piped(scripted):
    r = Cli(scripted, None)("log", "-n", "2")
    lines = r.out.splitlines()
    assert len(lines) == 2
    first = lines[0].split("\t")
    assert first[1:6] == ["staging", "alice@example.com ✓", "set", "+DEBUG", "staging debug"]
    assert lines[1].split("\t")[4] == "-DB_URL, +PAYMENT_KEY"


def test_unattested_commit_appears(scripted, alice):
    path = scripted / "envs/production.yaml"
    text = path.read_text()
    # A hand edit that drops a line: not envtrail's, and not silently skipped.
    path.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("  PAYMENT_KEY:"))
                    + "\n")
    git(scripted, "commit", "-qam", "cleanup by hand")
    ev = events(Cli(scripted, None), "-n", "1")
    assert [(e["action"], e["actor"], e["key"], e["change"], e["verified"]) for e in ev] == [
        ("unattested", None, "PAYMENT_KEY", "-", False)]
    assert ev[0]["reason"] == "cleanup by hand"


def test_blame_show_and_diff(scripted, alice, bob):
    cli = Cli(scripted, alice)
    rows = json.loads(cli("blame", "--env", "production", "--json").out)
    assert [(r["key"], r["actor"], r["reason"]) for r in rows] == [
        ("API_KEY", "bob@example.com", "rotate API key INC-7"),
        ("PAYMENT_KEY", "ci:release", "release 1.2"),
    ]
    ci_commit = rows[1]["commit"]
    shown = cli("show", ci_commit).out
    assert "who        ci:release" in shown
    assert "where      host=laptop-1" in shown
    assert "- DB_URL " in shown
    assert "verify     ok" in shown
    masked = cli("diff", "--env", "production", f"{ci_commit}~2", ci_commit).out.splitlines()
    assert [ln.split()[:2] for ln in masked] == [["~", "API_KEY"], ["-", "DB_URL"],
                                                  ["+", "PAYMENT_KEY"]]
    assert not any(v in "".join(masked) for v in SECRET_VALUES)
    revealed = cli("diff", "--env", "production", f"{ci_commit}~2", ci_commit, "--reveal").out
    assert f"    - {SECRET_VALUES[1]}" in revealed
    assert f"    + {SECRET_VALUES[2]}" in revealed
    # An outsider sees which variables changed, without fingerprints, and cannot reveal.
    outsider = Cli(scripted, None)
    plain = outsider("diff", "--env", "production", f"{ci_commit}~2", ci_commit).out
    assert plain.split("\n")[0] == "~ API_KEY"
    assert outsider("diff", "--env", "production", "HEAD~3", "--reveal").code == 4


def test_get_at_time_reads_history(scripted, alice):
    cli = Cli(scripted, alice)
    at = cli("get", "API_KEY", "--env", "production", "--at", "2026-01-05T11:30:00Z")
    assert at.out == SECRET_VALUES[1]
    assert cli("get", "API_KEY", "--env", "production").out == SECRET_VALUES[2]
    assert cli("export", "--env", "production", "--at", "2026-01-05T10:30:00Z").out == ""
