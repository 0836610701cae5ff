"""Frozen value types shared by every room of envtrail.

A :class:`Secret` wraps a plaintext value so that it never shows up in a
``repr``, a log line or a traceback by accident; code that really needs the
text calls :meth:`Secret.reveal`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from envtrail.errors import UsageError

# Name patterns are anchored with \A and \Z, never ^ and $ ($ also matches
# before a trailing newline), and callers use fullmatch: "name\n" is no name.
ENV_NAME_RE = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z")
VAR_NAME_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
# Principals end up in allowed_signers, YAML keys and commit trailers: keep
# them to characters that need no quoting in any of those.
PRINCIPAL_RE = re.compile(r"\A[A-Za-z0-9._%+@:-]{1,128}\Z")
# The words policy.yaml gives a meaning where it lists principals (`writers: [admins]`):
# they never match a principal there, and no new principal takes one (attack33 K2: a
# member named `admins` wrote where only admins may). One granted before stays readable
# and can be revoked (attack34 N3).
POLICY_WORDS = frozenset({"admins", "any", "members"})
MAX_VAR_NAME = 256
MAX_VALUE_BYTES = 1024 * 1024
MAX_REASON = 1000

ACTIONS = (
    "init", "set", "unset", "import", "rollback", "revert", "grant", "revoke",
    "rotate", "policy", "signers", "merge",
)


class Secret:
    """A plaintext value that refuses to print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the plaintext. Call only where the value must leave the process."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def check_env_name(name: str) -> str:
    """Return ``name`` if it is a valid environment name, else raise UsageError."""
    if not ENV_NAME_RE.fullmatch(name) or name in {".", ".."}:
        raise UsageError(
            f"invalid environment name {_shown(name)}",
            hint="use lower-case letters, digits, '.', '_' or '-', at most 64 characters",
        )
    return name


def check_var_name(name: str) -> str:
    """Return ``name`` if it is a valid variable name, else raise UsageError."""
    if len(name) > MAX_VAR_NAME or not VAR_NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid variable name {_shown(name)}",
            hint="names match [A-Za-z_][A-Za-z0-9_]*",
        )
    return name


def check_principal(name: str) -> str:
    """Return ``name`` if it can serve as a principal, else raise UsageError."""
    if not PRINCIPAL_RE.fullmatch(name):
        raise UsageError(
            f"invalid principal {_shown(name)}",
            hint="use an e-mail address or ci:<name>",
        )
    return name


def check_new_principal(name: str) -> str:
    """:func:`check_principal` for a name about to be granted or written first: never one
    of the words policy.yaml gives a meaning to."""
    if check_principal(name) in POLICY_WORDS:
        raise UsageError(f"invalid principal {_shown(name)}: a word of policy.yaml",
                         hint="use an e-mail address or ci:<name>")
    return name


def check_value(value: str) -> Secret:
    """Validate a plaintext value (size, no NUL) and wrap it."""
    if "\x00" in value:
        raise UsageError("a value may not contain a NUL byte (no process environment can hold it)")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        raise UsageError("a value may be at most 1 MiB")
    return Secret(value)


# Characters a terminal acts on or hides instead of showing (categories Cc, Cf, Cs, Zl
# and Zp): controls, format characters (bidi overrides and isolates, zero-width ones, the
# soft hyphen, BOM, tags), line and paragraph separators and lone surrogates. Never in a
# reason, nor in any trailer envtrail writes; a record holding one is no record; every
# view escapes them. Character classes, not unicodedata per character: record.parse runs
# on every commit verify reads. U+13439-1343F became Cf in Unicode 15 (after Python
# 3.11's tables).
_HIDDEN_BMP = ("\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
               "\u180e\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u206f"
               "\ud800-\udfff\ufeff\ufff9-\ufffb")
_HIDDEN_ASTRAL = ("\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
                  "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
CONTROL = re.compile(f"[{_HIDDEN_BMP}{_HIDDEN_ASTRAL}]")
# The same set split in two: sre tests a class's characters beyond U+FFFF one range at a
# time (4x slower per character), and almost no text holds any.
_BMP_RE = re.compile(f"[{_HIDDEN_BMP}]")
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")
_HIDDEN_ASTRAL_RE = re.compile(f"[{_HIDDEN_ASTRAL}]")


def hidden_char(text: str) -> str | None:
    """A character of ``text`` that ``CONTROL`` names (one a terminal would act on or
    hide), or None; as ``CONTROL.search``, faster."""
    # Every character CONTROL names is one Python calls unprintable: str.isprintable is
    # False for categories Cc, Cf, Cs, Zl, Zp and for unassigned code points, which is
    # what CONTROL lists (a test checks each code point). It decides a whole text in one
    # pass in C, without the regex engine's per-character class test: most texts end here.
    if text.isprintable():
        return None
    found = _BMP_RE.search(text)
    if found is None and not text.isascii() and _ASTRAL_RE.search(text):
        found = _HIDDEN_ASTRAL_RE.search(text)
    return found.group() if found else None


def check_reason(reason: str | None) -> str:
    """Normalise a reason: one line of visible text (nothing ``CONTROL`` matches),
    bounded length."""
    text = (reason or "").strip()
    found = hidden_char(text)
    if found:
        raise UsageError(f"a reason must be one line of visible text, without U+{ord(found):04X} "
                         "(a control, format or bidi character, or a line break)")
    if len(text) > MAX_REASON:
        raise UsageError(f"a reason may be at most {MAX_REASON} characters")
    return text


def _shown(name: str) -> str:
    # Names come from the user and may be garbage: show a bounded, escaped form.
    return repr(name[:80] + ("..." if len(name) > 80 else ""))


@dataclass(frozen=True)
class Change:
    """One variable's change in a masked diff: ``+`` added, ``-`` removed, ``~`` changed."""

    op: str
    key: str
    old_fp: str | None = None
    new_fp: str | None = None


# The text form of a ciphertext (format 1 or 2); format.envfile matches whole
# lines with it. The version digit is the format of the file the token is in.
ENC_PATTERN = r"ENC\[v[12],([A-Za-z0-9+/]{43}=),([A-Za-z0-9+/]{54,}={0,2})\]"
_ENC_RE = re.compile(ENC_PATTERN)
# Nonce (24) and tag (16) always; format 2 adds at least one 32-byte padded block.
_MIN_BODY = {1: 40, 2: 72}


@dataclass(frozen=True)
class Ciphertext:
    """One encrypted value: format version, ephemeral public key, ``nonce || ciphertext``.

    Its text form is ``ENC[v<version>,<base64 ephemeral>,<base64 nonce||ciphertext>]``.
    """

    ephemeral: bytes
    body: bytes
    version: int

    def __str__(self) -> str:
        eph = base64.b64encode(self.ephemeral).decode()
        return f"ENC[v{self.version},{eph},{base64.b64encode(self.body).decode()}]"

    @classmethod
    def parse(cls, token: str) -> Ciphertext:
        """Parse the text form; raise ValueError if it is not a well-formed ciphertext."""
        m = _ENC_RE.fullmatch(token) if isinstance(token, str) else None
        if not m:
            raise ValueError("not an ENC[v1,...] or ENC[v2,...] ciphertext")
        version = token_version(token)
        eph_text, body_text = m.groups()
        try:
            # What base64.b64decode(text, validate=True) runs, without its Python layers:
            # decrypting a value parses its token, once per commit verify reads.
            eph = binascii.a2b_base64(eph_text, strict_mode=True)
            body = binascii.a2b_base64(body_text, strict_mode=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("bad base64 in ciphertext") from exc
        if len(eph) != 32 or len(body) < _MIN_BODY[version]:
            raise ValueError("ciphertext too short")
        if version == 2 and (len(body) - 40) % 32:
            raise ValueError("format 2 ciphertext is not a whole number of padded blocks")
        return cls(eph, body, version)

    @staticmethod
    def looks_like(token: str) -> bool:
        """Cheap shape check used by the pre-commit hook and the parser."""
        return bool(_ENC_RE.fullmatch(token))


def token_version(token: str) -> int:
    """The format digit of a token that matched :data:`ENC_PATTERN` (``ENC[v2,...`` -> 2)."""
    return int(token[5])
