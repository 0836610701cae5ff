"""Passphrase protection of OpenSSH private key files, as ssh-keygen writes it.

The private section of an ``openssh-key-v1`` file is encrypted with
aes256-ctr under a key and IV derived by bcrypt-pbkdf from the passphrase
(a 16-byte salt and a round count stored in the file). libsodium offers
neither, so this one module uses the ``bcrypt`` and ``cryptography``
packages, imported only here, and this module is imported only when a key is
encrypted: unencrypted keys never load them.
"""

from __future__ import annotations

from envtrail.crypto.wire import Reader, WireError, string, uint32

CIPHER = b"aes256-ctr"
KDF = b"bcrypt"
BLOCK = 16  # AES block size: the private section is padded to it
ROUNDS = 16  # ssh-keygen's default (-a 16)
_SALT_BYTES, _KEY_BYTES, _IV_BYTES = 16, 32, 16
# A hostile file could ask for billions of rounds; ssh-keygen's own keys use 16-100.
_MAX_ROUNDS = 10_000


class KeyFileError(ValueError):
    """An encrypted key this module cannot open; the message holds no key material."""


def _aes_ctr(passphrase: str, salt: bytes, rounds: int) -> object:
    import bcrypt
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    derived = bcrypt.kdf(password=passphrase.encode("utf-8"), salt=salt,
                         desired_key_bytes=_KEY_BYTES + _IV_BYTES, rounds=rounds,
                         ignore_few_rounds=True)
    return Cipher(algorithms.AES(derived[:_KEY_BYTES]), modes.CTR(derived[_KEY_BYTES:]))


def encrypt(section: bytes, passphrase: str) -> tuple[bytes, bytes, bytes, bytes]:
    """Encrypt a padded private section; return (cipher name, KDF name, KDF options, ciphertext)."""
    import os

    if len(section) % BLOCK:
        raise KeyFileError("the private section must be padded to the cipher's block size")
    salt = os.urandom(_SALT_BYTES)
    enc = _aes_ctr(passphrase, salt, ROUNDS).encryptor()  # type: ignore[attr-defined]
    return CIPHER, KDF, string(salt) + uint32(ROUNDS), enc.update(section) + enc.finalize()


def decrypt(cipher: bytes, kdf: bytes, options: bytes, data: bytes, passphrase: str) -> bytes:
    """Decrypt a private section; a wrong passphrase gives garbage, which the caller detects."""
    if cipher != CIPHER or kdf != KDF:
        name = cipher.decode("ascii", "replace")[:40]
        raise KeyFileError(f"keys encrypted with {name!r} are not supported (only aes256-ctr "
                           "with bcrypt, ssh-keygen's default)")
    try:
        r = Reader(options)
        salt, rounds = r.string(), r.uint32()
    except WireError:
        raise KeyFileError("corrupted private key (bad KDF options)") from None
    if not salt or not 0 < rounds <= _MAX_ROUNDS or r.rest():
        raise KeyFileError("corrupted private key (bad KDF options)")
    if len(data) % BLOCK:
        raise KeyFileError("corrupted private key (not whole cipher blocks)")
    dec = _aes_ctr(passphrase, salt, rounds).decryptor()  # type: ignore[attr-defined]
    return dec.update(data) + dec.finalize()
