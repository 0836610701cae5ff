"""A signature counts only where stock git finds and accepts it.

Each case takes alice's honest, signed head commit and rewrites its bytes the way
an outsider without a key can; `git verify-commit` (ssh-keygen underneath) is the
outside judge. Where git calls the result bad or unsigned, verify reports rule 1
and reads refuse; envtrail is stricter than git only where a signer never writes
what it refuses.
"""

from __future__ import annotations

import base64
import re
import struct

import pytest

from conftest import assert_one_line_error
from hostile import commit_bytes, git_says, head, point, raw_commit, setv, verify_findings


def _split(data: bytes) -> tuple[list[bytes], list[bytes], bytes]:
    """(header lines before gpgsig, the gpgsig lines, the rest from the empty line on)."""
    header, _, rest = data.partition(b"\n\n")
    lines = header.split(b"\n")
    i = next(k for k, line in enumerate(lines) if line.startswith(b"gpgsig "))
    j = i + 1
    while j < len(lines) and lines[j].startswith(b" "):
        j += 1
    return lines[:i] + lines[j:], lines[i:j], b"\n\n" + rest


def _with_blob(data: bytes, edit) -> bytes:
    """``data`` with its SSHSIG blob changed by ``edit`` and armored again as ssh-keygen does."""
    kept, sig, rest = _split(data)
    armored = b"\n".join([sig[0][7:]] + [s[1:] for s in sig[1:]]).decode()
    blob = base64.b64decode("".join(armored.splitlines()[1:-1]))
    b64 = base64.b64encode(edit(blob)).decode()
    lines = ["-----BEGIN SSH SIGNATURE-----", *re.findall(".{1,70}", b64),
             "-----END SSH SIGNATURE-----"]
    return _join(kept, [b"gpgsig " + lines[0].encode()] + [b" " + ln.encode() for ln in lines[1:]],
                 rest)


def _join(kept: list[bytes], sig: list[bytes], rest: bytes) -> bytes:
    return b"\n".join(kept + sig) + rest


def _fields(blob: bytes) -> list[tuple[int, int]]:
    """(start, end) of each string after magic and version: key, namespace, reserved, hash, sig."""
    out, p = [], 10
    for _ in range(5):
        n = struct.unpack(">I", blob[p:p + 4])[0]
        out.append((p, p + 4 + n))
        p += 4 + n
    return out


def _reserved(blob: bytes) -> bytes:
    start, end = _fields(blob)[2]
    return blob[:start] + struct.pack(">I", 4) + b"evil" + blob[end:]


def _inside(blob: bytes) -> bytes:
    start, end = _fields(blob)[4]
    inner = blob[start + 4:end] + b"x"
    return blob[:start] + struct.pack(">I", len(inner)) + inner


def _moved_into_message(data: bytes) -> bytes:
    kept, sig, rest = _split(data)
    subject, _, body = rest[2:].partition(b"\n\n")
    return b"\n".join(kept) + b"\n\n" + subject + b"\n" + b"\n".join(sig) + b"\n\n" + body


def _noncanonical(data: bytes) -> bytes:
    kept, sig, rest = _split(data)
    last = sig[-2]  # the last base64 line; padding bits set where canonical base64 has none
    assert last.endswith(b"=")
    body = last.rstrip(b"=")
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    changed = body[:-1] + bytes([alphabet[alphabet.index(body[-1]) + 1]])
    return _join(kept, [*sig[:-2], changed + last[len(body):], sig[-1]], rest)


TAMPER = {  # case -> (rewrite, what stock git says of it)
    "gpgsig moved into the message": (_moved_into_message, "N"),
    "bytes after the signature blob": (lambda d: _with_blob(d, lambda b: b + b"junk"), "B"),
    "bytes inside the signature string": (lambda d: _with_blob(d, _inside), "B"),
    "base64 that is not canonical": (_noncanonical, "B"),
    "a space after the armor's first line": (
        lambda d: d.replace(b"-----BEGIN SSH SIGNATURE-----", b"-----BEGIN SSH SIGNATURE----- ", 1),
        "B"),
}


@pytest.fixture
def signed_head(cli, store):
    setv(cli, "A", "good")
    setv(cli, "A", "newer")
    honest = head(store)
    assert git_says(store, honest) == "G"
    return honest


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_where_git_says_bad_or_unsigned_verify_says_rule_1(cli, store, signed_head, case):
    rewrite, git_verdict = TAMPER[case]
    forged = raw_commit(store, rewrite(commit_bytes(store, signed_head)))
    assert forged != signed_head
    assert git_says(store, forged) == git_verdict
    point(store, forged)
    found = [f for f in verify_findings(cli) if f["commit"] == forged]
    assert [f["rule"] for f in found] == [1], found
    assert "unsigned" in found[0]["message"] or "bad" in found[0]["message"]
    assert_one_line_error(cli("get", "A", "--env", "production"), 5)


@pytest.mark.parametrize(("case", "edit"), [
    ("a second gpgsig header", lambda kept, sig: kept + sig + sig),
    ("a gpgsig-sha256 header beside it", lambda kept, sig: kept + sig + [b"gpgsig-sha256 x"]),
])
def test_unsigned_text_beside_the_signature_is_refused_though_git_passes_it(
        cli, store, signed_head, case, edit):
    # git leaves such headers out of what it verifies (or reads the first block only):
    # text no signer wrote would ride along, so envtrail calls the commit unsigned.
    kept, sig, rest = _split(commit_bytes(store, signed_head))
    forged = raw_commit(store, b"\n".join(edit(kept, sig)) + rest)
    assert git_says(store, forged) == "G"
    point(store, forged)
    found = [f for f in verify_findings(cli) if f["commit"] == forged]
    assert [(f["rule"], f["message"]) for f in found] == [(1, "signature unsigned")], found


def test_an_edited_reserved_field_is_ignored_by_git_and_by_envtrail(cli, store, signed_head):
    # PROTOCOL.sshsig: the field is not signed and verifiers ignore it; ssh-keygen does.
    forged = raw_commit(store, _with_blob(commit_bytes(store, signed_head), _reserved))
    assert git_says(store, forged) == "G"
    point(store, forged)
    found = [f for f in verify_findings(cli) if f["commit"] == forged]
    assert found == []
    assert cli("get", "A", "--env", "production").code == 5  # the line was rewritten (rule 8)


def test_a_signed_commit_re_encoded_so_git_cannot_read_it_is_no_line_commit(
        cli, store, signed_head):
    # The signature first: what it signs is unchanged, so the signature still verifies,
    # but git calls the object bogus and would not point a ref at it. A server that
    # does not check can: the line must not take what git cannot read.
    kept, sig, rest = _split(commit_bytes(store, signed_head))
    forged = raw_commit(store, b"\n".join(sig + kept) + rest)
    ref = store / ".git" / "refs" / "heads" / "main"
    ref.write_text(forged + "\n")
    found = [f for f in verify_findings(cli) if f["commit"] == forged]
    assert (6, "git cannot read it as a commit (a tree, then its parents)") in \
        [(f["rule"], f["message"]) for f in found], found
    assert_one_line_error(cli("get", "A", "--env", "production"), 5)
