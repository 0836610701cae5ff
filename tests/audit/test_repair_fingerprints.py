"""A repair's masked diff is checked like any change's: its fingerprints must be the values'.

A repair names its changes ENV:KEY (it may span environments); the keyed check must
find the claim under that name, or a repair could carry a lying fingerprint.
"""

from __future__ import annotations

import re

import forge
from envtrail.gitstore.rawcommit import parse
from hostile import commit_bytes, head, point, raw_commit, setv, sign_raw, verify_findings


def test_a_repair_whose_fingerprint_lies_is_a_finding(cli, store):
    setv(cli, "A", "older")
    older = head(store)
    setv(cli, "A", "good")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "evil"})
    forge.commit_plan(store, None, plan, message="hotfix by hand")  # unsigned: a finding
    # Back to an older state: the repair changes A from the clean point's value.
    r = cli("repair", "--reason", "undo the hand edit", "--from", older)
    assert r.code == 0, r.err
    repair = head(store)
    assert cli("verify").code == 0

    payload = parse(commit_bytes(store, repair)).payload
    said = re.search(rb"Envtrail-Change: ~ production:A ([0-9a-f]+) -> ([0-9a-f]+)\n", payload)
    assert said is not None, payload  # the repair names the variable ENV:KEY
    lie = bytes(ord("0") if c != ord("0") else ord("1") for c in said.group(2))
    forged = raw_commit(store, sign_raw(cli.identity.identity,
                                        payload.replace(said.group(2), lie)))
    point(store, forged)
    findings = verify_findings(cli)
    assert any(f["commit"] == forged and f["rule"] == 3 and "does not match the value" in
               f["message"] for f in findings), findings
    assert cli("get", "A", "--env", "production").code == 5
