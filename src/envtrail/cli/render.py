"""Terminal output: tables, colour, local times and a pager; plain text when piped."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def is_tty() -> bool:
    """Whether stdout is a terminal (rich output) or a pipe/file (plain output)."""
    return sys.stdout.isatty()


def colour_wanted() -> bool:
    """Colour on a terminal unless NO_COLOR is set to anything (no-color.org)."""
    from envtrail.cli.common import runtime

    return is_tty() and not runtime().env.get("NO_COLOR")


def _size() -> tuple[int, int]:
    """Columns and lines of the terminal; COLUMNS/LINES where it does not say (0x0)."""
    import os

    from envtrail.cli.common import runtime

    try:
        size = os.get_terminal_size(sys.stdout.fileno())
        columns, lines = size.columns, size.lines
    except (OSError, ValueError):
        columns, lines = 0, 0
    env = runtime().env
    return (columns or _number(env.get("COLUMNS"), 80), lines or _number(env.get("LINES"), 24))


def _number(text: str | None, default: int) -> int:
    try:
        return int(text or "") or default
    except ValueError:
        return default


def console(file: Any = None, width: int | None = None) -> Any:
    """A rich Console for stdout (or ``file``) that follows NO_COLOR and shows every
    string it is given inert (see ``inert``): the one way text reaches the terminal
    through rich, so no field drawn from history can bypass it."""
    colour = colour_wanted()
    return _inert_console()(file=file, width=width or _size()[0], force_terminal=colour,
                            no_color=not colour, color_system="standard" if colour else None,
                            highlight=False, soft_wrap=False)


@functools.cache
def _inert_console() -> type:
    from rich.console import Console

    class InertConsole(Console):
        # Every str printed, and every str cell of a table, passes through render_str
        # before its markup is parsed; the colours rich adds come from styles, never
        # from the text, so they are unaffected.
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(inert(text), **kwargs)

    return InertConsole


# A name that is not UTF-8 arrives from git with each bad byte as a lone surrogate
# (Python's surrogateescape), which no terminal or pipe can take: shown as its byte.
UNDECODABLE = {c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)}
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c != 0x0A}
_CONTROLS.update(UNDECODABLE)


def writable(text: str) -> str:
    """Text as a pipe gets it: exact, except a byte of a name that is not UTF-8,
    which no encoder can write, shown as ``\\xNN``."""
    return text if text.isascii() else text.translate(UNDECODABLE)


def inert(text: str) -> str:
    """Text from history made harmless for a terminal: control characters (escape
    sequences that move the cursor or write the clipboard) shown as ``\\xNN``.

    Commit messages, reasons and the names in a tree are anyone's words until
    verified, and ``log`` and ``show`` are what an admin reads before deciding on
    a repair.
    """
    return text.translate(_CONTROLS)


@dataclass(frozen=True)
class Painted:
    """Text envtrail itself colours (see ``paint``); ``out`` draws it after making
    everything else inert, so its colour codes survive and nobody else's do."""

    text: str
    style: str

    def render(self, colour: bool) -> str:
        """The text, in colour when ``colour``."""
        if not colour:
            return self.text
        codes = {"green": "32", "red": "31", "bold red": "1;31", "yellow": "33", "cyan": "36"}
        return f"\033[{codes[self.style]}m{self.text}\033[0m"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """Print rows under headers; rich is imported only when a terminal will show it."""
    rows = [[inert(cell) for cell in row] for row in rows]
    if not is_tty():
        for row in rows:
            sys.stdout.write(writable("\t".join(cell.replace("\t", " ").replace("\n", " ")
                                                 for cell in row)) + "\n")
        return
    from rich.table import Table

    t = Table(*headers, title=title, show_lines=False, header_style="bold")
    for row in rows:
        t.add_row(*row)
    console().print(t)


def mark(ok: bool) -> str:
    """✓ or ✗."""
    return "✓" if ok else "✗"


def styled_mark(ok: bool) -> str:
    """✓ in green or ✗ in red, as rich markup."""
    return "[green]✓[/]" if ok else "[bold red]✗[/]"


def paint(text: str, style: str) -> Painted:
    """``text`` in ``style`` (rich style names) when colour is wanted; give it to ``out``."""
    return Painted(text, style)


def when(moment: datetime, utc: bool = False) -> str:
    """A full time with its offset: local on a terminal (unless ``utc``), UTC when piped."""
    if utc or not is_tty():
        return moment.astimezone(UTC).isoformat()
    return moment.astimezone().isoformat(sep=" ")


def where(context: dict[str, str]) -> str:
    """Where a change was made, in a few characters: the CI run, else the host."""
    ci = context.get("ci")
    if ci:
        run = context.get("run") or context.get("pipeline") or context.get("job")
        return f"{ci}#{run}" if run else ci
    return context.get("host", "")


def paged(draw: Callable[[Any], None], pager: bool = True) -> None:
    """Draw on a terminal, through a pager when the result is taller than the screen.

    As git does: ENVTRAIL_PAGER, then PAGER, then ``less``, with LESS=FRX
    unless LESS is set, so a short result stays on the screen and colour
    passes through. Piped output is drawn as is.
    """
    if not is_tty():
        draw(console())
        return
    import io

    width, height = _size()
    buf = io.StringIO()
    draw(console(file=buf, width=width))
    text = buf.getvalue()
    if not pager or text.count("\n") < height or not _page(text):
        sys.stdout.write(text)
        sys.stdout.flush()


def _page(text: str) -> bool:
    """Send ``text`` through the pager; False if there is none to use."""
    import subprocess

    from envtrail.cli.common import runtime

    env = runtime().env
    command = env.get("ENVTRAIL_PAGER", env.get("PAGER", "less")).strip()
    if command in ("", "cat"):
        return False
    child_env = {**runtime().child_env(), "LESS": env.get("LESS", "FRX"), "LV": env.get("LV", "-c")}
    try:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE, env=child_env)
    except OSError:
        return False
    try:
        assert proc.stdin is not None
        proc.stdin.write(text.encode("utf-8", "replace"))
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the reader quit the pager early: nothing more to show
    proc.wait()
    return True
