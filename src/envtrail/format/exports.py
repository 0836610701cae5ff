"""``export`` formats, each with the set of values its consumers read back exactly.

docs/formats.md is the table of formats, consumers and values; the tests in
tests/format/test_exports.py and tests/consumers/ hold each claim against the
real consumers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from envtrail.errors import UsageError
from envtrail.format import dotenv

FORMATS = ("dotenv", "json", "shell", "docker")

# `docker run --env-file` reads lines with Go's bufio.Scanner, whose default
# buffer fails a file whose line (NAME=value, without the newline) is longer.
DOCKER_MAX_LINE = 65535


def _docker_carries(name: str, value: str) -> bool:
    # A line is NAME=value taken verbatim up to LF, minus one CR before the LF.
    return ("\n" not in value and "\x00" not in value and not value.endswith("\r")
            and len(f"{name}={value}".encode()) <= DOCKER_MAX_LINE)


def carries(fmt: str, name: str, value: str) -> bool:
    """Whether ``fmt`` carries ``name``'s ``value`` so that its consumers read it back exactly."""
    return _line(fmt, name, value) is not None


def _line(fmt: str, name: str, value: str) -> str | None:
    """How ``fmt`` writes one variable (json: its value as JSON), or None if it cannot
    carry the value exactly: one decision for both the check and the output."""
    if fmt == "dotenv":
        quoted = dotenv.quote(value)
        return None if quoted is None else f"{name}={quoted}\n"
    if fmt == "docker":
        return f"{name}={value}\n" if _docker_carries(name, value) else None
    if fmt == "shell":
        # sh, bash and dash drop a NUL from the text they read: the variable would differ.
        return None if "\x00" in value else f"export {name}={_shell_quoted(value)}\n"
    return value


def check_format(fmt: str) -> None:
    """Refuse an unknown format name (exit 2)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt[:20]!r}", hint=f"choose one of {', '.join(FORMATS)}")


def _shell_quoted(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _refuse(fmt: str, refused: list[str], values: Mapping[str, str]) -> UsageError:
    shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
    others = [f for f in FORMATS if f != fmt and all(carries(f, k, values[k]) for k in refused)]
    return UsageError(
        f"the {fmt} format cannot carry {shown} exactly",
        hint=f"{' or '.join(f'--format {f}' for f in others)} can; "
             "docs/formats.md says which values each format carries")


def render(values: Mapping[str, str], fmt: str) -> str:
    """``values`` in ``fmt``, or UsageError naming every variable the format cannot carry.

    Names only: a refused value never appears in the message.
    """
    check_format(fmt)
    names = sorted(values)
    lines = {k: _line(fmt, k, values[k]) for k in names}
    refused = [k for k in names if lines[k] is None]
    if refused:
        raise _refuse(fmt, refused, values)
    if fmt == "json":
        return json.dumps({k: values[k] for k in names}, ensure_ascii=False, indent=2) + "\n"
    return "".join(lines[k] or "" for k in names)
