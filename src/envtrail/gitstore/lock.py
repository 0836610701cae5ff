"""A write lock under ``.git/envtrail/`` that dies with its holder.

The lock is an advisory ``flock`` on a file that stays in place. The kernel
drops it when the holding process exits for any reason, SIGKILL included, so
a crashed writer never leaves a stale lock behind and nothing has to guess
whether a recorded pid is still alive.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from envtrail.errors import ConflictError


class WriteLock:
    """``with WriteLock(path):`` serialises local envtrail writers."""

    _held = 0  # how many this process holds: a reader inside a writer never waits on itself

    @classmethod
    def held_here(cls) -> bool:
        """Whether this process holds a write lock now."""
        return cls._held > 0

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> WriteLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise ConflictError(
                        "another envtrail write has held the store lock for too long",
                        hint=f"check for a hung envtrail process holding {self.path}",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        # The pid is only for a person investigating; the flock is the lock.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        WriteLock._held += 1
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            WriteLock._held -= 1
