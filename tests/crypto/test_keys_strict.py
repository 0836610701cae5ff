"""Key files and key lines are read as strictly as OpenSSH reads them (mutation survivors).

A public key comes from places anyone writes: a signature's key blob, an
``allowed_signers`` line, a grant's argument, a member's line in an environment
file. Anything but one ``ssh-ed25519`` key of 32 bytes is refused there, never read
as some other key. A private key file is read only when every part agrees.
"""

from __future__ import annotations

import base64
import subprocess

import pytest

from envtrail.crypto.keys import Identity, KeyFormatError, PublicKey, key_id
from envtrail.crypto.wire import armor, string, uint32

ED = b"ssh-ed25519"
MAGIC = b"openssh-key-v1\x00"


@pytest.fixture(scope="module")
def ident():
    return Identity.generate("alice@example.com")


def line_of(blob: bytes, comment: str = "") -> str:
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}" + (f" {comment}" if comment else "")


@pytest.mark.parametrize(("blob", "why"), [
    (string(b"ssh-rsa") + string(b"k" * 32), "only ssh-ed25519 keys are supported"),
    (string(ED) + string(b"k" * 31), "only ssh-ed25519 keys are supported"),
    (string(ED) + string(b"k" * 33), "only ssh-ed25519 keys are supported"),
    (string(ED) + string(b"k" * 32) + b"\x00", "only ssh-ed25519 keys are supported"),
    (string(ED) + uint32(32) + b"k" * 31, "truncated public key"),
    (string(ED)[:-2], "truncated public key"),
])
def test_a_blob_that_is_not_one_ed25519_key_is_refused(blob, why):
    with pytest.raises(KeyFormatError, match=why):
        PublicKey.from_blob(blob)
    with pytest.raises(KeyFormatError, match=why):
        PublicKey.parse(line_of(blob))


def test_a_key_line_reads_its_key_and_its_whole_comment(ident):
    blob = ident.public.blob
    key, comment = PublicKey.parse(f"  {line_of(blob)}  my old  laptop \n")
    assert (key, comment) == (ident.public, "my old  laptop")
    assert PublicKey.parse(line_of(blob)) == (ident.public, "")
    assert key_id(line_of(blob, "a comment")) == line_of(blob) == key_id(line_of(blob))
    assert key_id(None) == key_id("") == ""


@pytest.mark.parametrize(("text", "why"), [
    ("", "expected an 'ssh-ed25519 AAAA...' public key line"),
    ("ssh-ed25519", "expected an 'ssh-ed25519 AAAA...' public key line"),
    ("ssh-rsa {b64}", "expected an 'ssh-ed25519 AAAA...' public key line"),
    ("ssh-ed25519 {b64}!", "bad base64 in public key"),
    ("ssh-ed25519 {bad}", "bad base64 in public key"),
])
def test_a_line_that_is_not_an_ed25519_key_line_is_refused(ident, text, why):
    b64 = base64.b64encode(ident.public.blob).decode()
    bad = b64[:10] + "*" + b64[11:]  # a character no base64 holds, which a lax reader skips
    with pytest.raises(KeyFormatError, match=why):
        PublicKey.parse(text.format(b64=b64, bad=bad))


def test_32_bytes_that_are_no_curve_point_have_no_box_key():
    # y = 2 has no x on the curve: a well-formed line can still carry it.
    raw = (2).to_bytes(32, "little")
    with pytest.raises(KeyFormatError, match="not a point on the Ed25519 curve"):
        PublicKey(raw).x25519()


def test_a_seed_is_32_bytes():
    for seed in (b"s" * 31, b"s" * 33, b""):
        with pytest.raises(KeyFormatError, match="an Ed25519 seed is 32 bytes"):
            Identity(seed)


def key_file(ident: Identity, *, magic=MAGIC, count=1, public=None, checks=(b"abcd", b"abcd"),
             inner_public=None, secret=None, cut=0, comment=True, cipher=b"none",
             kdf=b"none") -> str:
    """An unencrypted OpenSSH private key file, each part replaceable."""
    pub = ident.public
    private = (checks[0] + checks[1] + string(ED) + string(inner_public or pub.raw)
               + string(secret if secret is not None else ident.seed + pub.raw)
               + (string(b"comment") if comment else b""))
    private += bytes(range(1, (-len(private)) % 8 + 1))
    blob = (magic + string(cipher) + string(kdf) + string(b"") + uint32(count)
            + string(public if public is not None else pub.blob) + string(private))
    return armor("OPENSSH PRIVATE KEY", blob[:len(blob) - cut] if cut else blob)


def test_an_untouched_key_file_reads_and_ssh_keygen_agrees(ident, tmp_path):
    text = key_file(ident)
    assert Identity.from_openssh(text) == Identity(ident.seed, "comment")
    path = tmp_path / "id"
    path.write_text(text)
    path.chmod(0o600)
    out = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert out.split()[:2] == ident.public.line().split()


def test_a_key_file_whose_parts_disagree_is_refused(ident):
    other = Identity.generate()
    cases = {
        "not an OpenSSH private key": key_file(ident, magic=b"openssh-key-v2\x00"),
        "the key file must hold exactly one key": key_file(ident, count=2),
        "check bytes differ": key_file(ident, checks=(b"abcd", b"abce")),
        "public part differs": key_file(ident, inner_public=other.public.raw),
        "bad Ed25519 secret": key_file(ident, secret=ident.seed + other.public.raw),
        "seed does not match public key": key_file(
            ident, public=other.public.blob, inner_public=other.public.raw,
            secret=ident.seed + other.public.raw),
        "truncated": key_file(ident, cut=40),
    }
    inner = key_file(ident, comment=False)  # the private part ends before its comment
    for why, text in cases.items():
        with pytest.raises(KeyFormatError, match=why):
            Identity.from_openssh(text)
    with pytest.raises(KeyFormatError, match=r"corrupted private key \(truncated\)"):
        Identity.from_openssh(inner)
    with pytest.raises(KeyFormatError, match="only ssh-ed25519 keys are supported"):
        Identity.from_openssh(key_file(ident, public=string(b"ssh-rsa") + string(b"k" * 32)))


def test_an_identity_never_shows_its_seed(ident):
    # A repr lands in tracebacks (ENVTRAIL_DEBUG) and in any log that prints one.
    shown = repr(ident) + str(ident)
    assert ident.seed.hex() not in shown and repr(ident.seed) not in shown
    assert "alice@example.com" in shown


def test_a_key_file_naming_a_cipher_or_a_kdf_is_read_as_encrypted(ident):
    # Either one named makes the file encrypted (as ssh-keygen reads it): never parsed
    # as a plain key, never read without asking for the passphrase.
    from envtrail.crypto.keys import PassphraseRequired

    for cipher, kdf in ((b"aes256-ctr", b"none"), (b"none", b"bcrypt")):
        with pytest.raises(PassphraseRequired):
            Identity.from_openssh(key_file(ident, cipher=cipher, kdf=kdf))


def negated(key: PublicKey) -> PublicKey:
    """The same point with the other sign: another signing key, the same box key."""
    return PublicKey(key.raw[:31] + bytes([key.raw[31] ^ 0x80]))


def test_box_twins_are_two_names_with_two_lines_of_one_box_key(ident):
    from envtrail.crypto.keys import box_twins

    line, twin = ident.public.line(), negated(ident.public).line()
    assert twin != line and PublicKey.parse(twin)[0].x25519() == ident.public.x25519()
    assert box_twins([("bob", line), ("dave", twin)]) == [("bob", "dave")]
    # A line that does not parse is the caller's finding; the rest are still compared.
    assert box_twins([("bob", line), ("x", "ssh-ed25519 !!"), ("dave", twin)]) == \
        [("bob", "dave")]
    # One name's two lines, or one key under two names (whatever the comments say), are
    # other findings, not twins.
    assert box_twins([("bob", line), ("bob", twin)]) == []
    assert box_twins([("bob", line + " laptop"), ("dave", line + " desk")]) == []
    assert box_twins([("bob", line), ("carol", Identity.generate().public.line())]) == []
