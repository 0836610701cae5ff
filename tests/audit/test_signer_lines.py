"""Each action changes allowed_signers lines only the way its command does.

Attack round 8 (H2, H4): an admin's hand-signed `access admin` commit re-opened an
offboarded member's key or put another key on their line, a `grant` swapped a
member's key and seat, and a revoke closed a key decades from now; verify said ok
to each. alice, the admin, signs these trees with her real key; verify must name
the lie and reads refuse the line.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from test_label_custody import PROD, Tree, _forge, _lies, _rec, _revoked_bob, make_team

from conftest import assert_one_line_error, git
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


def test_a_grant_that_adds_a_second_line_for_a_known_signer_is_rule_3(cli, store, team):
    """bob was offboarded; a grant back with another key of his is a new identity under
    his name, which `access grant` refuses ("revoke the old key first" does not apply)."""
    t = _bob_offboarded(cli, store, team)
    staging = t.env("staging")
    seated = {**staging.members, BOB: t.seat(staging, "bob", key_of="dave")}
    lines = [*t.snap.signers, signers_file.Signer(BOB, team["dave"].identity.public.openssh)]
    files = {envfile.path_for("staging"): envfile.render(staging.with_members(seated)),
             layout.SIGNERS: signers_file.render(lines)}
    forged = _forge(cli, store, files, _rec("grant", "staging", Member=f"+ {BOB}"))
    _lies(cli, forged, "grant", f"it adds allowed_signers lines to those {BOB} has")


def test_an_honest_grant_back_re_opens_the_line_from_its_own_time(cli, store, team):
    _bob_offboarded(cli, store, team)
    assert cli("access", "grant", BOB, team["bob"].publine, "--env", "staging",
               "--reason", "back").code == 0
    t = Tree(store, team)
    (line,) = [s for s in t.snap.signers if s.principal == BOB]
    assert line.valid_before is None
    assert line.valid_after == _head_time(store)
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
