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


# -- ssh-keygen as the judge: never accept what it refuses ----------------------------


def _edit_field(blob: bytes, index: int, value: bytes) -> bytes:
    """``blob`` with its ``index``-th string after magic and version set to ``value``."""
    from envtrail.crypto.wire import Reader

    r = Reader(blob[10:])
    fields = [r.string() for _ in range(5)]
    fields[index] = value
    return blob[:10] + b"".join(string(f) for f in fields) + r.rest()


def _rearmor(edit):
    def change(armored: str) -> str:
        from envtrail.crypto.wire import dearmor

        return armor("SSH SIGNATURE", edit(dearmor("SSH SIGNATURE", armored)))
    return change


_SIG_STRING = 4  # the fifth field: string(key type) + string(signature)
JUDGED = {  # case -> change to an armored block made by ssh-keygen -Y sign
    "as ssh-keygen wrote it": lambda a: a,
    "armored again at other widths": lambda a: _rewrap(a, 40),
    "reserved field set": _rearmor(lambda b: _edit_field(b, 2, b"tag")),
    "bytes after the blob": _rearmor(lambda b: b + b"junk"),
    "bytes inside the signature string": _rearmor(
        lambda b: _edit_field(b, _SIG_STRING, _sig_string(b) + b"x")),
    "bytes after the key in its blob": _rearmor(
        lambda b: _edit_field(b, 0, string(KEY_TYPE) + string(b"\x00" * 32) + b"x")),
    "a space ending the first line": lambda a: a.replace("-----\n", "----- \n", 1),
    "text before the armor": lambda a: "x" + a,
    "padding bits set": lambda a: _pad_bits(a),
    "a control character in the base64": lambda a: a.replace("\n", "\n\x1c", 1),
}
STRICTER = {"text after the armor", "version 0"}  # ssh-keygen passes; no signer writes them


def _sig_string(blob: bytes) -> bytes:
    from envtrail.crypto.wire import Reader

    r = Reader(blob[10:])
    return [r.string() for _ in range(5)][_SIG_STRING]


def _rewrap(armored: str, width: int) -> str:
    lines = armored.splitlines()
    body = "".join(lines[1:-1])
    return "\n".join([lines[0], *(body[i:i + width] for i in range(0, len(body), width)),
                      lines[-1]]) + "\n"


def _pad_bits(armored: str) -> str:
    lines = armored.splitlines()
    last = lines[-2]
    body = last.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    lines[-2] = body[:-1] + alphabet[alphabet.index(body[-1]) + 1] + last[len(body):]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def keygen_block(tmp_path_factory):
    """(armored signature by ssh-keygen -Y sign, allowed signers file, the key's principal)."""
    folder = tmp_path_factory.mktemp("keygen")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "k@example.com",
                    "-f", str(folder / "k")], check=True)
    (folder / "msg").write_bytes(MSG)
    subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(folder / "k"),
                    str(folder / "msg")], check=True, capture_output=True)
    allowed = folder / "allowed"
    allowed.write_text(f"k@example.com {(folder / 'k.pub').read_text().split(' k@')[0]}\n")
    return (folder / "msg.sig").read_text(), allowed


def _keygen_accepts(armored: str, allowed, tmp_path) -> bool:
    (tmp_path / "sig").write_text(armored)
    return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", "k@example.com",
                           "-n", "git", "-s", str(tmp_path / "sig")], input=MSG,
                          capture_output=True, check=False).returncode == 0


def _we_accept(armored: str) -> bool:
    try:
        sshsig.verify(armored, MSG)
    except sshsig.SignatureError:
        return False
    return True


@pytest.mark.parametrize("case", sorted(JUDGED))
def test_envtrail_accepts_a_block_exactly_when_ssh_keygen_does(keygen_block, tmp_path, case):
    armored, allowed = keygen_block
    changed = JUDGED[case](armored)
    assert (case == "as ssh-keygen wrote it") == (changed == armored)
    assert _we_accept(changed) == _keygen_accepts(changed, allowed, tmp_path)


@pytest.mark.parametrize("case", sorted(STRICTER))
def test_envtrail_is_stricter_only_where_no_signer_writes(keygen_block, tmp_path, case):
    armored, allowed = keygen_block
    changed = armored + "x\n" if case == "text after the armor" else _rearmor(
        lambda b: b[:6] + uint32(0) + b[10:])(armored)
    assert _keygen_accepts(changed, allowed, tmp_path)
    assert not _we_accept(changed)
