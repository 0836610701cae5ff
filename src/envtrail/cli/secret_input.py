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
    """A dotenv file parsed by python-dotenv (``-`` is stdin)."""
    if path == "-":
        return dotenv.parse(_decode(sys.stdin.buffer.read(), "stdin"), "stdin")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {path}") from None
    except OSError:
        raise UsageError(f"cannot read {path}") from None
    return dotenv.parse(_decode(data, path), path)


def _pick(parsed: dict[str, str], names: list[str], source: str) -> dict[str, str]:
    if not names:
        return parsed
    missing = [n for n in names if n not in parsed]
    if missing:
        raise UsageError(f"{source} has no {missing[0]}")
    return {n: parsed[n] for n in names}


def collect(names: list[str], from_file: str | None) -> dict[str, Secret]:
    """The values to set, from --from-file, piped stdin, or a hidden prompt per key.

    Piped stdin holds the single value of a single KEY (one trailing newline is
    dropped), or a dotenv document when several keys are named.
    """
    if from_file:
        values = _pick(read_dotenv_file(from_file), names, from_file)
    elif not names:
        raise UsageError("name at least one KEY, or use --from-file")
    elif not sys.stdin.isatty():
        text = _decode(sys.stdin.buffer.read(), "stdin")
        if len(names) == 1:
            if text.endswith("\r\n"):
                text = text[:-2]
            elif text.endswith("\n"):
                text = text[:-1]
            values = {names[0]: text}
        else:
            values = _pick(dotenv.parse(text, "stdin"), names, "stdin")
    else:
        import typer

        values = {
            n: typer.prompt(f"Value for {n}", hide_input=True, confirmation_prompt=True,
                            default="", show_default=False)
            for n in names
        }
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
