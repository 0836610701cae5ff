"""Attacks on rule 9 (approvals and break-glass), sixth attacker review: each writes the
hostile commits with real keys (what a member holding their own key can sign), moves
the refs by hand, and asserts that verify names the commit under the right rule, that
reads refuse (exit 5), and that the attacker's value is never printed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

import forge
from conftest import Cli, assert_one_line_error, git
from envtrail.audit.history import parse_record
from envtrail.audit.record import Record, render
from envtrail.format import layout
from envtrail.format import policy as policy_file
from envtrail.format import signers as signers_file
from envtrail.gitstore.repo import GitRepo
from envtrail.ops.routing import Route, mark
from hostile import (
    findings_on,
    head,
    point,
    proposal_id,
    refused,
    setv,
    signed_approval,
    signed_commit,
)

EVIL = "CANARY-attacker-value-9f2d"
OLD = "CANARY-old-leaked-credential-41ab"
NEW = "new-rotated-credential"


def propose(cli: Cli, *args: str, input: str | None = None) -> str:
    """The commit a ``--propose`` write left on its proposal ref."""
    r = cli(*args, "--propose", input=input)
    assert r.code == 0, r.err
    pid = proposal_id(r)
    return git(cli.cwd, "rev-parse", f"refs/envtrail/proposals/{pid}").strip()


def resign(store, who, commit: str, parent: str, changes: dict[str, bytes | None] | None = None,
           rec: Record | None = None) -> str:
    """What ``commit`` changes (plus ``changes``), with its record (or ``rec``), signed by
    ``who`` on ``parent``."""
    g = GitRepo(store)
    files = {p: g.read(commit, p) for p in git(store, "diff", "--name-only", parent, commit).split()}
    files.update(changes or {})
    return signed_commit(store, who.identity, who.principal, [parent], files,
                         render(rec or parse_record(g.info(commit))))


# -- f1: an approver of another environment stands in for production's -------------------


@pytest.fixture
def scoped(cli, store, bob, make_identity):
    """production: approvals 1 by bob alone (listed); staging: approvals 1 by its members,
    alice and mallory. alice (a member of both) is the author. Returns mallory."""
    mallory = make_identity("mallory@example.com")
    for who, env in ((bob, "production"), (mallory, "staging")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    setv(cli, "DB", "prod-original")
    assert cli("policy", "set", "--env", "staging", "--approvals", "1",
               "--reason", "four eyes").code == 0
    rule = propose(cli, "policy", "set", "--env", "production", "--approvals", "1",
                   "--approvers", bob.principal, "--reason", "four eyes on production")
    assert cli.as_(mallory)("approve", rule[:12], "--reason", "ok").code == 0  # staging's say
    assert cli("apply", rule[:12]).code == 0
    assert cli("verify").code == 0
    return mallory


def _with_cosmetic_staging_touch(cli, store, value: str) -> str:
    """alice's proposal to set production's DB to ``value``, re-signed with a comment
    appended to envs/staging.yaml (same values, same members), on its proposal ref
    under the new commit's id."""
    honest = propose(cli, "set", "DB", "--env", "production", "--reason", "rotate",
                     input=value)
    parent = GitRepo(store).info(honest).parents[0]
    staging = GitRepo(store).read(honest, layout.env_path("staging")) + b"# reformatted\n"
    touched = resign(store, cli.identity, honest, parent, {layout.env_path("staging"): staging})
    git(store, "update-ref", "-d", f"refs/envtrail/proposals/{honest[:12]}")
    git(store, "update-ref", f"refs/envtrail/proposals/{touched[:12]}", touched)
    return touched


def test_a_staging_approver_cannot_approve_production_by_a_cosmetic_staging_touch(
        cli, store, scoped, bob):
    mallory = scoped
    honest = propose(cli, "set", "DB", "--env", "production", "--reason", "rotate", input=EVIL)
    assert_one_line_error(cli.as_(mallory)("approve", honest[:12], "--reason", "lgtm"), 4)
    git(store, "update-ref", "-d", f"refs/envtrail/proposals/{honest[:12]}")

    touched = _with_cosmetic_staging_touch(cli, store, EVIL)
    line = head(store)
    r = cli.as_(mallory)("approve", touched[:12], "--reason", "lgtm")
    assert_one_line_error(r, 4)
    assert head(store) == line
    assert git(store, "rev-parse", f"refs/envtrail/proposals/{touched[:12]}").strip() == touched

    # mallory's approval made by hand, and the line moved onto it.
    point(store, signed_approval(store, mallory, touched, touched))
    found = findings_on(cli, touched, (EVIL,))
    assert 9 in found, found
    refused(cli, "DB", (EVIL,))
    assert EVIL not in cli.as_(bob)("get", "DB", "--env", "production").out


def test_the_cosmetically_touched_proposal_approved_by_productions_approver_lands(
        cli, store, scoped, bob):
    touched = _with_cosmetic_staging_touch(cli, store, "approved-rotation")
    assert cli.as_(bob)("approve", touched[:12], "--reason", "checked").code == 0
    applied = cli("apply", touched[:12])
    assert applied.code == 0, applied.err
    assert cli("verify").code == 0
    assert cli.as_(bob)("get", "DB", "--env", "production").out == "approved-rotation"


# -- f2: break-glass expires every other signer ----------------------------------------


@pytest.fixture
def two_admins(cli, store, bob, make_identity):
    """admin2 is a second admin (a member of both environments, so a repair by them can
    read every value), bob a member of production, whose DB bob set to OLD,
    then NEW. Returns (admin2, the commit where DB is OLD)."""
    admin2 = make_identity("admin2@example.com")
    for who, env in ((admin2, "production"), (admin2, "staging"), (bob, "production")):
        assert cli("access", "grant", who.principal, who.publine, "--env", env,
                   "--reason", "join").code == 0
    assert cli("access", "admin", admin2.principal, "--reason", "second admin").code == 0
    setv(cli.as_(bob), "DB", OLD)
    old = head(store)
    setv(cli.as_(bob), "DB", NEW)
    return admin2, old


def _glass_on_signers(store, admin2, change) -> str:
    """admin2's break-glass 'revoke' that only rewrites the other signers' lines with
    ``change`` (nobody leaves any environment), put on the line."""
    g = GitRepo(store)
    parent = head(store)
    when = g.info(parent).committer_time
    lines = [change(s, when) if s.principal != admin2.principal else s
             for s in signers_file.parse(g.read(parent, layout.SIGNERS))]
    rec = Record("revoke", admin2.principal, "INC-9 suspected key leak", (),
                 extra=(("Break-Glass", "yes"),))
    glass = signed_commit(store, admin2.identity, admin2.principal, [parent],
                          {layout.SIGNERS: signers_file.render(lines)}, render(rec))
    point(store, glass)
    return glass


@pytest.mark.parametrize("change", [
    pytest.param(lambda s, when: s.expired(when), id="valid-before-now"),
    pytest.param(lambda s, when: replace(s, valid_after=datetime(2100, 1, 1, tzinfo=UTC)),
                 id="valid-after-2100"),
])
def test_break_glass_cannot_lock_out_every_other_signer(cli, store, two_admins, change):
    admin2, _ = two_admins
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    glass = _glass_on_signers(store, admin2, change)
    found = findings_on(cli, glass)
    assert any("break-glass" in m and "refused" in m for m in found.get(9, [])), found
    refused(cli, "DB")


# -- f3: a break-glass repair, allowed by the forged policy it undoes ----------------------


def test_break_glass_cannot_land_a_repair(cli, store, two_admins):
    admin2, old = two_admins
    assert cli("policy", "set", "--env", "production", "--approvals", "1", "--no-break-glass",
               "--reason", "four eyes, never break-glass").code == 0
    a2 = cli.as_(admin2)
    for extra in ((), ("--break-glass",)):
        r = a2("rollback", "--env", "production", "--to", old, "--reason", "x", *extra)
        assert_one_line_error(r, 4)

    # F: admin2's unapproved policy commit that turns break-glass on (a rule 9 finding).
    g = GitRepo(store)
    pol = policy_file.parse(g.read(head(store), layout.POLICY))
    envs = {k: dict(v) for k, v in pol.environments.items()}
    envs["production"] = {**envs["production"], "break_glass": True}
    forged = signed_commit(store, admin2.identity, admin2.principal, [head(store)],
                           {layout.POLICY: policy_file.render(policy_file.Policy(pol.defaults, envs))},
                           render(Record("policy", admin2.principal, "tweak", ())))
    point(store, forged)
    assert 9 in findings_on(cli, forged)

    # The repair of F back to OLD, as `repair --propose` writes it, marked break-glass.
    proposed = propose(a2, "repair", "--reason", "INC-77 restore", "--from", old)
    rec = mark(parse_record(g.info(proposed)), Route(break_glass=True))
    fix = resign(store, admin2, proposed, forged, {}, rec)
    point(store, fix)
    found = findings_on(cli, fix, (OLD,))
    assert 9 in found, found
    refused(cli, "DB", (OLD,))
    assert OLD not in cli.as_(admin2)("get", "DB", "--env", "production").out


# -- f4: a repair measured from a forged state that a rule-7-only marker names ---------------


def _hand_rollback(store, admin2, old: str, dated_ahead: bool) -> str:
    """admin2 alone: a commit that puts production's DB back to OLD, unapproved (rule 9);
    with ``dated_ahead``, then a staging write dated 2 h ahead (rule 7 only, nothing else);
    then admin2's repair of them, clean point the approved head, Repair-From OLD, production
    file the first commit's bytes (OLD's values under today's keys, as a repair must). Returns the repair,
    now the line head."""
    from envtrail.audit.keyring import Keyring
    from envtrail.audit.repairs import ACK, CLEAN, FROM
    from envtrail.audit.view import StoreView
    from envtrail.model import Change

    g, prod, staging = GitRepo(store), layout.env_path("production"), layout.env_path("staging")
    view, ring, who = StoreView(g), Keyring(admin2.identity), admin2.principal
    approved = head(store)
    old_file = g.read(old, prod)
    fp_old = ring.fingerprint(view.env_at(old, "production"), "DB")
    fp_new = ring.fingerprint(view.env_at(approved, "production"), "DB")
    t = g.info(approved).committer_time + timedelta(seconds=1)
    rolled = signed_commit(store, admin2.identity, who, [approved], {prod: old_file},
                           render(Record("set", who, "oops", ("production",),
                                         (Change("~", "DB", fp_new, fp_old),))), when=t)
    point(store, rolled)
    parent, acks = rolled, [(ACK, f"{rolled} 9")]
    if dated_ahead:
        plan = forge.honest_plan(store, admin2.identity, "staging", {"NOTE": "deploy window"})
        parent = signed_commit(store, admin2.identity, who, [rolled], dict(plan.changes),
                               render(plan.record), when=t + timedelta(hours=2))
        acks.append((ACK, f"{parent} 7"))
    rec = Record("repair", who, "restore after incident", ("production",),
                 (Change("~", "production:DB", fp_new, fp_old),),
                 extra=(*acks, (CLEAN, approved), (FROM, old)))
    repair = signed_commit(store, admin2.identity, who, [parent],
                           {prod: old_file, staging: g.read(approved, staging)}, render(rec),
                           when=t + timedelta(seconds=2))
    point(store, repair)
    return repair


@pytest.mark.parametrize("dated_ahead", [
    pytest.param(True, id="after-a-marker-dated-ahead"),
    pytest.param(False, id="control-directly-on-the-forged-change"),
])
def test_a_repair_that_brings_back_an_old_value_needs_its_approval(cli, store, two_admins, bob,
                                                                    dated_ahead):
    admin2, old = two_admins
    assert cli("policy", "set", "--env", "production", "--approvals", "1",
               "--reason", "four eyes").code == 0
    assert_one_line_error(cli.as_(admin2)("rollback", "--env", "production", "--to", old,
                                          "--reason", "x"), 4)
    repair = _hand_rollback(store, admin2, old, dated_ahead)
    found = findings_on(cli, repair, (OLD,))
    assert 9 in found, found
    refused(cli.as_(bob), "DB", (OLD,))
    for reader in (cli, cli.as_(bob), cli.as_(admin2)):
        assert OLD not in reader("get", "DB", "--env", "production").out
