"""Tables: rich on a terminal, tab-separated plain text when piped."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def is_tty() -> bool:
    """Whether stdout is a terminal (rich output) or a pipe/file (plain output)."""
    return sys.stdout.isatty()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """Print rows under headers; rich is imported only when a terminal will show it."""
    if not is_tty():
        for row in rows:
            sys.stdout.write("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row)
                             + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(*headers, title=title, show_lines=False, header_style="bold")
    for row in rows:
        t.add_row(*row)
    Console().print(t)


def mark(ok: bool) -> str:
    """✓ or ✗."""
    return "✓" if ok else "✗"
