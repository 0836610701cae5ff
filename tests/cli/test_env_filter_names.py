"""`proposals --env` and `access log --env` check the name as `log`, `list`, `blame` and
`access list` do (review15 B9): a bad name is exit 2, one that is nowhere exit 3, and an
environment gone from the head still lists where its history or a proposal names it."""

from __future__ import annotations

import json

from test_approvals import _proposal_id

from conftest import assert_one_line_error, git


def test_a_bad_or_unknown_environment_filter_is_refused(cli, store):
    for cmd in (("proposals",), ("access", "log"), ("access", "list"), ("log",)):
        assert_one_line_error(cli(*cmd, "--env", "../x"), 2)
        r = cli(*cmd, "--env", "nosuch")
        assert_one_line_error(r, 3)
        assert "no environment 'nosuch'" in r.err, cmd
        r = cli(*cmd, "--env", "prodution")
        assert_one_line_error(r, 3)
        assert "did you mean production?" in r.err, cmd
        assert cli(*cmd, "--env", "production").code == 0


def test_an_environment_only_a_proposal_or_the_history_names_still_lists(cli, store):
    # A rule written ahead for qa names an environment the line does not have yet.
    pid = _proposal_id(cli("policy", "set", "--env", "qa", "--reason-pattern", "QA-[0-9]+",
                           "--reason", "ahead of env add", "--propose"))
    r = cli("proposals", "--env", "qa", "--json")
    assert r.code == 0, r.err
    assert [p["id"] for p in json.loads(r.out)] == [pid]
    # staging removed from the head by hand: its history still names it.
    git(store, "rm", "-q", "envs/staging.yaml")
    git(store, "commit", "-q", "--no-verify", "-m", "drop staging")
    r = cli("proposals", "--env", "staging", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == []
    assert cli("log", "--env", "staging").code == 0
    assert_one_line_error(cli("proposals", "--env", "nosuch"), 3)
