"""Shared fixtures: an isolated home, real identities, real stores, a CLI runner.

Every test runs with HOME and XDG_CONFIG_HOME in a temporary folder, no
global or system git config, and no CI or envtrail variables inherited from
the machine, so nothing touches the real home directory or keys.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings

from envtrail.crypto.keys import Identity
from envtrail.runtime import Runtime

# How long one example takes is no property of this code: on a loaded two-core CI a
# per-example deadline only fails a test now and then (review17 R4).
settings.register_profile("envtrail", deadline=None)
settings.load_profile("envtrail")

_SCRUB_PREFIXES = ("ENVTRAIL_", "GITHUB_", "GITLAB_", "CI_", "GIT_")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test away from the real home, git config and CI variables."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(_SCRUB_PREFIXES) or key in {"CI", "GITLAB_CI", "VISUAL", "EDITOR"}:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Person\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    return home


@dataclass(frozen=True)
class IdentityFile:
    """A real identity on disk."""

    principal: str
    path: Path
    identity: Identity

    @property
    def publine(self) -> str:
        return self.identity.public.line(self.principal)


@pytest.fixture
def make_identity(tmp_path: Path):
    """Factory: write a new OpenSSH identity (0600) for ``principal``."""

    def make(principal: str) -> IdentityFile:
        ident = Identity.generate(principal)
        folder = tmp_path / "keys"
        folder.mkdir(exist_ok=True)
        path = folder / principal.replace("@", "_at_").replace(":", "_")
        path.write_text(ident.to_openssh())
        path.chmod(0o600)
        path.with_name(path.name + ".pub").write_text(ident.public.line(principal) + "\n")
        return IdentityFile(principal, path, ident)

    return make


@dataclass(frozen=True)
class Result:
    """What one envtrail invocation did."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


class _Capture(io.BytesIO):
    # The TextIOWrapper around it closes it when collected; keep the bytes.
    def close(self) -> None:
        pass


class _Stdin(io.TextIOWrapper):
    def __init__(self, data: bytes, tty: bool) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class Cli:
    """Runs envtrail in this process (fast) or as a real subprocess (``sub``)."""

    def __init__(self, cwd: Path, identity: IdentityFile | None = None) -> None:
        self.cwd = cwd
        self.identity = identity

    def as_(self, identity: IdentityFile | None) -> Cli:
        return Cli(self.cwd, identity)

    def at(self, cwd: Path) -> Cli:
        return Cli(cwd, self.identity)

    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        env = dict(os.environ)
        if self.identity is not None:
            env["ENVTRAIL_IDENTITY"] = str(self.identity.path)
        env.update(extra or {})
        return env

    def __call__(self, *args: str, input: str | bytes | None = None,
                 env: dict[str, str] | None = None) -> Result:
        from envtrail.cli import boundary, common

        data = input.encode() if isinstance(input, str) else (input or b"")
        saved = (sys.stdin, sys.stdout, sys.stderr, dict(os.environ), Path.cwd())
        environ = self._env(env)
        out, err = _Capture(), _Capture()
        sys.stdin = _Stdin(data, tty=False)
        sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
        os.environ.clear()
        os.environ.update(environ)
        os.chdir(self.cwd)
        common.runtime.cache_clear()
        common.GLOBALS.repo = common.GLOBALS.identity = None
        try:
            code = boundary.run(list(args))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            sys.stdin, sys.stdout, sys.stderr = saved[0], saved[1], saved[2]
            os.environ.clear()
            os.environ.update(saved[3])
            os.chdir(saved[4])
            common.runtime.cache_clear()
        return Result(code, out.getvalue().decode(), err.getvalue().decode())

    def sub(self, *args: str, input: str | bytes | None = None,
            env: dict[str, str] | None = None) -> Result:
        """Run ``python -m envtrail`` as a real process."""
        proc = subprocess.run(
            [sys.executable, "-m", "envtrail", *args],
            cwd=self.cwd, env=self._env(env), check=False, capture_output=True,
            input=input.encode() if isinstance(input, str) else input,
        )
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def assert_one_line_error(r, code):
    assert r.code == code, (r.code, r.err)
    lines = [ln for ln in r.err.splitlines() if ln]
    assert lines[0].startswith("envtrail: error: ")
    assert len(lines) <= 2
    assert "Traceback" not in r.err
    if len(lines) == 2:
        assert lines[1].startswith("hint: ")


def git(cwd: Path, *args: str, check: bool = True, input: str | None = None) -> str:
    """Run the real git and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          input=input, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def one_commit_repo(root: Path, name: str, text: str, message: str) -> Path:
    """A new git repository at ``root`` holding one file in one commit."""
    root.mkdir()
    git(root, "init", "-q")
    (root / name).write_text(text)
    git(root, "add", ".")
    git(root, "commit", "-qm", message)
    return root


@pytest.fixture
def alice(make_identity) -> IdentityFile:
    return make_identity("alice@example.com")


@pytest.fixture
def bob(make_identity) -> IdentityFile:
    return make_identity("bob@example.com")


@pytest.fixture
def store(tmp_path: Path, alice: IdentityFile) -> Path:
    """A fresh store with environments production and staging, made by alice."""
    root = tmp_path / "store"
    root.mkdir()
    result = Cli(root, alice)("init", "--create", "--env", "production", "--env", "staging")
    assert result.code == 0, result.err
    return root


@pytest.fixture
def cli(store: Path, alice: IdentityFile) -> Cli:
    """The CLI in the store, acting as alice."""
    return Cli(store, alice)


def in_terminal(cwd: Path, args: list[str], env: dict[str, str], columns: int = 80,
                lines: int = 24, seconds: float = 60) -> tuple[int, str]:
    """Run ``python -m envtrail`` on a real pseudo-terminal of the given size.

    stdin, stdout and stderr are the terminal; returns (exit code, what was
    drawn). A process still running after ``seconds`` (say, waiting at a
    prompt) is killed, so a test can assert that it never asked.
    """
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "envtrail", *args], cwd=cwd, env=env,
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.2)[0]:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    if proc.poll() is None:
        proc.kill()
    code = proc.wait()
    os.close(leader)
    return code, b"".join(chunks).decode(errors="replace")


def make_app_store(tmp_path: Path, identity: IdentityFile, envs: tuple[str, ...] = ("production",)) -> Path:
    """An application repository with one code commit; its store is on the orphan branch."""
    root = tmp_path / "app"
    root.mkdir()
    git(root, "init", "-q")
    (root / "main.py").write_text("print('hi')\n")
    git(root, "add", "main.py")
    git(root, "commit", "-q", "-m", "code")
    r = Cli(root, identity)("init", *(a for e in envs for a in ("--env", e)))
    assert r.code == 0, r.err
    return root


@pytest.fixture
def clock(monkeypatch):
    """``clock(seconds)``: every later command reads the time ``seconds`` after a start
    taken now (the start is a little ahead, so that nothing made before it is later)."""
    real = Runtime.from_os.__func__
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)

    def at(seconds: int) -> datetime:
        when = start + timedelta(seconds=seconds)
        monkeypatch.setattr(Runtime, "from_os", classmethod(
            lambda cls: replace(real(cls), clock=lambda: when)))
        return when
    return at
