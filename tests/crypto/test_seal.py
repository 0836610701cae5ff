"""Value encryption, sealing and fingerprints, pinned by tests/vectors/format-v{1,2}.json."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from nacl.public import PrivateKey, SealedBox
from nacl.public import PublicKey as BoxPublicKey

from envtrail.crypto import sodium
from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import (
    FP_HEX_CHARS,
    DecryptError,
    Decryptor,
    Encryptor,
    EnvKeys,
    associated_data,
    b64,
    derive_value_key,
    fingerprint_input,
    pad,
    unb64,
    unpad,
)
from envtrail.model import Ciphertext

_DIR = Path(__file__).parent.parent / "vectors"
VECTORS = json.loads((_DIR / "format-v1.json").read_text())
V2 = json.loads((_DIR / "format-v2.json").read_text())


def v(name: str) -> bytes:
    return base64.b64decode(VECTORS[name])


def vector_keys() -> EnvKeys:
    return EnvKeys(v("env_x25519_private"), v("fingerprint_key"))


def test_vector_derivation_and_token():
    keys = vector_keys()
    assert keys.public == v("env_x25519_public")
    key = derive_value_key(v("shared_secret"), v("ephemeral_x25519_public"), keys.public)
    assert key == v("value_key")
    enc = Encryptor(keys.public, VECTORS["environment"], 1,
                    ephemeral=PrivateKey(v("ephemeral_x25519_private")))
    token = str(enc.encrypt(VECTORS["name"], VECTORS["value"], nonce=v("nonce")))
    assert token == VECTORS["token"]


def test_vector_decrypts_and_fingerprints():
    keys = vector_keys()
    dec = Decryptor(keys, VECTORS["environment"])
    assert dec.decrypt(VECTORS["name"], Ciphertext.parse(VECTORS["token"])) == VECTORS["value"]
    assert keys.fingerprint(1, VECTORS["environment"], VECTORS["name"],
                            VECTORS["value"]) == VECTORS["fingerprint"]
    # Format 1 fingerprints ignore environment and name (the weakness format 2 fixes).
    assert keys.fingerprint(1, "other", "OTHER", VECTORS["value"]) == VECTORS["fingerprint"]


def test_vector_sealed_key_opens_for_identity():
    ident = Identity(v("identity_ed25519_seed"))
    assert ident.public.raw == v("identity_ed25519_public")
    assert ident.public.x25519() == v("identity_x25519_public")
    opened = EnvKeys.unseal(VECTORS["sealed_for_identity"], ident, v("env_x25519_public"))
    assert opened == vector_keys()


def test_ciphertext_bound_to_variable_and_environment():
    keys = EnvKeys.generate()
    token = Encryptor(keys.public, "production", 2).encrypt("A", "secret")
    assert Decryptor(keys, "production").decrypt("A", token) == "secret"
    with pytest.raises(DecryptError, match="does not authenticate"):
        Decryptor(keys, "production").decrypt("B", token)
    with pytest.raises(DecryptError, match="does not authenticate"):
        Decryptor(keys, "staging").decrypt("A", token)


def test_one_key_exchange_per_ephemeral_key():
    keys = EnvKeys.generate()
    enc = Encryptor(keys.public, "p", 2)
    tokens = {f"K{i}": enc.encrypt(f"K{i}", str(i)) for i in range(50)}
    dec = Decryptor(keys, "p")
    assert all(dec.decrypt(k, t) == k[1:] for k, t in tokens.items())
    assert dec.key_exchanges == 1
    other = Encryptor(keys.public, "p", 2).encrypt("X", "y")
    dec.decrypt("X", other)
    assert dec.key_exchanges == 2


def test_tampered_ciphertext_fails():
    keys = EnvKeys.generate()
    c = Encryptor(keys.public, "p", 2).encrypt("A", "value")
    flipped = Ciphertext(c.ephemeral, c.body[:-1] + bytes([c.body[-1] ^ 1]), c.version)
    with pytest.raises(DecryptError):
        Decryptor(keys, "p").decrypt("A", flipped)


def test_unseal_by_non_member_fails():
    keys = EnvKeys.generate()
    sealed = keys.seal_to(Identity.generate().public)
    with pytest.raises(DecryptError):
        EnvKeys.unseal(sealed, Identity.generate(), keys.public)


@pytest.mark.parametrize(("version", "width"), [(1, 12), (2, 32)])
def test_fingerprint_is_keyed_and_stable(version, width):
    a, b = EnvKeys.generate(), EnvKeys.generate()
    assert a.fingerprint(version, "p", "N", "x") == a.fingerprint(version, "p", "N", "x")
    assert a.fingerprint(version, "p", "N", "x") != a.fingerprint(version, "p", "N", "y")
    assert a.fingerprint(version, "p", "N", "x") != b.fingerprint(version, "p", "N", "x")
    assert len(a.fingerprint(version, "p", "N", "x")) == width


def test_repr_hides_key_material():
    keys = EnvKeys.generate()
    # bytes show as b'\x..' in a repr, never as hex: compare with their own repr too
    for secret in (keys.private, keys.fp_key):
        assert secret.hex() not in repr(keys) and repr(secret) not in repr(keys)
    assert repr(keys) == "EnvKeys()"


# -- format 2 --------------------------------------------------------------


def v2(name: str) -> bytes:
    return base64.b64decode(V2[name])


def v2_keys() -> EnvKeys:
    return EnvKeys(v2("env_x25519_private"), v2("fingerprint_key"))


@pytest.mark.parametrize("case", V2["values"], ids=lambda c: c["name"])
def test_v2_vector_token_padding_and_fingerprint(case):
    keys = v2_keys()
    assert keys.public == v2("env_x25519_public")
    assert derive_value_key(v2("shared_secret"), v2("ephemeral_x25519_public"),
                            keys.public) == v2("value_key")
    value = case["value"]
    assert pad(value.encode()).hex() == case["padded_plaintext_hex"]
    enc = Encryptor(keys.public, V2["environment"], 2,
                    ephemeral=PrivateKey(v2("ephemeral_x25519_private")))
    nonce = base64.b64decode(case["nonce"])
    assert str(enc.encrypt(case["name"], value, nonce=nonce)) == case["token"]
    assert Decryptor(keys, V2["environment"]).decrypt(
        case["name"], Ciphertext.parse(case["token"])) == value
    assert fingerprint_input(V2["environment"], case["name"], value).hex() == \
        case["fingerprint_input_hex"]
    assert keys.fingerprint(2, V2["environment"], case["name"], value) == case["fingerprint"]


def test_v2_vectors_show_what_format_2_is_for():
    by_name = {c["name"]: c for c in V2["values"]}
    # Equal values of two variables: different fingerprints.
    assert by_name["FLAG_A"]["value"] == by_name["SAME_AS_FLAG_A"]["value"]
    assert by_name["FLAG_A"]["fingerprint"] != by_name["SAME_AS_FLAG_A"]["fingerprint"]
    # `true` and `false`: tokens of equal length.
    assert len(by_name["FLAG_A"]["token"]) == len(by_name["FLAG_B"]["token"])
    # A value of exactly one block takes a second block (the marker byte).
    assert len(bytes.fromhex(by_name["EXACT_32"]["padded_plaintext_hex"])) == 64


def test_v2_sealed_key_opens_for_identity():
    ident = Identity(v2("identity_ed25519_seed"))
    opened = EnvKeys.unseal(V2["sealed_for_identity"], ident, v2("env_x25519_public"))
    assert opened == v2_keys()


@pytest.mark.parametrize("case", V2["malformed_padding"], ids=lambda c: c["why"])
def test_v2_vector_malformed_padding_is_rejected(case):
    dec = Decryptor(v2_keys(), V2["environment"])
    with pytest.raises((DecryptError, ValueError)):
        dec.decrypt(case["name"], Ciphertext.parse(case["token"]))


def test_equal_values_in_two_variables_fingerprint_differently():
    keys = EnvKeys.generate()
    assert keys.fingerprint(2, "p", "A", "same") != keys.fingerprint(2, "p", "B", "same")
    assert keys.fingerprint(2, "p", "A", "same") != keys.fingerprint(2, "q", "A", "same")
    assert keys.fingerprint(2, "p", "A", "same") == keys.fingerprint(2, "p", "A", "same")


def test_fingerprint_input_is_unambiguous():
    # Moving a character across a boundary changes the input (lengths are encoded).
    assert fingerprint_input("p", "AB", "c") != fingerprint_input("p", "A", "Bc")
    keys = EnvKeys.generate()
    assert keys.fingerprint(2, "p", "AB", "c") != keys.fingerprint(2, "p", "A", "Bc")


def test_true_and_false_give_equal_ciphertext_lengths():
    keys = EnvKeys.generate()
    enc = Encryptor(keys.public, "p", 2)
    t, f = enc.encrypt("FLAG", "true"), enc.encrypt("FLAG", "false")
    assert len(t.body) == len(f.body) == 24 + 32 + 16
    assert len(str(t)) == len(str(f))
    # Format 1 did reveal the length; the test would catch format 2 losing its padding.
    enc1 = Encryptor(keys.public, "p", 1)
    assert len(enc1.encrypt("FLAG", "true").body) != len(enc1.encrypt("FLAG", "false").body)


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 63, 64, 1000])
def test_padding_roundtrips_to_a_multiple_of_32(size):
    data = bytes(range(1, 256))[:size] if size < 256 else b"z" * size
    padded = pad(data)
    assert len(padded) % 32 == 0 and len(data) < len(padded) <= len(data) + 32
    assert unpad(padded) == data
    keys = EnvKeys.generate()
    c = Encryptor(keys.public, "p", 2).encrypt("K", data.decode())
    assert Decryptor(keys, "p").decrypt("K", c) == data.decode()


@pytest.mark.parametrize("bad", [
    b"", b"\x80" * 31, b"x" * 32, b"true" + b"\x00" * 28, b"true\x80" + b"\x00" * 26 + b"\x01",
    b"true\x80" + b"\x00" * 59,
    b"a" * 33 + b"\x80",  # libsodium alone accepts this: not a whole number of blocks
])
def test_unpad_rejects_malformed_padding(bad):
    with pytest.raises(DecryptError):
        unpad(bad)


def test_format_digit_cannot_be_relabelled():
    keys = EnvKeys.generate()
    c = Encryptor(keys.public, "p", 2).encrypt("A", "value")
    with pytest.raises(DecryptError, match="does not authenticate"):
        Decryptor(keys, "p").decrypt("A", Ciphertext(c.ephemeral, c.body, 1))


@pytest.mark.parametrize("version", ["1", "2"])
def test_vectors_are_regenerated_without_envtrail(version):
    """The generator runs with envtrail unimportable and reproduces the committed file."""
    script = _DIR / "generate.py"
    code = ("import runpy, sys; sys.modules['envtrail'] = None; "
            f"sys.argv = ['generate.py', {version!r}]; runpy.run_path({str(script)!r}, run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    fresh = json.loads(out)
    committed = json.loads((_DIR / f"format-v{version}.json").read_text())
    # A sealed box has a random ephemeral key: everything else is deterministic.
    assert fresh.pop("sealed_for_identity") != committed.pop("sealed_for_identity")
    assert fresh == committed


def _token(version: int, body_len: int) -> str:
    eph, body = base64.b64encode(bytes(32)).decode(), base64.b64encode(bytes(body_len)).decode()
    return f"ENC[v{version},{eph},{body}]"


@pytest.mark.parametrize(("version", "body_len", "ok"), [
    (1, 40, True), (1, 41, True), (1, 39, False),
    (2, 72, True), (2, 104, True), (2, 71, False), (2, 40, False), (2, 73, False), (2, 103, False),
])
def test_ciphertext_body_lengths_per_format(version, body_len, ok):
    """Format 2 bodies are nonce + whole 32-byte blocks + tag: anything else is refused unread."""
    if ok:
        c = Ciphertext.parse(_token(version, body_len))
        assert (c.version, len(c.body)) == (version, body_len)
        assert str(c) == _token(version, body_len)
    else:
        with pytest.raises(ValueError, match=r"too short|whole number|not an ENC"):
            Ciphertext.parse(_token(version, body_len))


def _parsed_as_b64decode_reads_it(token: str) -> tuple[bytes, bytes, int] | None:
    """Ciphertext.parse as written with base64.b64decode(validate=True): the two must agree."""
    import re

    m = re.fullmatch(r"ENC\[v([12]),([A-Za-z0-9+/]{43}=),([A-Za-z0-9+/]{54,}={0,2})\]", token)
    if not m:
        return None
    try:
        eph, body = (base64.b64decode(m.group(i), validate=True) for i in (2, 3))
    except ValueError:
        return None
    version = int(m.group(1))
    if len(eph) != 32 or len(body) < {1: 40, 2: 72}[version] or \
            (version == 2 and (len(body) - 40) % 32):
        return None
    return eph, body, version


@pytest.mark.parametrize(("version", "body_len"), [(1, 72), (1, 73), (1, 74), (2, 72)])
def test_a_token_reads_as_b64decode_validate_reads_it(version, body_len):
    # Each character that base64 treats specially (padding, the other alphabet's,
    # whitespace, a bit-twin letter: non-zero spare bits) put in place of, and before,
    # every character of a token, whatever padding its body has.
    token = _token(version, body_len)
    for at in range(len(token)):
        for ch in "=AB+/-_ \n\xe9":
            for text in (token[:at] + ch + token[at + 1:], token[:at] + ch + token[at:]):
                try:
                    c = Ciphertext.parse(text)
                    got = (c.ephemeral, c.body, c.version)
                except ValueError:
                    got = None
                assert got == _parsed_as_b64decode_reads_it(text), text


# -- sealing, key checks and refusals ----------------------------------------


def test_fresh_keys_sealed_to_a_member_open_for_that_member():
    keys, member = EnvKeys.generate(), Identity.generate()
    assert (len(keys.private), len(keys.fp_key)) == (32, 32)
    opened = EnvKeys.unseal(keys.seal_to(member.public), member, keys.public)
    assert opened == keys


def test_sealed_keys_of_another_key_pair_are_refused():
    # A file whose public key is not the sealed key's: values would be encrypted to a key
    # this member's sealed key does not belong to.
    keys, other, member = EnvKeys.generate(), EnvKeys.generate(), Identity.generate()
    with pytest.raises(DecryptError, match="belongs to another key pair"):
        EnvKeys.unseal(keys.seal_to(member.public), member, other.public)


@pytest.mark.parametrize("fp_len", [31, 33])
def test_a_sealed_payload_of_the_wrong_length_is_refused(fp_len):
    keys, member = EnvKeys.generate(), Identity.generate()
    payload = keys.private + bytes(range(fp_len))  # the right private key, a bad fp key
    sealed = b64(SealedBox(BoxPublicKey(member.public.x25519())).encrypt(payload))
    with pytest.raises(DecryptError, match="wrong length"):
        EnvKeys.unseal(sealed, member, keys.public)


def test_base64_is_decoded_strictly_and_sized():
    key = bytes(range(32))
    assert unb64(b64(key), 32) == key
    for text in (b64(key)[:-4] + "*AAA", " " + b64(key), b64(key) + "\n"):
        with pytest.raises(DecryptError, match="bad base64"):
            unb64(text, 32)
    with pytest.raises(DecryptError, match="wrong key length"):
        unb64(b64(key[:31]), 32)


@pytest.mark.parametrize("version", [1, 2])
def test_fingerprints_are_as_wide_as_verify_demands(version):
    # audit/verify.py refuses a fingerprint trailer whose width is not FP_HEX_CHARS.
    fp = EnvKeys.generate().fingerprint(version, "p", "N", "x")
    assert len(fp) == FP_HEX_CHARS[version]


@pytest.mark.parametrize("version", [0, 3])
def test_no_encryptor_for_an_unknown_format(version):
    with pytest.raises(ValueError, match="unknown format version"):
        Encryptor(EnvKeys.generate().public, "p", version)


def test_an_ephemeral_key_without_a_shared_secret_is_a_decrypt_error():
    keys = EnvKeys.generate()
    c = Encryptor(keys.public, "p", 2).encrypt("A", "canary-value")
    with pytest.raises(DecryptError, match="A: bad ephemeral key") as err:
        Decryptor(keys, "p").decrypt("A", Ciphertext(bytes(32), c.body, 2))  # the zero point
    assert "canary" not in str(err.value)


def test_a_value_that_is_not_utf8_inside_is_a_decrypt_error():
    # Authentic ciphertext (made with the value key, as Encryptor would) of bytes no str has.
    keys, nonce = EnvKeys.generate(), bytes(range(24))
    eph = PrivateKey.generate()
    eph_pub = bytes(eph.public_key)
    key = derive_value_key(sodium.x25519(bytes(eph), keys.public), eph_pub, keys.public)
    body = sodium.aead_encrypt(pad(b"\xffcanary\xfe"), associated_data(2, "p", "A"), nonce, key)
    with pytest.raises(DecryptError, match="A: decrypted value is not UTF-8") as err:
        Decryptor(keys, "p").decrypt("A", Ciphertext(eph_pub, nonce + body, 2))
    assert "canary" not in str(err.value)
