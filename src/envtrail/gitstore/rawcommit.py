"""Reading a commit object from its bytes, as git reads it, never failing on odd ones.

libgit2 refuses a commit whose author has no e-mail, decodes the message by
its ``encoding`` header (an unknown one raises), and finds a ``gpgsig`` even
in the message body. A store line must survive any commit anyone can push,
and must judge signatures where git does; so envtrail reads the object
itself: header lines up to the first empty line, the signature only from a
``gpgsig`` header there (as git's ``parse_buffer_signed_by_header`` does),
names and message as UTF-8 whatever the header says, and what it cannot
read is named in ``flaws`` for the verifier to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

# "name <email> seconds +hhmm", as git writes an ident line.
_IDENT = re.compile(rb"([^<>\n]*?) ?<([^<>\n]*)> (\d{1,20}) [+-]\d{4}")
# Near the end of datetime's range, leaving room to add minutes: later times are clamped.
_LAST = datetime(9999, 12, 30, tzinfo=UTC)
LAST_SECONDS = int(_LAST.timestamp())  # the latest time read as written
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEX = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class RawCommit:
    """What envtrail reads of one commit object."""

    tree: str | None
    parents: tuple[str, ...]
    author: tuple[str, str]
    committer: tuple[str, str]
    committer_time: datetime
    message: str
    # The armored signature and the bytes it signs, as git extracts them; None
    # when the header has no single ``gpgsig`` (none, two, or another kind).
    signature: bytes | None
    payload: bytes
    # What could not be read as git writes it: ("ident" | "time" | "shape", why).
    flaws: tuple[tuple[str, str], ...] = ()


def parse(data: bytes) -> RawCommit:
    """Read a commit object's bytes; anything unreadable becomes a flaw, never an error."""
    if data[:1] == b"\n":
        header, rest = b"", data  # an empty first line: no header at all, as git reads it
    else:
        end = data.find(b"\n\n")
        header, rest = (data[:end + 1], data[end + 1:]) if end >= 0 else (data, b"")
    # (After the header's last newline split() finds an empty line: a field of no
    # key, which nothing asks for.)
    lines = header.split(b"\n")
    # One pass, as every verified commit is read: each field's key, its first line's
    # value, whether it goes on (a continuation line starts with a space), and where
    # its bytes start and end in the header.
    fields: list[list] = []
    at = 0
    for line in lines:
        at += len(line) + 1
        if line[:1] == b" " and fields:
            fields[-1][2] = True
            fields[-1][4] = at
        else:
            key, _, value = line.partition(b" ")
            fields.append([key, value, False, at - len(line) - 1, at])
    flaws: list[tuple[str, str]] = []
    first: dict[bytes, list] = {}
    parents, signed = [], []
    for field in fields:
        key = field[0]
        first.setdefault(key, field)
        if key == b"parent":
            parents.append(field[1])
        elif key.startswith(b"gpgsig"):
            signed.append(field)
    if not _git_reads(fields, len(parents)):
        flaws.append(("shape", "git cannot read it as a commit (a tree, then its parents)"))
    author, _ = _ident(first.get(b"author"), "author", flaws)
    committer, seconds = _ident(first.get(b"committer"), "committer", flaws)
    signature, payload = _signature(header, signed, rest)
    tree = first.get(b"tree")
    return RawCommit(
        tree=_hex(tree[1]) or None if tree is not None else None,
        parents=tuple(p for p in map(_hex, parents) if p),
        author=author,
        committer=committer,
        committer_time=_time(seconds, flaws),
        message=rest[1:].decode("utf-8", "replace"),
        signature=signature,
        payload=payload,
        flaws=tuple(flaws),
    )


def _git_reads(fields: list[list], parents: int) -> bool:
    """Whether git's own reader takes the commit: a ``tree`` line first, then every
    ``parent`` line straight after it, each one id (else "bogus commit object"; git
    would not even point a ref at it)."""
    lead = fields[:1 + parents]
    return bool(lead) and lead[0][0] == b"tree" and \
        all(key == b"parent" for key, *_ in lead[1:]) and \
        all(_HEX.fullmatch(value) and not more for _, value, more, *_ in lead)


def _hex(value: bytes) -> str:
    return value.decode("ascii") if _HEX.fullmatch(value) else ""


def _ident(field: list | None, role: str,
           flaws: list[tuple[str, str]]) -> tuple[tuple[str, str], int | None]:
    """(name, email) and the seconds of an ident line; ("", "") when it is malformed
    (or goes on over more than one line)."""
    found = _IDENT.fullmatch(field[1]) if field is not None and not field[2] else None
    if found is None:
        flaws.append(("time" if role == "committer" else "ident",
                      f"its {role} line is not 'name <email> seconds zone'"))
        return ("", ""), None
    name, email, seconds = found.groups()
    return (name.decode("utf-8", "replace"), email.decode("utf-8", "replace")), int(seconds)


def _time(seconds: int | None, flaws: list[tuple[str, str]]) -> datetime:
    """The committer time in UTC; one datetime cannot hold is clamped to its end and named."""
    if seconds is None:
        return _EPOCH  # the committer line itself was named
    try:
        when: datetime | None = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        when = None
    if when is None or when > _LAST:
        flaws.append(("time", f"its committer time {seconds} is past any date envtrail can "
                              "hold"))
        return _LAST
    return when


def _signature(header: bytes, signed: list[list], rest: bytes) -> tuple[bytes | None, bytes]:
    """The ``gpgsig`` header and the commit without it, where git would find them.

    Git takes the signature from the header only, and leaves every other
    ``gpgsig*`` header out of what it verifies: such a header (or a second
    ``gpgsig``) would be unsigned text riding along, so envtrail reads that
    commit as unsigned rather than choose one.
    """
    if len(signed) != 1 or signed[0][0] != b"gpgsig":
        return None, header + rest
    start, end = signed[0][3], signed[0][4]
    if header[start + 6:start + 7] != b" ":
        return b"", header + rest  # a bare "gpgsig" line holds no signature
    # "gpgsig " and each continuation line's leading space are not the signature's.
    return header[start + 7:end].replace(b"\n ", b"\n"), header[:start] + header[end:] + rest


@dataclass(frozen=True)
class CommitInfo:
    """What audit needs of one commit, without holding pygit2 objects."""

    id: str
    parents: tuple[str, ...]
    committer_time: datetime
    message: str
    # (name, email) of author and committer: envtrail writes the signer's principal in both.
    author: tuple[str, str] = ("", "")
    committer: tuple[str, str] = ("", "")
    # What git would read differently or not at all: ("ident" | "time" | "shape", why).
    flaws: tuple[tuple[str, str], ...] = ()


def info(commit_id: str, c: RawCommit) -> CommitInfo:
    """What audit needs of a commit read from its bytes."""
    return CommitInfo(
        id=commit_id,
        parents=c.parents,
        committer_time=c.committer_time,
        message=c.message,
        author=c.author,
        committer=c.committer,
        flaws=c.flaws,
    )
