"""Fetching, pushing and the remembered remote head, against real bare repositories.

sync drives all of this through the CLI (tests/cli/test_sync*.py); here each function of
gitstore/remote.py meets the git situations it names one at a time, fast.
"""

import json
from pathlib import Path

import pytest

from conftest import git
from envtrail.errors import AccessDenied, ConflictError, IntegrityError, NotFoundError
from envtrail.gitstore import remote
from envtrail.gitstore.remote import RefUpdate, Upstream
from envtrail.gitstore.repo import GitRepo

UP = Upstream("origin", "main")


def commit(root: Path, name: str, parents: tuple[str, ...] = ()) -> str:
    """A commit of one file ``name`` with the given parents (no ref moved)."""
    blob = git(root, "hash-object", "-w", "--stdin", input=name).strip()
    tree = git(root, "mktree", input=f"100644 blob {blob}\t{name}\n").strip()
    args = [a for p in parents for a in ("-p", p)]
    return git(root, "commit-tree", tree, *args, "-m", name).strip()


@pytest.fixture
def pair(tmp_path):
    """(a clone, its bare origin), the origin's main at one commit the clone fetched."""
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    clone = tmp_path / "clone"
    git(tmp_path, "init", "-q", str(clone))
    first = commit(clone, "first")
    git(clone, "update-ref", "refs/heads/main", first)
    git(clone, "remote", "add", "origin", str(bare))
    git(clone, "push", "-q", "origin", "main")
    return clone, bare


def head_of(bare: Path, ref: str = "refs/heads/main") -> str | None:
    out = git(bare, "rev-parse", "--verify", "--quiet", ref, check=False).strip()
    return out or None


# -- which upstream -----------------------------------------------------------


def test_upstream_is_the_configured_one_or_the_named_remote_with_the_same_branch(pair):
    clone, _ = pair
    assert remote.upstream(clone, "refs/heads/main", None) == UP
    git(clone, "remote", "add", "other", str(clone))
    git(clone, "config", "branch.main.remote", "other")
    git(clone, "config", "branch.main.merge", "refs/heads/store")
    assert remote.upstream(clone, "refs/heads/main", None) == Upstream("other", "store")
    # Another remote named on the command line keeps this branch's own name there.
    assert remote.upstream(clone, "refs/heads/main", "origin") == UP
    git(clone, "config", "--unset", "branch.main.merge")
    assert remote.upstream(clone, "refs/heads/main", None) == Upstream("other", "main")
    up = Upstream("other", "store")
    assert (up.tracking_ref, up.remote_ref, str(up)) == (
        "refs/remotes/other/store", "refs/heads/store", "other/store")


def test_upstream_refuses_a_remote_that_is_not_there(pair):
    clone, _ = pair
    with pytest.raises(NotFoundError, match="no remote named 'upstream'"):
        remote.upstream(clone, "refs/heads/main", "upstream")
    git(clone, "remote", "remove", "origin")
    with pytest.raises(NotFoundError, match="no remote named 'origin'"):
        remote.upstream(clone, "refs/heads/main", None)


# -- fetch --------------------------------------------------------------------


def test_fetch_answers_the_remote_head_and_moves_no_branch_or_tracking_ref(pair):
    clone, bare = pair
    second = commit(clone, "second", (head_of(bare),))
    git(clone, "push", "-q", "origin", f"{second}:refs/heads/main")
    before = git(clone, "for-each-ref", "refs/heads", "refs/remotes")
    assert remote.fetch(clone, UP) == second
    assert git(clone, "for-each-ref", "refs/heads", "refs/remotes") == before
    assert remote.fetch(clone, Upstream("origin", "nothing-here")) is None


def test_fetch_mirrors_the_remotes_envtrail_refs_apart_and_prunes_them(pair):
    clone, bare = pair
    tip = head_of(bare)
    git(bare, "update-ref", "refs/envtrail/events", tip)
    git(bare, "update-ref", "refs/envtrail/proposals/p1", tip)
    git(clone, "update-ref", "refs/envtrail/events", commit(clone, "mine"))
    mine = git(clone, "rev-parse", "refs/envtrail/events").strip()
    # What older versions kept under refs/remotes/ goes, or git could not track a branch
    # named `envtrail` there.
    git(clone, "update-ref", "refs/remotes/origin/envtrail/events", tip)
    git(clone, "update-ref", "refs/remotes/origin/envtrail/proposals/old", tip)
    remote.fetch(clone, UP)
    refs = git(clone, "for-each-ref", "--format=%(refname) %(objectname)").split("\n")
    assert f"refs/envtrail-remotes/origin/events {tip}" in refs
    assert f"refs/envtrail-remotes/origin/proposals/p1 {tip}" in refs
    assert f"refs/envtrail/events {mine}" in refs  # this clone's own ref is never written
    assert git(clone, "for-each-ref", "refs/remotes/origin/envtrail/") == ""
    git(bare, "update-ref", "-d", "refs/envtrail/proposals/p1")
    remote.fetch(clone, UP)
    assert git(clone, "for-each-ref", "refs/envtrail-remotes/origin/proposals/") == ""


def test_fetch_from_a_remote_that_cannot_be_read_is_a_conflict_naming_gits_reason(pair):
    clone, bare = pair
    bare.rename(bare.with_name("moved.git"))
    with pytest.raises(ConflictError) as info:
        remote.fetch(clone, UP)
    message = info.value.message
    assert message.startswith("fetching from origin failed: ")
    assert "\n" not in message and len(message) <= len("fetching from origin failed: ") + 200


def test_fetch_of_a_branch_that_names_no_commit_is_a_conflict(pair):
    clone, bare = pair
    tree = git(bare, "rev-parse", "main^{tree}").strip()
    (bare / "refs/heads/odd").write_text(tree + "\n")  # git's own commands refuse to write it
    with pytest.raises(ConflictError, match="gave no commit for odd"):
        remote.fetch(clone, Upstream("origin", "odd"))


def test_fetch_that_git_refuses_for_the_store_branch_alone_is_a_conflict(pair):
    # The envtrail refs come over; the branch itself is refused (a ref name git rejects).
    clone, _ = pair
    with pytest.raises(ConflictError, match="fetching from origin failed"):
        remote.fetch(clone, Upstream("origin", "bad..name"))


# -- push ---------------------------------------------------------------------


def test_push_moves_the_remote_only_from_the_head_it_was_built_on(pair):
    clone, bare = pair
    first = head_of(bare)
    second = commit(clone, "second", (first,))
    assert remote.push(clone, UP, second, first) is True
    assert head_of(bare) == second
    third = commit(clone, "third", (first,))
    assert remote.push(clone, UP, third, first) is False  # it moved meanwhile
    assert head_of(bare) == second
    # A branch the remote does not have is created only if it still has none.
    assert remote.push(clone, Upstream("origin", "new"), second, None) is True
    assert remote.push(clone, Upstream("origin", "new"), third, None) is False
    assert head_of(bare, "refs/heads/new") == second


def test_push_refs_moves_all_or_none(pair):
    clone, bare = pair
    first = head_of(bare)
    second = commit(clone, "second", (first,))
    stale = [RefUpdate("refs/heads/main", second, first),
             RefUpdate("refs/envtrail/events", second, first)]  # the remote has no events ref
    assert remote.push_refs(clone, UP, stale) is False
    assert (head_of(bare), head_of(bare, "refs/envtrail/events")) == (first, None)
    good = [RefUpdate("refs/heads/main", second, first), RefUpdate("refs/envtrail/events", second, None)]
    assert remote.push_refs(clone, UP, good) is True
    assert (head_of(bare), head_of(bare, "refs/envtrail/events")) == (second, second)
    assert remote.push_refs(clone, UP, [RefUpdate("refs/envtrail/events", None, second)]) is True
    assert head_of(bare, "refs/envtrail/events") is None


def test_push_refs_to_a_server_without_atomic_pushes_still_holds_each_lease(pair):
    clone, bare = pair
    git(bare, "config", "receive.advertiseAtomic", "false")
    first = head_of(bare)
    second = commit(clone, "second", (first,))
    updates = [RefUpdate("refs/heads/main", second, first), RefUpdate("refs/envtrail/events", second, None)]
    assert remote.push_refs(clone, UP, updates) is True
    assert (head_of(bare), head_of(bare, "refs/envtrail/events")) == (second, second)
    third = commit(clone, "third", (first,))
    assert remote.push_refs(clone, UP, [RefUpdate("refs/heads/main", third, first),
                                        RefUpdate("refs/envtrail/x", third, None)]) is False
    assert head_of(bare) == second


def hook(bare: Path, name: str, script: str) -> None:
    path = bare / "hooks" / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_a_push_the_remote_refuses_is_access_denied_with_its_reason(pair):
    clone, bare = pair
    hook(bare, "pre-receive", "echo 'store is frozen' >&2\nexit 1\n")
    first = head_of(bare)
    with pytest.raises(AccessDenied) as info:
        remote.push(clone, UP, commit(clone, "second", (first,)), first)
    assert info.value.message == "origin refused the push: (pre-receive hook declined)"
    assert head_of(bare) == first


def test_a_push_to_a_remote_that_cannot_be_reached_is_a_conflict(pair):
    clone, bare = pair
    first = head_of(bare)
    second = commit(clone, "second", (first,))
    bare.rename(bare.with_name("moved.git"))
    with pytest.raises(ConflictError, match=r"^pushing to origin failed: \S"):
        remote.push(clone, UP, second, first)


def test_a_push_meeting_a_held_ref_lock_tries_five_times_then_says_so(pair, monkeypatch):
    clone, bare = pair
    monkeypatch.setattr(remote, "LOCK_WAIT", 0.01)
    # git runs pre-receive once per attempt, before it locks the ref.
    hook(bare, "pre-receive", f"echo x >> '{bare}/attempts'\n")
    (bare / "refs/heads/main.lock").write_text("")
    first = head_of(bare)
    with pytest.raises(ConflictError, match="origin's main stayed locked by another push"):
        remote.push(clone, UP, commit(clone, "second", (first,)), first)
    assert (bare / "attempts").read_text().count("x") == remote.LOCK_RETRIES == 5
    (bare / "refs/heads/main.lock").unlink()
    (bare / "attempts").unlink()
    second = commit(clone, "second", (first,))
    assert remote.push(clone, UP, second, first) is True
    assert (bare / "attempts").read_text().count("x") == 1


def test_messages_take_the_last_line_of_what_git_said():
    assert remote._last_line("  \nfirst\n\n  last one  \n\n") == "last one"
    assert remote._last_line("\n \n") == "no output"
    assert remote._last_line("x" * 500) == "x" * 200
    porcelain = "To /r\n!\trefs/heads/main:refs/heads/main\t[remote rejected] " + "y" * 300 + "\n"
    assert remote._rejection(porcelain) == "y" * 200
    assert remote._rejection("To /r\n") == "no reason given"
    said = "!\trefs/heads/main\t[remote rejected] (hook: no [remote rejected] here)\n"
    assert remote._rejection(said) == "(hook: no [remote rejected] here)"


# -- unshallow ----------------------------------------------------------------


def test_unshallow_completes_a_shallow_clone_and_says_whether_it_is_whole(pair, tmp_path):
    clone, bare = pair
    first = head_of(bare)
    git(clone, "push", "-q", "origin", f"{commit(clone, 'second', (first,))}:refs/heads/main")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{bare}", str(shallow))
    assert (shallow / ".git/shallow").exists()
    assert remote.unshallow(shallow, "nowhere") is False
    assert remote.unshallow(shallow) is True
    assert not (shallow / ".git/shallow").exists()
    assert git(shallow, "rev-list", "--count", "HEAD").strip() == "2"
    assert remote.unshallow(shallow) is False  # complete already: git refuses --unshallow


# -- the remote head last seen ------------------------------------------------


def test_the_remembered_heads_and_refs_are_kept_per_upstream(pair):
    clone, _ = pair
    other = Upstream("origin", "other")
    assert remote.last_seen(clone, UP) is None and remote.seen_refs(clone, UP) == {}
    remote.remember_seen(clone, UP, "a" * 40)  # makes .git/envtrail/ as needed
    remote.remember_seen(clone, other, "b" * 40)
    remote.remember_refs(clone, UP, {"refs/envtrail/z": "c" * 40, "refs/envtrail/a": "d" * 40})
    assert remote.last_seen(clone, UP) == "a" * 40
    assert remote.last_seen(clone, other) == "b" * 40
    assert remote.seen_refs(clone, UP) == {"refs/envtrail/a": "d" * 40, "refs/envtrail/z": "c" * 40}
    path = clone / ".git/envtrail/remote.json"
    assert json.loads(path.read_text()) == {
        "heads": {"origin": {"main": "a" * 40, "other": "b" * 40}},
        "origin refs": {"refs/envtrail/a": "d" * 40, "refs/envtrail/z": "c" * 40}}
    assert sorted(p.name for p in path.parent.iterdir()) == ["remote.json"]  # no temp file left
    remote.forget_seen(clone)
    assert not path.exists() and remote.last_seen(clone, UP) is None
    remote.forget_seen(clone)  # nothing to forget is no error


@pytest.mark.parametrize(("text", "refs"), [
    ("not json", {}), ("[1, 2]", {}), ('"a string"', {}), ('{"origin/main": 7}', {}),
    ('{"origin/main": ["x"], "origin refs": "x"}', {}), ('{"heads": [1]}', {}),
    ('{"heads": {"origin": {"main": 7}, "x": 1}}', {}),
    ('{"origin refs": {"refs/envtrail/a": 1, "2": "x"}}', {"2": "x"}),
])
def test_a_damaged_remembered_file_is_read_as_nothing_seen_and_written_afresh(pair, text, refs):
    clone, _ = pair
    path = clone / ".git/envtrail/remote.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    assert remote.last_seen(clone, UP) is None
    assert remote.seen_refs(clone, UP) == refs
    remote.remember_seen(clone, UP, "a" * 40)
    assert remote.last_seen(clone, UP) == "a" * 40


# -- refusing a remote that went back ----------------------------------------


def test_a_remote_that_went_back_or_is_gone_is_refused(pair):
    clone, bare = pair
    g = GitRepo(clone)
    first = head_of(bare)
    second = commit(clone, "second", (first,))
    third = commit(clone, "third", (second,))
    remote.refuse_going_back(g, Upstream("origin", "never-seen"), None)  # nothing seen: nothing to hold
    remote.remember_seen(clone, UP, second)
    remote.refuse_going_back(g, UP, second)
    remote.refuse_going_back(g, UP, third)
    with pytest.raises(IntegrityError, match=f"no longer contains {second[:10]}, the head"):
        remote.refuse_going_back(g, UP, first)  # rewound
    with pytest.raises(IntegrityError, match="no longer contains"):
        remote.refuse_going_back(g, UP, commit(clone, "rewritten", (first,)))
    with pytest.raises(IntegrityError, match=f"origin/main is gone from the remote, which had {second[:10]}"):
        remote.refuse_going_back(g, UP, None)


def test_the_remembered_head_must_stay_on_the_first_parent_line(pair):
    # Reachable through a merge's second parent is not enough: the store line is first parents.
    clone, bare = pair
    g = GitRepo(clone)
    first = head_of(bare)
    seen = commit(clone, "seen", (first,))
    other = commit(clone, "other", (first,))
    merge = commit(clone, "merge", (other, seen))
    remote.remember_seen(clone, UP, seen)
    with pytest.raises(IntegrityError, match="no longer contains"):
        remote.refuse_going_back(g, UP, merge)


def test_without_a_remembered_head_the_tracking_ref_is_held(pair):
    clone, bare = pair
    g = GitRepo(clone)
    first = head_of(bare)
    second = commit(clone, "second", (first,))
    git(clone, "update-ref", UP.tracking_ref, second)
    with pytest.raises(IntegrityError, match=f"no longer contains {second[:10]}"):
        remote.refuse_going_back(g, UP, first)
    remote.track(clone, UP, first)  # what sync does once it accepted a head
    assert head_of(clone, UP.tracking_ref) == first
    remote.refuse_going_back(g, UP, first)


def test_without_git_on_path_sync_says_it_needs_git(pair, monkeypatch, tmp_path):
    clone, _ = pair
    monkeypatch.setenv("PATH", str(tmp_path / "no-such-folder"))
    with pytest.raises(NotFoundError, match="sync needs the `git` command on PATH"):
        remote.upstream(clone, "refs/heads/main", None)


def test_fetch_stops_when_the_remotes_envtrail_refs_cannot_be_fetched(pair):
    # The store branch alone would come over; sync must not go on without the events line
    # and proposals the remote holds.
    clone, bare = pair
    (bare / "refs/envtrail").mkdir()
    (bare / "refs/envtrail/events").write_text("1" * 40 + "\n")  # an object the remote lacks
    with pytest.raises(ConflictError, match="fetching from origin failed: "):
        remote.fetch(clone, UP)
    assert git(clone, "for-each-ref", "refs/envtrail-remotes/") == ""


def test_the_heads_seen_of_a_branch_are_those_of_each_remote_and_of_removed_ones(pair):
    """seen_heads (the push hook's record of a store branch's heads): `<remote>/<branch>`
    for each remote this clone names, its name a slash or not (attack29 P3), never another
    branch ending alike (attack28 P2); a head recorded for a remote since removed still
    counts (forgetting it would let a stale line onto a lost branch)."""
    clone, _ = pair
    git(clone, "remote", "add", "team/origin", str(clone))
    git(clone, "remote", "add", "team", str(clone))
    heads = {name: commit(clone, name) for name in "abcdefg"}
    for (where, branch), name in ((("origin", "main"), "a"), (("team/origin", "main"), "b"),
                                  (("origin", "evil/main"), "c"), (("gone", "main"), "d"),
                                  (("origin", "other"), "e"), (("team/mirror", "main"), "f"),
                                  (("team", "mirror/main"), "g")):
        remote.remember_seen(clone, Upstream(where, branch), heads[name])
    git(clone, "update-ref", "refs/remotes/origin/evil/main", heads["c"])
    tracked = git(clone, "rev-parse", "refs/remotes/origin/main").strip()
    seen = remote.seen_heads(GitRepo(clone), "main")
    # review17 B2: team/mirror (no longer named) nests under team (named): its head
    # counts, and team's branch mirror/main is no head of main.
    assert set(seen) == {heads["a"], heads["b"], heads["d"], heads["f"], tracked}


def test_heads_an_older_envtrail_recorded_are_read_as_they_were(pair):
    """Before remote and branch were kept apart, a head was recorded as
    "<remote>/<branch>": such records keep counting after an upgrade, by the rule they
    were read by (another branch ending alike is none of them)."""
    clone, _ = pair
    heads = {name: commit(clone, name) for name in "abc"}
    path = clone / ".git/envtrail/remote.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"origin/main": heads["a"], "gone/main": heads["b"],
                                "origin/evil/main": heads["c"]}))
    assert remote.last_seen(clone, UP) == heads["a"]
    tracked = git(clone, "rev-parse", "refs/remotes/origin/main").strip()
    assert set(remote.seen_heads(GitRepo(clone), "main")) == {heads["a"], heads["b"], tracked}
    remote.remember_seen(clone, UP, heads["c"])
    assert remote.last_seen(clone, UP) == heads["c"]
    assert heads["b"] in remote.seen_heads(GitRepo(clone), "main")
