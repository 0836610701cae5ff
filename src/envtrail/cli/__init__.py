"""The command line: a thin typer layer over envtrail.ops, with one error boundary."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map every outcome to an exit code."""
    from envtrail.cli.boundary import run

    sys.exit(run(argv))
