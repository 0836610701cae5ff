"""The offboarding report counts values that only a proposal held (attack15 J3): a
proposal's values are encrypted to the environment's key pair, so a member reads them
with `review --reveal` before they ever land, and they must be rotated as well."""

from __future__ import annotations

import json

import pytest

from conftest import git
from hostile import proposal_id, setv

CANARY = "sk_live_CANARY_payments_7Qz"
BOB = "bob@example.com"


@pytest.fixture
def proposed(cli, store, bob) -> str:
    """bob is a production and staging member; alice proposes a new PAYMENTS_KEY, and
    bob reads it in review. Returns the proposal id."""
    for env in ("production", "staging"):
        assert cli("access", "grant", BOB, bob.publine, "--env", env, "--reason", "join").code == 0
    setv(cli, "API_KEY", "api-1")
    r = cli("set", "PAYMENTS_KEY", "--env", "production", "--reason", "new provider",
            "--propose", input=CANARY)
    assert r.code == 0, r.err
    pid = proposal_id(r)
    assert CANARY in cli.as_(bob)("review", pid, "--reveal").out  # bob could read it
    return pid


def test_the_report_names_a_variable_only_a_pending_proposal_held(cli, proposed):
    r = cli("access", "revoke", BOB, "--env", "production", "--reason", "left", "--json")
    assert r.code == 0, r.err
    report = {e["environment"]: e for e in json.loads(r.out)["report"]}
    assert report["production"]["variables"] == ["API_KEY"]
    assert report["production"]["proposed"] == ["PAYMENTS_KEY"]
    assert CANARY not in r.out + r.err
    # A proposal made after the rotation is sealed to the new key pair only: not his.
    r = cli("set", "LATER", "--env", "production", "--reason", "after bob", "--propose",
            input="later-value")
    assert r.code == 0, r.err
    text = cli("access", "revoke", BOB, "--env", "staging", "--reason", "gone")
    assert text.code == 0, text.err
    assert "    PAYMENTS_KEY (proposed)" in text.out
    assert "LATER" not in text.out
    assert CANARY not in text.out + text.err


def test_the_report_names_a_pushed_proposal_withdrawn_here(cli, store, proposed):
    """Pushed (the remote's copy is still mirrored here) and withdrawn locally since."""
    tip = git(store, "rev-parse", f"refs/envtrail/proposals/{proposed}").strip()
    git(store, "update-ref", f"refs/envtrail-remotes/origin/proposals/{proposed}", tip)
    git(store, "update-ref", "-d", f"refs/envtrail/proposals/{proposed}")
    r = cli("access", "revoke", BOB, "--env", "production", "--reason", "left")
    assert r.code == 0, r.err
    assert "    PAYMENTS_KEY (proposed)" in r.out
    assert CANARY not in r.out + r.err
