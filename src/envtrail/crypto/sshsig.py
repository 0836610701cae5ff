"""SSH signatures (OpenSSH PROTOCOL.sshsig), the format git uses with gpg.format=ssh.

Only Ed25519 keys and the sha512 hash are produced; verification accepts
sha256 and sha512 so that commits signed by ``git commit -S`` with an
ssh-keygen key can be checked too.
"""

from __future__ import annotations

import nacl.hash
from nacl.encoding import RawEncoder

from envtrail.crypto.keys import KEY_TYPE, Identity, KeyFormatError, PublicKey, verify_ed25519
from envtrail.crypto.wire import Reader, WireError, armor, string, uint32

_MAGIC = b"SSHSIG"
_VERSION = 1
_LABEL = "SSH SIGNATURE"
_HASHES = {b"sha512": nacl.hash.sha512, b"sha256": nacl.hash.sha256}
_BEGIN, _END = f"-----BEGIN {_LABEL}-----\n", f"\n-----END {_LABEL}-----"
_SPACE = str.maketrans("", "", " \t\n\r\v\f")  # what OpenSSH's base64 decoder skips


class SignatureError(ValueError):
    """A signature that is malformed or does not verify."""


def _signed_data(namespace: str, hash_alg: bytes, message: bytes) -> bytes:
    digest = _HASHES[hash_alg](message, encoder=RawEncoder)
    return _MAGIC + string(namespace.encode()) + string(b"") + string(hash_alg) + string(digest)


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
        r = Reader(blob[len(_MAGIC):])
        if r.uint32() != _VERSION:
            raise SignatureError("unsupported SSH signature version")
        public = PublicKey.from_blob(r.string())
        ns, _reserved, hash_alg, sig_blob = r.string(), r.string(), r.string(), r.string()
        s = Reader(sig_blob)
        sig_type, sig = s.string(), s.string()
        if r.rest() or s.rest():
            raise SignatureError("malformed SSH signature: trailing data")
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


def _dearmor(armored: str) -> bytes:
    """The blob of an armored signature, read as strictly as ssh-keygen reads it (or more)."""
    import base64
    import binascii

    end = armored.find(_END, len(_BEGIN))
    if not armored.startswith(_BEGIN) or end < 0 or armored[end + len(_END):] not in ("", "\n"):
        raise WireError(f"not an armored {_LABEL}")
    body = armored[len(_BEGIN):end].translate(_SPACE)
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WireError("bad base64 in armored data") from exc
    if base64.b64encode(blob).decode("ascii") != body:
        raise WireError("base64 that is not in its one canonical form")
    return blob
