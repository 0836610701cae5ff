"""What a repair may go back over, at its edges (the survivors of a mutation run of
audit/repairs.py's ``sweep_plan`` and the checks it asks).

A repair restores its clean point; the commits from there up to it must each be a
finding it names, or an honest change of values only, after the first of them, that it
names as swept. Each test writes the repair an admin could write by hand (alice's real
key) and asks a walk from the genesis whether it gives it authority.
"""

from __future__ import annotations

from datetime import timedelta

from conftest import git
from envtrail.gitstore.repo import GitRepo
from hostile import (
    dated_commit,
    head,
    message,
    point,
    refused,
    setv,
    signed_commit,
    unsigned_commit,
    verify_findings,
)


def _hand_repair(store, alice, clean: str, acks: list[tuple[str, str]],
                 sweeps: tuple[str, ...] = ()) -> str:
    """A repair restoring ``clean`` whole, as an admin can sign it by hand."""
    extra = (*(("Acknowledges", f"{c} {rule}") for c, rule in acks),
             ("Repair-Clean", clean), ("Repair-From", clean),
             *(("Sweeps", c) for c in sweeps))
    when = GitRepo(store).info(head(store)).committer_time + timedelta(seconds=1)
    repair = signed_commit(store, alice.identity, "alice@example.com", [head(store)], {},
                           message("repair", "alice@example.com", extra=extra),
                           tree_of=clean, when=when)
    point(store, repair)
    return repair


def _verified_from_scratch(cli, store) -> list[dict]:
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    return verify_findings(cli)


def test_a_repair_never_sweeps_an_honest_change_before_the_first_finding(cli, store):
    """The clean point is the parent of the first finding: a repair naming an older one
    would undo an honest change that no finding came before, on an admin's word."""
    setv(cli, "K", "v1")
    older = head(store)
    setv(cli, "K", "v2")  # honest, and before anything went wrong
    honest = head(store)
    forged = unsigned_commit(store, honest, [honest], "an unsigned commit")
    point(store, forged)
    repair = _hand_repair(store, cli.identity, older, [(forged, "1")], sweeps=(honest,))
    found = _verified_from_scratch(cli, store)
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found
    assert any(f["commit"] == forged and f["rule"] == 1 for f in found), found
    refused(cli, "K")
    # The repair from the finding's own parent sweeps nothing and settles it.
    git(store, "reset", "-q", "--hard", forged)
    _hand_repair(store, cli.identity, honest, [(forged, "1")])
    assert _verified_from_scratch(cli, store) == []
    assert cli("get", "K", "--env", "production").out == "v2"


def test_a_date_no_walk_here_found_stands_only_after_every_date_before_it(cli, store):
    """Rule 7 is "more than 10 minutes ahead" of the clock that met a commit; that clock
    met the parent no later and found it dated at most 10 minutes ahead, so before the
    commit. A commit dated at (or before) its parent's second was never ahead for any
    clone, so no repair may name it rule 7 unseen; a second after it, it may have been
    (the parent itself a few minutes fast: attack20 Q1, where the old "over 10 minutes
    after the parent" refused an honest repair in every late clone)."""
    from envtrail.audit.repairs import sweep_plan
    from envtrail.audit.view import StoreView

    setv(cli, "K", "v1")
    clean = head(store)
    view = StoreView(GitRepo(store))
    for seconds, stands in ((0, False), (1, True), (540, True)):
        forged = dated_commit(store, clean, seconds, f"a forgery {seconds} s after its parent")
        named = {(forged, "1"), (forged, "7")}
        plan = sweep_plan(view, [forged], named, {(forged, "1")}, "alice@example.com", reason="r")
        assert (plan is not None) is stands, seconds
        if stands:
            assert plan.unseen == ((forged, "7"),)


def test_a_keyless_walk_refuses_an_unseen_fingerprint_claim_on_a_commit_of_no_record(cli, store):
    """A walk without the key takes an admin's word for a lying fingerprint only on an
    envtrail change of values: named on a plain git commit (no record), the claim gives
    the repair no authority there, and the walk says so instead of failing."""
    setv(cli, "K", "v1")
    clean = head(store)
    setv(cli, "K", "v2")
    other = head(store)
    git(store, "reset", "-q", "--hard", clean)
    plain = unsigned_commit(store, other, [clean], "values changed by plain git")
    point(store, plain)
    repair = _hand_repair(store, cli.identity, clean, [(plain, "1"), (plain, "3")])
    (store / ".git/envtrail/verified.json").unlink(missing_ok=True)
    keyless = cli.as_(None)
    found = verify_findings(keyless)
    assert any(f["commit"] == repair and "does not follow the findings" in f["message"]
               for f in found), found
    assert {f["rule"] for f in found if f["commit"] == plain} == {1}, found


def test_no_repair_sweeps_another_repair(cli, store):
    """A repair that put values back changed values only, yet undoing it would undo a
    decision on record: it is never swept, for the writer or the walk."""
    import forge

    setv(cli, "K", "v1")
    me = cli.identity.identity
    forged = forge.commit_plan(store, None, forge.honest_plan(store, me, "production",
                                                              {"K": "v2"}))
    assert cli("repair", "--reason", "an unsigned change").code == 0
    repair = head(store)
    _swept_alone_never_with(store, forged, repair, "it is a repair")


def test_no_repair_sweeps_the_making_of_an_environment(cli, store):
    """`env add` changes no value of an environment there before: undoing it would remove
    an environment, which no sweep may do (its members and keys go with it)."""
    setv(cli, "K", "v1")
    clean = head(store)
    assert cli("env", "add", "qa", "--reason", "a new stage").code == 0
    made = head(store)
    # The same `env add`, signed by alice on an unsigned commit after the clean point
    # (no clone writes on a finding, but an admin can sign it by hand).
    forged = unsigned_commit(store, clean, [clean], "an unsigned commit")
    added = signed_commit(store, cli.identity.identity, "alice@example.com", [forged], {},
                          GitRepo(store).info(made).message, tree_of=made)
    _swept_alone_never_with(store, forged, added, "it adds or removes an environment")


def test_a_merge_is_dated_ahead_against_the_line_commit_before_it(cli, store):
    """A forged merge on the line: the clone that met it had met its first parent, the line
    commit before it, so that is the date it is judged against, not a side parent's."""
    import os
    import subprocess

    from envtrail.audit.repairs import sweep_plan
    from envtrail.audit.view import StoreView

    setv(cli, "K", "v1")
    line = head(store)
    side = dated_commit(store, line, 640, "a side commit")
    when = GitRepo(store).info(line).committer_time + timedelta(seconds=700)
    date = f"{int(when.timestamp())} +0000"
    merge = subprocess.run(["git", "commit-tree", "-p", line, "-p", side, "-m", "a merge",
                            f"{line}^{{tree}}"], cwd=store, capture_output=True, text=True,
                           check=True, env=dict(os.environ, GIT_COMMITTER_DATE=date,
                                                GIT_AUTHOR_DATE=date)).stdout.strip()
    plan = sweep_plan(StoreView(GitRepo(store)), [merge], {(merge, "6"), (merge, "7")},
                      {(merge, "6")}, "alice@example.com", reason="r")
    assert plan is not None and plan.unseen == ((merge, "7"),)


def _swept_alone_never_with(store, forged: str, kept: str, why: str) -> None:
    """The unsigned ``forged`` commit may be swept by itself, never together with ``kept``,
    which ``sweep_refusal`` refuses for ``why``."""
    from envtrail.audit.repairs import sweep_plan, sweep_refusal
    from envtrail.audit.view import StoreView

    view = StoreView(GitRepo(store))
    assert sweep_refusal(view, kept) == why
    named = {(forged, "1")}
    assert sweep_plan(view, [forged], named, named, "alice@example.com", reason="r") is not None
    assert sweep_plan(view, [forged, kept], named, named, "alice@example.com", reason="r") is None
