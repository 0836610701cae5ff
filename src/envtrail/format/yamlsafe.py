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
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - the strict safe loader above
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise IntegrityError(f"{what}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise IntegrityError(f"{what}: YAML nested too deeply") from None
    except (ValueError, OverflowError):
        # PyYAML's constructors raise these for scalars Python refuses to build,
        # such as an integer of more than 4,300 digits.
        raise IntegrityError(f"{what}: a value no reader can build (a number too large?)") \
            from None


# Starts with a letter or '_', words of safe characters separated by single
# spaces, no ':' or '#': YAML reads these plain, as strings, unless reserved.
_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.@%+/=-]*(?: [A-Za-z0-9_.@%+/=-]+)*")
_RESERVED = {"yes", "no", "true", "false", "on", "off", "null", "y", "n"}


@functools.lru_cache(maxsize=8192)
def scalar(text: str) -> str:
    """Render a string as a YAML scalar: plain where unambiguous, else double-quoted.

    The fast path covers variable names and e-mail principals, which is nearly
    every scalar envtrail writes, without asking the YAML resolver.
    """
    if _SIMPLE.fullmatch(text) and text.lower() not in _RESERVED:
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
