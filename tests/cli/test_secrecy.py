"""A canary value must never leak: not into Git objects, messages, output or stray files."""

import subprocess
from pathlib import Path

from conftest import Cli, git

CANARY = "CANARY-7f3a9c-do-not-leak"
CANARY2 = "CANARY-second-b81e"


def all_git_objects(store: Path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=store,
                          capture_output=True, check=True).stdout


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_canary_never_leaks(tmp_path, store, alice, bob):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    cli = Cli(store, alice)
    env = {"TMPDIR": str(tmpdir)}
    outputs = []

    def run(*args, input=None, reveals=False):
        r = cli.sub(*args, input=input, env=env)
        if not reveals:
            outputs.append((args, r))
        return r

    assert run("set", "TOKEN", "--env", "production", "--reason", "add", input=CANARY).code == 0
    (tmp_path / "in.env").write_text(f"IMPORTED={CANARY}\nOTHER=x\n")
    assert run("import", str(tmp_path / "in.env"), "--env", "staging", "--reason", "imp").code == 0
    (tmp_path / "in.env").unlink()
    assert run("set", "TOKEN", "--env", "production", "--reason", "chg", input=CANARY2).code == 0
    assert run("list", "--env", "production").code == 0
    assert run("get", "TOKEN", "--env", "production", reveals=True).out == CANARY2
    assert CANARY in run("export", "--env", "staging", reveals=True).out
    # error paths that handle the canary
    assert run("set", "TOKEN", "--env", "production", input=CANARY).code == 4  # no reason
    assert run(f"--reason={CANARY}", "set", "X", "--env", "production", input="v").code == 2
    assert run("set", f"X={CANARY}", "--env", "production", "--reason", "r").code == 2
    (tmp_path / "bad.env").write_text(f"GOOD={CANARY}\nBAD='unterminated\n")
    assert run("import", str(tmp_path / "bad.env"), "--env", "staging", "--reason", "r").code == 2
    (tmp_path / "bad.env").unlink()
    assert Cli(store, bob).sub("set", "TOKEN", "--env", "production", "--reason", "r",
                               input=CANARY).code == 4
    assert run("unset", "TOKEN", "--env", "production", "--reason", "rm").code == 0
    assert run("unset", "IMPORTED", "--env", "staging", "--reason", "rm").code == 0

    for args, r in outputs:
        assert CANARY not in r.both, args
        assert CANARY2 not in r.both, args
    for needle in (CANARY, CANARY2):
        assert needle.encode() not in all_git_objects(store)
        assert needle not in git(store, "log", "--all", "--format=%B")
        assert files_containing(store, needle.encode()) == []
        assert files_containing(tmpdir, needle.encode()) == []
        assert files_containing(Path(cli._env(None)["HOME"]), needle.encode()) == []
    assert git(store, "status", "--porcelain") == ""


def test_secret_repr_is_masked():
    from envtrail.model import Secret

    s = Secret(CANARY)
    assert CANARY not in repr(s)
    assert CANARY not in f"{s}"
    assert s.reveal() == CANARY
