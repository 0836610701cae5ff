"""The environment file, format versions 1 and 2 (docs/format.md is normative).

Rendering is canonical: fixed key order, members and values sorted by name,
one line per value, so that a change to one variable rewrites one line and
Git diffs, blames and merges per variable.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from envtrail.errors import IntegrityError
from envtrail.format.yamlsafe import check_size, load, scalar
from envtrail.model import (
    ENC_PATTERN,
    ENV_NAME_RE,
    MAX_VALUE_BYTES,
    PRINCIPAL_RE,
    VAR_NAME_RE,
    Ciphertext,
    token_version,
)

# New environments and rotations write format 2; format 1 files are read, and
# written as format 1 until their next rotation, so unchanged lines stay equal.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
HEADER = "# Encrypted by envtrail. Change it with `envtrail set`, never by hand.\n"
_TOP_KEYS = ("envtrail", "environment", "public_key", "members", "values")
# The longest ciphertext a value of at most 1 MiB can have (nonce, tag and
# room for padding included), in its ENC[...] text form.
MAX_TOKEN_CHARS = 64 + 4 * ((MAX_VALUE_BYTES + 24 + 16 + 256) // 3 + 1)


@dataclass(frozen=True)
class Member:
    """A principal who can decrypt: their public key line and their sealed keys."""

    principal: str
    key: str
    sealed: str


@dataclass(frozen=True)
class EnvFile:
    """One environment as stored: public key, members, ciphertexts by name."""

    environment: str
    public_key: str
    members: Mapping[str, Member] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    version: int = FORMAT_VERSION

    def with_values(self, values: Mapping[str, str]) -> EnvFile:
        """A copy with other values (ciphertext tokens by name)."""
        return replace(self, values=dict(values))

    def with_members(self, members: Mapping[str, Member]) -> EnvFile:
        """A copy with another member set."""
        return replace(self, members=dict(members))

    def member_with_key(self, key: str) -> Member | None:
        """The member whose public key is ``key`` (``ssh-ed25519 AAAA...``), if any: the
        first whose key type and base64 are ``key``'s (a comment does not count)."""
        wanted = _key_words(key)
        for m in self.members.values():
            # An equal line has equal words; verify asks this several times per commit
            # of the same few keys, so the words of each line are split once.
            if m.key == key or _key_words(m.key) == wanted:
                return m
        return None


@functools.lru_cache(maxsize=256)
def _key_words(key: str) -> tuple[str, ...]:
    """Key type and base64 of a public key line, as :meth:`EnvFile.member_with_key` compares."""
    return tuple(key.split()[:2])


FOLDER = "envs"


def path_for(environment: str) -> str:
    """Repository path of an environment's file."""
    return f"{FOLDER}/{environment}.yaml"


def by_environment(entries: Mapping[str, str]) -> dict[str, str]:
    """Environment name -> blob id, from the file entries of the ``envs/`` folder."""
    return {name[:-5]: oid for name, oid in entries.items() if name.endswith(".yaml")}


def render(env: EnvFile) -> bytes:
    """Serialise canonically; ValueError if a token's format is not the file's."""
    if env.version not in READABLE_VERSIONS:
        raise ValueError(f"unknown format version {env.version}")
    if any(token_version(t) != env.version for t in env.values.values()):
        # A writer bug, never user input: a mixed file would not read back.
        raise ValueError(f"a ciphertext of another format in a format {env.version} file")
    lines = [_render_head(env)]
    if env.values:
        lines.append(_VALUES)
        lines.extend(_value_line(k, env.values[k]) for k in sorted(env.values))
    else:
        lines.append(_NO_VALUES)
    return "".join(lines).encode("utf-8")


_VALUES, _NO_VALUES = "values:\n", "values: {}\n"


def _render_head(env: EnvFile) -> str:
    """Everything above the values: header, version, names, key pair, members."""
    lines = [
        HEADER,
        f"envtrail: {env.version}\n",
        f"environment: {scalar(env.environment)}\n",
        f"public_key: {scalar(env.public_key)}\n",
    ]
    if env.members:
        lines.append("members:\n")
        for principal in sorted(env.members):
            m = env.members[principal]
            lines.append(f"  {scalar(principal)}:\n")
            lines.append(f"    key: {scalar(m.key)}\n")
            lines.append(f"    sealed: {scalar(m.sealed)}\n")
    else:
        lines.append("members: {}\n")
    return "".join(lines)


def _value_line(name: str, token: str) -> str:
    return f"  {scalar(name)}: {token}\n"


_VALUE_LINE = re.compile(rf"  ([A-Za-z_][A-Za-z0-9_]{{0,255}}): ({ENC_PATTERN})")
_MEMBER_LINE = re.compile(r"  ([A-Za-z0-9._%+@:-]+):")
_KEY_LINE = re.compile(r"    key: (ssh-ed25519 [A-Za-z0-9+/=]+)")
_SEALED_LINE = re.compile(r"    sealed: ([A-Za-z0-9+/=]+)")
_HEAD_LINE = re.compile(r"(environment|public_key): ([A-Za-z0-9+/=._-]+)")


def _parse_canonical(data: bytes) -> EnvFile | None:
    """Read a file in exactly the canonical layout without a YAML parser.

    Returns None for anything else. The result is only trusted if it renders
    back to the same bytes, which rules out every scalar that YAML would read
    differently (the renderer quotes those), so this path and the YAML path
    can never disagree. The check is made piecewise, as the renderer builds the
    file: the part above the values, then each value line, in strictly
    ascending order. Both pieces are remembered, because the versions of a
    file along a history share nearly all of them.

    The file is cut into those pieces as bytes and each piece is decoded on its
    own, when it is first seen: the cuts fall at ASCII bytes, which in UTF-8
    only ever stand for themselves, so the pieces decode exactly when the whole
    file does, and the same text is read.
    """
    head_end = data.find(_VALUES_AT)
    if head_end < 0:
        return None
    head = _parse_head(data[:head_end + 1])
    if head is None:
        return None
    environment, public_key, members, version = head
    rest = data[head_end + len(_VALUES_AT):]
    values: dict[str, str] = {}
    if rest == b" {}\n":
        pass
    elif rest.startswith(b"\n") and rest.endswith(b"\n") and len(rest) > 1:
        # Lines end at \n only: any other line break (\r, \x85, U+2028...) is no part
        # of a canonical line, so a line holding one fails the match and YAML decides.
        previous = ""
        for line in rest[1:-1].split(b"\n"):
            parsed = _VALUE_LINES[line]
            # Strictly ascending: sorted as rendered, and no name twice.
            if parsed is None or parsed[2] != version or parsed[0] <= previous:
                return None
            previous = parsed[0]
            values[parsed[0]] = parsed[1]
    else:
        return None
    return EnvFile(environment, public_key, dict(members), values, version)


_VALUES_AT = ("\n" + _VALUES[:-1]).encode()  # where the head ends: b"\nvalues:"


@functools.lru_cache(maxsize=16)
def _parse_head(data: bytes) -> tuple[str, str, tuple[tuple[str, Member], ...], int] | None:
    """The part above ``values:``, if it is exactly what the renderer writes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if len(lines) < 6 or lines[0] + "\n" != HEADER or lines[-1] != "":
        return None
    version = {"envtrail: 1": 1, "envtrail: 2": 2}.get(lines[1])
    if version is None:
        return None
    heads = [_HEAD_LINE.fullmatch(line) for line in lines[2:4]]
    if not all(heads) or [m.group(1) for m in heads] != ["environment", "public_key"]:
        return None
    members: dict[str, Member] = {}
    i = 4
    if lines[i] == "members:":
        i += 1
        while i + 2 < len(lines) and (m := _MEMBER_LINE.fullmatch(lines[i])):
            k, sl = _KEY_LINE.fullmatch(lines[i + 1]), _SEALED_LINE.fullmatch(lines[i + 2])
            if not (k and sl):
                return None
            members[m.group(1)] = Member(m.group(1), k.group(1), sl.group(1))
            i += 3
    elif lines[i] == "members: {}":
        i += 1
    else:
        return None
    env = EnvFile(heads[0].group(2), heads[1].group(2), members, {}, version)
    if _render_head(env) != text or not _head_is_valid(env):
        return None
    return env.environment, env.public_key, tuple(members.items()), version


def _head_is_valid(env: EnvFile) -> bool:
    """The checks of the YAML path that the canonical patterns do not already imply.

    A file that fails them is left to the YAML path, which says what is wrong.
    """
    def bad(msg: str) -> IntegrityError:
        return IntegrityError(msg)

    try:
        _parse_members({p: {"key": m.key, "sealed": m.sealed} for p, m in env.members.items()},
                       bad)
    except IntegrityError:
        return False
    return bool(ENV_NAME_RE.fullmatch(env.environment)) and _is_b64_key(env.public_key)


class _ValueLines(dict):
    """Value lines already read, by their bytes, with what they read as (None: not as
    rendered). The versions of a file along a history share all but a line or two.

    A dict, not an lru_cache: looked up for every line of every file, where lru_cache
    would hash and compare each bytes key inside an argument tuple and reorder its list.
    Bounded by starting over when full, as the few lines of a new version come in."""

    def __missing__(self, line: bytes) -> tuple[str, str, int] | None:
        if len(self) >= 8192:
            self.clear()
        parsed = self[line] = _parse_value_line(line)
        return parsed


_VALUE_LINES = _ValueLines()


def _parse_value_line(data: bytes) -> tuple[str, str, int] | None:
    """(name, token, token format) of one value line (without its newline), if it is
    exactly as rendered."""
    try:
        line = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    v = _VALUE_LINE.fullmatch(line)
    if v is None or _value_line(v.group(1), v.group(2)) != line + "\n" or \
            len(v.group(2)) > MAX_TOKEN_CHARS:  # too long: the YAML path says so
        return None
    return v.group(1), v.group(2), token_version(v.group(2))


def parse(data: bytes, path: str = "environment file") -> EnvFile:
    """Parse and validate; IntegrityError (exit 5) naming ``path`` on any fault."""
    check_size(data, path)  # before either path builds anything
    fast = _parse_canonical(data)
    if fast is not None:
        return fast
    doc = load(data, path)

    def bad(msg: str) -> IntegrityError:
        return IntegrityError(f"{path}: {msg}", hint="restore it with `git checkout -- <file>`")

    if not isinstance(doc, dict):
        raise bad("not an envtrail environment file")
    version = doc.get("envtrail")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise bad(f"unknown format version {str(version)[:20]!r} (this envtrail reads 1 and 2)")
    unknown = set(doc) - set(_TOP_KEYS)
    if unknown:
        raise bad(f"unknown field {sorted(map(str, unknown))[0][:40]!r}")
    environment, public_key = doc.get("environment"), doc.get("public_key")
    if not isinstance(environment, str) or not ENV_NAME_RE.fullmatch(environment):
        raise bad("missing or invalid 'environment'")
    if not isinstance(public_key, str) or not _is_b64_key(public_key):
        raise bad("missing or invalid 'public_key'")
    return EnvFile(
        environment, public_key,
        _parse_members(doc.get("members"), bad), _parse_values(doc.get("values"), version, bad),
        version,
    )


def _parse_members(raw: object, bad: Callable[[str], IntegrityError]) -> dict[str, Member]:
    if not isinstance(raw, dict):
        raise bad("'members' must be a mapping")
    members = {}
    for principal, entry in raw.items():
        if not isinstance(principal, str) or not PRINCIPAL_RE.fullmatch(principal):
            raise bad(f"invalid member principal {str(principal)[:64]!r}")
        if not isinstance(entry, dict) or set(entry) != {"key", "sealed"}:
            raise bad(f"member {principal!r} must have exactly 'key' and 'sealed'")
        key, sealed = entry["key"], entry["sealed"]
        if not isinstance(key, str) or not key.startswith("ssh-ed25519 "):
            raise bad(f"member {principal!r} has an invalid key")
        if not isinstance(sealed, str) or not sealed:
            raise bad(f"member {principal!r} has an invalid sealed key")
        members[principal] = Member(principal, key, sealed)
    return members


def _parse_values(raw: object, version: int,
                  bad: Callable[[str], IntegrityError]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise bad("'values' must be a mapping")
    values = {}
    for name, token in raw.items():
        if not isinstance(name, str) or not VAR_NAME_RE.fullmatch(name) or len(name) > 256:
            raise bad(f"invalid variable name {str(name)[:64]!r}")
        if not isinstance(token, str) or not Ciphertext.looks_like(token):
            raise bad(f"{name} is not encrypted (expected ENC[v{version},...])")
        if token_version(token) != version:
            raise bad(f"{name} is a format {token_version(token)} ciphertext "
                      f"in a format {version} file")
        _check_token_size(name, token, bad)
        values[name] = token
    return values


def _check_token_size(name: str, token: str, bad: Callable[[str], IntegrityError]) -> None:
    if len(token) > MAX_TOKEN_CHARS:
        raise bad(f"{name}: ciphertext is longer than a 1 MiB value can make")


def _is_b64_key(text: str) -> bool:
    import base64
    import binascii

    # In its one canonical spelling: the unused low bits of the last digit may be set in
    # three other spellings of the same key, and a key is compared as text (attack34 N1:
    # a retired pair re-spelt passed as a new one).
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and base64.b64encode(raw).decode("ascii") == text
