"""SSH signatures (OpenSSH PROTOCOL.sshsig), the format git uses with gpg.format=ssh.

Only Ed25519 keys and the sha512 hash are produced; verification accepts
sha256 and sha512 so that commits signed by ``git commit -S`` with an
ssh-keygen key can be checked too.
"""

from __future__ import annotations

import nacl.hash
from nacl.encoding import RawEncoder

from envtrail.crypto.keys import KEY_TYPE, Identity, KeyFormatError, PublicKey, verify_ed25519
from envtrail.crypto.wire import Reader, WireError, armor, dearmor, string, uint32

_MAGIC = b"SSHSIG"
_VERSION = 1
_LABEL = "SSH SIGNATURE"
_HASHES = {b"sha512": nacl.hash.sha512, b"sha256": nacl.hash.sha256}


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
    uses an unsupported key or hash, or does not match the message.
    """
    try:
        blob = dearmor(_LABEL, armored)
        if not blob.startswith(_MAGIC):
            raise SignatureError("not an SSH signature")
        r = Reader(blob[len(_MAGIC):])
        if r.uint32() != _VERSION:
            raise SignatureError("unsupported SSH signature version")
        public = PublicKey.from_blob(r.string())
        ns, _reserved, hash_alg, sig_blob = r.string(), r.string(), r.string(), r.string()
        s = Reader(sig_blob)
        sig_type, sig = s.string(), s.string()
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
