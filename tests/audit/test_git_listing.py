"""The line's commit ids may come from `git rev-list` (fast, from git's commit-graph),
but git's word is never the line: replace objects are ignored, and every link is
checked against the commits themselves, so a damaged commit-graph cannot make
verify or a read skip a commit."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import git
from hostile import setv

_NO_PARENT = 0x70000000


def _line(store: Path) -> list[str]:
    return git(store, "--no-replace-objects", "rev-list", "--first-parent", "HEAD").split()


def _skip_in_commit_graph(store: Path, commit: str, new_parent: str) -> None:
    """Rewrite ``commit``'s first parent in the commit-graph file (format: git's
    Documentation/gitformat-commit-graph), as a damaged or planted file would say it."""
    git(store, "commit-graph", "write", "--reachable")
    path = store / ".git/objects/info/commit-graph"
    data = bytearray(path.read_bytes())
    chunks = {}
    for i in range(data[6] + 1):
        entry = 8 + 12 * i
        chunks[bytes(data[entry:entry + 4])] = struct.unpack(">Q", data[entry + 4:entry + 12])[0]
    oidl, cdat = chunks[b"OIDL"], chunks[b"CDAT"]
    oids = [bytes(data[oidl + 20 * i:oidl + 20 * i + 20]).hex() for i in range((cdat - oidl) // 20)]
    at = cdat + 36 * oids.index(commit) + 20
    assert struct.unpack(">I", data[at:at + 4])[0] != _NO_PARENT
    data[at:at + 4] = struct.pack(">I", oids.index(new_parent))
    path.write_bytes(bytes(data))


def test_a_commit_graph_that_skips_a_commit_is_refused(cli, store):
    for i in range(3):
        setv(cli, f"K{i}", str(i))
    line = _line(store)  # newest first
    _skip_in_commit_graph(store, line[0], line[2])
    # git itself now skips line[1] ...
    assert git(store, "rev-list", "--first-parent", "HEAD").split()[:2] == [line[0], line[2]]
    # ... envtrail does not: verify and a first read (no checkpoint) both refuse.
    (store / ".git/envtrail/verified.json").unlink()
    r = cli("verify")
    assert r.code == 5, (r.code, r.out, r.err)
    assert "git and the commits disagree about the store line" in r.err
    assert cli("get", "K0", "--env", "production").code == 5


def test_replace_objects_do_not_change_the_line(cli, store):
    for i in range(3):
        setv(cli, f"K{i}", str(i))
    line = _line(store)
    # A replace ref makes git show the head with the genesis as its parent.
    git(store, "replace", "--graft", line[0], line[-1])
    assert len(git(store, "rev-list", "--first-parent", "HEAD").split()) == 2
    r = cli("verify", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["commits"] == len(line)
    assert cli("get", "K1", "--env", "production").out.strip() == "1"


@pytest.mark.parametrize("graph", [True, False], ids=["git-lists-it", "git-fails"])
def test_a_missing_commit_is_an_integrity_error_not_a_crash(cli, store, graph):
    setv(cli, "K0", "0")
    setv(cli, "K1", "1")
    middle = _line(store)[1]
    if graph:  # git lists it from its commit-graph; without one, rev-list fails
        git(store, "commit-graph", "write", "--reachable")
    git(store, "repack", "-a", "-d", "-q")
    loose = store / ".git/objects" / middle[:2] / middle[2:]
    assert not loose.exists()
    # Take the commit out of every pack by repacking everything but it.
    kept = [c for c in git(store, "rev-list", "--all", "--objects").split("\n") if c]
    objects = "\n".join(line.split()[0] for line in kept if not line.startswith(middle)) + "\n"
    aside = store.parent / "pack"
    aside.mkdir()
    git(store, "pack-objects", "-q", str(aside / "pack"), input=objects)
    for pack in (store / ".git/objects/pack").glob("pack-*"):
        pack.unlink()
    for made in aside.iterdir():
        made.rename(store / ".git/objects/pack" / made.name)
    assert subprocess.run(["git", "cat-file", "-e", middle], cwd=store).returncode != 0
    listed = subprocess.run(["git", "rev-list", "--first-parent", "HEAD"], cwd=store,
                            capture_output=True, text=True)
    assert (listed.returncode == 0 and middle in listed.stdout) == graph
    r = cli("verify")
    assert r.code == 5, (r.code, r.err)
    assert "missing" in r.err
    assert "Traceback" not in r.err
