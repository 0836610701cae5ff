"""What break-glass may land unreviewed is judged by the tree, not by the record: a member
who signs a commit by hand with ``Envtrail-Break-Glass: yes`` cannot use it to change the
policy, seat a reader, or close keys beyond those of whom it revokes everywhere. Each
such commit is a rule 9 finding and reads refuse; each honest counterpart lands."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_approval_attacks import propose, resign

from envtrail.audit.history import parse_record
from envtrail.audit.record import Record, render
from envtrail.format import layout
from envtrail.format import policy as policy_file
from envtrail.format import signers as signers_file
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.routing import Route, mark
from hostile import findings_on, head, point, refused, setv, signed_commit, unsigned_commit

GLASS = (("Break-Glass", "yes"),)


@pytest.fixture
def guarded(cli, store, bob, make_identity):
    """production needs one approval (bob, a member, approves); carol is a member of
    staging only. Returns carol."""
    carol = make_identity("carol@example.com")
    for who, env in ((bob, "production"), (bob, "staging"), (carol, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    setv(cli, "DB", "prod-original")
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    assert cli("verify").code == 0
    return carol


def _glass_finding(cli, commit: str) -> str:
    """The one rule 9 finding on ``commit``, which must be a break-glass refusal; reads
    refuse the line it heads."""
    found = findings_on(cli, commit)
    (message,) = found.get(9, [None])
    assert message and message.startswith("break-glass refused: "), found
    refused(cli, "DB")
    return message


def _signers_edit(store, edit) -> bytes:
    g = GitRepo(store)
    return signers_file.render([edit(s) for s in signers_file.parse(g.read(head(store),
                                                                           layout.SIGNERS))])


def test_break_glass_never_changes_the_policy(cli, store, guarded, alice):
    g = GitRepo(store)
    pol = policy_file.parse(g.read(head(store), layout.POLICY))
    envs = {k: dict(v) for k, v in pol.environments.items()}
    envs["production"] = {**envs["production"], "approvals": 0}
    glass = signed_commit(store, alice.identity, alice.principal, [head(store)],
                          {layout.POLICY: policy_file.render(policy_file.Policy(pol.defaults,
                                                                                envs))},
                          render(Record("policy", alice.principal, "INC-1", (), extra=GLASS)))
    point(store, glass)
    assert "never changes policy or config" in _glass_finding(cli, glass)


def test_break_glass_never_seats_a_reader(cli, store, guarded, alice):
    carol = guarded
    grant = propose(cli, "access", "grant", carol.principal, carol.publine, "--env",
                    "production", "--reason", "INC-2 needs a hand")
    rec = parse_record(GitRepo(store).info(grant))
    glass = resign(store, alice, grant, head(store), rec=replace(rec, extra=(*rec.extra,
                                                                             *GLASS)))
    point(store, glass)
    assert "it changed who can read production" in _glass_finding(cli, glass)


def test_break_glass_never_rotates_a_key_pair(cli, store, guarded, alice):
    # A new key pair sealed to the very same members revokes nobody: no break-glass.
    rotation = propose(cli, "access", "rotate", "--env", "production", "--reason", "INC-6")
    rec = parse_record(GitRepo(store).info(rotation))
    glass = resign(store, alice, rotation, head(store), rec=replace(rec, extra=(*rec.extra,
                                                                                *GLASS)))
    point(store, glass)
    assert "it changed who can read production" in _glass_finding(cli, glass)


def test_break_glass_closes_no_key_of_someone_still_a_member(cli, store, guarded, alice, bob):
    # bob leaves production by break-glass (that lands); closing his key as well would
    # lock him out of staging, where he stays: one admin could shut out every reviewer.
    before = head(store)
    r = cli("access", "revoke", bob.principal, "--env", "production", "--reason", "INC-3",
            "--break-glass")
    assert r.code == 0, r.err
    honest = head(store)
    assert cli("verify").code == 0
    when = GitRepo(store).info(honest).committer_time
    closed = _signers_edit(store, lambda s: s.expired(when) if s.principal == bob.principal
                           else s)
    glass = resign(store, alice, honest, before, {layout.SIGNERS: closed})
    point(store, glass)
    assert "expires only the signing keys of members it revokes everywhere" in \
        _glass_finding(cli, glass)


@pytest.mark.parametrize("edit", [
    pytest.param(lambda s, when: replace(s, valid_before=None), id="reopened"),
    pytest.param(lambda s, when: replace(s, valid_before=s.valid_before.replace(year=2999)),
                 id="extended"),
])
def test_break_glass_never_gives_a_closed_key_back(cli, store, guarded, alice, bob,
                                                   make_identity, edit):
    # dave, a member of production only, is revoked by break-glass: his key closes (that
    # lands). Opening it again is no revocation.
    dave = make_identity("dave@example.com")
    grant = propose(cli, "access", "grant", dave.principal, dave.publine, "--env", "staging",
                    "--reason", "join")  # a new signer: production's approver says yes
    assert cli.as_(bob)("approve", grant[:12], "--reason", "ok").code == 0
    assert cli("apply", grant[:12]).code == 0
    r = cli("access", "revoke", dave.principal, "--env", "staging", "--reason", "INC-4",
            "--break-glass")
    assert r.code == 0, r.err
    assert cli("verify").code == 0
    when = GitRepo(store).info(head(store)).committer_time
    opened = _signers_edit(store, lambda s: edit(s, when) if s.principal == dave.principal
                           else s)
    glass = signed_commit(store, alice.identity, alice.principal, [head(store)],
                          {layout.SIGNERS: opened},
                          render(Record("revoke", alice.principal, "INC-5", (), extra=GLASS)))
    point(store, glass)
    assert "only expires signers, never adds or changes one" in _glass_finding(cli, glass)


def test_break_glass_never_lands_a_repair_where_the_policy_allows_it(cli, store, guarded,
                                                                     alice, bob):
    # production allows break-glass; a repair is neither a value change nor a revocation,
    # so even there it waits for its approvals.
    old = head(store)
    rotate = propose(cli, "set", "DB", "--env", "production", "--reason", "rotate",
                     input="prod-rotated")
    assert cli.as_(bob)("approve", rotate[:12], "--reason", "ok").code == 0
    assert cli("apply", rotate[:12]).code == 0
    point(store, unsigned_commit(store, "HEAD", [head(store)], "an outsider's push"))
    proposed = propose(cli, "repair", "--reason", "INC-8 restore", "--from", old)
    rec = mark(parse_record(GitRepo(store).info(proposed)), Route(break_glass=True))
    fix = resign(store, alice, proposed, head(store), rec=rec)
    point(store, fix)
    assert "break-glass never lands a repair" in _glass_finding(cli, fix)
