"""``.envtrail/allowed_signers``: git's allowed-signers format, plus an admin mark.

Each line is ``principal [options] ssh-ed25519 AAAA... [comment]`` exactly as
``ssh-keygen -Y verify`` reads it. envtrail marks admins with the comment
word ``envtrail:admin`` after the key, which ssh-keygen ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from envtrail.errors import IntegrityError
from envtrail.format.yamlsafe import check_size

ADMIN_MARK = "envtrail:admin"
HEADER = (
    "# Who may sign envtrail commits (git's allowed-signers format).\n"
    "# Managed by `envtrail access`; keys marked envtrail:admin may change signers and policy.\n"
)
_TIME_FORMATS = ("%Y%m%d%H%M%SZ", "%Y%m%d%H%MZ", "%Y%m%dZ", "%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d")


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


def _fmt_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _parse_time(text: str) -> datetime:
    for fmt in _TIME_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        # ssh-keygen reads times without Z as local time; envtrail writes Z only.
        return parsed.replace(tzinfo=UTC) if fmt.endswith("Z") else parsed.astimezone(UTC)
    raise ValueError(f"bad time {text[:20]!r}")


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


def _split_options(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    buf, quoted, parts = "", False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append(buf)
            buf = ""
            continue
        buf += ch
    parts.append(buf)
    for part in parts:
        name, _, value = part.partition("=")
        out[name.strip().lower()] = value.strip().strip('"')
    return out


def parse(data: bytes, path: str = ".envtrail/allowed_signers") -> list[Signer]:
    """Parse the file; IntegrityError on a line envtrail cannot read."""
    check_size(data, path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{path}: not valid UTF-8") from None
    signers = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        try:
            principal, rest = fields[0], fields[1:]
            options: dict[str, str] = {}
            if rest and not rest[0].startswith("ssh-"):
                # Options may contain quoted spaces; rejoin until the key type.
                idx = next(i for i, f in enumerate(rest) if f.startswith("ssh-"))
                options = _split_options(" ".join(rest[:idx]))
                rest = rest[idx:]
            keytype, blob, comment = rest[0], rest[1], rest[2:]
            signers.append(Signer(
                principal=principal,
                key=f"{keytype} {blob}",
                admin=ADMIN_MARK in comment,
                valid_after=_parse_time(options["valid-after"]) if "valid-after" in options else None,
                valid_before=(
                    _parse_time(options["valid-before"]) if "valid-before" in options else None
                ),
            ))
        except (IndexError, StopIteration, ValueError):
            raise IntegrityError(f"{path}: line {number} is not an allowed-signers line") from None
    return signers
