"""OpenSSH key files, judged by the real ssh-keygen."""

import subprocess

import pytest

from envtrail.crypto.keys import (
    Identity,
    KeyFormatError,
    PassphraseRequired,
    PublicKey,
    WrongPassphrase,
    is_encrypted,
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
    assert is_encrypted(text)
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
    assert is_encrypted(path.read_text()) and not is_encrypted(ident.to_openssh())


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
