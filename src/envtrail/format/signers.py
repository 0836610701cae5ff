"""``.envtrail/allowed_signers``: git's allowed-signers format, plus an admin mark.

Each line is ``principal [options] ssh-ed25519 AAAA... [comment]`` exactly as
``ssh-keygen -Y verify`` reads it. envtrail marks admins with the comment
word ``envtrail:admin`` after the key, which ssh-keygen ignores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from envtrail.errors import IntegrityError
from envtrail.format.yamlsafe import check_size
from envtrail.model import PRINCIPAL_RE

ADMIN_MARK = "envtrail:admin"
HEADER = (
    "# Who may sign envtrail commits (git's allowed-signers format).\n"
    "# Managed by `envtrail access`; keys marked envtrail:admin may change signers and policy.\n"
)
_TIME_RE = re.compile(r"([0-9]{8})(?:([0-9]{4})([0-9]{2})?)?(Z)?")
# ssh-keygen ends a line at \n only and splits fields at spaces and tabs: any other
# whitespace or control character (\r, U+2028, U+0085, \x0c...) would let envtrail
# read a line or a field that git does not, so the file may not hold one.
_ODD_CHARACTER = re.compile(r"[^\S \t\n]|[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Signer:
    """One allowed signer."""

    principal: str
    key: str  # "ssh-ed25519 AAAA..." without comment
    admin: bool = False
    valid_after: datetime | None = None
    valid_before: datetime | None = None

    def valid_at(self, when: datetime) -> bool:
        """Whether a signature made at ``when`` falls inside the validity window."""
        if self.valid_after and when < self.valid_after:
            return False
        return not (self.valid_before and when >= self.valid_before)

    def expired(self, when: datetime) -> Signer:
        """A copy that stops being valid at ``when``."""
        return replace(self, valid_before=when)


def stamp(lines: list[Signer], before: list[Signer], when: datetime) -> list[Signer]:
    """``lines`` with every validity bound that no line of the same principal carried in
    ``before`` set to ``when``: the bounds a commit sets are that commit's own time."""
    out = []
    for s in lines:
        old = [o for o in before if o.principal == s.principal]
        if s.valid_before and all(o.valid_before != s.valid_before for o in old):
            s = replace(s, valid_before=when)
        if s.valid_after and all(o.valid_after != s.valid_after for o in old):
            s = replace(s, valid_after=when)
        out.append(s)
    return out


def _fmt_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _parse_time(text: str) -> datetime:
    # ssh-keygen's forms exactly: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, then
    # an optional Z. (strptime would read "20261127" as 2026-01-01 02:07:
    # its fields take one digit or two.)
    m = _TIME_RE.fullmatch(text)
    if not m:
        raise ValueError("bad time")
    day, hm, sec, zulu = m.groups()
    parsed = datetime.strptime(day + (hm or "0000") + (sec or "00"), "%Y%m%d%H%M%S")
    # ssh-keygen reads times without Z as local time; envtrail writes Z only.
    return parsed.replace(tzinfo=UTC) if zulu else parsed.astimezone(UTC)


def render_line(signer: Signer) -> str:
    """One allowed_signers line."""
    options = ['namespaces="git"']
    if signer.valid_after:
        options.append(f'valid-after="{_fmt_time(signer.valid_after)}"')
    if signer.valid_before:
        options.append(f'valid-before="{_fmt_time(signer.valid_before)}"')
    line = f"{signer.principal} {','.join(options)} {signer.key}"
    return f"{line} {ADMIN_MARK}" if signer.admin else line


def render(signers: list[Signer] | tuple[Signer, ...]) -> bytes:
    """The whole file, in the given order (new signers are appended)."""
    return (HEADER + "".join(render_line(s) + "\n" for s in signers)).encode()


class _BadLine(ValueError):
    """Why one line cannot be read; parse adds the file and line number."""


# The options envtrail understands; any other (cert-authority, verify-required,
# ...) would make git's signer set differ from envtrail's, so it is refused.
_OPTIONS = {"namespaces", "valid-after", "valid-before"}
_ED25519_PREFIX = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"
_KEY_TYPE_PREFIXES = ("ssh-", "ecdsa-", "sk-")


def _first_token(text: str) -> tuple[str, str]:
    """The text up to the first whitespace outside double quotes, and the rest."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in " \t" and not quoted:
            return text[:i], text[i:].lstrip(" \t")
    if quoted:
        raise _BadLine("unterminated quote in options")
    return text, ""


def _split_options(text: str) -> dict[str, str]:
    parts, buf, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(buf)
            buf = ""
            continue
        buf += ch
    parts.append(buf)
    out: dict[str, str] = {}
    for part in parts:
        name, eq, value = part.partition("=")
        name = name.lower()
        if name not in _OPTIONS:
            raise _BadLine(f"option {name[:30]!r} is not one envtrail understands")
        if name in out:
            raise _BadLine(f"option {name!r} given twice")
        # ssh reads option values in double quotes only.
        if not eq or len(value) < 2 or value[0] != '"' or value[-1] != '"' or '"' in value[1:-1]:
            raise _BadLine(f"option {name!r} needs a value in double quotes")
        out[name] = value[1:-1]
    if out.get("namespaces", "git") != "git":
        raise _BadLine('namespaces must be exactly "git" (the namespace git signs in)')
    return out


def _check_key(keytype: str, blob: str) -> None:
    import base64
    import binascii

    if keytype != "ssh-ed25519":
        raise _BadLine("envtrail reads only ssh-ed25519 keys")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise _BadLine("the key is not valid base64") from None
    if len(raw) != len(_ED25519_PREFIX) + 32 or not raw.startswith(_ED25519_PREFIX):
        raise _BadLine("the key is not an ssh-ed25519 public key")


def _parse_line(line: str) -> Signer:
    principal, rest = _first_token(line)
    if any(c in principal for c in "*?!,"):
        raise _BadLine("principal patterns and lists are not allowed: one literal principal a line")
    if not PRINCIPAL_RE.fullmatch(principal):
        raise _BadLine("invalid principal")
    options: dict[str, str] = {}
    token, after = _first_token(rest)
    if token and not token.startswith(_KEY_TYPE_PREFIXES):
        options = _split_options(token)
        rest = after
    fields = rest.split()
    if len(fields) < 2:
        raise _BadLine("expected 'principal [options] ssh-ed25519 AAAA... [comment]'")
    keytype, blob, comment = fields[0], fields[1], fields[2:]
    _check_key(keytype, blob)
    return Signer(
        principal=principal,
        key=f"{keytype} {blob}",
        admin=ADMIN_MARK in comment,
        valid_after=_parse_time(options["valid-after"]) if "valid-after" in options else None,
        valid_before=_parse_time(options["valid-before"]) if "valid-before" in options else None,
    )


def parse(data: bytes, path: str = ".envtrail/allowed_signers") -> list[Signer]:
    """Parse the file strictly; IntegrityError on a line envtrail cannot read exactly as git does.

    Refused: principal patterns or lists (``*``, ``?``, ``!``, ``,``), options
    other than ``namespaces="git"``, ``valid-after`` and ``valid-before``, keys
    other than ssh-ed25519. Lines that are readable but contradict each other
    are not refused here: :func:`problems` lists them, for verify to report.
    """
    check_size(data, path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{path}: not valid UTF-8") from None
    odd = _ODD_CHARACTER.search(text)
    if odd:
        number = text.count("\n", 0, odd.start()) + 1
        raise IntegrityError(f"{path}: line {number} holds U+{ord(odd.group()):04X}, which git "
                             "and ssh-keygen do not read as a line break or a space",
                             hint="see docs/format.md, allowed_signers")
    out = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            continue
        try:
            out.append(_parse_line(line))
        except _BadLine as exc:
            raise IntegrityError(f"{path}: line {number}: {exc}",
                                 hint="see docs/format.md, allowed_signers") from None
        except ValueError:
            raise IntegrityError(f"{path}: line {number} has a time ssh-keygen cannot read") from None
    return out


def _overlap(a: Signer, b: Signer) -> bool:
    """Whether two validity windows share an instant (an empty window shares none)."""
    def start(s: Signer) -> datetime:
        return s.valid_after or datetime.min.replace(tzinfo=UTC)

    def end(s: Signer) -> datetime:
        return s.valid_before or datetime.max.replace(tzinfo=UTC)

    return max(start(a), start(b)) < min(end(a), end(b))


def problems(signers: list[Signer] | tuple[Signer, ...]) -> list[str]:
    """Contradictions between readable lines, one sentence each (empty: none).

    Two lines of one principal valid at the same time leave two keys speaking
    for one name; one key on two lines makes the signer of a commit ambiguous.
    """
    out = []
    seen: dict[str, Signer] = {}
    for i, s in enumerate(signers):
        first = seen.setdefault(s.key, s)
        if first is not s:
            out.append(f"key {s.key[:20]}...{s.key[-8:]} is listed twice "
                       f"({first.principal} and {s.principal})")
        for other in signers[:i]:
            if other.principal == s.principal and other.key != s.key and _overlap(other, s):
                out.append(f"{s.principal} has two keys valid at the same time")
    return out
