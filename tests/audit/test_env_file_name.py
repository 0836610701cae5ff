"""A file stands for the environment its path names: a byte copy of another
environment's file is refused however often that blob was read before."""

from __future__ import annotations

import forge
from conftest import git
from envtrail.audit.record import Record
from envtrail.ops.txn import Plan
from hostile import setv, verify_findings


def test_a_copy_of_productions_file_as_staging_is_a_finding_in_a_whole_walk(cli, store):
    setv(cli, "DB", "production-only-value")
    setv(cli, "DB", "staging-value", env="staging")
    copy = (store / "envs/production.yaml").read_bytes()
    plan = Plan({"envs/staging.yaml": copy},
                Record("set", "alice@example.com", "copy", ("staging",)))
    forge.commit_plan(store, cli.identity.identity, plan)
    # The whole walk read this very blob as production's file two commits earlier.
    found = verify_findings(cli)
    assert any("envs/staging.yaml says it is environment 'production'" in f["message"]
               for f in found), found
    r = cli("get", "DB", "--env", "staging")
    assert r.code == 5 and "production-only-value" not in r.out + r.err
    assert git(store, "cat-file", "-p", "HEAD:envs/staging.yaml").encode() == copy
