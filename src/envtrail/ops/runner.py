"""``run``: a child process with the environment's variables (values never in argv)."""

from __future__ import annotations

from collections.abc import Mapping

from envtrail.ops.result import Values
from envtrail.runtime import is_secret_variable


def run_command(argv: list[str], base_env: Mapping[str, str], values: Values) -> int:
    """Run ``argv`` with the environment's variables added; return its exit status.

    Values travel in the child's environment, never in its argv. A child killed
    by a signal reports 128 + the signal number, as shells do. envtrail's own
    secrets in ``base_env`` (the identity key, a passphrase) are not passed on.
    """
    import subprocess

    from envtrail.errors import CommandNotFound

    env = {k: v for k, v in base_env.items() if not is_secret_variable(k)}
    env.update({k: v.reveal() for k, v in values.values.items()})
    try:
        proc = subprocess.run(argv, env=env, check=False)
    except FileNotFoundError:
        raise CommandNotFound(f"command not found: {argv[0][:80]}") from None
    except PermissionError:
        raise CommandNotFound(f"command not executable: {argv[0][:80]}") from None
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
