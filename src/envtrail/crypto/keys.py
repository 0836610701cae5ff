"""Ed25519 identities and their OpenSSH encodings.

An identity is an Ed25519 key pair. It signs commits (SSHSIG) and, converted
to X25519, opens the environment keys sealed to it. Private keys are read and
written as ``openssh-key-v1`` files so that ``ssh-keygen`` and git can use the
same file: unencrypted, or passphrase-protected as ssh-keygen does by default
(crypto.keyfile, loaded only for such a key).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

# Signing, key generation and the X25519 conversion are cold (once per run or per key)
# and clearest on PyNaCl's API; hashing and signature checks go through crypto.sodium.
import nacl.bindings
import nacl.signing
import nacl.utils
from nacl.public import PrivateKey

from envtrail.crypto import sodium
from envtrail.crypto.wire import Reader, WireError, armor, dearmor, string, uint32

KEY_TYPE = b"ssh-ed25519"
_MAGIC = b"openssh-key-v1\x00"
_PEM_LABEL = "OPENSSH PRIVATE KEY"


class KeyFormatError(ValueError):
    """A key that cannot be parsed; the message never contains key material."""


class PassphraseRequired(KeyFormatError):
    """The key is passphrase-protected and no passphrase was given."""


class WrongPassphrase(KeyFormatError):
    """The passphrase does not open the key (the message never repeats it)."""


# A passphrase, or a source asked only if the key turns out to be encrypted
# (returning None when it has none to give).
Passphrase = str | Callable[[], str | None] | None


def _blob(text: str) -> bytes:
    try:
        blob = dearmor(_PEM_LABEL, text)
    except WireError as exc:
        raise KeyFormatError("corrupted private key (truncated)") from exc
    if not blob.startswith(_MAGIC):
        raise KeyFormatError("not an OpenSSH private key")
    return blob


def key_id(openssh: str | None) -> str:
    """An OpenSSH public key line without its comment (``ssh-ed25519 AAAA...``): what two
    lines for the same key share, however each is labelled."""
    return " ".join((openssh or "").split()[:2])


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key."""

    raw: bytes

    @property
    def blob(self) -> bytes:
        """The SSH wire blob: string "ssh-ed25519", string key."""
        return string(KEY_TYPE) + string(self.raw)

    def line(self, comment: str = "") -> str:
        """The ``ssh-ed25519 AAAA... [comment]`` line of an OpenSSH .pub file."""
        text = f"{KEY_TYPE.decode()} {base64.b64encode(self.blob).decode()}"
        return f"{text} {comment}" if comment else text

    @functools.cached_property
    def openssh(self) -> str:
        """The key as ``ssh-ed25519 AAAA...`` without a comment."""
        # Cached: a history walk compares each signing key with allowed_signers.
        return self.line()

    def x25519(self) -> bytes:
        """The X25519 public key that corresponds to this Ed25519 key; KeyFormatError for
        32 bytes that are no point of the curve (a well-formed line can carry them)."""
        import nacl.exceptions

        try:
            return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(self.raw)
        except nacl.exceptions.RuntimeError:
            raise KeyFormatError("the key is not a point on the Ed25519 curve") from None

    def fingerprint(self) -> str:
        """OpenSSH's ``SHA256:...`` fingerprint."""
        digest = sodium.sha256(self.blob)
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @classmethod
    def from_blob(cls, blob: bytes) -> PublicKey:
        """Parse an SSH wire blob."""
        try:
            r = Reader(blob)
            kind, raw = r.string(), r.string()
        except WireError as exc:
            raise KeyFormatError("truncated public key") from exc
        if kind != KEY_TYPE or len(raw) != 32 or r.rest():
            raise KeyFormatError("only ssh-ed25519 keys are supported")
        return cls(raw)

    @classmethod
    def parse(cls, line: str) -> tuple[PublicKey, str]:
        """Parse ``ssh-ed25519 AAAA... [comment]``; return the key and comment."""
        parts = line.strip().split(None, 2)
        if len(parts) < 2 or parts[0] != KEY_TYPE.decode():
            raise KeyFormatError("expected an 'ssh-ed25519 AAAA...' public key line")
        try:
            blob = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyFormatError("bad base64 in public key") from exc
        return cls.from_blob(blob), (parts[2].strip() if len(parts) > 2 else "")


@dataclass(frozen=True)
class Identity:
    """An Ed25519 private key with the comment it was stored with."""

    seed: bytes = field(repr=False)
    comment: str = ""

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise KeyFormatError("an Ed25519 seed is 32 bytes")

    @classmethod
    def generate(cls, comment: str = "") -> Identity:
        """Make a new random identity."""
        return cls(nacl.utils.random(32), comment)

    @functools.cached_property
    def _signing_key(self) -> nacl.signing.SigningKey:
        # Deriving the key pair from the seed is a scalar multiplication: once per run.
        return nacl.signing.SigningKey(self.seed)

    @functools.cached_property
    def public(self) -> PublicKey:
        """The public half."""
        return PublicKey(bytes(self._signing_key.verify_key))

    def sign(self, data: bytes) -> bytes:
        """A detached 64-byte Ed25519 signature over ``data``."""
        return self._signing_key.sign(data).signature

    def x25519_private(self) -> PrivateKey:
        """The X25519 private key that opens boxes sealed to :meth:`PublicKey.x25519`."""
        return PrivateKey(self._signing_key.to_curve25519_private_key().encode())

    def to_openssh(self, passphrase: str | None = None) -> str:
        """Encode as an OpenSSH private key file, encrypted if a passphrase is given."""
        pub = self.public
        check = nacl.utils.random(4)
        private = (
            check + check
            + string(KEY_TYPE) + string(pub.raw)
            + string(self.seed + pub.raw)
            + string(self.comment.encode("utf-8"))
        )
        block = 8
        if passphrase:
            from envtrail.crypto import keyfile

            block = keyfile.BLOCK
        private += bytes(range(1, (-len(private)) % block + 1))
        cipher, kdf, kdfopts = b"none", b"none", b""
        if passphrase:
            cipher, kdf, kdfopts, private = keyfile.encrypt(private, passphrase)
        blob = (
            _MAGIC + string(cipher) + string(kdf) + string(kdfopts)
            + uint32(1) + string(pub.blob) + string(private)
        )
        return armor(_PEM_LABEL, blob)

    @classmethod
    def from_openssh(cls, text: str, passphrase: Passphrase = None) -> Identity:
        """Parse an OpenSSH Ed25519 private key file.

        ``passphrase`` (a string, or a callable asked only if the key is
        encrypted) opens a passphrase-protected key; PassphraseRequired
        without one, WrongPassphrase if it does not open the key.
        """
        blob = _blob(text)
        try:
            r = Reader(blob[len(_MAGIC):])
            cipher, kdf, kdfopts = r.string(), r.string(), r.string()
            if r.uint32() != 1:
                raise KeyFormatError("the key file must hold exactly one key")
            pub = PublicKey.from_blob(r.string())
            private = r.string()
        except WireError as exc:
            raise KeyFormatError("corrupted private key (truncated)") from exc
        encrypted = cipher != b"none" or kdf != b"none"
        if encrypted:
            private = _decrypt(cipher, kdf, kdfopts, private, passphrase)
        try:
            p = Reader(private)
            if p.raw(4) != p.raw(4):
                if encrypted:
                    raise WrongPassphrase("wrong passphrase for the private key")
                raise KeyFormatError("corrupted private key (check bytes differ)")
            if p.string() != KEY_TYPE or p.string() != pub.raw:
                raise KeyFormatError("corrupted private key (public part differs)")
            secret = p.string()
            comment = p.string().decode("utf-8", "replace")
        except WireError as exc:
            raise KeyFormatError("corrupted private key (truncated)") from exc
        if len(secret) != 64 or secret[32:] != pub.raw:
            raise KeyFormatError("corrupted private key (bad Ed25519 secret)")
        identity = cls(secret[:32], comment)
        if identity.public != pub:
            raise KeyFormatError("corrupted private key (seed does not match public key)")
        return identity


def _decrypt(cipher: bytes, kdf: bytes, kdfopts: bytes, private: bytes,
             passphrase: Passphrase) -> bytes:
    secret = passphrase() if callable(passphrase) else passphrase
    if not secret:
        raise PassphraseRequired("the private key is passphrase-protected and no passphrase "
                                 "was given")
    from envtrail.crypto import keyfile

    try:
        return keyfile.decrypt(cipher, kdf, kdfopts, private, secret)
    except keyfile.KeyFileError as exc:
        raise KeyFormatError(str(exc)) from None


def verify_ed25519(public: PublicKey, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message``."""
    # crypto.sodium, not VerifyKey: a history walk pays the object churn 10,000 times.
    try:
        return sodium.ed25519_verify(signature, message, public.raw)
    except ValueError:  # a key or signature of the wrong length
        return False


def box_twins(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(first name, second name) for each pair of different names whose different
    ``ssh-ed25519`` lines open the same sealed boxes: the X25519 form keeps only the y
    coordinate, so a key and its negation (one bit apart) are one box key. Lines that do
    not parse are left to the caller."""
    seen: dict[bytes, tuple[str, str]] = {}
    out = []
    for name, line in keys:
        try:
            box = PublicKey.parse(line)[0].x25519()
        except KeyFormatError:
            continue
        first = seen.setdefault(box, (name, line))
        if first[0] != name and first[1].split()[:2] != line.split()[:2]:
            out.append((first[0], name))
    return out
