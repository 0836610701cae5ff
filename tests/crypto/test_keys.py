"""OpenSSH key files, judged by the real ssh-keygen."""

import subprocess

import pytest

from envtrail.crypto.keys import (
    Identity,
    KeyFormatError,
    PassphraseRequired,
    PublicKey,
    WrongPassphrase,
    verify_ed25519,
)


def test_ssh_keygen_reads_our_private_key(tmp_path):
    ident = Identity.generate("alice@example.com")
    path = tmp_path / "id"
    path.write_text(ident.to_openssh())
    path.chmod(0o600)
    out = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert out.split()[:2] == ident.public.line().split()


def test_we_read_ssh_keygen_private_key(tmp_path):
    path = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob@example.com",
                    "-f", str(path)], check=True)
    ident = Identity.from_openssh(path.read_text())
    assert ident.comment == "bob@example.com"
    assert ident.public.line() == " ".join(path.with_suffix(".pub").read_text().split()[:2])


def test_fingerprint_matches_ssh_keygen(tmp_path):
    ident = Identity.generate()
    pub = tmp_path / "k.pub"
    pub.write_text(ident.public.line("x") + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True,
                         check=True).stdout
    assert out.split()[1] == ident.public.fingerprint()


def test_passphrase_protected_key_is_refused(tmp_path):
    path = tmp_path / "enc"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "hunter22", "-f", str(path)],
                   check=True)
    with pytest.raises(KeyFormatError, match="passphrase"):
        Identity.from_openssh(path.read_text())


@pytest.mark.parametrize("mangle", [
    lambda t: t.replace("OPENSSH PRIVATE KEY", "RSA PRIVATE KEY"),
    lambda t: t[:60] + t[-40:],
    lambda t: t.replace(t.splitlines()[2][:10], "!!!!!!!!!!"),
    lambda t: "",
])
def test_corrupted_private_key_fails_cleanly(mangle):
    text = Identity.generate("c").to_openssh()
    with pytest.raises(KeyFormatError):
        Identity.from_openssh(mangle(text))


def test_public_line_roundtrip_and_rejects_other_types():
    ident = Identity.generate()
    key, comment = PublicKey.parse(ident.public.line("ci:deploy"))
    assert (key, comment) == (ident.public, "ci:deploy")
    with pytest.raises(KeyFormatError):
        PublicKey.parse("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x")
    with pytest.raises(KeyFormatError):
        PublicKey.parse("ssh-ed25519 not-base64!!")


def test_repr_never_shows_the_seed():
    ident = Identity.generate("a")
    assert ident.seed.hex() not in repr(ident)


PASS = "correct horse battery staple"


def keygen(tmp_path, passphrase, name="id_ed25519"):
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "enc@example.com",
                    "-f", str(path)], check=True)
    return path


def test_we_read_ssh_keygens_default_passphrase_protected_key(tmp_path):
    path = keygen(tmp_path, PASS)
    text = path.read_text()
    with pytest.raises(PassphraseRequired):
        Identity.from_openssh(text)
    ident = Identity.from_openssh(text, PASS)
    assert ident.comment == "enc@example.com"
    assert ident.public.line() == " ".join(path.with_suffix(".pub").read_text().split()[:2])
    # A passphrase source is asked only for an encrypted key.
    asked = []
    assert Identity.from_openssh(text, lambda: asked.append(1) or PASS) == ident
    assert asked == [1]
    plain = keygen(tmp_path, "", "plain").read_text()
    Identity.from_openssh(plain, lambda: asked.append(2) or PASS)
    assert asked == [1]


def test_wrong_or_missing_passphrase_is_a_clean_error(tmp_path):
    text = keygen(tmp_path, PASS).read_text()
    with pytest.raises(WrongPassphrase) as wrong:
        Identity.from_openssh(text, "Correct horse battery staple")
    assert PASS not in str(wrong.value) and "orse" not in str(wrong.value)
    with pytest.raises(PassphraseRequired, match="passphrase"):
        Identity.from_openssh(text)
    with pytest.raises(PassphraseRequired):
        Identity.from_openssh(text, lambda: None)


def test_ssh_keygen_reads_our_encrypted_key_with_the_passphrase_only(tmp_path):
    ident = Identity.generate("alice@example.com")
    path = tmp_path / "id"
    path.write_text(ident.to_openssh(passphrase=PASS))
    path.chmod(0o600)
    ok = subprocess.run(["ssh-keygen", "-y", "-P", PASS, "-f", str(path)], capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split()[:2] == ident.public.line().split()
    for wrong in ("", "nope"):
        refused = subprocess.run(["ssh-keygen", "-y", "-P", wrong, "-f", str(path)],
                                 capture_output=True, text=True, check=False)
        assert refused.returncode != 0
    assert Identity.from_openssh(path.read_text(), PASS) == ident
    # The same cipher and KDF that ssh-keygen writes by default.
    import base64

    blob = base64.b64decode("".join(path.read_text().splitlines()[1:-1]))
    assert blob[15:].startswith(b"\x00\x00\x00\x0aaes256-ctr\x00\x00\x00\x06bcrypt")
    with pytest.raises(PassphraseRequired):
        Identity.from_openssh(path.read_text())
    assert Identity.from_openssh(ident.to_openssh()) == ident


def test_key_libraries_are_imported_only_for_an_encrypted_key(tmp_path):
    import sys

    plain, enc = keygen(tmp_path, "", "plain"), keygen(tmp_path, PASS, "enc")
    code = ("import sys; from envtrail.crypto.keys import Identity; "
            "Identity.from_openssh(open(sys.argv[1]).read(), sys.argv[2]); "
            "print(sorted(m for m in ('bcrypt', 'cryptography') if m in sys.modules))")
    for path, expected in ((plain, "[]"), (enc, "['bcrypt', 'cryptography']")):
        out = subprocess.run([sys.executable, "-c", code, str(path), PASS], capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == expected


def test_a_truncated_public_key_never_verifies():
    # libsodium reads 32 key bytes whatever it is given; a Python bytes object
    # ends in a NUL, so a key whose last byte is 0, cut short by one byte, would
    # still verify if the length were not checked before the call.
    ident = next(i for i in iter(Identity.generate, None) if i.public.raw[31] == 0)
    sig = ident.sign(b"payload")
    assert verify_ed25519(ident.public, b"payload", sig)
    assert not verify_ed25519(PublicKey(ident.public.raw[:31]), b"payload", sig)
    assert not verify_ed25519(ident.public, b"payload", sig[:63])
    assert not verify_ed25519(ident.public, b"payload!", sig)


# -- encrypted key files that are not what ssh-keygen writes by default --------------


def _fields(text):
    """(cipher, kdf, kdf options, public blob, private section) of an OpenSSH key file."""
    from envtrail.crypto.wire import Reader, dearmor

    r = Reader(dearmor("OPENSSH PRIVATE KEY", text)[len(b"openssh-key-v1\x00"):])
    cipher, kdf, options = r.string(), r.string(), r.string()
    assert r.uint32() == 1
    return cipher, kdf, options, r.string(), r.string()


def _key_text(cipher, kdf, options, pub, private):
    from envtrail.crypto.wire import armor, string, uint32

    return armor("OPENSSH PRIVATE KEY", b"openssh-key-v1\x00" + string(cipher) + string(kdf)
                 + string(options) + uint32(1) + string(pub) + string(private))


@pytest.mark.parametrize("cipher", ["aes256-gcm@openssh.com", "aes128-ctr"])
def test_a_key_ssh_keygen_encrypted_with_another_cipher_is_refused_by_name(tmp_path, cipher):
    # Decrypted as aes256-ctr it would read as a wrong passphrase, the wrong thing to say.
    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", PASS, "-Z", cipher, "-f", str(path)],
                   check=True)
    with pytest.raises(KeyFormatError) as info:
        Identity.from_openssh(path.read_text(), PASS)
    assert not isinstance(info.value, WrongPassphrase)
    assert f"keys encrypted with {cipher!r} are not supported" in str(info.value)


def test_a_key_derived_by_another_kdf_or_with_a_long_cipher_name_is_refused_briefly(tmp_path):
    cipher, _, options, pub, private = _fields(keygen(tmp_path, PASS).read_text())
    with pytest.raises(KeyFormatError, match="not supported"):
        Identity.from_openssh(_key_text(cipher, b"scrypt", options, pub, private), PASS)
    # A forged name of any length is cut to 40 characters in the message.
    with pytest.raises(KeyFormatError) as info:
        Identity.from_openssh(_key_text(b"x" * 5000, b"bcrypt", options, pub, private), PASS)
    assert f"keys encrypted with {'x' * 40!r} are not supported" in str(info.value)


@pytest.mark.parametrize("options", [
    b"", b"\x00\x00\x00\x10" + b"s" * 15,  # truncated
    b"\x00\x00\x00\x00" + b"\x00\x00\x00\x10",  # no salt
    b"\x00\x00\x00\x10" + b"s" * 16 + b"\x00\x00\x00\x00",  # no rounds
    b"\x00\x00\x00\x10" + b"s" * 16 + (10_001).to_bytes(4, "big"),  # past the bound
    b"\x00\x00\x00\x10" + b"s" * 16 + b"\x00\x00\x00\x10" + b"!",  # bytes after the rounds
], ids=["truncated", "truncated-salt", "no-salt", "no-rounds", "10001-rounds", "trailing"])
def test_kdf_options_a_file_forged_are_refused_before_any_derivation(tmp_path, options):
    cipher, kdf, _, pub, private = _fields(keygen(tmp_path, PASS).read_text())
    with pytest.raises(KeyFormatError, match=r"^corrupted private key \(bad KDF options\)$"):
        Identity.from_openssh(_key_text(cipher, kdf, options, pub, private), PASS)


def test_a_key_of_one_kdf_round_opens(tmp_path):
    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", PASS, "-a", "1", "-f", str(path)],
                   check=True)
    assert _fields(path.read_text())[2].endswith(b"\x00\x00\x00\x01")
    ident = Identity.from_openssh(path.read_text(), PASS)
    assert ident.public.line() == " ".join(path.with_suffix(".pub").read_text().split()[:2])


def test_a_private_section_that_is_not_whole_cipher_blocks_is_refused(tmp_path):
    # aes256-ctr is a stream cipher: one byte more would still decrypt, and the key open.
    cipher, kdf, options, pub, private = _fields(keygen(tmp_path, PASS).read_text())
    with pytest.raises(KeyFormatError, match=r"not whole cipher blocks"):
        Identity.from_openssh(_key_text(cipher, kdf, options, pub, private + b"\x00"), PASS)


def test_our_encrypted_key_uses_ssh_keygens_salt_size_and_rounds():
    ident = Identity.generate("a")
    text = ident.to_openssh(passphrase=PASS)
    cipher, kdf, options, _, private = _fields(text)
    assert (cipher, kdf) == (b"aes256-ctr", b"bcrypt")
    assert options[:4] == b"\x00\x00\x00\x10"  # a 16-byte salt
    assert len(options) == 4 + 16 + 4
    assert options[-4:] == (16).to_bytes(4, "big")  # ssh-keygen's -a default, no fewer
    assert len(private) % 16 == 0
    assert _fields(ident.to_openssh(passphrase=PASS))[2] != options  # a fresh salt each time


def test_keyfile_refuses_to_encrypt_a_section_not_padded_to_its_block():
    from envtrail.crypto import keyfile

    with pytest.raises(keyfile.KeyFileError, match="padded"):
        keyfile.encrypt(b"x" * 15, PASS)


def test_few_kdf_rounds_raise_no_warning(tmp_path):
    # bcrypt warns about fewer than 50 rounds unless told not to; the CLI would print it.
    import warnings

    text = keygen(tmp_path, PASS).read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ident = Identity.from_openssh(text, PASS)
        assert Identity.from_openssh(ident.to_openssh(passphrase=PASS), PASS) == ident
