"""OpenSSH key files, judged by the real ssh-keygen."""

import subprocess

import pytest

from envtrail.crypto.keys import Identity, KeyFormatError, PublicKey


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
