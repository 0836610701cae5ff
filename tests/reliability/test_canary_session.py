"""A whole working session with a canary value: it leaks nowhere it should not be.

Not into any Git object (of either clone or the remote), commit message, the
output of any command but get/export/run/diff --reveal, the argv of any process
envtrail starts (a logging `git` wrapper sits first on PATH), a temporary file,
or envtrail's own state under .git/envtrail/.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

from conftest import git

CANARY = "CANARY-9b41e7-session"
OTHER = "CANARY-2f0c33-other"
REVEALING = {"get", "export", "run"}


def objects(repo: Path) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                          capture_output=True, check=True).stdout


def files_with(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
            and needle in p.read_bytes()]


def test_canary_session(tmp_path, store, alice, bob):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    argv_log = tmp_path / "argv.log"
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    shim = bindir / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec {real_git} "$@"\n')
    shim.chmod(0o755)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    base_env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{Path(sys.executable).parent}"
                f"{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmpdir)}
    outputs = []

    def run(who, cwd, *args, input=None, reveals=False):
        env = {**base_env, "ENVTRAIL_IDENTITY": str(who.path)}
        proc = subprocess.run([sys.executable, "-m", "envtrail", *args], cwd=cwd, env=env,
                              input=input.encode() if input else None, capture_output=True,
                              check=False)
        text = proc.stdout.decode() + proc.stderr.decode()
        if not reveals:
            outputs.append((args, text))
        return proc.returncode, text

    a = store
    assert run(alice, a, "set", "TOKEN", "--env", "production", "--reason", "add",
               input=CANARY)[0] == 0
    (tmp_path / "in.env").write_text(f"IMPORTED='{CANARY}'\nPLAIN=x\n")
    assert run(alice, a, "import", str(tmp_path / "in.env"), "--env", "staging",
               "--reason", "import")[0] == 0
    (tmp_path / "in.env").unlink()
    assert run(alice, a, "set", "TOKEN", "--env", "production", "--reason", "change",
               input=OTHER)[0] == 0
    assert run(alice, a, "rollback", "--env", "production", "--to", "HEAD~1", "--reason",
               "restore")[0] == 0
    assert run(alice, a, "access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join")[0] == 0
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(a), str(bare))
    git(a, "remote", "add", "origin", str(bare))
    git(a, "fetch", "-q", "origin")
    git(a, "branch", "-q", "--set-upstream-to=origin/main")
    b = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(bare), str(b))
    assert run(bob, b, "init")[0] == 0
    assert run(bob, b, "set", "BOBS", "--env", "production", "--reason", "bob", input=OTHER)[0] == 0
    assert run(bob, b, "sync")[0] == 0
    assert run(alice, a, "set", "MORE", "--env", "production", "--reason", "more", input=CANARY)[0] == 0
    assert run(alice, a, "sync")[0] == 0
    assert run(alice, a, "access", "revoke", bob.principal, "--env", "production",
               "--reason", "left")[0] == 0
    assert run(alice, a, "sync")[0] == 0
    for args in (("verify",), ("log",), ("log", "--json"), ("show", "HEAD"), ("show", "HEAD~3"),
                 ("diff", "--env", "production", "HEAD~4"), ("blame", "--env", "production"),
                 ("list", "--env", "production"), ("access", "log"), ("status",)):
        assert run(alice, a, *args)[0] == 0, args
    # error paths that handle the values
    assert run(alice, a, "set", "X", "--env", "production", input=CANARY)[0] == 4
    assert run(alice, a, "set", f"X={CANARY}", "--env", "production", "--reason", "r")[0] == 2
    assert run(alice, a, f"--reason={CANARY}", "get", "X")[0] == 2
    assert run(bob, b, "sync")[0] == 0  # bob's clone learns of the revoke (a fast-forward)
    assert run(bob, b, "get", "TOKEN", "--env", "production")[0] == 4
    assert run(alice, a, "get", "NOPE", "--env", "production")[0] == 3
    (tmp_path / "bad.env").write_text(f"OK={CANARY}\nBROKEN='\n")
    assert run(alice, a, "import", str(tmp_path / "bad.env"), "--env", "staging", "--reason",
               "r")[0] == 2
    (tmp_path / "bad.env").unlink()
    # the revealing commands do reveal, to members
    assert CANARY in run(alice, a, "get", "TOKEN", "--env", "production", reveals=True)[1]
    assert CANARY in run(alice, a, "export", "--env", "staging", reveals=True)[1]
    assert CANARY in run(alice, a, "diff", "--env", "production", "HEAD~6", "--reveal",
                         reveals=True)[1]

    for args, text in outputs:
        assert CANARY not in text and OTHER not in text, args
    for needle in (CANARY, OTHER):
        raw = needle.encode()
        for repo in (a, b, bare):
            assert raw not in objects(repo), repo
            assert files_with(repo, raw) == [], repo  # work tree, .git, .git/envtrail
        assert needle not in git(a, "log", "--all", "--format=%B")
        assert files_with(tmpdir, raw) == []
        assert needle not in argv_log.read_text()
    assert "fetch" in argv_log.read_text() and "push" in argv_log.read_text()
    for key in (alice.path, bob.path):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
