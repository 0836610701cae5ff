"""The process environment, read in one place and passed down explicitly.

Everything else in envtrail takes a :class:`Runtime` instead of reading
``os.environ``, the clock, the home folder or the host name itself, so that
tests can pin each of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# Variables that hold key material; no process envtrail starts may see them.
SECRET_VARIABLES = frozenset({"ENVTRAIL_IDENTITY_KEY", "ENVTRAIL_PASSPHRASE"})
_SECRET_SUFFIXES = ("_KEY", "_PASSPHRASE", "_PASSWORD", "_SECRET", "_TOKEN")


def is_secret_variable(name: str) -> bool:
    """Whether ``name`` is an envtrail secret: a listed one, or ``ENVTRAIL_*`` named like one."""
    return name in SECRET_VARIABLES or (
        name.startswith("ENVTRAIL_") and name.endswith(_SECRET_SUFFIXES))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Runtime:
    """Environment variables, working folder, home, host name and clock."""

    env: Mapping[str, str]
    cwd: Path
    home: Path
    host: str
    clock: Callable[[], datetime] = field(default=_now)
    cpus: int = 1  # cores this process may run on: how many processes judge a long line

    @classmethod
    def from_os(cls) -> Runtime:
        """Capture the real process environment (the only place that reads it)."""
        import os

        rt = cls(
            env=dict(os.environ),
            cwd=Path.cwd(),
            home=Path.home(),
            host=os.uname().nodename,  # what socket.gethostname() returns, without loading socket
            cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
        )
        # Once captured, the secrets leave the process environment, so that no
        # child (git, the editor, `run`'s command, a library's helper) can
        # inherit them, whichever way it is started.
        secrets = [n for n in os.environ if is_secret_variable(n)]
        for name in secrets:
            del os.environ[name]
        if secrets:
            _scrub_start_block(secrets)
        return rt

    def child_env(self) -> dict[str, str]:
        """The environment for a process envtrail starts: everything but envtrail secrets."""
        return {k: v for k, v in self.env.items() if not is_secret_variable(k)}

    def now(self) -> datetime:
        """The current time, timezone-aware, whole seconds (as Git records it)."""
        return self.clock()

    def config_home(self) -> Path:
        """``$XDG_CONFIG_HOME`` or ``~/.config``."""
        xdg = self.env.get("XDG_CONFIG_HOME")
        return Path(xdg) if xdg else self.home / ".config"

    def flag(self, name: str) -> bool:
        """True if the variable ``name`` is set to something other than empty/0/false."""
        return self.env.get(name, "").strip().lower() not in {"", "0", "false", "no"}


def _scrub_start_block(names: list[str]) -> None:
    """Overwrite ``names``' entries in the environment block this process was started
    with. Deleting them from ``os.environ`` (and libc's ``environ``) leaves that block
    as it was, and the kernel shows it to any process of the same user as
    ``/proc/<pid>/environ``: the command `run` starts, whose parent envtrail stays,
    would read the identity key there. Linux only; elsewhere, or when the block is not
    where the kernel says, nothing is written."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            stat = fh.read()
        with open("/proc/self/environ", "rb") as fh:
            block = fh.read()
        # proc(5): env_start and env_end are fields 50 and 51; the split starts at 3.
        start, end = (int(f) for f in stat[stat.rindex(b")") + 2:].split()[47:49])
    except (OSError, ValueError):
        return
    import ctypes

    if end - start != len(block) or ctypes.string_at(start, len(block)) != block:
        return
    wanted = {n.encode() for n in names}
    offset = 0
    for entry in block.split(b"\0"):
        if entry.partition(b"=")[0] in wanted:
            ctypes.memset(start + offset, 0, len(entry))
        offset += len(entry) + 1
