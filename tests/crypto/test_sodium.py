"""crypto.sodium calls libsodium directly: each call must give what PyNaCl's wrapper gives.

PyNaCl's own functions (nacl.hash, nacl.bindings) are the judges here: on
random inputs, empty ones and the largest sizes allowed, the direct calls
return the same bytes, and they refuse what they must with exceptions the
callers in crypto/ catch (a CryptoError, and for lengths a ValueError too).
"""

import nacl.bindings
import nacl.exceptions
import nacl.hash
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.encoding import RawEncoder
from nacl.signing import SigningKey

from envtrail.crypto import sodium

data = st.binary(max_size=300)
person = st.one_of(st.just(b""), st.binary(min_size=16, max_size=16))
key32 = st.binary(min_size=32, max_size=32)
nonce24 = st.binary(min_size=24, max_size=24)
CANARY = b"CANARY-7f3a" * 6  # 66 bytes: too long for any key here


def _refused_for_length(call) -> nacl.exceptions.ValueError:
    with pytest.raises(nacl.exceptions.ValueError) as info:
        call()
    # What seal.py catches (CryptoError) and keys.py catches (ValueError) alike.
    assert isinstance(info.value, nacl.exceptions.CryptoError)
    assert isinstance(info.value, ValueError)
    return info.value


def _other_length(right: int) -> st.SearchStrategy[int]:
    # The lengths next to the right one first: an off-by-one is the likely slip.
    return st.one_of(st.sampled_from([0, right - 1, right + 1]), st.integers(0, 2 * right)).filter(
        lambda n: n != right)


# -- BLAKE2b -----------------------------------------------------------------------------

@given(data, st.integers(16, 64), st.binary(max_size=64), person)
def test_blake2b_is_pynacls_blake2b(message, size, key, personal):
    assert sodium.blake2b(message, size, key, personal) == nacl.hash.blake2b(
        message, digest_size=size, key=key, person=personal, encoder=RawEncoder)


def test_blake2b_at_the_limits_is_pynacls_blake2b():
    for message, size, key in [(b"", 16, b""), (b"", 64, b"\xff" * 64), (b"x" * 1000, 64, b"k")]:
        assert sodium.blake2b(message, size, key, b"envtrail.value.1") == nacl.hash.blake2b(
            message, digest_size=size, key=key, person=b"envtrail.value.1", encoder=RawEncoder)


@given(st.one_of(st.integers(-5, 15), st.integers(65, 1000)))
def test_blake2b_refuses_a_digest_size_libsodium_would_abort_on(size):
    _refused_for_length(lambda: sodium.blake2b(b"data", size))


@given(st.integers(65, 200))
def test_blake2b_refuses_a_long_key_without_repeating_it(size):
    key = (CANARY * 4)[:size]
    exc = _refused_for_length(lambda: sodium.blake2b(b"data", 32, key))
    assert "CANARY" not in str(exc)
    assert "43414e" not in str(exc).lower()  # nor its hex


def test_blake2b_refuses_a_key_one_byte_too_long():
    # libsodium returns an error here instead of aborting: it must not become a digest.
    _refused_for_length(lambda: sodium.blake2b(b"data", 32, b"k" * 65))


@given(st.binary(min_size=1, max_size=40).filter(lambda p: len(p) != 16))
def test_blake2b_refuses_a_personalisation_that_is_not_16_bytes(personal):
    # PyNaCl would zero-pad a short one; here it is refused rather than padded silently.
    _refused_for_length(lambda: sodium.blake2b(b"data", 32, b"", personal))


# -- SHA-2 -------------------------------------------------------------------------------

@given(st.binary(max_size=2000))
def test_sha512_and_sha256_are_pynacls(message):
    assert sodium.sha512(message) == nacl.hash.sha512(message, encoder=RawEncoder)
    assert sodium.sha256(message) == nacl.hash.sha256(message, encoder=RawEncoder)


# -- XChaCha20-Poly1305 --------------------------------------------------------------------

@given(data, data, nonce24, key32)
def test_aead_encrypts_and_decrypts_as_pynacl_does(message, ad, nonce, key):
    theirs = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(message, ad, nonce, key)
    assert sodium.aead_encrypt(message, ad, nonce, key) == theirs
    assert sodium.aead_decrypt(theirs, ad, nonce, key) == message
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(theirs, ad, nonce, key) \
        == message


@given(data, data, nonce24, key32, st.data())
def test_aead_refuses_any_flipped_bit_as_pynacl_does(message, ad, nonce, key, draw):
    ct = bytearray(sodium.aead_encrypt(message, ad, nonce, key))
    bit = draw.draw(st.integers(0, len(ct) * 8 - 1))
    ct[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(nacl.exceptions.CryptoError):
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(ct), ad, nonce, key)
    with pytest.raises(nacl.exceptions.CryptoError):
        sodium.aead_decrypt(bytes(ct), ad, nonce, key)


def test_aead_refuses_other_associated_data():
    nonce, key = b"n" * 24, b"k" * 32
    ct = sodium.aead_encrypt(b"secret", b"envtrail/v2/prod/A", nonce, key)
    with pytest.raises(nacl.exceptions.CryptoError):
        sodium.aead_decrypt(ct, b"envtrail/v2/prod/B", nonce, key)
    assert sodium.aead_decrypt(ct, b"envtrail/v2/prod/A", nonce, key) == b"secret"


@given(st.binary(max_size=15))
def test_aead_refuses_a_ciphertext_shorter_than_its_tag(short):
    # PyNaCl fails here on a negative allocation (a plain ValueError that seal.py would
    # not catch); the direct call gives the CryptoError a forged ciphertext gives.
    with pytest.raises(nacl.exceptions.CryptoError):
        sodium.aead_decrypt(short, b"", b"n" * 24, b"k" * 32)


@given(_other_length(24).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_aead_refuses_a_nonce_of_another_length(nonce):
    ct = sodium.aead_encrypt(b"v", b"", b"n" * 24, b"k" * 32)
    _refused_for_length(lambda: sodium.aead_decrypt(ct, b"", nonce, b"k" * 32))
    _refused_for_length(lambda: sodium.aead_encrypt(b"v", b"", nonce, b"k" * 32))
    # PyNaCl refuses it as well (its TypeError is a CryptoError too).
    with pytest.raises(nacl.exceptions.CryptoError):
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, b"", nonce, b"k" * 32)


@given(_other_length(32).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_aead_refuses_a_key_of_another_length_without_repeating_it(key):
    ct = sodium.aead_encrypt(b"v", b"", b"n" * 24, b"k" * 32)
    _refused_for_length(lambda: sodium.aead_encrypt(b"v", b"", b"n" * 24, key))
    exc = _refused_for_length(lambda: sodium.aead_decrypt(ct, b"", b"n" * 24, key + CANARY))
    assert "CANARY" not in str(exc)


# -- Ed25519 -----------------------------------------------------------------------------

@given(key32, data)
def test_ed25519_verify_accepts_what_pynacl_accepts(seed, message):
    signer = SigningKey(seed)
    public, sig = bytes(signer.verify_key), signer.sign(message).signature
    assert nacl.bindings.crypto_sign_open(sig + message, public) == message
    assert sodium.ed25519_verify(sig, message, public) is True


@given(key32, data, st.data())
def test_ed25519_verify_refuses_what_pynacl_refuses(seed, message, draw):
    signer = SigningKey(seed)
    public, sig = bytes(signer.verify_key), bytearray(signer.sign(message).signature)
    bit = draw.draw(st.integers(0, 64 * 8 - 1))
    sig[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.bindings.crypto_sign_open(bytes(sig) + message, public)
    assert sodium.ed25519_verify(bytes(sig), message, public) is False


@given(key32, key32, data)
def test_ed25519_verify_refuses_another_key_or_message(seed, other, message):
    signer = SigningKey(seed)
    sig = signer.sign(message).signature
    if other != seed:
        assert sodium.ed25519_verify(sig, message, bytes(SigningKey(other).verify_key)) is False
    assert sodium.ed25519_verify(sig, message + b"!", bytes(signer.verify_key)) is False


@given(_other_length(32), _other_length(64), st.data())
def test_ed25519_verify_refuses_wrong_lengths(key_size, sig_size, draw):
    signer = SigningKey(b"s" * 32)
    sig, public = signer.sign(b"m").signature, bytes(signer.verify_key)
    bad_key = draw.draw(st.binary(min_size=key_size, max_size=key_size))
    bad_sig = draw.draw(st.binary(min_size=sig_size, max_size=sig_size))
    _refused_for_length(lambda: sodium.ed25519_verify(sig, b"m", bad_key))
    _refused_for_length(lambda: sodium.ed25519_verify(bad_sig, b"m", public))


# -- ISO/IEC 7816-4 padding ----------------------------------------------------------------

@given(data, st.integers(1, 64))
def test_pad_and_unpad_are_pynacls(message, block):
    padded = nacl.bindings.sodium_pad(message, block)
    assert sodium.pad(message, block) == padded
    assert sodium.unpad(padded, block) == message == nacl.bindings.sodium_unpad(padded, block)


@given(st.binary(max_size=96), st.sampled_from([1, 16, 32]))
def test_unpad_refuses_what_pynacl_refuses(blob, block):
    try:
        theirs = nacl.bindings.sodium_unpad(blob, block)
    except nacl.exceptions.CryptoError:
        with pytest.raises(nacl.exceptions.CryptoError):
            sodium.unpad(blob, block)
    else:
        assert sodium.unpad(blob, block) == theirs


def test_unpad_refuses_a_block_without_its_marker():
    with pytest.raises(nacl.exceptions.CryptoError):
        sodium.unpad(b"\x00" * 32, 32)
    with pytest.raises(nacl.exceptions.CryptoError):
        sodium.unpad(b"", 32)


@given(st.integers(-3, 0))
def test_padding_refuses_a_block_size_that_is_not_positive(block):
    _refused_for_length(lambda: sodium.pad(b"v", block))
    _refused_for_length(lambda: sodium.unpad(b"v\x80", block))


@given(st.binary(min_size=32, max_size=32))
def test_x25519_is_libsodiums_exchange(secret):
    public = nacl.bindings.crypto_scalarmult_base(nacl.bindings.randombytes(32))
    assert sodium.x25519(secret, public) == nacl.bindings.crypto_scalarmult(secret, public)


@pytest.mark.parametrize(("secret_size", "public_size"), [(32, 0), (32, 31), (32, 33), (31, 32)])
def test_x25519_refuses_a_key_of_the_wrong_length(secret_size, public_size):
    # PyNaCl's binding would hand libsodium a short point, read 32 bytes past it.
    _refused_for_length(lambda: sodium.x25519(b"\x01" * secret_size, b"\x09" * public_size))


def test_a_short_ephemeral_key_is_a_decrypt_error_not_an_overread():
    from envtrail.crypto.seal import DecryptError, Decryptor, EnvKeys
    from envtrail.model import Ciphertext

    dec = Decryptor(EnvKeys.generate(), "production")
    with pytest.raises(DecryptError, match="bad ephemeral key"):
        dec.decrypt("A", Ciphertext(b"", b"\0" * 72, 2))
