"""Strict, safe YAML loading shared by every envtrail file.

Safe loading only (no Python tags ever execute), no aliases (no alias bombs,
no shared nodes), no duplicate keys, and a size cap before parsing starts.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from envtrail.errors import IntegrityError

MAX_FILE_BYTES = 64 * 1024 * 1024


def check_size(data: bytes, what: str) -> None:
    """IntegrityError if ``data`` is over the cap; every parser of a store file calls it first."""
    if len(data) > MAX_FILE_BYTES:
        raise IntegrityError(f"{what}: file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")


@functools.cache
def _loader() -> Any:
    """The strict loader class, built on first use: yaml is imported only when needed
    (a canonical environment file is read without it)."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _StrictLoader(base):  # type: ignore[misc, valid-type]
        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            # A node seen a second time can only come from an alias.
            if node in self.constructed_objects or node in self.recursive_objects:
                raise yaml.constructor.ConstructorError(
                    None, None, "aliases are not allowed", node.start_mark
                )
            return super().construct_object(node, deep)

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "mapping keys must be scalars", key_node.start_mark
                    ) from None
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {str(key)[:64]!r}", key_node.start_mark
                    )
                seen.add(key)
            # Keys were built above; rebuild from scratch so constructed_objects
            # does not see them as aliases.
            for key_node, _ in node.value:
                self.constructed_objects.pop(key_node, None)
            return super().construct_mapping(node, deep=True)

    return _StrictLoader


def load(data: bytes, what: str) -> Any:
    """Parse one YAML document from ``data``; IntegrityError naming ``what`` on any fault."""
    check_size(data, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{what}: not valid UTF-8") from None
    if "\x00" in text:
        raise IntegrityError(f"{what}: contains a NUL byte")
    plain = _plain_block(text)
    if plain is not None:
        return plain
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - the strict safe loader above
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = _unquoted(getattr(exc, "problem", None) or "malformed YAML")
        raise IntegrityError(f"{what}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise IntegrityError(f"{what}: YAML nested too deeply") from None
    except (ValueError, OverflowError):
        # PyYAML's constructors raise these for scalars Python refuses to build,
        # such as an integer of more than 4,300 digits.
        raise IntegrityError(f"{what}: a value no reader can build (a number too large?)") \
            from None


# What PyYAML quotes of the text it could not read: a tag, an alias, an anchor, an escape
# or the character itself. In an environment file that text may be a plaintext someone
# pasted by hand (a password starting with `!` reads as a tag): the line number says
# where, the text never goes into a message (attack36 I2). Token kinds such as
# '<block end>' name no text, and this module's own problems are kept whole.
_QUOTED = re.compile(r"""\s*(?:'(?!<[a-z ]+>')(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_OWN = ("aliases are not allowed", "mapping keys must be scalars", "duplicate key ")


def _unquoted(problem: str) -> str:
    """PyYAML's ``problem`` without the input it quotes (ours are kept as they are)."""
    if problem.startswith(_OWN):
        return problem
    return _QUOTED.sub("", problem).strip() or "malformed YAML"


class _Unsure(Exception):
    """The text leaves the subset :func:`_plain_block` reads: PyYAML decides."""


# Printable ASCII lines only: no tab, CR, NEL or Unicode line separator can
# make YAML see lines (or indentation) other than the ones split here.
_PLAIN_TEXT = re.compile(r"[\x20-\x7e\n]*\n")
# A decimal YAML 1.1 reads as this int: no sign, leading zero, '_' or base
# prefix, and short enough that int() never meets Python's digit limit.
_INT = re.compile(r"0|[1-9][0-9]{0,17}")


def _plain_block(text: str) -> dict[str, Any] | None:
    """The document, if ``text`` is in the block-style subset that envtrail's
    settings files are written in; None for anything else (PyYAML reads it then).

    The subset is what ``yaml.safe_dump`` writes for them: ``# comment`` lines at
    the left edge, ``key: scalar`` and ``key:`` lines with a nested mapping two
    spaces in or a ``- scalar`` list at the key's own indentation. Keys and
    strings are words YAML cannot read as anything else (:func:`_plain_str`) or,
    for strings, single-quoted text without a quote inside; the other scalars
    are ``true``, ``false``, ``null``, short decimals, ``{}`` and ``[]``. In it,
    YAML reads exactly what is read here; anything else, duplicates and oddities
    included, is left to PyYAML and the strict loader's errors. Reading the
    common case without PyYAML spares a write (``set``) its import, the largest
    part of its start-up.
    """
    if not _PLAIN_TEXT.fullmatch(text):
        return None
    lines = [(len(line) - len(line.lstrip(" ")), line.lstrip(" "))
             for line in text[:-1].split("\n") if not line.startswith("#")]
    try:
        doc, end = _plain_node(lines, 0, 0)
    except _Unsure:
        return None
    return doc if end == len(lines) and isinstance(doc, dict) and doc else None


def _plain_node(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    """The mapping or list whose entries start at ``lines[i]``, all at ``indent``;
    with the index of the first line after it."""
    if i == len(lines) or lines[i][0] != indent:
        raise _Unsure
    if lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            items.append(_plain_scalar(lines[i][1][2:]))
            i += 1
        return items, i
    doc: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        key, colon, rest = lines[i][1].partition(":")
        # PyYAML refuses a simple key over 1024 characters: never accept one here.
        if not colon or len(key) > 256 or not _plain_str(key) or key in doc:
            raise _Unsure
        i += 1
        if rest.startswith(" "):
            doc[key] = _plain_scalar(rest[1:])
        elif rest or i == len(lines):
            raise _Unsure
        elif lines[i][1].startswith("- "):
            doc[key], i = _plain_node(lines, i, indent)
        else:
            doc[key], i = _plain_node(lines, i, indent + 2)
    if i < len(lines) and lines[i][0] > indent:
        raise _Unsure
    return doc, i


def _plain_scalar(text: str) -> Any:
    """One scalar of the subset; _Unsure for anything PyYAML might read otherwise."""
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if _INT.fullmatch(text):
        return int(text)
    if _plain_str(text):
        return text
    # Single quotes escape nothing but '' (refused here): the text between is the string.
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1]:
        return text[1:-1]
    raise _Unsure


_CONSTANTS = {"true": True, "false": False, "null": None}


def _plain_str(text: str) -> bool:
    """Whether YAML reads ``text``, unquoted, as this very string (False where that
    is not certain without asking PyYAML)."""
    if text.lower() in _RESERVED:
        return False
    if _SIMPLE.fullmatch(text):
        return True
    # Inside a word, a ':' ends nothing unless a space follows: ci:release is one word.
    if text[:1] != ":" and text[-1:] != ":" and ": " not in text and \
            _SIMPLE.fullmatch(text.replace(":", "_")):
        return True
    # Base64 (keys, sealed keys) and durations (24h) may start with a digit: a
    # letter other than a-f and x, a '/' or a '=' rules out every YAML 1.1 number
    # and date form.
    return bool(_WORD.fullmatch(text)) and _NOT_A_NUMBER.search(text) is not None


# Starts with a letter or '_', words of safe characters separated by single
# spaces, no ':' or '#': YAML reads these plain, as strings, unless reserved.
_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.@%+/=-]*(?: [A-Za-z0-9_.@%+/=-]+)*")
_RESERVED = {"yes", "no", "true", "false", "on", "off", "null", "y", "n"}
_WORD = re.compile(r"[A-Za-z0-9+/]+=*")
_NOT_A_NUMBER = re.compile(r"[g-wyzG-WYZ/=]")


@functools.lru_cache(maxsize=8192)
def scalar(text: str) -> str:
    """Render a string as a YAML scalar: plain where unambiguous, else double-quoted.

    The fast path covers variable names, e-mail principals and base64 keys,
    which is nearly every scalar envtrail writes, without asking the YAML
    resolver (or importing PyYAML).
    """
    if _plain_str(text):
        return text
    if text and text == _plain_roundtrip(text):
        return text
    return json.dumps(text, ensure_ascii=False)


@functools.lru_cache(maxsize=1024)
def _plain_roundtrip(text: str) -> str | None:
    """Return ``text`` if YAML reads it back, unquoted, as the same string."""
    # Only simple tokens may go plain: no leading indicator, no ': ' or ' #'.
    if text[0] in "!&*-?{}[],#|>@`\"'%:" or text[-1] in ": " or text != text.strip():
        return None
    if ": " in text or " #" in text or "\n" in text:
        return None
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return value if isinstance(value, str) else None
