"""Each action changes allowed_signers lines only the way its command does.

Attack round 8 (H2, H4): an admin's hand-signed `access admin` commit re-opened an
offboarded member's key or put another key on their line, a `grant` swapped a
member's key and seat, and a revoke closed a key decades from now; verify said ok
to each. alice, the admin, signs these trees with her real key; verify must name
the lie and reads refuse the line.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from test_label_custody import PROD, Tree, _forge, _lies, _rec, _revoked_bob, make_team

from conftest import Cli, assert_one_line_error, git
from envtrail.format import envfile, layout
from envtrail.format import signers as signers_file
from envtrail.gitstore.repo import GitRepo
from hostile import findings_on, head, refused

BOB = "bob@example.com"


@pytest.fixture
def team(cli, store, bob, make_identity):
    return make_team(cli, store, bob, make_identity)


def _bob_offboarded(cli, store, team) -> Tree:
    assert cli("access", "revoke", BOB, "--env", "production", "--reason", "left").code == 0
    t = Tree(store, team)
    assert all(s.valid_before for s in t.snap.signers if s.principal == BOB)
    return t


def _lines(t: Tree, **change) -> bytes:
    return signers_file.render([replace(s, **change) if s.principal == BOB else s
                                for s in t.snap.signers])


def test_an_admin_mark_that_re_opens_an_offboarded_key_is_rule_3(cli, store, team):
    t = _bob_offboarded(cli, store, team)
    forged = _forge(cli, store, {layout.SIGNERS: _lines(t, admin=True, valid_before=None)},
                    _rec("signers", (), Admin=f"+ {BOB}"))
    _lies(cli, forged, "signers",
          f"it changes the allowed_signers lines of {BOB} other than by their admin mark")


def test_an_admin_mark_that_puts_another_key_on_the_line_is_rule_3(cli, store, team):
    t = Tree(store, team)
    dave = team["dave"].identity.public.openssh
    forged = _forge(cli, store, {layout.SIGNERS: _lines(t, admin=True, key=dave)},
                    _rec("signers", (), Admin=f"+ {BOB}"))
    _lies(cli, forged, "signers",
          f"it changes the allowed_signers lines of {BOB} other than by their admin mark")


def test_a_grant_that_swaps_a_members_key_and_seat_is_rule_3(cli, store, team):
    """dave's key takes bob's line and bob's seat in production, without a rotation:
    dave would read and sign as bob."""
    t = Tree(store, team)
    prod = t.env("production")
    seated = {**prod.members, BOB: t.seat(prod, "bob", key_of="dave")}
    files = {PROD: envfile.render(prod.with_members(seated)),
             layout.SIGNERS: _lines(t, key=team["dave"].identity.public.openssh)}
    forged = _forge(cli, store, files, _rec("grant", Member=f"+ {BOB}"))
    _lies(cli, forged, "grant", f"it gives {BOB} another key in production",
          f"it changes the allowed_signers lines of {BOB} other than by re-opening them")


def test_a_grant_that_adds_a_second_open_line_for_a_signer_is_rule_3(cli, store, team):
    """bob signs with his key; a grant seating him in staging with dave's key, and a
    second open line for it, would let dave sign as bob."""
    t = Tree(store, team)
    staging = t.env("staging")
    seated = {**staging.members, BOB: t.seat(staging, "bob", key_of="dave")}
    lines = [*t.snap.signers, signers_file.Signer(BOB, team["dave"].identity.public.openssh)]
    files = {envfile.path_for("staging"): envfile.render(staging.with_members(seated)),
             layout.SIGNERS: signers_file.render(lines)}
    forged = _forge(cli, store, files, _rec("grant", "staging", Member=f"+ {BOB}"))
    _lies(cli, forged, "grant", f"it adds allowed_signers lines to those {BOB} has")


def test_a_returning_member_with_a_new_key_is_granted_under_their_name(cli, store, team):
    """I4: bob lost his laptop and comes back; his old key stays closed."""
    _bob_offboarded(cli, store, team)
    new_key = team["dave"]  # bob's new key pair, as a file to grant
    r = cli("access", "grant", BOB, new_key.publine, "--env", "staging", "--reason", "back")
    assert r.code == 0, r.err
    lines = [s for s in Tree(store, team).snap.signers if s.principal == BOB]
    assert [(s.key, s.valid_before is None) for s in lines] == [
        (team["bob"].identity.public.openssh, False), (new_key.identity.public.openssh, True)]
    r = cli("verify")
    assert r.code == 0, r.out


def test_granting_a_former_admin_back_makes_no_admin(cli, store, team):
    """I3: admin rights come back only by `access admin`, which log shows."""
    assert cli("access", "admin", BOB, "--reason", "on call").code == 0
    _bob_offboarded(cli, store, team)
    assert cli("access", "grant", BOB, team["bob"].publine, "--env", "staging",
               "--reason", "back as a contractor").code == 0
    (line,) = [s for s in Tree(store, team).snap.signers if s.principal == BOB]
    assert line.valid_before is None and not line.admin
    assert cli("verify").code == 0


def test_a_grant_that_re_opens_a_former_admin_as_admin_is_rule_3(cli, store, team):
    assert cli("access", "admin", BOB, "--reason", "on call").code == 0
    t = _bob_offboarded(cli, store, team)
    staging = t.env("staging")
    seated = {**staging.members, BOB: t.seat(staging, "bob")}
    files = {envfile.path_for("staging"): envfile.render(staging.with_members(seated)),
             layout.SIGNERS: _lines(t, valid_before=None, valid_after=t.snap_time())}
    forged = _forge(cli, store, files, _rec("grant", "staging", Member=f"+ {BOB}"))
    _lies(cli, forged, "grant", f"it makes {BOB} an admin")


def test_a_grant_that_adds_a_new_signer_as_admin_is_rule_3(cli, store, team):
    """J1: a grant of carol, new to allowed_signers, whose line carries the admin mark:
    log would show a plain grant while carol could grant others and change policy."""
    t = Tree(store, team)
    staging = t.env("staging")
    seated = {**staging.members, "carol@example.com": t.seat(staging, "carol")}
    carol = signers_file.Signer("carol@example.com", team["carol"].identity.public.openssh,
                                admin=True)
    files = {envfile.path_for("staging"): envfile.render(staging.with_members(seated)),
             layout.SIGNERS: signers_file.render([*t.snap.signers, carol])}
    forged = _forge(cli, store, files, _rec("grant", "staging", Member="+ carol@example.com"))
    _lies(cli, forged, "grant", "it makes carol@example.com an admin")


def test_a_grant_back_with_a_new_key_as_admin_is_rule_3(cli, store, team):
    """J1, a former admin back with a new key: the new line may not carry the mark."""
    assert cli("access", "admin", BOB, "--reason", "on call").code == 0
    t = _bob_offboarded(cli, store, team)
    staging = t.env("staging")
    seated = {**staging.members, BOB: t.seat(staging, "bob", key_of="dave")}
    back = signers_file.Signer(BOB, team["dave"].identity.public.openssh, admin=True,
                               valid_after=t.snap_time())
    files = {envfile.path_for("staging"): envfile.render(staging.with_members(seated)),
             layout.SIGNERS: signers_file.render([*t.snap.signers, back])}
    forged = _forge(cli, store, files, _rec("grant", "staging", Member=f"+ {BOB}"))
    _lies(cli, forged, "grant", f"it makes {BOB} an admin")


def test_env_add_seats_its_author_alone_with_their_own_key(cli, store, team):
    """I2: an `env add` seating the offboarded bob (closed key) and carol under dave's
    key: both would read the new environment without a grant in the record."""
    t = _bob_offboarded(cli, store, team)
    carol_line = signers_file.Signer("carol@example.com", team["carol"].identity.public.openssh)
    created = t.created("payments")
    seats = {**created.members, BOB: t.seat(created, "bob"),
             "carol@example.com": t.seat(created, "carol", key_of="dave")}
    files = {envfile.path_for("payments"): envfile.render(created.with_members(seats)),
             layout.SIGNERS: signers_file.render([*t.snap.signers, carol_line])}
    forged = _forge(cli, store, files, _rec("init", "payments"))
    found = findings_on(cli, forged)
    assert "Envtrail-Action init, but it seats bob@example.com, carol@example.com in " \
           "payments" in found.get(3, []), found
    assert sorted(found.get(5, [])) == [
        f"it seats {p} in payments with a key that is not their open signing key"
        for p in (BOB, "carol@example.com")], found
    refused(cli, "A")


def test_an_honest_grant_back_keeps_the_lines_start_so_git_still_verifies_the_past(
        cli, store, team):
    """J8: a line holds one window. Re-opened from the grant's time, it made stock git
    refuse everything bob signed before he left ("key is not yet valid"); it keeps its
    start, and the line's order keeps the gap closed (nothing can be dated back into it)."""
    before = [s for s in Tree(store, team).snap.signers if s.principal == BOB]
    bobs = Cli(store, team["bob"])
    assert bobs("set", "B", "--env", "production", "--reason", "bob's change",
                input="b").code == 0
    signed_by_bob = head(store)
    _bob_offboarded(cli, store, team)
    time.sleep(1.1)  # the grant back is dated after the line's start, as it would be
    assert cli("access", "grant", BOB, team["bob"].publine, "--env", "staging",
               "--reason", "back").code == 0
    (line,) = [s for s in Tree(store, team).snap.signers if s.principal == BOB]
    assert line.valid_before is None and line.valid_after == before[0].valid_after
    assert cli("verify").code == 0
    git(store, "verify-commit", signed_by_bob)  # raises if stock git refuses it
    assert bobs("set", "C", "--env", "staging", "--reason", "back at work", input="c").code == 0
    git(store, "verify-commit", head(store))


def test_a_key_granted_back_after_another_key_signs_again_only_from_the_grant(
        cli, store, team):
    """bob left, came back with a new key, left again, and is granted his first key
    back: kept from its start, it would overlap the second key's window (one name, two
    keys at once), so it opens from the grant's own time."""
    _bob_offboarded(cli, store, team)
    assert cli("access", "grant", BOB, team["dave"].publine, "--env", "staging",
               "--reason", "back, new laptop").code == 0
    time.sleep(1.1)  # the second key's window is not empty
    assert cli("access", "revoke", BOB, "--env", "staging", "--reason", "left again").code == 0
    time.sleep(1.1)
    assert cli("access", "grant", BOB, team["bob"].publine, "--env", "staging",
               "--reason", "back with the old key").code == 0
    lines = {s.key: s for s in Tree(store, team).snap.signers if s.principal == BOB}
    first = lines[team["bob"].identity.public.openssh]
    assert first.valid_before is None and first.valid_after == _head_time(store)
    assert lines[team["dave"].identity.public.openssh].valid_before is not None
    assert cli("verify").code == 0


def _head_time(store) -> datetime:
    return GitRepo(store).info(head(store)).committer_time


def test_a_revoke_closing_a_key_decades_ahead_is_rule_7(cli, store, team):
    """The offboarding reads as done (Envtrail-Signer-Expired), but the key would sign on
    for fifty years."""
    t = Tree(store, team)
    files, rotation = _revoked_bob(t)
    later = t.snap_time() + timedelta(days=365 * 50)
    files[layout.SIGNERS] = signers_file.render([
        s.expired(later) if s.principal == BOB else s for s in t.snap.signers])
    forged = _forge(cli, store, files, _rec("revoke", changes=rotation, Member=f"- {BOB}",
                                            Signer_Expired=BOB))
    found = findings_on(cli, forged)
    assert [m for m in found.get(7, []) if "valid-before" in m] == [
        f"allowed_signers gives {BOB} a valid-before of {later.isoformat()}, not the "
        "commit's own time"], found
    refused(cli, "A")


def test_every_bound_the_commands_write_is_their_commits_time(cli, store, team):
    """Revoke and grant back, as the commands write them: each bound is its commit's time
    (the plan's clock and the commit's may differ; the writer stamps the commit's)."""
    _bob_offboarded(cli, store, team)
    revoked_at = _head_time(store)
    (line,) = [s for s in Tree(store, team).snap.signers if s.principal == BOB]
    assert line.valid_before == revoked_at
    assert "Envtrail-Signer-Expired: bob@example.com" in git(store, "log", "-1", "--format=%B")
    assert cli("verify").code == 0


def test_the_last_admin_cannot_close_their_own_key(cli, store, team):
    """alice, the only admin, leaves her last environment: the store would have no admin
    for good, which `access admin --remove` refuses too."""
    envs = [e for e in Tree(store, team).snap.environments()
            if "alice@example.com" in Tree(store, team).env(e).members]
    for env in envs:
        members = Tree(store, team).env(env).members
        if len(members) == 1:
            assert cli("access", "grant", BOB, team["bob"].publine, "--env", env,
                       "--reason", "cover").code == 0
    for env in envs[:-1]:
        assert cli("access", "revoke", "alice@example.com", "--env", env,
                   "--reason", "handing over").code == 0
    before = head(store)
    r = cli("access", "revoke", "alice@example.com", "--env", envs[-1], "--reason", "leaving")
    assert_one_line_error(r, 2)
    assert "last admin key" in r.err and head(store) == before
    assert cli("access", "admin", BOB, "--reason", "takes over").code == 0
    assert cli("access", "revoke", "alice@example.com", "--env", envs[-1],
               "--reason", "leaving").code == 0
