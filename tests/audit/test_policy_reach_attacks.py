"""What rules 4 and 6 reach beyond value changes (sixth attacker review): an event signed
onto the store line, and custody or signers changes made by hand that the CLI would
refuse. Each commit is signed with a real key and put on the line by moving the ref;
verify must name it, and reads refuse (exit 5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import assert_one_line_error, git
from envtrail.audit.history import parse_record
from envtrail.audit.record import Record, render
from envtrail.format import layout
from envtrail.format import signers as signers_file
from envtrail.gitstore.repo import GitRepo
from hostile import findings_on, head, point, proposal_id, refused, setv, signed_commit

VALUE = "CANARY-production-db-77c3"


# -- f5: an event on the store line -------------------------------------------------------


@pytest.mark.parametrize("writer", ["mallory", "bob"])
def test_an_event_on_the_store_line_is_rule_6(cli, store, bob, make_identity, writer):
    # mallory is a member of staging only; bob of production: neither may put an event
    # on the store line (events live on refs/envtrail/events, where membership is checked).
    mallory = make_identity("mallory@example.com")
    for who, env in ((bob, "production"), (mallory, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    setv(cli, "DB", VALUE)
    assert_one_line_error(cli.as_(mallory)("event", "deploy", "--env", "production",
                                           "--reason", "x"), 4)
    who = {"mallory": mallory, "bob": bob}[writer]
    line = head(store)
    rec = Record("event", who.principal, "deployed v9.9 to production", ("production",),
                 extra=(("After", line), ("Event-Kind", "deploy"), ("Event-Ref", "v9.9"),
                        ("Event-Status", "ok")))
    event = signed_commit(store, who.identity, who.principal, [line], {}, render(rec))
    point(store, event)
    found = findings_on(cli, event, (VALUE,))
    assert 6 in found, found
    refused(cli, "DB")
    assert VALUE not in cli.as_(bob)("get", "DB", "--env", "production").out


# -- f7: a hand-made grant that production's policy forbids ------------------------------


@pytest.fixture
def ticketed(cli, store, bob, make_identity):
    """production's changes need a CHG- ticket; bob is a member. Returns mallory and the
    files of alice's grant of mallory to production, as the CLI wrote it (a proposal,
    dropped: nothing of it is on the line)."""
    mallory = make_identity("mallory@example.com")
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    setv(cli, "DB", VALUE)
    assert cli("policy", "set", "--env", "production", "--reason-pattern", "^CHG-[0-9]+",
               "--reason", "CHG-1 production changes need a change ticket").code == 0
    pid = proposal_id(cli("access", "grant", mallory.principal, mallory.publine, "--env",
                          "production", "--reason", "CHG-7 template", "--propose"))
    ref = f"refs/envtrail/proposals/{pid}"
    g = GitRepo(store)
    grant = git(store, "rev-parse", ref).strip()
    files = {p: g.read(grant, p) for p in (layout.env_path("production"), layout.SIGNERS)}
    rec = parse_record(g.info(grant))
    git(store, "update-ref", "-d", ref)
    return mallory, files, rec


def _grant_by_hand(cli, store, files, rec, reason: str) -> str:
    """alice's grant, signed by hand on the line head with ``reason``, put on the line."""
    alice = cli.identity
    grant = signed_commit(store, alice.identity, alice.principal, [head(store)], files,
                          render(replace(rec, reason=reason)))
    point(store, grant)
    return grant


@pytest.mark.parametrize(("only_bob_writes", "reason", "broken"), [
    pytest.param(False, "no ticket", "reason_pattern", id="reason-without-a-ticket"),
    pytest.param(True, "CHG-8 contractor", "writers", id="admin-outside-the-writers"),
])
def test_a_grant_the_policy_forbids_is_rule_4(cli, store, ticketed, bob, only_bob_writes,
                                               reason, broken):
    mallory, files, rec = ticketed
    if only_bob_writes:
        assert cli("policy", "set", "--env", "production", "--writers", bob.principal,
                   "--reason", "CHG-2 only bob changes production").code == 0
    line = head(store)
    assert_one_line_error(cli("access", "grant", mallory.principal, mallory.publine, "--env",
                              "production", "--reason", reason), 4)
    assert head(store) == line
    grant = _grant_by_hand(cli, store, files, rec, reason)
    found = findings_on(cli, grant, (VALUE,))
    assert any(broken in m for m in found.get(4, [])), found
    refused(cli, "DB")
    assert VALUE not in cli.as_(mallory)("get", "DB", "--env", "production").out


# -- f7b: a store-wide change with no reason at all -------------------------------------


def test_a_signer_added_with_an_empty_reason_is_rule_4(cli, store, make_identity):
    mallory = make_identity("mallory@example.com")
    setv(cli, "DB", VALUE)
    g = GitRepo(store)
    line = head(store)
    signers = [*signers_file.parse(g.read(line, layout.SIGNERS)),
               signers_file.Signer(mallory.principal, mallory.identity.public.openssh)]
    alice = cli.identity
    added = signed_commit(store, alice.identity, alice.principal, [line],
                          {layout.SIGNERS: signers_file.render(signers)},
                          render(Record("signers", alice.principal, "", (), context="host=x")))
    point(store, added)
    found = findings_on(cli, added, (VALUE,))
    assert any("reason" in m for m in found.get(4, [])), found
    refused(cli, "DB")
