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
from hostile import head, message, point, refused, setv, signed_commit, unsigned_commit, verify_findings


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


def _dated(store, parent: str, seconds: int, text: str) -> str:
    """An unsigned commit on ``parent`` with its tree, dated ``seconds`` after it."""
    import os
    import subprocess

    when = GitRepo(store).info(parent).committer_time + timedelta(seconds=seconds)
    date = f"{int(when.timestamp())} +0000"
    return subprocess.run(["git", "commit-tree", "-p", parent, "-m", text, f"{parent}^{{tree}}"],
                          cwd=store, capture_output=True, text=True, check=True,
                          env=dict(os.environ, GIT_COMMITTER_DATE=date,
                                   GIT_AUTHOR_DATE=date)).stdout.strip()


def test_a_date_no_walk_here_found_stands_only_over_ten_minutes_after_the_parent(cli, store):
    """Rule 7 is "more than 10 minutes ahead" of the clock that met a commit, and that
    clock read at least the parent's date: a commit dated exactly 10 minutes after its
    parent was never ahead for any clone, so no repair may name it rule 7 unseen."""
    from envtrail.audit.repairs import sweep_plan
    from envtrail.audit.view import StoreView

    setv(cli, "K", "v1")
    clean = head(store)
    view = StoreView(GitRepo(store))
    for seconds, stands in ((600, False), (601, True)):
        forged = _dated(store, clean, seconds, f"a forgery {seconds} s after its parent")
        named = {(forged, "1"), (forged, "7")}
        plan = sweep_plan(view, [forged], named, {(forged, "1")}, "alice@example.com")
        assert (plan is not None) is stands, seconds
        if stands:
            assert plan.unseen == ((forged, "7"),)
