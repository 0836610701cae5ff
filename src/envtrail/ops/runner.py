"""``run``: a child process with the environment's variables (values never in argv)."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from envtrail.errors import UsageError
from envtrail.ops.result import Values
from envtrail.runtime import is_secret_variable

# Linux copies each argument and NAME=value string (with its NUL) into the new
# process and refuses one longer than 32 pages (MAX_ARG_STRLEN) with E2BIG.
MAX_ARG_STRLEN = 32 * 4096
# The whole of argv and the environment may take at most a quarter of the
# stack limit, capped at 6 MiB, with a pointer per string.
_STACK_CAP = 6 * 1024 * 1024
_HINT = "pass a value this large through a file instead: `envtrail get KEY > FILE`"


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape")) + 1


def _linux_arg_limit() -> int:
    # As the kernel computes it (fs/exec.c): a quarter of the stack limit, at
    # least 128 KiB, at most 6 MiB; glibc's sysconf says 128 KiB when unlimited.
    import resource

    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    if soft == resource.RLIM_INFINITY:
        return _STACK_CAP
    return min(max(soft // 4, MAX_ARG_STRLEN), _STACK_CAP)


def check_passable(argv: list[str], env: Mapping[str, str], ours: Mapping[str, str],
                   platform: str = sys.platform, arg_max: int | None = None) -> None:
    """Refuse, naming a variable and the limit, an environment the OS would not pass:
    a value holding NUL anywhere, and on Linux one too large.

    ``env`` is the child's whole environment and ``ours`` the store's part of
    it. Checked before the child starts, so a failure is a clear UsageError
    (exit 2) rather than the OS's E2BIG from inside subprocess.
    """
    for name in sorted(ours):
        if "\x00" in ours[name]:
            # No OS passes a NUL inside NAME=value (C strings end there); subprocess would
            # raise ValueError. Only a hand-made commit, or a read with --no-verify, gets here.
            raise UsageError(f"{name} holds a NUL byte, which no process environment can carry",
                             hint="run `envtrail verify`: envtrail never stores such a value")
    if not platform.startswith("linux"):
        return
    for name in sorted(ours):
        if _size(f"{name}={ours[name]}") > MAX_ARG_STRLEN:
            raise UsageError(f"{name} is too long to pass to a command: Linux passes at most "
                             f"{MAX_ARG_STRLEN // 1024} KiB per variable (NAME=value)", hint=_HINT)
    limit = arg_max or _linux_arg_limit()
    strings = [*argv, *(f"{k}={v}" for k, v in env.items())]
    total = sum(_size(s) + 8 for s in strings)
    if total > limit:
        largest = max(ours, key=lambda k: len(ours[k]), default=None)
        named = f"; the largest of its variables is {largest}" if largest else ""
        raise UsageError(f"the environment is too large to pass to a command: the OS limit for "
                         f"arguments and environment is {limit // 1024} KiB{named}", hint=_HINT)


def run_command(argv: list[str], base_env: Mapping[str, str], values: Values) -> int:
    """Run ``argv`` with the environment's variables added; return its exit status.

    Values travel in the child's environment, never in its argv. A child killed
    by a signal reports 128 + the signal number, as shells do. An environment
    the OS cannot pass is refused before anything starts (check_passable);
    envtrail's own secrets in ``base_env`` (the identity key, a passphrase) are
    not passed on.
    """
    import errno
    import subprocess

    from envtrail.errors import CommandNotFound

    ours = {k: v.reveal() for k, v in values.values.items()}
    env = {k: v for k, v in base_env.items() if not is_secret_variable(k)}
    env.update(ours)
    check_passable(argv, env, ours)
    try:
        proc = subprocess.run(argv, env=env, check=False)
    except FileNotFoundError:
        raise CommandNotFound(f"command not found: {argv[0][:80]}") from None
    except PermissionError:
        raise CommandNotFound(f"command not executable: {argv[0][:80]}") from None
    except OSError as exc:
        if exc.errno != errno.E2BIG:
            raise
        raise UsageError("the OS refused to pass the arguments and environment to the command "
                         "(too large)", hint=_HINT) from None
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
