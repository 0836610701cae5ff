"""No envtrail secret reaches a process envtrail starts: run's child, the editor, git.

The canaries are the real key text (ENVTRAIL_IDENTITY_KEY) and a passphrase;
each child writes its whole environment to a file, and the canaries must be absent.
"""

import os
import stat
import sys
from pathlib import Path

import pytest

from conftest import Cli, git

PASSPHRASE = "canary-passphrase-7f3e91"
DUMP = "import os,sys; open(sys.argv[1],'w').write(repr(dict(os.environ)))"


def key_env(identity) -> dict[str, str]:
    return {"ENVTRAIL_IDENTITY_KEY": identity.path.read_text(), "ENVTRAIL_PASSPHRASE": PASSPHRASE,
            "ENVTRAIL_API_TOKEN": "canary-token-55ab"}


def assert_clean(dump: Path, identity) -> None:
    text = dump.read_text()
    assert "HOME" in text  # the dump really is the child's environment
    key_body = identity.path.read_text().splitlines()[1]
    for canary in (key_body, PASSPHRASE, "canary-token-55ab", "ENVTRAIL_IDENTITY_KEY"):
        assert canary not in text


@pytest.mark.parametrize("mode", ["in_process", "sub"])
def test_run_child_gets_no_envtrail_secret(store, alice, tmp_path, mode):
    cli = Cli(store, None)
    env = key_env(alice)
    assert cli("set", "GREETING", "--env", "production", "--reason", "r", input="hi",
               env=env).code == 0
    dump = tmp_path / "run.txt"
    call = cli.sub if mode == "sub" else cli
    r = call("run", "--env", "production", "--", sys.executable, "-c",
             DUMP + "; sys.exit(0 if os.environ['GREETING']=='hi' else 9)", str(dump), env=env)
    assert r.code == 0, r.err
    assert_clean(dump, alice)


PARENT_DUMP = ("import os,sys; open(sys.argv[1],'wb').write("
               "open(f'/proc/{os.getppid()}/environ','rb').read())")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_run_child_cannot_read_the_key_from_envtrails_own_proc_environ(store, alice, tmp_path):
    # J5: the child's environment was clean, but envtrail stays its parent, and the block
    # the kernel shows as /proc/<envtrail>/environ is the one envtrail was started with.
    # A deploy tool (or a git config hook a member's value smuggles in) read the CI key
    # there. envtrail overwrites its secrets in that block as it starts.
    cli = Cli(store, None)
    env = key_env(alice)
    assert cli("set", "GREETING", "--env", "production", "--reason", "r", input="hi",
               env=env).code == 0
    dump = tmp_path / "parent.bin"
    r = cli.sub("run", "--env", "production", "--", sys.executable, "-c", PARENT_DUMP,
                str(dump), env=env)
    assert r.code == 0, r.err
    block = dump.read_bytes()
    assert b"HOME=" in block and b"PATH=" in block  # it really is envtrail's block
    key_body = alice.path.read_text().splitlines()[1].encode()
    for canary in (key_body, PASSPHRASE.encode(), b"canary-token-55ab",
                   b"ENVTRAIL_IDENTITY_KEY"):
        assert canary not in block


def test_editor_gets_no_envtrail_secret(store, alice, tmp_path):
    dump = tmp_path / "editor.txt"
    script = tmp_path / "editor.py"
    script.write_text(f"import os, sys\nopen({str(dump)!r}, 'w').write(repr(dict(os.environ)))\n")
    env = {**key_env(alice), "EDITOR": f"{sys.executable} {script}"}
    r = Cli(store, None)("edit", "--env", "production", "--reason", "r", env=env)
    assert r.code == 0, r.err
    assert_clean(dump, alice)


def test_git_gets_no_envtrail_secret(tmp_path, store, alice):
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(store), str(bare))
    git(store, "remote", "add", "origin", str(bare))
    # A `git` first on PATH that records its environment, then runs the real git.
    real = next(Path(p) / "git" for p in os.environ["PATH"].split(os.pathsep)
                if (Path(p) / "git").is_file())
    shim = tmp_path / "bin"
    shim.mkdir()
    dump = tmp_path / "git-env.txt"
    (shim / "git").write_text(f"#!/bin/sh\nenv >> {dump}\nexec {real} \"$@\"\n")
    (shim / "git").chmod(stat.S_IRWXU)
    env = {**key_env(alice), "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}"}
    cli = Cli(store, None)
    assert cli("set", "A", "--env", "production", "--reason", "r", input="1", env=env).code == 0
    r = cli("sync", env=env)
    assert r.code == 0, r.err
    assert dump.exists()
    assert_clean(dump, alice)


def test_each_layer_strips_on_its_own(tmp_path, monkeypatch):
    from envtrail.model import Secret
    from envtrail.ops.result import Values
    from envtrail.ops.runner import run_command
    from envtrail.runtime import Runtime

    # run_command filters what it is handed, even a raw environment.
    dump = tmp_path / "child.txt"
    base = {"HOME": str(tmp_path), "ENVTRAIL_IDENTITY_KEY": "canary-k", "ENVTRAIL_PASSPHRASE": "canary-p",
            "ENVTRAIL_REPO": "/somewhere"}
    code = run_command([sys.executable, "-c", DUMP, str(dump)], base,
                       Values("production", "0" * 40, {"A": Secret("1")}))
    assert code == 0
    child = dump.read_text()
    assert "canary-k" not in child and "canary-p" not in child
    assert "/somewhere" in child and "'A': '1'" in child
    # Runtime keeps the secrets for envtrail, removes them from the process, and
    # child_env leaves them out.
    monkeypatch.setenv("ENVTRAIL_IDENTITY_KEY", "canary-k")
    monkeypatch.setenv("ENVTRAIL_PASSPHRASE", "canary-p")
    rt = Runtime.from_os()
    assert rt.env["ENVTRAIL_IDENTITY_KEY"] == "canary-k"
    assert "ENVTRAIL_IDENTITY_KEY" not in os.environ and "ENVTRAIL_PASSPHRASE" not in os.environ
    assert not {"ENVTRAIL_IDENTITY_KEY", "ENVTRAIL_PASSPHRASE"} & set(rt.child_env())
    assert rt.child_env()["HOME"] == os.environ["HOME"]


def test_pager_gets_no_envtrail_secret(store, alice, tmp_path):
    from conftest import in_terminal

    cli = Cli(store, None)
    for i in range(3):
        assert cli("set", f"K{i}", "--env", "production", "--reason", f"r{i}", input="v",
                   env=key_env(alice)).code == 0
    dump = tmp_path / "pager.txt"
    env = {**os.environ, **key_env(alice), "TERM": "xterm-256color",
           "ENVTRAIL_PAGER": f"env > {dump}"}
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    code, _ = in_terminal(store, ["log"], env, lines=3)
    assert code == 0
    assert_clean(dump, alice)
