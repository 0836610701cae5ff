"""Reading secret values from stdin, a file or a hidden prompt; never from argv."""

from __future__ import annotations

import sys
from pathlib import Path

from envtrail.errors import NotFoundError, UsageError
from envtrail.format import dotenv
from envtrail.model import Secret, check_value


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not valid UTF-8") from None


def read_dotenv_file(path: str) -> dict[str, str]:
    """A dotenv file read as python-dotenv's ``dotenv_values(path)`` reads it (``-`` is stdin).

    ``${NAME}`` references are expanded from earlier lines; see dotenv.parse.
    """
    if path == "-":
        return dotenv.parse(_decode(sys.stdin.buffer.read(), "stdin"), "stdin", interpolate=True)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {path}") from None
    except OSError:
        raise UsageError(f"cannot read {path}") from None
    return dotenv.parse(_decode(data, path), path, interpolate=True)


def piped_value(data: bytes, raw: bool) -> str:
    """One value from piped stdin: its bytes, less one final newline of a single-line value.

    ``echo v`` and a here-string end in a newline that is not part of the
    value; a PEM or OpenSSH key is multi-line and its final newline is part of
    the file (a key without it no longer loads). ``raw`` keeps every byte.
    """
    text = _decode(data, "stdin")
    if raw:
        return text
    for ending in ("\r\n", "\n"):
        body = text.removesuffix(ending)
        if body != text:
            return text if "\n" in body else body
    return text


def _pick(parsed: dict[str, str], names: list[str], source: str) -> dict[str, str]:
    if not names:
        return parsed
    missing = [n for n in names if n not in parsed]
    if missing:
        raise UsageError(f"{source} has no {missing[0]}")
    return {n: parsed[n] for n in names}


def collect(names: list[str], from_file: str | None, raw: bool = False,
            allow_empty: bool = False) -> dict[str, Secret]:
    """The values to set, from --from-file, piped stdin, or a hidden prompt per key.

    Piped stdin holds the single value of a single KEY (see piped_value), or a
    dotenv document when several keys are named. An empty value is refused
    unless ``allow_empty``: an unset shell variable piped in must not blank a key.
    """
    if raw and (from_file or len(names) != 1):
        raise UsageError("--raw applies to the value of a single KEY read from stdin")
    if from_file:
        values = _pick(read_dotenv_file(from_file), names, from_file)
    elif not names:
        raise UsageError("name at least one KEY, or use --from-file")
    elif not sys.stdin.isatty():
        data = sys.stdin.buffer.read()
        if len(names) == 1:
            values = {names[0]: piped_value(data, raw)}
        else:
            values = _pick(dotenv.parse(_decode(data, "stdin"), "stdin", interpolate=True),
                           names, "stdin")
    else:
        import typer

        values = {
            n: typer.prompt(f"Value for {n}", hide_input=True, confirmation_prompt=True,
                            default="", show_default=False)
            for n in names
        }
    empty = [k for k, v in values.items() if v == ""]
    if empty and not allow_empty:
        raise UsageError(f"the value of {sorted(empty)[0]} is empty; nothing was set",
                         hint="pass --allow-empty to set an empty value on purpose")
    return {k: check_value(v) for k, v in values.items()}


def ask_passphrase(what: str, confirm: bool = False) -> str | None:
    """A key's passphrase, asked on the controlling terminal; None if there is none.

    Never read from stdin, which may be carrying a value or a dotenv document;
    getpass reads /dev/tty without echo.
    """
    import getpass
    import os

    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return None
    try:
        first = getpass.getpass(f"Passphrase for {what}: ")
        if confirm and getpass.getpass("Same passphrase again: ") != first:
            raise UsageError("the two passphrases differ; nothing was written")
    except EOFError:
        return None
    return first
