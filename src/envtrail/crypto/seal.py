"""Environment keys, sealing them to members, encrypting values, fingerprints.

The derivations here are normative (docs/format.md) and pinned by the test
vectors in tests/vectors/.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

# Hashes, padding, the AEAD and the X25519 exchange go through crypto.sodium (per-commit
# costs of a history walk, and a length check PyNaCl's exchange lacks); key generation and
# sealed boxes are cold and stay on PyNaCl's API (crypto.sodium's docstring says why).
import nacl.bindings
import nacl.utils
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.public import PublicKey as BoxPublicKey

from envtrail.crypto import sodium, wire
from envtrail.crypto.keys import Identity, PublicKey
from envtrail.model import Ciphertext

# The formats this module encrypts and decrypts (format.envfile says which is written).
FORMATS = (1, 2)
# The value key derivation did not change in format 2.
_VALUE_PERSON = b"envtrail.value.1"
_FP_PERSON = {1: b"envtrail.fprnt.1", 2: b"envtrail.fprnt.2"}
# Trailer width of a fingerprint, in hex digits, per format.
FP_HEX_CHARS = {1: 12, 2: 32}
PAD_BLOCK = 32
_NONCE = sodium.AEAD_NONCEBYTES


class DecryptError(ValueError):
    """A ciphertext or sealed key that does not open. Never carries plaintext."""


def b64(data: bytes) -> str:
    """Standard base64 with padding, as used throughout the file format."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, size: int | None = None) -> bytes:
    """Decode standard base64, optionally checking the decoded length."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise DecryptError("bad base64") from exc
    if size is not None and len(raw) != size:
        raise DecryptError("wrong key length")
    return raw


def associated_data(version: int, environment: str, name: str) -> bytes:
    """What each value's AEAD binds: format version, environment and variable name."""
    return f"envtrail/v{version}/{environment}/{name}".encode()


def pad(data: bytes) -> bytes:
    """ISO/IEC 7816-4 padding (libsodium's sodium_pad) to a multiple of 32 bytes.

    It always adds 1 to 32 bytes, so ``true`` and ``false`` both become 32.
    """
    return sodium.pad(data, PAD_BLOCK)


def unpad(data: bytes) -> bytes:
    """Undo :func:`pad`; DecryptError for anything :func:`pad` cannot have produced."""
    if not data or len(data) % PAD_BLOCK:
        raise DecryptError("padded value is not a whole number of blocks")
    try:
        return sodium.unpad(data, PAD_BLOCK)
    except CryptoError as exc:
        raise DecryptError("malformed padding") from exc


def fingerprint_input(environment: str, name: str, value: str) -> bytes:
    """Format 2's fingerprint input: each part as an SSH string (uint32 length || bytes)."""
    return wire.string(environment.encode()) + wire.string(name.encode()) \
        + wire.string(value.encode())


def derive_value_key(shared: bytes, ephemeral_public: bytes, env_public: bytes) -> bytes:
    """BLAKE2b-256(shared || ephemeral_pk || env_pk, person="envtrail.value.1")."""
    return sodium.blake2b(shared + ephemeral_public + env_public, 32, person=_VALUE_PERSON)


@dataclass(frozen=True)
class EnvKeys:
    """An environment's X25519 private key and its 32-byte fingerprint key."""

    private: bytes = field(repr=False)
    fp_key: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> EnvKeys:
        """Fresh keys, for a new environment or a rotation."""
        return cls(bytes(PrivateKey.generate()), nacl.utils.random(32))

    @property
    def public(self) -> bytes:
        """The environment's X25519 public key."""
        return nacl.bindings.crypto_scalarmult_base(self.private)

    def seal_to(self, member: PublicKey) -> str:
        """Seal private key and fingerprint key to a member's (converted) key."""
        box = SealedBox(BoxPublicKey(member.x25519()))
        return b64(box.encrypt(self.private + self.fp_key))

    @classmethod
    def unseal(cls, sealed: str, identity: Identity, env_public: bytes) -> EnvKeys:
        """Open a member's sealed keys; check they belong to ``env_public``."""
        try:
            raw = SealedBox(identity.x25519_private()).decrypt(unb64(sealed))
        except CryptoError as exc:
            raise DecryptError("the sealed environment key does not open with this identity") from exc
        if len(raw) != 64:
            raise DecryptError("the sealed environment key has the wrong length")
        keys = cls(raw[:32], raw[32:])
        if keys.public != env_public:
            raise DecryptError("the sealed environment key belongs to another key pair")
        return keys

    def fingerprint(self, version: int, environment: str, name: str, value: str) -> str:
        """The keyed fingerprint of ``value`` as stored in ``environment``/``name``, in hex.

        Format 2: BLAKE2b-128 keyed with the fingerprint key over environment,
        name and value, so equal values of two variables differ. Format 1:
        the first 12 hex digits of keyed BLAKE2b-256 over the value alone.
        """
        if version == 1:
            data, size = value.encode("utf-8"), 32
        else:
            data, size = fingerprint_input(environment, name, value), 16
        digest = sodium.blake2b(data, size, self.fp_key, _FP_PERSON[version])
        return digest.hex()[:FP_HEX_CHARS[version]]


class Encryptor:
    """Encrypts the values of one write command under one ephemeral key."""

    def __init__(self, env_public: bytes, environment: str, version: int,
                 ephemeral: PrivateKey | None = None) -> None:
        # ``ephemeral`` is injectable only so test vectors can be reproduced.
        if version not in FORMATS:
            raise ValueError(f"unknown format version {version}")
        ephemeral = ephemeral or PrivateKey.generate()
        self._ephemeral_public = bytes(ephemeral.public_key)
        shared = sodium.x25519(bytes(ephemeral), env_public)
        self._key = derive_value_key(shared, self._ephemeral_public, env_public)
        self._environment = environment
        self._version = version

    def encrypt(self, name: str, value: str, nonce: bytes | None = None) -> Ciphertext:
        """Encrypt ``value`` for the variable ``name`` (``nonce`` only for test vectors)."""
        nonce = nonce or nacl.utils.random(_NONCE)
        plain = value.encode("utf-8")
        if self._version >= 2:
            plain = pad(plain)
        ct = sodium.aead_encrypt(
            plain, associated_data(self._version, self._environment, name), nonce, self._key,
        )
        return Ciphertext(self._ephemeral_public, nonce + ct, self._version)


class Decryptor:
    """Decrypts values of one environment, one key exchange per ephemeral key.

    A token's own version digit selects AD and padding; the AD binds that
    digit, so it cannot be relabelled, and the file parser refuses tokens
    whose version differs from the file's.
    """

    def __init__(self, keys: EnvKeys, environment: str) -> None:
        self._keys = keys
        self._public = keys.public
        self._environment = environment
        self._cache: dict[bytes, bytes] = {}
        self.key_exchanges = 0

    def decrypt(self, name: str, ciphertext: Ciphertext) -> str:
        """Open the value stored for ``name``; DecryptError if it does not authenticate."""
        eph = ciphertext.ephemeral
        key = self._cache.get(eph)
        if key is None:
            try:
                shared = sodium.x25519(self._keys.private, eph)
            except (CryptoError, RuntimeError, ValueError) as exc:
                raise DecryptError(f"{name}: bad ephemeral key") from exc
            key = derive_value_key(shared, eph, self._public)
            self._cache[eph] = key
            self.key_exchanges += 1
        body = ciphertext.body
        try:
            plain = sodium.aead_decrypt(
                body[_NONCE:], associated_data(ciphertext.version, self._environment, name),
                body[:_NONCE], key,
            )
        except CryptoError as exc:
            raise DecryptError(
                f"{name}: ciphertext does not authenticate (tampered, or moved from another "
                "variable or environment)"
            ) from exc
        if ciphertext.version >= 2:
            try:
                plain = unpad(plain)
            except DecryptError as exc:
                raise DecryptError(f"{name}: {exc}") from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecryptError(f"{name}: decrypted value is not UTF-8") from exc
