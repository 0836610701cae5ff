"""identity new never writes through a link; passphrase-protected keys, judged by ssh-keygen."""

import os
import stat
import subprocess
import sys

import pytest

from conftest import Cli, assert_one_line_error


@pytest.mark.parametrize("which", ["key", "pub"])
@pytest.mark.parametrize("dangling", [False, True])
def test_identity_new_refuses_a_symlink_and_leaves_its_target_alone(tmp_path, which, dangling):
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious\n")
    out = tmp_path / "keys" / "id"
    out.parent.mkdir()
    link = out if which == "key" else out.with_name("id.pub")
    link.symlink_to(victim)
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out))
    assert_one_line_error(r, 2)
    assert "already exists" in r.err
    assert link.is_symlink()
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_text() == "precious\n"
    # Nothing half-written: no key without its public line, or the other way round.
    assert sorted(p.name for p in out.parent.iterdir()) == [link.name]


def test_identity_new_refuses_an_existing_public_key_file(tmp_path):
    out = tmp_path / "id"
    out.with_name("id.pub").write_text("someone's\n")
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out))
    assert_one_line_error(r, 2)
    assert not out.exists()
    assert out.with_name("id.pub").read_text() == "someone's\n"


def test_identity_new_key_is_0600_from_creation(tmp_path):
    out = tmp_path / "id"
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out))
    assert r.code == 0, r.err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    keygen = subprocess.run(["ssh-keygen", "-y", "-f", str(out)], capture_output=True, text=True,
                            check=True)
    assert keygen.stdout.split()[:2] == r.out.split()[:2]


PASS = "tr0ub4dor&3 canary-passphrase"


def keygen(tmp_path, passphrase=PASS, comment="enc@example.com"):
    path = tmp_path / "keys" / "id_ed25519"
    path.parent.mkdir(exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment,
                    "-f", str(path)], check=True)
    return path


def test_passphrase_protected_key_works_from_the_environment(tmp_path):
    key = keygen(tmp_path)
    cli = Cli(tmp_path)
    env = {"ENVTRAIL_IDENTITY": str(key), "ENVTRAIL_PASSPHRASE": PASS}
    shown = cli("identity", "show", env=env)
    assert shown.code == 0, shown.err
    assert shown.out.split()[:2] == key.with_name("id_ed25519.pub").read_text().split()[:2]
    # A whole store life with that key: init, set, get, verify.
    store = tmp_path / "store"
    store.mkdir()
    c = Cli(store)
    assert c("init", "--create", "--env", "production", env=env).code == 0
    assert c("set", "A", "--env", "production", "--reason", "r", input="v1", env=env).code == 0
    got = c("get", "A", "--env", "production", env=env)
    assert (got.code, got.out) == (0, "v1")
    assert PASS not in got.both
    # The key text itself (ENVTRAIL_IDENTITY_KEY) may be encrypted too.
    env2 = {"ENVTRAIL_IDENTITY_KEY": key.read_text(), "ENVTRAIL_PASSPHRASE": PASS}
    assert c("get", "A", "--env", "production", env=env2).out == "v1"


@pytest.mark.parametrize("source", ["file", "key_text"])
def test_wrong_passphrase_is_exit_4_in_one_line_without_the_passphrase(tmp_path, source):
    key = keygen(tmp_path)
    wrong = "not-the-passphrase-xyz"
    env = ({"ENVTRAIL_IDENTITY": str(key)} if source == "file"
           else {"ENVTRAIL_IDENTITY_KEY": key.read_text()})
    r = Cli(tmp_path)("identity", "show", env={**env, "ENVTRAIL_PASSPHRASE": wrong})
    assert_one_line_error(r, 4)
    assert "wrong passphrase" in r.err
    assert wrong not in r.both and PASS not in r.both


def test_no_passphrase_and_no_terminal_says_how_to_give_one(tmp_path):
    key = keygen(tmp_path)
    # A new session has no controlling terminal, so nothing can be asked.
    proc = subprocess.run([sys.executable, "-m", "envtrail", "identity", "show"], cwd=tmp_path,
                          env={**os.environ, "ENVTRAIL_IDENTITY": str(key)}, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, start_new_session=True, check=False)
    assert proc.returncode == 4
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("envtrail: error: ") and "passphrase-protected" in lines[0]
    assert lines[1].startswith("hint: ") and "ENVTRAIL_PASSPHRASE" in lines[1]


def test_passphrase_is_asked_on_the_terminal(tmp_path):
    key = keygen(tmp_path)
    text = _in_terminal(tmp_path, ["identity", "show"], {"ENVTRAIL_IDENTITY": str(key)},
                        answers=[PASS])
    assert "Passphrase for" in text
    assert key.with_name("id_ed25519.pub").read_text().split()[1] in text
    assert PASS not in text  # not echoed


def test_identity_new_with_passphrase_writes_a_key_ssh_keygen_opens_with_it(tmp_path):
    out = tmp_path / "id"
    r = Cli(tmp_path)("identity", "new", "--principal", "a@example.com", "--out", str(out),
                      "--passphrase", env={"ENVTRAIL_PASSPHRASE": PASS})
    assert r.code == 0, r.err
    assert PASS not in r.both
    ok = subprocess.run(["ssh-keygen", "-y", "-P", PASS, "-f", str(out)], capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.split()[:2] == r.out.split()[:2]
    assert subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(out)], capture_output=True,
                          check=False).returncode != 0
    shown = Cli(tmp_path)("identity", "show", env={"ENVTRAIL_IDENTITY": str(out),
                                                   "ENVTRAIL_PASSPHRASE": PASS})
    assert shown.out == r.out


def test_identity_new_with_passphrase_asks_twice_on_a_terminal(tmp_path):
    out = tmp_path / "id"
    text = _in_terminal(tmp_path, ["identity", "new", "--principal", "a@example.com", "--out",
                                   str(out), "--passphrase"], {}, answers=[PASS, PASS])
    assert text.count("assphrase") >= 2
    ok = subprocess.run(["ssh-keygen", "-y", "-P", PASS, "-f", str(out)], capture_output=True,
                        check=False)
    assert ok.returncode == 0


def test_identity_new_with_passphrase_needs_a_source(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "envtrail", "identity", "new", "--principal",
                           "a@example.com", "--out", str(tmp_path / "id"), "--passphrase"],
                          cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, start_new_session=True, check=False)
    assert proc.returncode == 2
    assert "ENVTRAIL_PASSPHRASE" in proc.stderr
    assert not (tmp_path / "id").exists()


def _in_terminal(cwd, args, env, answers):
    """Run envtrail with a pseudo-terminal as its controlling terminal; answer each prompt."""
    import pty
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose terminal is the pty
        os.chdir(cwd)
        os.execvpe(sys.executable, [sys.executable, "-m", "envtrail", *args],  # noqa: S606
                   {**os.environ, **env})
    import select
    import signal

    seen, pending, deadline = b"", list(answers), time.monotonic() + 60
    while time.monotonic() < deadline:
        # Never block on the read: a prompt not recognised must fail the test, not hang it.
        if not select.select([fd], [], [], 0.5)[0]:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if pending and seen.rstrip().endswith(b":"):
            time.sleep(0.3)  # let the prompt switch echo off before the answer arrives
            os.write(fd, pending.pop(0).encode() + b"\n")
            seen += b"\n"  # one answer per prompt
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(fd)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # already reaped by the WNOHANG poll above
        status = 0
    assert os.waitstatus_to_exitcode(status) == 0, seen
    return seen.decode(errors="replace")
