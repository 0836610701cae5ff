"""Regenerate format-v1.json from libsodium primitives directly.

This script deliberately does not import envtrail: it spells out the
derivations of docs/format.md with raw PyNaCl bindings, so the vectors are
an independent statement of the format that tests then hold envtrail to.
Run: python tests/vectors/generate.py > tests/vectors/format-v1.json
"""

from __future__ import annotations

import base64
import json

import nacl.bindings as s
import nacl.hash
from nacl.encoding import RawEncoder
from nacl.public import PrivateKey, SealedBox


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def main() -> None:
    identity_seed = bytes(range(32))
    ed_pk, ed_sk = s.crypto_sign_seed_keypair(identity_seed)
    env_sk = bytes(range(32, 64))
    env_pk = s.crypto_scalarmult_base(env_sk)
    fp_key = bytes(range(64, 96))
    eph_sk = bytes(range(96, 128))
    eph_pk = s.crypto_scalarmult_base(eph_sk)
    nonce = bytes(range(128, 152))
    environment, name, value = "production", "STRIPE_KEY", "sk_live_ünïcode\nline2 $HOME `x`"

    shared = s.crypto_scalarmult(eph_sk, env_pk)
    key = nacl.hash.blake2b(shared + eph_pk + env_pk, digest_size=32,
                            person=b"envtrail.value.1", encoder=RawEncoder)
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
        "identity_ed25519_seed": b64(identity_seed),
        "identity_ed25519_public": b64(ed_pk),
        "identity_x25519_public": b64(member_x),
        "env_x25519_private": b64(env_sk),
        "env_x25519_public": b64(env_pk),
        "fingerprint_key": b64(fp_key),
        "ephemeral_x25519_private": b64(eph_sk),
        "ephemeral_x25519_public": b64(eph_pk),
        "shared_secret": b64(shared),
        "value_key": b64(key),
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


if __name__ == "__main__":
    main()
