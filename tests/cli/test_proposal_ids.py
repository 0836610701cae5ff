"""A proposal is named by its id or any unique prefix of it, the same way for review,
approve, apply and propose (review15 B8: `approve <prefix>` fell through to the
break-glass path and was refused as an integrity failure, exit 5)."""

from __future__ import annotations

import pytest
from test_approvals import _head, _proposal_id, make_team

from conftest import assert_one_line_error, git

PROPOSALS = "refs/envtrail/proposals/"


@pytest.fixture
def team(cli, store, bob, make_identity):
    return make_team(cli, bob, make_identity)


def _propose(cli, value="v2"):
    r = cli("set", "API_KEY", "--env", "production", "--reason", "rotate", "--propose",
            input=value)
    assert r.code == 0, r.err
    return _proposal_id(r)


def test_a_short_proposal_id_is_the_proposal_for_review_approve_and_apply(cli, store, team):
    pid = _propose(cli)
    short = pid[:8]
    shown = cli("review", short)
    assert shown.code == 0, shown.err
    assert f"proposal {pid} " in shown.out
    r = cli.as_(team["bob"])("approve", short, "--reason", "checked")
    assert r.code == 0, r.err
    assert f"on proposal {pid}" in r.out
    r = cli("apply", short)
    assert r.code == 0, r.err
    assert f"applied proposal {pid}:" in r.out
    assert cli("get", "API_KEY", "--env", "production").out == "v2"
    # The proposal commit's own full id names it too (it is what an approval names).
    pid = _propose(cli, "v3")
    commit = git(store, "rev-parse", f"{PROPOSALS}{pid}").strip()  # no approval yet
    assert commit.startswith(pid)
    r = cli.as_(team["bob"])("approve", commit, "--reason", "checked")
    assert r.code == 0, r.err
    assert f"on proposal {pid}" in r.out
    # A break-glass commit on the line is still approved by its commit id.
    r = cli("set", "API_KEY", "--env", "production", "--reason", "INC-1", "--break-glass",
            input="v4")
    assert r.code == 0, r.err
    assert cli.as_(team["bob"])("approve", _head(store)[:10], "--reason", "ok").code == 0


def test_a_prefix_of_two_proposals_names_both_and_one_of_none_is_not_found(cli, store, team):
    pid = _propose(cli)
    # Anyone who can push can add a ref; a second name under the same prefix is enough.
    twin = pid[:8] + ("0000" if pid[8:] != "0000" else "1111")
    git(store, "update-ref", f"{PROPOSALS}{twin}", f"{PROPOSALS}{pid}")
    refs, head = git(store, "for-each-ref"), _head(store)
    for who, args in ((cli, ("review", pid[:8])), (cli.as_(team["bob"]),
                                                   ("approve", pid[:8], "--reason", "ok")),
                      (cli, ("apply", pid[:8])), (cli, ("propose", "--redo", pid[:8]))):
        r = who(*args)
        assert_one_line_error(r, 2)
        assert pid in r.err and twin in r.err, (args, r.err)
    assert git(store, "for-each-ref") == refs and _head(store) == head
    assert cli("review", pid).code == 0  # the whole id still names one
    nothing = "abcd" if not pid.startswith("abcd") else "dcba"
    for args in (("review", nothing), ("apply", nothing), ("propose", "--redo", nothing)):
        r = cli(*args)
        assert_one_line_error(r, 3)
        assert f"no proposal '{nothing}'" in r.err
    assert git(store, "for-each-ref") == refs and _head(store) == head


def test_approving_an_approval_commit_names_its_proposal(cli, store, team):
    """review15/approvals15 note: the id of an approval on a proposal's chain fell through
    to the break-glass path and was refused as off the verified line (exit 5, which reads
    as tampering). It is a usage error that names the proposal to approve."""
    pid = _propose(cli)
    assert cli.as_(team["bob"])("approve", pid, "--reason", "checked").code == 0
    approval = git(store, "rev-parse", f"{PROPOSALS}{pid}").strip()
    assert not approval.startswith(pid)  # the tip is bob's approval now
    head, refs = _head(store), git(store, "for-each-ref", PROPOSALS)
    for given in (approval, approval[:10]):
        r = cli.as_(team["carol"])("approve", given, "--reason", "me too")
        assert_one_line_error(r, 2)
        assert f"is an approval on proposal {pid}" in r.err
        assert f"envtrail approve {pid}" in r.err
    assert (_head(store), git(store, "for-each-ref", PROPOSALS)) == (head, refs)
