"""Reading HEAD and hashing blobs straight from the files, without pygit2.

Enough for the verified-read fast path: "is HEAD still the commit we verified,
and is this file still the blob committed there?" costs two small reads and a
hash. Anything unusual returns None and the caller takes the full path.
"""

from __future__ import annotations

import re
from pathlib import Path

from envtrail.gitstore.discover import common_dir, git_dir

_HEX = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# The events line: signed markers beside the store line (audit.eventline reads them). Named
# here, where reading it costs nothing, for the push hook, which only compares ref names.
EVENTS_REF = "refs/envtrail/events"


def head_ref(root: Path) -> str | None:
    """The branch HEAD points to (``refs/heads/...``), ``HEAD`` when detached, None if unreadable."""
    try:
        head = (git_dir(root) / "HEAD").read_text().strip()
    except OSError:
        return None
    if _HEX.fullmatch(head):
        return "HEAD"
    return head[5:].strip() if head.startswith("ref: refs/") else None


def ref_commit(root: Path, ref: str) -> str | None:
    """The commit id a branch points to, read from loose or packed refs; None if unreadable."""
    gdir, common = git_dir(root), common_dir(root)
    for base in (gdir, common):
        try:
            target = (base / ref).read_text().strip()
        except OSError:
            continue
        return target if _HEX.fullmatch(target) else None
    try:
        packed = (common / "packed-refs").read_text()
    except OSError:
        return None
    for line in packed.splitlines():
        oid, _, name = line.partition(" ")
        if name == ref and _HEX.fullmatch(oid):
            return oid
    return None


def configured_store_ref(root: Path) -> str | None:
    """``envtrail.branch`` from the clone's own ``.git/config`` (never global config).

    The one reader of that key, used by the fast path and by GitRepo alike, so
    both always agree on which branch is the store line. envtrail writes the
    key itself, in the plain ``[envtrail]`` / ``branch = ...`` form read here.
    """
    try:
        text = (common_dir(root) / "config").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.strip("[]").strip().lower()
        elif section == "envtrail" and "=" in line:
            key, _, value = line.partition("=")
            if key.strip().lower() == "branch":
                value = value.strip().strip('"')
                return value if value.startswith("refs/heads/") else None
    return None


def blob_id(data: bytes, like: str) -> str:
    """Git's object id of ``data`` as a blob, in the hash of the id ``like`` (SHA-1 or SHA-256).

    This is git's content address, not a security primitive of envtrail's.
    """
    payload = b"blob %d\x00" % len(data) + data
    if len(like) == 64:
        import hashlib

        return hashlib.sha256(payload).hexdigest()
    try:
        # CPython's built-in SHA-1 loads in a fraction of hashlib's (OpenSSL) time,
        # which matters on the path of every `envtrail get`.
        from _sha1 import sha1
    except ImportError:  # pragma: no cover - other Pythons
        from hashlib import sha1
    return sha1(payload).hexdigest()  # noqa: S324 - git object ids are SHA-1
