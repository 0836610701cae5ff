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


def test_a_signer_seen_again_is_the_same_key_with_its_line_computed_once(monkeypatch):
    monkeypatch.setattr(sshsig, "_KEYS", {})
    ident = Identity.generate()
    first = sshsig.verify(sshsig.sign(ident, b"one"), b"one")
    line = first.openssh
    second = sshsig.verify(sshsig.sign(ident, b"two"), b"two")
    assert second is first  # parsed once: a history walk reuses it commit after commit
    assert second.openssh is line
    assert line == ident.public.line()
    other = sshsig.verify(sshsig.sign(Identity.generate(), b"one"), b"one")
    assert other != first
    assert other.openssh != line


def test_signers_taking_turns_are_each_parsed_once(monkeypatch):
    monkeypatch.setattr(sshsig, "_KEYS", {})
    alice, bob = Identity.generate(), Identity.generate()
    first = [sshsig.verify(sshsig.sign(i, b"m"), b"m") for i in (alice, bob)]
    again = [sshsig.verify(sshsig.sign(i, b"n"), b"n") for i in (alice, bob)]
    assert again[0] is first[0]
    assert again[1] is first[1]


def test_the_remembered_signers_stay_few_however_many_sign(monkeypatch):
    monkeypatch.setattr(sshsig, "_KEYS", {})
    idents = [Identity.generate() for _ in range(sshsig._KEYS_MAX + 5)]
    for ident in idents:
        assert sshsig.verify(sshsig.sign(ident, b"m"), b"m") == ident.public
        assert 0 < len(sshsig._KEYS) <= sshsig._KEYS_MAX
    # A key forgotten on the way is parsed again, as strictly: still the right key.
    assert sshsig.verify(sshsig.sign(idents[0], b"m"), b"m") == idents[0].public


@pytest.mark.parametrize(("head", "why"), [
    (b"\x00\x00\x00\x02", "unsupported SSH signature version"),  # a whole version, the wrong one
    (b"\x00\x00\x02", "malformed SSH signature: truncated"),  # not even a whole version
    (b"\x00\x00\x00\x01", "malformed SSH signature: truncated"),  # nothing after it
])
def test_a_blob_that_ends_in_or_after_its_version_says_which(head, why):
    from envtrail.crypto.wire import armor

    with pytest.raises(sshsig.SignatureError, match=why):
        sshsig.verify(armor("SSH SIGNATURE", b"SSHSIG" + head).rstrip("\n"), b"m")
