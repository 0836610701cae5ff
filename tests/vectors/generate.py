"""Regenerate the format test vectors from libsodium primitives directly.

This script deliberately does not import envtrail: it spells out the
derivations of docs/format.md with raw PyNaCl bindings, so the vectors are
an independent statement of the format that tests then hold envtrail to.
Run:
    python tests/vectors/generate.py 1 > tests/vectors/format-v1.json
    python tests/vectors/generate.py 2 > tests/vectors/format-v2.json
(Sealed boxes use a random ephemeral key, so ``sealed_for_identity`` differs
on every run; every other field is deterministic.)
"""

from __future__ import annotations

import base64
import json
import struct
import sys

import nacl.bindings as s
import nacl.hash
from nacl.encoding import RawEncoder
from nacl.public import PrivateKey, SealedBox


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def fixed_keys() -> tuple[bytes, ...]:
    """The keys both formats' vectors use, and the value key of the one ephemeral key."""
    identity_seed = bytes(range(32))
    ed_pk, ed_sk = s.crypto_sign_seed_keypair(identity_seed)
    env_sk = bytes(range(32, 64))
    env_pk = s.crypto_scalarmult_base(env_sk)
    fp_key = bytes(range(64, 96))
    eph_sk = bytes(range(96, 128))
    eph_pk = s.crypto_scalarmult_base(eph_sk)
    shared = s.crypto_scalarmult(eph_sk, env_pk)
    key = nacl.hash.blake2b(shared + eph_pk + env_pk, digest_size=32,
                            person=b"envtrail.value.1", encoder=RawEncoder)
    return identity_seed, ed_pk, ed_sk, env_sk, env_pk, fp_key, eph_sk, eph_pk, shared, key


def key_fields(identity_seed: bytes, ed_pk: bytes, env_sk: bytes, env_pk: bytes, fp_key: bytes,
               eph_sk: bytes, eph_pk: bytes, shared: bytes, key: bytes) -> dict[str, str]:
    """The keys as both vector files spell them."""
    return {
        "identity_ed25519_seed": b64(identity_seed),
        "identity_ed25519_public": b64(ed_pk),
        "identity_x25519_public": b64(s.crypto_sign_ed25519_pk_to_curve25519(ed_pk)),
        "env_x25519_private": b64(env_sk),
        "env_x25519_public": b64(env_pk),
        "fingerprint_key": b64(fp_key),
        "ephemeral_x25519_private": b64(eph_sk),
        "ephemeral_x25519_public": b64(eph_pk),
        "shared_secret": b64(shared),
        "value_key": b64(key),
    }


def main_v1() -> None:
    identity_seed, ed_pk, ed_sk, env_sk, env_pk, fp_key, eph_sk, eph_pk, shared, key = fixed_keys()
    nonce = bytes(range(128, 152))
    environment, name, value = "production", "STRIPE_KEY", "sk_live_ünïcode\nline2 $HOME `x`"
    ad = f"envtrail/v1/{environment}/{name}".encode()
    ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(value.encode(), ad, nonce, key)
    token = f"ENC[v1,{b64(eph_pk)},{b64(nonce + ct)}]"
    fp = nacl.hash.blake2b(value.encode(), digest_size=32, key=fp_key,
                           person=b"envtrail.fprnt.1", encoder=RawEncoder).hex()[:12]
    member_x = s.crypto_sign_ed25519_pk_to_curve25519(ed_pk)
    member_x_sk = s.crypto_sign_ed25519_sk_to_curve25519(ed_sk)
    sealed = SealedBox(PrivateKey(member_x_sk).public_key).encrypt(env_sk + fp_key)
    assert PrivateKey(member_x_sk).public_key.encode() == member_x
    vectors = {
        "description": "envtrail format v1 test vectors; see docs/format.md",
        **key_fields(identity_seed, ed_pk, env_sk, env_pk, fp_key, eph_sk, eph_pk, shared, key),
        "environment": environment,
        "name": name,
        "value": value,
        "associated_data": ad.decode(),
        "nonce": b64(nonce),
        "token": token,
        "fingerprint": fp,
        "sealed_for_identity": b64(sealed),
    }
    print(json.dumps(vectors, indent=2, ensure_ascii=False))


# -- format 2 ------------------------------------------------------------------

# (name, value): the two flags show that padding hides `true` from `false`;
# FLAG_A and SAME_AS_FLAG_A show equal values of two variables fingerprint
# differently; EMPTY and EXACT_32 are the padding's edge cases.
CASES_V2 = [
    ("STRIPE_KEY", "sk_live_ünïcode\nline2 $HOME `x`"),
    ("FLAG_A", "true"),
    ("FLAG_B", "false"),
    ("SAME_AS_FLAG_A", "true"),
    ("EMPTY", ""),
    ("EXACT_32", "0123456789abcdef0123456789abcdef"),
]


def pad_v2(data: bytes) -> bytes:
    """ISO/IEC 7816-4 to a multiple of 32, written out: 0x80, then zeros."""
    padded = data + b"\x80" + b"\x00" * ((-len(data) - 1) % 32)
    assert padded == s.sodium_pad(data, 32) and len(padded) % 32 == 0
    return padded


def fingerprint_input_v2(environment: str, name: str, value: str) -> bytes:
    """Each part as uint32 big-endian byte length, then its UTF-8 bytes."""
    return b"".join(struct.pack(">I", len(p)) + p
                    for p in (environment.encode(), name.encode(), value.encode()))


def main_v2() -> None:
    identity_seed, ed_pk, ed_sk, env_sk, env_pk, fp_key, eph_sk, eph_pk, shared, key = fixed_keys()
    environment = "production"
    values = []
    for i, (name, value) in enumerate(CASES_V2):
        nonce = bytes((128 + 24 * i + j) % 256 for j in range(24))
        ad = f"envtrail/v2/{environment}/{name}".encode()
        padded = pad_v2(value.encode())
        ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(padded, ad, nonce, key)
        fp_in = fingerprint_input_v2(environment, name, value)
        fp = nacl.hash.blake2b(fp_in, digest_size=16, key=fp_key,
                               person=b"envtrail.fprnt.2", encoder=RawEncoder).hex()
        values.append({
            "name": name,
            "value": value,
            "associated_data": ad.decode(),
            "padded_plaintext_hex": padded.hex(),
            "nonce": b64(nonce),
            "token": f"ENC[v2,{b64(eph_pk)},{b64(nonce + ct)}]",
            "fingerprint_input_hex": fp_in.hex(),
            "fingerprint": fp,
        })
    # Authentic ciphertexts whose plaintext is not validly padded: a reader
    # MUST reject each (integrity failure), never return a value.
    bad = []
    for i, (why, plain) in enumerate([
        ("no padding at all", b"true"),
        ("zeros without the 0x80 marker", b"true" + b"\x00" * 28),
        ("a non-zero byte after the marker", b"true\x80" + b"\x00" * 26 + b"\x01"),
        ("marker more than one block from the end", b"true\x80" + b"\x00" * 59),
    ]):
        nonce = bytes((200 + 24 * i + j) % 256 for j in range(24))
        ad = f"envtrail/v2/{environment}/BAD".encode()
        ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, ad, nonce, key)
        bad.append({"why": why, "name": "BAD",
                    "token": f"ENC[v2,{b64(eph_pk)},{b64(nonce + ct)}]"})
    sealed = SealedBox(PrivateKey(s.crypto_sign_ed25519_sk_to_curve25519(ed_sk)).public_key
                       ).encrypt(env_sk + fp_key)
    vectors = {
        "description": "envtrail format v2 test vectors; see docs/format.md",
        **key_fields(identity_seed, ed_pk, env_sk, env_pk, fp_key, eph_sk, eph_pk, shared, key),
        "environment": environment,
        "values": values,
        "malformed_padding": bad,
        "sealed_for_identity": b64(sealed),
    }
    print(json.dumps(vectors, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    {"1": main_v1, "2": main_v2}[sys.argv[1] if len(sys.argv) > 1 else "1"]()
