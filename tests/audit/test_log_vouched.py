"""``log`` takes what ``verify`` checked on trust, and nothing else.

So that a 10,000-commit log does not check every signature again, commits on
the first-parent line at or below the clone's verified head are shown as
verified without a second check. These tests hold the edges of that trust
with real forged commits: anything above the verified head, off the line, or
standing only because a repair acknowledged it is checked as before.
"""

import json

import forge
from conftest import git
from envtrail.audit import checkpoint
from envtrail.audit.events import Filters, VerifiedLine, stream
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import GitRepo
from hostile import head, point, setv, unsigned_commit


def _log(cli) -> list[dict]:
    r = cli("log", "--json")
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


def _verified_by_commit(events: list[dict]) -> dict[str, tuple[bool, str]]:
    return {e["commit"]: (e["verified"], e["signature"]) for e in events}


def test_log_reads_the_same_with_and_without_a_checkpoint(cli, store):
    setv(cli, "A", "one")
    setv(cli, "B", "two")
    assert cli("verify").code == 0
    assert checkpoint.load(store) is not None
    trusted = _log(cli)
    checkpoint.clear(store)
    assert checkpoint.load(store) is None
    assert _log(cli) == trusted
    assert all(e["verified"] and e["signature"] == "good" for e in trusted)


def test_a_forged_commit_above_the_verified_head_is_still_checked(cli, store):
    setv(cli, "A", "good")
    assert cli("verify").code == 0
    verified_head = head(store)
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "evil"})
    bad = forge.commit_plan(store, None, plan)  # honest trailers, no signature
    assert checkpoint.load(store).head == verified_head  # log does not move it
    shown = _verified_by_commit(_log(cli))
    assert shown[bad] == (False, "unsigned")
    assert shown[verified_head] == (True, "good")


def test_a_commit_a_repair_acknowledged_is_checked_again(cli, store):
    setv(cli, "A", "good")
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "evil"})
    bad = forge.commit_plan(store, None, plan)  # honest trailers, no signature
    assert cli("repair", "--reason", "unsigned hotfix INC-9").code == 0
    assert cli("verify").code == 0
    assert bad in checkpoint.load(store).tainted
    shown = _verified_by_commit(_log(cli))
    assert shown[bad] == (False, "unsigned")
    assert shown[head(store)] == (True, "good")  # the repair itself


def test_only_the_first_parent_line_is_vouched_for(cli, store):
    setv(cli, "A", "good")
    base = head(store)
    plan = forge.honest_plan(store, cli.identity.identity, "production", {"A": "side"})
    side = forge.commit_plan(store, None, plan)  # honest trailers, no signature
    merge = unsigned_commit(store, side, [base, side])
    point(store, merge)
    view = StoreView(GitRepo(store))
    # Even told that the merge itself is verified, the side commit is checked.
    events = list(stream(view, merge, Filters(), verified=VerifiedLine(merge)))
    shown = {e.commit: (e.verified, e.signature) for e in events}
    assert shown[side] == (False, "unsigned")
    assert shown[base] == (True, "good")
    assert git(store, "rev-list", "--max-parents=0", "HEAD").count("\n") == 1
