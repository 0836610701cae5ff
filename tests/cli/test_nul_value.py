"""A value holding NUL, which no envtrail writer stores, signed by hand by a member (attack
12, F3): encryption needs only the environment's public key. A keyed verify reports it
(rule 3) so reads refuse it; where a read skips verify, `run` and every export format that
cannot carry it refuse by name, never printing it and never crashing."""

from __future__ import annotations

import json

import pytest

import forge
from conftest import Cli
from hostile import findings_on, setv

CANARY = "nul-CANARY-7e3a"
VALUE = CANARY + "\x00tail"


@pytest.fixture
def planted(cli, store, bob):
    """bob, a member of production, commits FEATURE = <canary>\\0tail with his own key."""
    assert cli("access", "grant", "bob@example.com", bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "DATABASE_URL", "postgres://db")
    assert cli.as_(bob)("set", "FEATURE", "--env", "production", "--reason", "r",
                        input=VALUE).code == 2  # the honest writer refuses it
    plan = forge.honest_plan(store, bob.identity, "production", {"FEATURE": VALUE})
    return forge.commit_plan(store, bob.identity, plan)


def refused_unverified(r, code: int) -> str:
    """One error line after --no-verify's own warning, exit ``code``; the error text."""
    lines = [ln for ln in r.err.splitlines() if ln]
    assert lines[0].startswith("envtrail: warning: reading WITHOUT verifying"), r.err
    assert r.code == code, (r.code, r.err)
    assert lines[1].startswith("envtrail: error: ") and len(lines) <= 3, r.err
    assert all(ln.startswith("hint: ") for ln in lines[2:]) and "Traceback" not in r.err
    return lines[1]


def test_keyed_verify_reports_a_nul_value_and_reads_refuse_it(cli, store, planted, bob):
    found = findings_on(cli, planted, secrets=(CANARY,))
    assert any("FEATURE" in m and "NUL" in m for m in found.get(3, [])), found
    for who in (cli, cli.as_(bob)):
        for args in (("get", "DATABASE_URL", "--env", "production"),
                     ("export", "--env", "production", "--format", "json"),
                     ("run", "--env", "production", "--", "true")):
            r = who(*args)
            assert r.code == 5, (args, r.code, r.err)
            assert CANARY not in r.out + r.err


def test_a_keyless_verify_cannot_see_it(cli, store, planted):
    # Without the key the value is ciphertext: only a member's verify can judge it.
    assert cli.as_(None)("verify").code == 0


def test_run_without_verify_refuses_by_name_before_anything_starts(cli, store, planted):
    marker = store.parent / "child-ran"
    r = Cli(store, cli.identity).sub("run", "--env", "production", "--no-verify", "--",
                                     "sh", "-c", f"touch {marker}")
    assert "FEATURE holds a NUL byte" in refused_unverified(r, 2)
    assert "unexpected" not in r.err and CANARY not in r.out + r.err
    assert not marker.exists()


@pytest.mark.parametrize("fmt", ["shell", "docker", "dotenv"])
def test_exports_that_cannot_carry_nul_refuse_it_by_name(cli, planted, fmt):
    r = cli("export", "--env", "production", "--format", fmt, "--no-verify")
    assert f"the {fmt} format cannot carry FEATURE exactly" in refused_unverified(r, 2)
    assert "--format json" in r.err
    assert r.out == "" and CANARY not in r.err


def test_json_carries_it_exactly(cli, planted):
    r = cli("export", "--env", "production", "--format", "json", "--no-verify")
    assert r.code == 0, r.err
    assert json.loads(r.out)["FEATURE"] == VALUE


def test_keyed_verify_reports_a_value_over_the_writers_limit(cli, store):
    from envtrail.model import MAX_VALUE_BYTES

    big = CANARY + "x" * MAX_VALUE_BYTES  # one byte more than `set` takes, and then some
    assert cli("set", "BIG", "--env", "production", "--reason", "r", input=big).code == 2
    planted = forge.commit_plan(store, cli.identity.identity,
                                forge.honest_plan(store, cli.identity.identity, "production",
                                                  {"BIG": big}))
    found = findings_on(cli, planted, secrets=(CANARY,))
    assert any("BIG" in m and "1 MiB" in m for m in found.get(3, [])), found
    assert cli("get", "BIG", "--env", "production").code == 5
