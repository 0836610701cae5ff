"""Value encryption, sealing and fingerprints, pinned by tests/vectors/format-v1.json."""

import base64
import json
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import DecryptError, Decryptor, Encryptor, EnvKeys, derive_value_key
from envtrail.model import Ciphertext

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "format-v1.json").read_text())


def v(name: str) -> bytes:
    return base64.b64decode(VECTORS[name])


def vector_keys() -> EnvKeys:
    return EnvKeys(v("env_x25519_private"), v("fingerprint_key"))


def test_vector_derivation_and_token():
    keys = vector_keys()
    assert keys.public == v("env_x25519_public")
    key = derive_value_key(v("shared_secret"), v("ephemeral_x25519_public"), keys.public)
    assert key == v("value_key")
    enc = Encryptor(keys.public, VECTORS["environment"],
                    ephemeral=PrivateKey(v("ephemeral_x25519_private")))
    token = str(enc.encrypt(VECTORS["name"], VECTORS["value"], nonce=v("nonce")))
    assert token == VECTORS["token"]


def test_vector_decrypts_and_fingerprints():
    keys = vector_keys()
    dec = Decryptor(keys, VECTORS["environment"])
    assert dec.decrypt(VECTORS["name"], Ciphertext.parse(VECTORS["token"])) == VECTORS["value"]
    assert keys.fingerprint(VECTORS["value"]) == VECTORS["fingerprint"]


def test_vector_sealed_key_opens_for_identity():
    ident = Identity(v("identity_ed25519_seed"))
    assert ident.public.raw == v("identity_ed25519_public")
    assert ident.public.x25519() == v("identity_x25519_public")
    opened = EnvKeys.unseal(VECTORS["sealed_for_identity"], ident, v("env_x25519_public"))
    assert opened == vector_keys()


def test_ciphertext_bound_to_variable_and_environment():
    keys = EnvKeys.generate()
    token = Encryptor(keys.public, "production").encrypt("A", "secret")
    assert Decryptor(keys, "production").decrypt("A", token) == "secret"
    with pytest.raises(DecryptError, match="does not authenticate"):
        Decryptor(keys, "production").decrypt("B", token)
    with pytest.raises(DecryptError, match="does not authenticate"):
        Decryptor(keys, "staging").decrypt("A", token)


def test_one_key_exchange_per_ephemeral_key():
    keys = EnvKeys.generate()
    enc = Encryptor(keys.public, "p")
    tokens = {f"K{i}": enc.encrypt(f"K{i}", str(i)) for i in range(50)}
    dec = Decryptor(keys, "p")
    assert all(dec.decrypt(k, t) == k[1:] for k, t in tokens.items())
    assert dec.key_exchanges == 1
    other = Encryptor(keys.public, "p").encrypt("X", "y")
    dec.decrypt("X", other)
    assert dec.key_exchanges == 2


def test_tampered_ciphertext_fails():
    keys = EnvKeys.generate()
    c = Encryptor(keys.public, "p").encrypt("A", "value")
    flipped = Ciphertext(c.ephemeral, c.body[:-1] + bytes([c.body[-1] ^ 1]))
    with pytest.raises(DecryptError):
        Decryptor(keys, "p").decrypt("A", flipped)


def test_unseal_by_non_member_fails():
    keys = EnvKeys.generate()
    sealed = keys.seal_to(Identity.generate().public)
    with pytest.raises(DecryptError):
        EnvKeys.unseal(sealed, Identity.generate(), keys.public)


def test_fingerprint_is_keyed_and_stable():
    a, b = EnvKeys.generate(), EnvKeys.generate()
    assert a.fingerprint("x") == a.fingerprint("x")
    assert a.fingerprint("x") != a.fingerprint("y")
    assert a.fingerprint("x") != b.fingerprint("x")
    assert len(a.fingerprint("x")) == 12


def test_repr_hides_key_material():
    keys = EnvKeys.generate()
    assert keys.private.hex() not in repr(keys)
    assert keys.fp_key.hex() not in repr(keys)
