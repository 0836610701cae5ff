"""Dotenv input (parsed by python-dotenv) and plaintext output formats."""

from __future__ import annotations

import io
import json

from envtrail.errors import UsageError
from envtrail.format.yamlsafe import MAX_FILE_BYTES
from envtrail.model import VAR_NAME_RE

FORMATS = ("dotenv", "json", "shell")


def parse(text: str, source: str) -> dict[str, str]:
    """Parse dotenv text with python-dotenv, literally (no ``${VAR}`` interpolation).

    Raises UsageError naming the line for a statement python-dotenv cannot
    parse, a key without a value, an invalid name or a repeated key. Values
    never appear in the message.
    """
    from dotenv.parser import parse_stream

    if len(text) > MAX_FILE_BYTES:
        raise UsageError(f"{source}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            raise UsageError(f"{source}: line {line}: cannot parse this statement")
        if binding.key is None:
            continue  # comment or blank line
        if not VAR_NAME_RE.fullmatch(binding.key) or len(binding.key) > 256:
            raise UsageError(f"{source}: line {line}: invalid variable name {binding.key[:64]!r}")
        if binding.value is None:
            raise UsageError(f"{source}: line {line}: {binding.key} has no '=' and no value")
        if binding.key in values:
            raise UsageError(f"{source}: line {line}: {binding.key} is set twice")
        values[binding.key] = binding.value
    return values


def _single_quoted_dotenv(value: str) -> str:
    # python-dotenv's single quotes understand exactly \\ and \'.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _single_quoted_shell(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def render(values: dict[str, str], fmt: str) -> str:
    """Render plaintext values as dotenv, JSON or POSIX shell ``export`` lines."""
    names = sorted(values)
    if fmt == "json":
        return json.dumps({k: values[k] for k in names}, ensure_ascii=False, indent=2) + "\n"
    if fmt == "shell":
        return "".join(f"export {k}={_single_quoted_shell(values[k])}\n" for k in names)
    if fmt == "dotenv":
        return "".join(f"{k}={_single_quoted_dotenv(values[k])}\n" for k in names)
    raise UsageError(f"unknown format {fmt[:20]!r}", hint=f"choose one of {', '.join(FORMATS)}")
