"""Terminal output: tables, colour, local times and a pager; plain text when piped."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from envtrail.model import CONTROL


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
    string it is given inert (see ``inert``). Text from history goes to it as ``literal``
    or ``styled`` pieces, never as a str, so rich never parses it as markup."""
    colour = colour_wanted()
    return _inert_console()(file=file, width=width or _size()[0], force_terminal=colour,
                            no_color=not colour, color_system="standard" if colour else None,
                            highlight=False, soft_wrap=False)


@functools.cache
def _inert_console() -> type:
    from rich.console import Console

    class InertConsole(Console):
        # A last guard for any str that still reaches rich (titles, headers): its
        # control characters are made inert before its markup is parsed.
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(inert(text), **kwargs)

    return InertConsole


_NOT_PRINTABLE_ASCII = re.compile(r"[^ -~]")


def hidden(char: str) -> bool:
    """Whether a terminal would act on ``char`` or hide it rather than show it: controls
    (ESC, CR, C1, DEL, U+0085), format characters (bidi overrides and isolates, zero-width
    ones, which reorder or hide text), line and paragraph separators, lone surrogates.
    The set a record refuses (``model.CONTROL``): what it refuses, every view escapes."""
    return CONTROL.match(char) is not None


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if not hidden(char):
        return char
    code = ord(char)
    if 0xDC80 <= code < 0xDD00:
        # A byte of a name that is not UTF-8 (git's bytes, surrogate-escaped), shown as the
        # byte: no encoder could write the surrogate itself.
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: str) -> str:
    """Text from history made harmless for a terminal or a pipe: every character that
    ``hidden`` names (escape sequences that move the cursor or write the clipboard, a
    carriage return that overwrites a line, a bidi override that reorders it, a
    newline that fakes one) shown as its escape, ``\\x1b`` or ``\\u202e``.

    Commit messages, reasons and the names in a tree are the signer's words, and
    ``log`` and ``show`` are what an admin reads before deciding on a repair,
    often through ``| grep`` or ``| less -R``. Values are shown exact by ``get``.
    """
    return _NOT_PRINTABLE_ASCII.sub(_escaped, text)


def json_safe(text: str) -> str:
    """JSON text (from ``json.dumps(ensure_ascii=False)``) with every ``hidden``
    character written as its JSON escape (``\\u202e``): the same data for a JSON reader,
    harmless on a terminal, and always encodable (a lone surrogate included)."""
    return _NOT_PRINTABLE_ASCII.sub(_json_escaped, text)


def _json_escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\n" or not hidden(char):  # a newline here is the layout's (indent), not data's
        return char
    units = char.encode("utf-16-be", "surrogatepass")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2]):04x}" for i in range(0, len(units), 2))


def literal(text: str) -> Any:
    """History text for rich: inert, and a ``rich.text.Text``, which rich never parses
    as markup, so ``[a-z]`` or ``[/]`` in a reason, value or pattern is shown as written."""
    from rich.text import Text

    return Text(inert(text))


def styled(*parts: str | Painted) -> Any:
    """One rich line from history strings (shown ``literal``) and envtrail's own
    ``paint`` pieces (styled): the rich form of ``common.out``."""
    from rich.text import Text

    line = Text()
    for part in parts:
        if isinstance(part, str):
            line.append(inert(part))
        else:
            line.append(inert(part.text), style=part.style)
    return line


def hanging(con: Any, line: Any, hang: int) -> None:
    """Print ``line`` (a rich ``Text``) at the console's width, each screen line it folds
    onto indented by ``hang`` spaces.

    History's text can pad itself with spaces to the screen's edge; folded there by
    rich or by the terminal, what follows would start at column 0, where envtrail starts
    its own rows and labels, and a reason could draw a verified-looking row by another
    actor (attack12b G13). Indented, every folded line stays inside its own entry."""
    from rich.text import Text

    width = con.width
    if line.cell_len <= width:
        con.print(line)
        return
    hang = min(hang, width // 2)
    for i, piece in enumerate(line.wrap(con, width - hang, overflow="fold")):
        con.print(Text(" " * hang) + piece if i else piece)


def out_folded(parts: Sequence[str | Painted]) -> bool:
    """On a terminal, a line of ``common.out`` wider than the screen: printed here with
    every folded line indented 4 spaces past the line's own indent (see ``hanging``),
    and True; False for a line that fits, which ``out`` writes itself."""
    from rich.cells import cell_len

    plain = "".join(inert(p) if isinstance(p, str) else p.text for p in parts)
    if cell_len(plain) <= _size()[0]:
        return False
    hanging(console(), styled(*parts), len(plain) - len(plain.lstrip(" ")) + 4)
    return True


def plain_row(cells: Sequence[str]) -> str:
    """A tab-separated row for a pipe: a tab or newline inside a field is a space, so
    the row stays one row of its columns, and each field is inert."""
    return "\t".join(inert(cell.replace("\t", " ").replace("\n", " ")) for cell in cells)


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
        codes = {"green": "32", "red": "31", "bold red": "1;31", "yellow": "33", "cyan": "36",
                 "bold": "1", "dim": "2"}
        return f"\033[{codes[self.style]}m{self.text}\033[0m"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """Print rows under headers; rich is imported only when a terminal will show it.
    Every cell is history's text, shown ``literal`` (never parsed as markup)."""
    if not is_tty():
        for row in rows:
            sys.stdout.write(plain_row(row) + "\n")
        return
    from rich.table import Table

    t = Table(*headers, title=title, show_lines=False, header_style="bold")
    for row in rows:
        t.add_row(*(literal(cell) for cell in row))
    console().print(t)


def mark(ok: bool) -> str:
    """✓ or ✗."""
    return "✓" if ok else "✗"


def painted_mark(ok: bool) -> Painted:
    """✓ in green or ✗ in bold red."""
    return paint(mark(True), "green") if ok else paint(mark(False), "bold red")


def credited(actor: str | None, verified: bool, acknowledged: Any = None,
             swept: Any = None) -> str:
    """Who a row of history, blame, list or access log credits: the actor alone where the
    verified line vouches for them; else, as ``log`` shows it, with ✓ or ✗ (✗: only the
    record claims it, or there is none) and, for a commit a repair acknowledged as a
    finding, that repair (an ``audit.acknowledgements.Acknowledgement``), or for an honest
    commit a repair swept, that one (an ``audit.line.Swept``)."""
    actor = actor or "(unattested)"
    if acknowledged is None:
        shown = actor if verified else f"{actor} {mark(False)}"
        return f"{shown} [swept: repair {swept.repair[:10]} by {swept.admin}]" if swept \
            else shown
    repair = acknowledged.repair[:10] if acknowledged.repair else "?"
    by = f" by {acknowledged.admin}" if acknowledged.admin else ""
    return f"{actor} {mark(verified)} [acknowledged finding: repair {repair}{by}]"


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
