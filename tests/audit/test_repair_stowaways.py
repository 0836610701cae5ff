"""A repair puts back the clean point's tree entry for entry, whatever an outsider added
beside the store: files at the top, names that are not UTF-8, folders at any depth (found
by the third attacker review: such a store could not be repaired at all)."""

from __future__ import annotations

import subprocess

import pytest

from conftest import Cli, git, make_app_store
from hostile import head, refused, setv


def _tree_with(cwd, tree: str, path: list[bytes], blob: str) -> str:
    """``tree`` with a file ``blob`` added at ``path`` (raw bytes names), by git plumbing."""
    listing = subprocess.run(["git", "ls-tree", "-z", tree], cwd=cwd, capture_output=True,
                             check=True).stdout if tree else b""
    entries = [e for e in listing.split(b"\0") if e]
    name, rest = path[0], path[1:]
    kept = [e for e in entries if e.split(b"\t", 1)[1] != name]
    if rest:
        below = next((e.split(b"\t")[0].split()[2].decode() for e in entries
                      if e.split(b"\t", 1)[1] == name), "")
        kept.append(b"040000 tree " + _tree_with(cwd, below, rest, blob).encode() + b"\t" + name)
    else:
        kept.append(b"100644 blob " + blob.encode() + b"\t" + name)
    return subprocess.run(["git", "mktree", "-z"], cwd=cwd, input=b"\0".join(kept) + b"\0",
                          capture_output=True, check=True).stdout.decode().strip()


def _outsiders_commit(cwd, branch: str, path: list[bytes]) -> str:
    """An unsigned commit on ``branch`` that adds one stowaway file, as a push would."""
    tip = git(cwd, "rev-parse", branch).strip()
    blob = git(cwd, "hash-object", "-w", "--stdin", input="hello\n").strip()
    tree = _tree_with(cwd, git(cwd, "rev-parse", f"{tip}^{{tree}}").strip(), path, blob)
    commit = git(cwd, "commit-tree", tree, "-p", tip, "-m", "stowaway").strip()
    git(cwd, "update-ref", f"refs/heads/{branch}", commit)
    return commit


STOWAWAYS = {
    "top_level_file": [b"README"],
    "env_name_not_utf8": [b"envs", b"\xff.yaml"],
    "deep_folder": [b"docs", b"a", b"\x1b[2J"],
    "settings_not_utf8": [b".envtrail", b"\xfe"],
}


def _repaired(cli: Cli, cwd, branch: str) -> None:
    r = cli("repair", "--reason", "INC-10 stowaway")
    assert r.code == 0, r.err
    assert "Traceback" not in r.err
    r = cli("verify")
    assert r.code == 0, r.out
    assert cli("get", "A", "--env", "production").out == "good"
    git(cwd, "verify-commit", branch)  # stock git accepts the repair's signature
    assert git(cwd, "fsck", "--no-dangling").strip() == ""


@pytest.mark.parametrize("where", STOWAWAYS, ids=list(STOWAWAYS))
def test_a_repair_removes_any_stowaway_and_verifies(cli, store, where):
    setv(cli, "A", "good")
    clean = git(store, "rev-parse", "HEAD^{tree}").strip()
    _outsiders_commit(store, "main", STOWAWAYS[where])
    git(store, "reset", "-q", "--hard")
    refused(cli, "A")
    _repaired(cli, store, "main")
    assert git(store, "rev-parse", "HEAD^{tree}").strip() == clean
    assert git(store, "status", "--porcelain", "--ignored") == ""  # gone from the work tree too
    again = cli("repair", "--reason", "nothing left")
    assert again.code == 2 and "nothing to repair" in again.err
    assert head(store) == git(store, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("where", ["top_level_file", "env_name_not_utf8"])
def test_a_repair_on_the_orphan_branch_removes_any_stowaway(tmp_path, alice, where):
    app = make_app_store(tmp_path, alice)
    cli = Cli(app, alice)
    setv(cli, "A", "good")
    clean = git(app, "rev-parse", "envtrail^{tree}").strip()
    _outsiders_commit(app, "envtrail", STOWAWAYS[where])
    refused(cli, "A")
    _repaired(cli, app, "envtrail")
    assert git(app, "rev-parse", "envtrail^{tree}").strip() == clean


def test_a_name_that_is_not_utf8_never_crashes_what_reports_it(cli, store):
    import json

    setv(cli, "A", "good")
    bad = _outsiders_commit(store, "main", STOWAWAYS["env_name_not_utf8"])
    git(store, "reset", "-q", "--hard")
    for args in (("verify",), ("verify", "--json"), ("log",), ("log", "--json"),
                 ("show", bad), ("repair", "--reason", "look first", "--dry-run")):
        r = cli(*args)
        assert "unexpected" not in r.err and "Traceback" not in r.err, (args, r.err)
        assert r.code in (0, 1), (args, r.code, r.err)
    report = json.loads(cli("verify", "--json").out)
    assert not report["ok"] and any(bad == f["commit"] for f in report["findings"])
