"""The command line: a thin typer layer over envtrail.ops, with one error boundary."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, map every outcome to an exit code and end
    the process with it (it never returns, not even as SystemExit)."""
    _fill_closed_streams()
    from envtrail.cli.boundary import run

    code = run(argv)
    # The command is over and every file it wrote is closed. What is left is the
    # interpreter's shutdown, which frees object by object what a long walk built
    # (40 ms after verifying 10,000 commits) for the OS to drop at once: once the
    # output is out, leave without it. A stream that cannot be flushed (a closed
    # pipe) takes the ordinary way out, which already answers for it.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _fill_closed_streams() -> None:
    """Give a standard stream the shell closed (`>&-`, a daemon, cron) the null device.

    Python holds None for it, and a command would fail on its first write after its work
    was done (exit 1 for a good `get`). Worse, the first file opened later would take its
    descriptor, and what git or `run`'s command writes to stdout would land in that file.
    Opened before anything else, the null device takes the descriptor instead: what would
    have been written goes nowhere, as it would have.
    """
    # In this order, each lands on its own descriptor: a file is opened on the lowest
    # free one, and Python holds None exactly for a descriptor that is closed.
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
