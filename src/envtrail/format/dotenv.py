"""Dotenv text: read as python-dotenv reads a file, and written in quotings its readers agree on.

Reading (``import``, ``set --from-file``, ``edit``, the hook) goes through
python-dotenv's own parser. Writing has two forms: :func:`quote`, the one
quoting that python-dotenv (every 1.x release, stream or path, with or without
interpolation), node's dotenv and a POSIX shell all read back the same, or
nothing; and :func:`render`, envtrail's lossless form for ``edit``, which only
envtrail reads back.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

from envtrail.errors import UsageError
from envtrail.format.yamlsafe import MAX_FILE_BYTES
from envtrail.model import VAR_NAME_RE


def _as_python_dotenv_reads_a_file(text: str) -> str:
    # python-dotenv opens a path in text mode, so universal newlines turn CRLF
    # and lone CR into LF before its parser sees them; releases before 1.2.3
    # keep a byte-order mark as part of the first name, later ones drop it.
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _line_of(binding) -> int:
    # python-dotenv numbers a binding from the blank lines before it.
    text = binding.original.string
    return binding.original.line + text[: len(text) - len(text.lstrip())].count("\n")


def parse(text: str, source: str, *, interpolate: bool = False) -> dict[str, str]:
    """Parse dotenv text the way ``python-dotenv`` reads a file (``dotenv_values(path)``).

    Line endings are LF, CRLF or CR alike, as python-dotenv sees them through
    ``open()``; a carriage return inside a value is written ``\\r`` in double
    quotes. Without ``interpolate`` every value is taken literally (what
    ``interpolate=False`` gives). With it, ``${NAME}`` and ``${NAME:-default}``
    are expanded as python-dotenv does, but only from variables defined earlier
    in the same text: a reference to anything else is refused, because its
    value would come from whatever environment the application runs in.

    Raises UsageError naming the line (and the variable where the line has a
    valid one) for an unparsable line, a line without ``=``, an invalid name,
    a repeated name or an unresolvable reference. No line's text, and so no
    value, ever appears in a message.
    """
    from dotenv.parser import parse_stream

    # The cap is in bytes, as everywhere else: a character may take four (encoded only
    # where the count of characters leaves it in doubt).
    if len(text) > MAX_FILE_BYTES or (len(text) * 4 > MAX_FILE_BYTES and len(
            text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES):
        raise UsageError(f"{source}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(_as_python_dotenv_reads_a_file(text))):
        line = _line_of(binding)
        if binding.error:
            raise UsageError(f"{source}: line {line}: cannot parse this line")
        if binding.key is None:
            continue  # comment or blank line
        # A line without '=' (a pasted token) or with a garbled name may be a
        # value itself: such lines are named by number only.
        if binding.value is None:
            raise UsageError(f"{source}: line {line}: no '=' on this line")
        if not VAR_NAME_RE.fullmatch(binding.key) or len(binding.key) > 256:
            raise UsageError(f"{source}: line {line}: not a valid variable name",
                             hint="names match [A-Za-z_][A-Za-z0-9_]*")
        if binding.key in values:
            raise UsageError(f"{source}: line {line}: {binding.key} is set twice")
        value = binding.value
        if interpolate:
            value = _expand(value, values, f"{source}: line {line}: {binding.key}")
        values[binding.key] = value
    return values


def _expand(value: str, earlier: Mapping[str, str], where: str) -> str:
    if not expands(value):
        return value
    from dotenv.variables import Variable, parse_variables

    atoms = list(parse_variables(value))
    if any(isinstance(a, Variable) and a.name not in earlier for a in atoms):
        raise UsageError(
            f"{where} refers to a variable that is not defined above it",
            hint="envtrail expands ${NAME} only from earlier lines of the same file; "
                 "to store such a value literally, use `envtrail set`")
    return "".join(a.resolve(dict(earlier)) for a in atoms)


def expands(value: str) -> bool:
    """Whether python-dotenv's default interpolation would change ``value``."""
    if "${" not in value:
        return False  # it interpolates only ${NAME} forms: nothing to ask it about
    from dotenv.variables import Variable, parse_variables

    return any(isinstance(a, Variable) for a in parse_variables(value))


def quote(value: str) -> str | None:
    """``value`` quoted so that every reader of dotenv files gets it back exactly, or None.

    Single quotes when the value has no ``'``, no ``\\\\``, no carriage return
    and does not end in ``\\``: python-dotenv, node's dotenv and a shell all
    take such text literally. Otherwise double quotes when the value has no
    ``"``, ``\\``, ``$`` or backquote (so a shell expands nothing), with a
    carriage return written ``\\r``, the one escape python-dotenv and node's
    dotenv both decode. Never for a value that python-dotenv's default
    interpolation would expand (``${...}``), nor for one holding NUL.
    """
    if expands(value) or "\x00" in value:
        return None  # a shell sourcing the file drops a NUL
    if _literal_in_single_quotes(value):
        return f"'{value}'"
    if not any(c in value for c in '"\\$`'):
        return '"' + value.replace("\r", "\\r") + '"'
    return None


def _literal_in_single_quotes(value: str) -> bool:
    # python-dotenv decodes \\ and \' inside single quotes, node's dotenv decodes
    # nothing, and a file opened as a path turns CR into LF: without these
    # characters all of them read the quoted text as it is.
    return not ("'" in value or "\r" in value or "\\\\" in value or value.endswith("\\"))


def _lossless(value: str) -> str:
    if _literal_in_single_quotes(value):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    return f'"{escaped}"'


def render(values: Mapping[str, str]) -> str:
    """Values as dotenv text that :func:`parse` reads back exactly (envtrail's form for ``edit``).

    A value that single quotes cannot hold literally is written in double
    quotes with python-dotenv's escapes. The text is read back before it is returned:
    python-dotenv before 1.2.3 misreads a quoted value ending in a backslash
    when a later line has a quote, and such a value is refused by name.
    """
    text = "".join(f"{k}={_lossless(values[k])}\n" for k in sorted(values))
    if not _reads_back(text, values):
        # the one value python-dotenv < 1.2.3 misreads: a trailing backslash
        # that, escaped, stands before the closing quote
        wrong = [k for k in sorted(values) if values[k].endswith("\\")] or sorted(values)
        raise UsageError(f"the installed python-dotenv cannot read {', '.join(wrong[:5])} back "
                         "exactly", hint="python-dotenv 1.2.3 or later reads every value back")
    return text


def _reads_back(text: str, values: Mapping[str, str]) -> bool:
    try:
        return parse(text, "the rendered values") == dict(values)
    except UsageError:
        return False
