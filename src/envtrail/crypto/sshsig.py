"""SSH signatures (OpenSSH PROTOCOL.sshsig), the format git uses with gpg.format=ssh.

Only Ed25519 keys and the sha512 hash are produced; verification accepts
sha256 and sha512 so that commits signed by ``git commit -S`` with an
ssh-keygen key can be checked too.
"""

from __future__ import annotations

import binascii
import functools

from envtrail.crypto import sodium
from envtrail.crypto.keys import KEY_TYPE, Identity, KeyFormatError, PublicKey, verify_ed25519
from envtrail.crypto.wire import WireError, armor, string, strings, uint32

_MAGIC = b"SSHSIG"
_VERSION = 1
_FIELDS = len(_MAGIC) + 4  # where the strings start, after the magic and the version
_LABEL = "SSH SIGNATURE"
_HASHES = {b"sha512": sodium.sha512, b"sha256": sodium.sha256}
_BEGIN, _END = f"-----BEGIN {_LABEL}-----\n", f"\n-----END {_LABEL}-----"
_SPACE = b" \t\n\r\v\f"  # what OpenSSH's base64 decoder skips
# Signing keys already parsed, by their blob: a history has a handful of signers, and
# one PublicKey per signer keeps its ``openssh`` line (cached) from commit to commit.
_KEYS: dict[bytes, PublicKey] = {}
_KEYS_MAX = 64


class SignatureError(ValueError):
    """A signature that is malformed or does not verify."""


@functools.lru_cache(maxsize=8)
def _signed_prefix(namespace: str, hash_alg: bytes) -> bytes:
    # The same few (namespace, hash) pairs sign every commit.
    return _MAGIC + string(namespace.encode()) + string(b"") + string(hash_alg)


def _signed_data(namespace: str, hash_alg: bytes, message: bytes) -> bytes:
    return _signed_prefix(namespace, hash_alg) + string(_HASHES[hash_alg](message))


def sign(identity: Identity, message: bytes, namespace: str = "git") -> str:
    """Sign ``message`` and return the armored ``SSH SIGNATURE`` block."""
    sig = identity.sign(_signed_data(namespace, b"sha512", message))
    blob = (
        _MAGIC + uint32(_VERSION) + string(identity.public.blob)
        + string(namespace.encode()) + string(b"") + string(b"sha512")
        + string(string(KEY_TYPE) + string(sig))
    )
    return armor(_LABEL, blob).rstrip("\n")


def verify(armored: str, message: bytes, namespace: str = "git") -> PublicKey:
    """Check an armored SSH signature over ``message``; return the signing key.

    Raises SignatureError when the block is malformed, signs another namespace,
    uses an unsupported key or hash, or does not match the message. What
    ssh-keygen (so git) refuses is refused too: text before the armor, base64
    that is not canonical, bytes after the signature or inside it. The
    ``reserved`` field is ignored, as OpenSSH's PROTOCOL.sshsig says and
    ssh-keygen does: it is not signed, like the armor's line breaks.
    """
    try:
        blob = _dearmor(armored)
        if not blob.startswith(_MAGIC):
            raise SignatureError("not an SSH signature")
        if len(blob) < _FIELDS:
            raise WireError("truncated SSH data")
        if int.from_bytes(blob[len(_MAGIC):_FIELDS], "big") != _VERSION:
            raise SignatureError("unsupported SSH signature version")
        # Each strings() call also refuses bytes after its last field.
        key_blob, ns, _reserved, hash_alg, sig_blob = strings(blob, 5, _FIELDS)
        sig_type, sig = strings(sig_blob, 2)
        public = _public_key(key_blob)
    except (WireError, KeyFormatError) as exc:
        raise SignatureError(f"malformed SSH signature: {exc}") from exc
    if ns != namespace.encode():
        raise SignatureError(f"signature is for namespace {ns.decode(errors='replace')!r}")
    if hash_alg not in _HASHES:
        raise SignatureError("unsupported signature hash")
    if sig_type != KEY_TYPE or len(sig) != 64:
        raise SignatureError("only ssh-ed25519 signatures are supported")
    if not verify_ed25519(public, _signed_data(namespace, hash_alg, message), sig):
        raise SignatureError("signature does not match the signed data")
    return public


def _public_key(blob: bytes) -> PublicKey:
    """The key ``blob`` encodes, parsed (as strictly) once per distinct blob."""
    key = _KEYS.get(blob)
    if key is None:
        key = PublicKey.from_blob(blob)  # only keys that parse are remembered
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()  # many signers is rare: start over rather than track age
        _KEYS[blob] = key
    return key


def _dearmor(armored: str) -> bytes:
    """The blob of an armored signature, read as strictly as ssh-keygen reads it (or more)."""
    end = armored.find(_END, len(_BEGIN))
    if not armored.startswith(_BEGIN) or end < 0 or armored[end + len(_END):] not in ("", "\n"):
        raise WireError(f"not an armored {_LABEL}")
    try:
        # As bytes, the skipped characters are deleted in C (str.translate costs ~8 µs
        # here); no other UTF-8 sequence holds those bytes, so the same ones go.
        body = armored[len(_BEGIN):end].encode().translate(None, _SPACE)
        blob = binascii.a2b_base64(body, strict_mode=True)
    except ValueError as exc:  # binascii.Error, or a lone surrogate that has no UTF-8
        raise WireError("bad base64 in armored data") from exc
    if binascii.b2a_base64(blob, newline=False) != body:
        raise WireError("base64 that is not in its one canonical form")
    return blob
