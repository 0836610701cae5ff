"""Each check in SSHSIG verification refuses the one lie it is there for.

The blocks are built field by field and signed with a real key, so every block is
valid except for the one field a test changes.
"""

import subprocess

import nacl.hash
import pytest
from nacl.encoding import RawEncoder

from envtrail.crypto import sshsig
from envtrail.crypto.keys import KEY_TYPE, Identity
from envtrail.crypto.wire import armor, string, uint32

MSG = b"tree 4b825dc\n\nset A\n"


def block(ident: Identity, *, magic=b"SSHSIG", version=1, namespace=b"git", hash_alg=b"sha512",
          sig_type=KEY_TYPE, truncate=0, message=MSG) -> str:
    hasher = {b"sha512": nacl.hash.sha512, b"sha256": nacl.hash.sha256}.get(hash_alg, nacl.hash.sha512)
    digest = hasher(message, encoder=RawEncoder)
    signed = b"SSHSIG" + string(namespace) + string(b"") + string(hash_alg) + string(digest)
    sig = ident.sign(signed)
    sig = sig[:len(sig) - truncate]
    blob = (magic + uint32(version) + string(ident.public.blob) + string(namespace) + string(b"")
            + string(hash_alg) + string(string(sig_type) + string(sig)))
    return armor("SSH SIGNATURE", blob).rstrip("\n")


@pytest.fixture(scope="module")
def ident():
    return Identity.generate("alice@example.com")


def test_a_well_formed_block_verifies_with_either_hash(ident):
    assert sshsig.verify(block(ident), MSG) == ident.public
    assert sshsig.verify(block(ident, hash_alg=b"sha256"), MSG) == ident.public


@pytest.mark.parametrize(("change", "why"), [
    ({"magic": b"SSHSIH"}, "not an SSH signature"),
    ({"version": 2}, "version"),
    ({"version": 0}, "version"),
    ({"hash_alg": b"sha1"}, "unsupported signature hash"),
    ({"sig_type": b"ssh-rsa"}, "only ssh-ed25519"),
    ({"truncate": 1}, "only ssh-ed25519"),
    ({"namespace": b"file"}, "namespace"),
])
def test_each_wrong_field_is_refused_for_its_reason(ident, change, why):
    with pytest.raises(sshsig.SignatureError, match=why):
        sshsig.verify(block(ident, **change), MSG)


def test_our_blocks_carry_version_one_and_sha512(ident):
    # ssh-keygen accepts only version 1; a changed constant would break git verify-commit.
    armored = sshsig.sign(ident, MSG)
    assert armored.startswith("-----BEGIN SSH SIGNATURE-----")
    assert armored == block(ident)  # Ed25519 is deterministic: byte for byte what the spec says


def test_ssh_keygen_checks_what_we_sign_in_another_namespace(tmp_path, ident):
    (tmp_path / "sig").write_text(sshsig.sign(ident, MSG, namespace="file") + "\n")
    (tmp_path / "allowed").write_text(f"alice@example.com {ident.public.line()}\n")
    proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "allowed"),
                           "-I", "alice@example.com", "-n", "file", "-s", str(tmp_path / "sig")],
                          input=MSG, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("cut", [8, 12, 40, -70])
def test_a_truncated_block_is_malformed_not_a_crash(ident, cut):
    from envtrail.crypto.wire import dearmor

    blob = dearmor("SSH SIGNATURE", block(ident))
    with pytest.raises(sshsig.SignatureError, match="malformed SSH signature"):
        sshsig.verify(armor("SSH SIGNATURE", blob[:cut]), MSG)


def test_a_key_of_another_type_is_malformed(ident):
    from envtrail.crypto.wire import dearmor

    blob = dearmor("SSH SIGNATURE", block(ident))
    rsa = blob.replace(string(b"ssh-ed25519") + string(ident.public.blob[-32:]),
                       string(b"ssh-rsa") + string(b"\x01" * 32), 1)
    assert rsa != blob
    with pytest.raises(sshsig.SignatureError, match="malformed SSH signature"):
        sshsig.verify(armor("SSH SIGNATURE", rsa), MSG)
