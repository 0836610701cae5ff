"""libsodium's one-shot functions, called through PyNaCl's own cffi binding.

``envtrail verify`` judges every commit of a store line, and each judged
commit costs a BLAKE2b or two, a SHA-512, an AEAD decryption, an unpadding
and an Ed25519 check. PyNaCl's Python wrappers around those calls (``nacl.hash``,
``nacl.bindings``) spend more time checking their arguments, and formatting
error messages for checks that pass, than libsodium spends on the work:
``nacl.hash.blake2b`` costs ~9 µs a call, the hash under 1 µs. This module
calls the same functions of the same library through the same cffi binding
(``nacl._sodium`` is what ``nacl.bindings`` calls), so it is still
libsodium through PyNaCl, without that toll. Every symbol used here is in
PyNaCl 1.5's binding, the lower bound the suite runs with.

Every argument here has a fixed size, or a bound, that libsodium reads
blindly (a short key or nonce would be read past its end) or aborts the
process on (an oversized BLAKE2b key or digest): those lengths are checked
here first. Failures raise what PyNaCl raises for the same call, so callers
catch what they caught before: a wrong length is a
``nacl.exceptions.ValueError`` (both a CryptoError and a ValueError), a
forged ciphertext or bad padding a ``CryptoError``. No message carries an
argument's bytes.

The rest of crypto/ hashes, encrypts values, pads them, exchanges X25519
keys and checks signatures only through this module. The key exchange is here
for its length check, not for speed: PyNaCl's ``crypto_scalarmult`` checks
no length, and libsodium reads 32 bytes of whatever point it is given. What
stays on PyNaCl's own API is cold: key generation, signing, sealed boxes and
the Ed25519 to X25519 conversion.
"""

from __future__ import annotations

from nacl._sodium import ffi, lib
from nacl.bindings import sodium_init
from nacl.exceptions import CryptoError
from nacl.exceptions import ValueError as LengthError

# sodium_init picks the fastest implementation of each primitive for this CPU;
# importing nacl.bindings already ran it, and it runs once however often called.
sodium_init()

BLAKE2B_BYTES_MIN = lib.crypto_generichash_blake2b_bytes_min()  # 16
BLAKE2B_BYTES_MAX = lib.crypto_generichash_blake2b_bytes_max()  # 64
BLAKE2B_KEYBYTES_MAX = lib.crypto_generichash_blake2b_keybytes_max()  # 64
BLAKE2B_PERSONALBYTES = lib.crypto_generichash_blake2b_personalbytes()  # 16
AEAD_KEYBYTES = lib.crypto_aead_xchacha20poly1305_ietf_keybytes()  # 32
AEAD_NONCEBYTES = lib.crypto_aead_xchacha20poly1305_ietf_npubbytes()  # 24
AEAD_ABYTES = lib.crypto_aead_xchacha20poly1305_ietf_abytes()  # 16
ED25519_PUBLICKEYBYTES = lib.crypto_sign_publickeybytes()  # 32
ED25519_BYTES = lib.crypto_sign_bytes()  # 64
X25519_BYTES = lib.crypto_scalarmult_bytes()  # 32
X25519_SCALARBYTES = lib.crypto_scalarmult_scalarbytes()  # 32
_SHA512_BYTES = lib.crypto_hash_sha512_bytes()
_SHA256_BYTES = lib.crypto_hash_sha256_bytes()

_new, _buffer, _NULL = ffi.new, ffi.buffer, ffi.NULL


def _length(what: str, size: int) -> LengthError:
    return LengthError(f"{what} has the wrong length ({size} bytes)")


def blake2b(data: bytes, size: int, key: bytes = b"", person: bytes = b"") -> bytes:
    """BLAKE2b of ``data``: ``size`` bytes (16 to 64), keyed by ``key`` (up to 64 bytes).

    ``person`` is empty or exactly 16 bytes; PyNaCl zero-pads a shorter one,
    which is the same as an empty one only when it is empty, so it is refused
    here rather than silently meaning something else.
    """
    if not BLAKE2B_BYTES_MIN <= size <= BLAKE2B_BYTES_MAX:
        raise _length("a BLAKE2b digest", size)
    if len(key) > BLAKE2B_KEYBYTES_MAX:
        raise _length("a BLAKE2b key", len(key))
    if person and len(person) != BLAKE2B_PERSONALBYTES:
        raise _length("a BLAKE2b personalisation", len(person))
    out = _new("unsigned char[]", size)
    # A NULL salt or personalisation is libsodium's all-zero one, as PyNaCl passes.
    if lib.crypto_generichash_blake2b_salt_personal(
            out, size, data, len(data), key or _NULL, len(key), _NULL, person or _NULL) != 0:
        raise CryptoError("BLAKE2b failed")  # not with the lengths checked above
    return _buffer(out)[:]


def sha512(data: bytes) -> bytes:
    """SHA-512 of ``data``."""
    out = _new("unsigned char[]", _SHA512_BYTES)
    lib.crypto_hash_sha512(out, data, len(data))
    return _buffer(out)[:]


def sha256(data: bytes) -> bytes:
    """SHA-256 of ``data``."""
    out = _new("unsigned char[]", _SHA256_BYTES)
    lib.crypto_hash_sha256(out, data, len(data))
    return _buffer(out)[:]


def _aead_args(nonce: bytes, key: bytes) -> None:
    if len(nonce) != AEAD_NONCEBYTES:
        raise _length("an XChaCha20-Poly1305 nonce", len(nonce))
    if len(key) != AEAD_KEYBYTES:
        raise _length("an XChaCha20-Poly1305 key", len(key))


def aead_encrypt(message: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes:
    """XChaCha20-Poly1305 (IETF) encryption: ciphertext followed by the 16-byte tag."""
    _aead_args(nonce, key)
    out = _new("unsigned char[]", len(message) + AEAD_ABYTES)
    lib.crypto_aead_xchacha20poly1305_ietf_encrypt(
        out, _NULL, message, len(message), ad, len(ad), _NULL, nonce, key)
    return _buffer(out)[:]


def aead_decrypt(ciphertext: bytes, ad: bytes, nonce: bytes, key: bytes) -> bytes:
    """Open an XChaCha20-Poly1305 (IETF) ciphertext; CryptoError if it does not authenticate."""
    _aead_args(nonce, key)
    size = len(ciphertext) - AEAD_ABYTES
    if size < 0:
        # libsodium refuses it too; PyNaCl would first fail to allocate a negative buffer.
        raise CryptoError("Decryption failed.")
    out = _new("unsigned char[]", size)
    if lib.crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, _NULL, _NULL, ciphertext, len(ciphertext), ad, len(ad), nonce, key) != 0:
        raise CryptoError("Decryption failed.")
    return _buffer(out)[:]


def x25519(secret: bytes, public: bytes) -> bytes:
    """The X25519 shared secret of a 32-byte scalar and a 32-byte point; CryptoError for a
    point of small order (libsodium refuses the all-zero result)."""
    if len(secret) != X25519_SCALARBYTES:
        raise _length("an X25519 secret key", len(secret))
    if len(public) != X25519_BYTES:
        raise _length("an X25519 public key", len(public))
    out = _new("unsigned char[]", X25519_BYTES)
    if lib.crypto_scalarmult(out, secret, public) != 0:
        raise CryptoError("X25519 key exchange failed")
    return _buffer(out)[:]


def ed25519_verify(signature: bytes, message: bytes, public: bytes) -> bool:
    """True if ``signature`` (64 bytes) is ``public``'s (32 bytes) Ed25519 signature of ``message``."""
    if len(public) != ED25519_PUBLICKEYBYTES or len(signature) != ED25519_BYTES:
        raise LengthError("an Ed25519 key is 32 bytes and a signature 64")
    # crypto_sign_verify_detached would spare the copies, but PyNaCl 1.5's binding lacks it;
    # crypto_sign_open runs the same check and writes the message back out.
    signed = signature + message
    out = _new("unsigned char[]", len(signed))
    return lib.crypto_sign_open(out, _NULL, signed, len(signed), public) == 0


def pad(data: bytes, block: int) -> bytes:
    """ISO/IEC 7816-4 padding (sodium_pad): 1 to ``block`` bytes, up to a multiple of ``block``."""
    if block <= 0:
        raise LengthError("the padding block size must be positive")
    room = len(data) + block  # always enough: sodium_pad adds at most ``block`` bytes
    buf = _new("unsigned char[]", room)
    ffi.memmove(buf, data, len(data))
    padded = _new("size_t *")
    if lib.sodium_pad(padded, buf, len(data), block, room) != 0:
        raise CryptoError("Padding failure")  # not with that room
    return _buffer(buf, padded[0])[:]


def unpad(data: bytes, block: int) -> bytes:
    """Undo :func:`pad` (sodium_unpad); CryptoError for padding it cannot have written."""
    if block <= 0:
        raise LengthError("the padding block size must be positive")
    size = _new("size_t *")
    if lib.sodium_unpad(size, data, len(data), block) != 0:
        raise CryptoError("Unpadding failure")
    return data[:size[0]]
