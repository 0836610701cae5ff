"""Values are exact through the CLI: set from stdin, export in every format, import, run."""

import json
import subprocess
import sys

import pytest

from conftest import assert_one_line_error, git
from consumers import docker, python_dotenv
from envtrail.errors import UsageError
from envtrail.ops.runner import MAX_ARG_STRLEN, check_passable

CANARY = "CANARY-93c1-never-shown"


def head(store):
    return git(store, "rev-parse", "HEAD")


def test_openssh_key_set_from_stdin_loads_after_get(cli, store, tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy", "-f", str(key)],
                   check=True)
    data = key.read_bytes()
    assert data.endswith(b"-----\n")
    r = cli("set", "DEPLOY_KEY", "--env", "production", "--reason", "deploy key", input=data)
    assert r.code == 0, r.err
    got = cli("get", "DEPLOY_KEY", "--env", "production")
    assert got.out.encode() == data
    back = tmp_path / "back"
    back.write_bytes(got.out.encode())
    back.chmod(0o600)
    pub = subprocess.run(["ssh-keygen", "-y", "-f", str(back)], capture_output=True, text=True,
                         check=True).stdout
    assert pub.split()[:2] == (tmp_path / "id_ed25519.pub").read_text().split()[:2]
    # and it leaves through dotenv exactly, for python-dotenv in every mode
    text = cli("export", "--env", "production", "--format", "dotenv").out
    assert all(v == {"DEPLOY_KEY": data.decode()} for v in python_dotenv.read(text).values())


@pytest.mark.parametrize(("piped", "flags", "stored"), [
    (b"v\n", [], "v"),
    (b"v\r\n", [], "v"),
    (b"v", [], "v"),
    (b"v\n\n", [], "v\n\n"),
    (b"v\n", ["--raw"], "v\n"),
    (b"line1\nline2\n", [], "line1\nline2\n"),
    (b"  spaced\t\n", [], "  spaced\t"),
    (b"\n", ["--allow-empty"], ""),
])
def test_piped_stdin_is_the_value_less_one_final_newline_of_one_line(cli, piped, flags, stored):
    r = cli("set", "K", "--env", "production", "--reason", "r", *flags, input=piped)
    assert r.code == 0, r.err
    assert cli("get", "K", "--env", "production").out == stored


@pytest.mark.parametrize("piped", [b"", b"\n", b"\r\n"])
def test_an_empty_value_is_refused_and_nothing_changes(cli, store, piped):
    cli("set", "K", "--env", "production", "--reason", "r", input="keep")
    before = head(store)
    r = cli("set", "K", "--env", "production", "--reason", "r", input=piped)
    assert_one_line_error(r, 2)
    assert "K" in r.err and "--allow-empty" in r.err
    assert head(store) == before
    assert cli("get", "K", "--env", "production").out == "keep"


def test_raw_needs_a_single_key_from_stdin(cli):
    r = cli("set", "A", "B", "--env", "production", "--reason", "r", "--raw", input="A=1\nB=2\n")
    assert_one_line_error(r, 2)


def test_export_refuses_by_name_what_a_format_cannot_carry(cli, store):
    cli("set", "WIN_PATH", "--env", "production", "--reason", "r", input=f"C:\\{CANARY}\\")
    cli("set", "HASH", "--env", "production", "--reason", "r", input="#")
    r = cli("export", "--env", "production", "--format", "dotenv")
    assert_one_line_error(r, 2)
    assert "WIN_PATH" in r.err and "HASH" not in r.err
    assert "--format json" in r.err and "--format shell" in r.err
    assert CANARY not in r.both and r.out == ""
    values = json.loads(cli("export", "--env", "production", "--format", "json").out)
    assert values == {"WIN_PATH": f"C:\\{CANARY}\\", "HASH": "#"}


def test_dotenv_export_imports_into_another_environment_unchanged(cli, store, tmp_path):
    vals = {"HASH": "#", "SPACED": " a # b ", "QUOTE": "it's", "PEM": "-----X-----\nabc\n",
            "DOLLAR": "$HOME", "CRLF": "a\r\nb\r\n"}
    for k, v in vals.items():
        cli("set", k, "--env", "production", "--reason", "r", "--raw", input=v)
    exported = tmp_path / "out.env"
    exported.write_bytes(cli("export", "--env", "production").out.encode())
    r = cli("import", str(exported), "--env", "staging", "--reason", "copy")
    assert r.code == 0, r.err
    assert json.loads(cli("export", "--env", "staging", "--format", "json").out) == vals


def test_docker_export_is_what_docker_reads(cli):
    cli("set", "A", "--env", "production", "--reason", "r", input="x = 'y' # z")
    cli("set", "B", "--env", "production", "--reason", "r", input="two\nlines\n")
    r = cli("export", "--env", "production", "--format", "docker")
    assert_one_line_error(r, 2)
    assert "B" in r.err and "--format docker" not in r.err
    cli("unset", "B", "--env", "production", "--reason", "r")
    out = cli("export", "--env", "production", "--format", "docker").out
    assert docker.read_env_file(out.encode()) == ["A=x = 'y' # z"]


def test_import_reads_crlf_and_references_as_python_dotenv_does(cli, store, tmp_path):
    text = 'USER=app\r\nURL="postgres://${USER}@db"\r\nKEY="-----A-----\r\nabc\r\n"\r\n'
    (tmp_path / "in.env").write_bytes(text.encode())
    r = cli("import", str(tmp_path / "in.env"), "--env", "staging", "--reason", "imp")
    assert r.code == 0, r.err
    got = json.loads(cli("export", "--env", "staging", "--format", "json").out)
    assert got == {"USER": "app", "URL": "postgres://app@db", "KEY": "-----A-----\nabc\n"}
    assert got == python_dotenv.read(text)["path, interpolate"]


def test_import_refuses_a_reference_to_the_outside_and_a_line_without_equals(cli, store, tmp_path):
    before = head(store)
    (tmp_path / "a.env").write_text("A=1\nB=${HOME}/x\n")
    r = cli("import", str(tmp_path / "a.env"), "--env", "staging", "--reason", "imp")
    assert_one_line_error(r, 2)
    assert "line 2" in r.err and "B" in r.err
    (tmp_path / "b.env").write_text(f"A=1\n{CANARY}\n")
    r = cli("import", str(tmp_path / "b.env"), "--env", "staging", "--reason", "imp")
    assert_one_line_error(r, 2)
    assert "line 2" in r.err and CANARY not in r.both
    assert head(store) == before


def test_run_refuses_a_value_linux_cannot_pass(cli):
    if not sys.platform.startswith("linux"):
        pytest.skip("the per-string limit is Linux's")
    big = CANARY + "x" * MAX_ARG_STRLEN
    r = cli("set", "BIG", "--env", "production", "--reason", "r", input=big)
    assert r.code == 0, r.err
    r = cli("run", "--env", "production", "--", "true")
    assert_one_line_error(r, 2)
    assert "BIG" in r.err and "128 KiB" in r.err
    assert CANARY not in r.both and "OSError" not in r.err
    # just under the limit it really passes
    fits = "y" * (MAX_ARG_STRLEN - len("BIG=") - 1)
    cli("set", "BIG", "--env", "production", "--reason", "r", input=fits)
    code = f"import os,sys; sys.exit(0 if os.environ['BIG'] == {fits[:1]!r} * {len(fits)} else 9)"
    assert cli.sub("run", "--env", "production", "--", sys.executable, "-c", code).code == 0


def test_run_refuses_an_environment_over_the_total_limit():
    ours = {"A": "a" * 1000, "HUGE": "h" * 3200}
    with pytest.raises(UsageError, match=r"too large.*4 KiB.*HUGE"):
        check_passable(["prog"], {"PATH": "/bin", **ours}, ours, platform="linux", arg_max=4096)
    check_passable(["prog"], {"PATH": "/bin", **ours}, ours, platform="linux", arg_max=8192)
    check_passable(["prog"], ours, {"X": "x" * MAX_ARG_STRLEN}, platform="darwin")


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_run_refuses_a_nul_on_every_platform(platform):
    # No OS passes one: subprocess would raise ValueError (attack 12, F3).
    ours = {"OK": "fine", "ZED": "a\x00b"}
    with pytest.raises(UsageError, match=r"\AZED holds a NUL byte") as info:
        check_passable(["prog"], ours, ours, platform=platform)
    assert "a\x00b" not in info.value.message


@pytest.mark.parametrize(("stack", "limit"), [(1 << 20, 256 * 1024), (256 * 1024, MAX_ARG_STRLEN)])
def test_the_total_limit_follows_the_stack_limit_as_the_kernel_does(stack, limit):
    code = ("import resource; resource.setrlimit(resource.RLIMIT_STACK, "
            f"({stack}, resource.getrlimit(resource.RLIMIT_STACK)[1])); "
            "from envtrail.ops.runner import _linux_arg_limit; print(_linux_arg_limit())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == limit
