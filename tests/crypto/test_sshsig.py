"""SSH signatures, judged by ssh-keygen -Y in both directions."""

import subprocess

import pytest

from envtrail.crypto import sshsig
from envtrail.crypto.keys import Identity


def test_ssh_keygen_verifies_our_signature(tmp_path):
    ident = Identity.generate("alice@example.com")
    msg = tmp_path / "msg"
    msg.write_bytes(b"tree abc\nauthor x\n\nmessage\n")
    sig = tmp_path / "msg.sig"
    sig.write_text(sshsig.sign(ident, msg.read_bytes()) + "\n")
    signers = tmp_path / "allowed"
    signers.write_text(f'alice@example.com namespaces="git" {ident.public.line()}\n')
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "alice@example.com",
         "-n", "git", "-s", str(sig)], stdin=msg.open("rb"), capture_output=True, text=True,
        check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Good" in proc.stdout


def test_we_verify_ssh_keygen_signature(tmp_path):
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    msg = tmp_path / "m"
    msg.write_bytes(b"payload")
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", str(key), str(msg)],
                   check=True, capture_output=True)
    armored = (tmp_path / "m.sig").read_text()
    signer = sshsig.verify(armored, b"payload")
    assert signer == Identity.from_openssh(key.read_text()).public
    with pytest.raises(sshsig.SignatureError, match="does not match"):
        sshsig.verify(armored, b"payload!")
    with pytest.raises(sshsig.SignatureError, match="namespace"):
        sshsig.verify(armored, b"payload", namespace="file")


def test_garbage_signature_is_a_clean_error():
    with pytest.raises(sshsig.SignatureError):
        sshsig.verify("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----", b"x")
