"""``edit``: the decrypted variables in an editor, written back as one commit."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from envtrail.crypto.keys import Identity
from envtrail.errors import CommandNotFound, EnvtrailError, UsageError
from envtrail.format import dotenv
from envtrail.gitstore.repo import GitRepo
from envtrail.model import check_value
from envtrail.ops.preflight import check_write
from envtrail.ops.routing import DIRECT, Route
from envtrail.ops.txn import Written
from envtrail.ops.values import read_values, write_values
from envtrail.runtime import Runtime

_HEADER = ("# envtrail edit: change, add or delete KEY='value' lines, save and quit.\n"
           "# Nothing is written if you quit without saving or the editor fails.\n")
RAM_DIR = Path("/dev/shm")  # noqa: S108 - a private mkdtemp folder is made inside it


def _editor(rt: Runtime) -> list[str]:
    command = rt.env.get("VISUAL") or rt.env.get("EDITOR") or "vi"
    return shlex.split(command)


def _private_dir(rt: Runtime) -> Path:
    # RAM-backed /dev/shm whenever there is one, even with TMPDIR set (TMPDIR is
    # usually on disk), so the plaintext never reaches a disk; TMPDIR, then the
    # platform's default, only where there is none. mkdtemp makes the folder 0700.
    ram = RAM_DIR.is_dir() and os.access(RAM_DIR, os.W_OK)
    base = str(RAM_DIR) if ram else rt.env.get("TMPDIR") or None
    return Path(tempfile.mkdtemp(prefix="envtrail-edit-", dir=base))


def edit(git: GitRepo, rt: Runtime, identity: Identity, environment: str,
         reason: str | None, route: Route = DIRECT) -> Written | None:
    """Open the values in ``$VISUAL``/``$EDITOR``; commit only what changed (None: nothing).

    The reason, the policy, membership and the approval route are checked before
    anything is decrypted, so nobody edits values that would then be refused.
    """
    if reason is None or not reason.strip():
        raise UsageError("edit needs a --reason")
    check_write(git, rt, identity, environment, reason, route)  # as `set` does before a prompt
    current = {k: v.reveal() for k, v in
               read_values(git, rt, identity, environment).values.items()}
    text = _HEADER + dotenv.render(current)
    with _stopped_like_ctrl_c():
        edited = _edited(rt, text, environment)
    if edited == text:
        return None
    new = dotenv.parse(edited, "the edited file")
    updates = {k: check_value(v) for k, v in new.items() if current.get(k) != v}
    removals = set(current) - set(new)
    if not updates and not removals:
        return None
    return write_values(git, rt, identity, environment, updates, removals, reason, "set", route)


def _edited(rt: Runtime, text: str, environment: str) -> str:
    """What the editor leaves of ``text`` in a private file, shredded afterwards."""
    folder = _private_dir(rt)
    path = folder / f"{environment}.env"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        argv = [*_editor(rt), str(path)]
        try:
            status = subprocess.run(argv, env=rt.child_env(), check=False).returncode
        except FileNotFoundError:
            raise CommandNotFound(f"editor not found: {argv[0][:80]}",
                                  hint="set VISUAL or EDITOR") from None
        if status != 0:
            raise EnvtrailError(f"the editor exited with status {status}; nothing was changed")
        return path.read_text(encoding="utf-8")
    finally:
        _shred(folder)


@contextlib.contextmanager
def _stopped_like_ctrl_c() -> Iterator[None]:
    """While the plaintext file exists, SIGTERM, SIGHUP (a closed terminal or ssh session)
    and SIGQUIT end the edit as Ctrl-C does: the editor is stopped, the file shredded,
    nothing written. Their default would end the process with the file left behind."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = {}
    try:
        for name in ("SIGTERM", "SIGHUP", "SIGQUIT"):
            number = getattr(signal, name, None)
            if number is not None:
                old[number] = signal.signal(number, stop)
    except ValueError:  # not the main thread (the core called from one): nothing to catch
        pass
    try:
        yield
    finally:
        for number, handler in old.items():
            signal.signal(number, handler)


def _shred(folder: Path) -> None:
    """Overwrite, then remove, everything in the private folder (best effort on disks)."""
    for item in folder.glob("*"):
        try:
            size = item.stat().st_size
            with item.open("r+b") as fh:
                fh.write(b"\0" * size)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
