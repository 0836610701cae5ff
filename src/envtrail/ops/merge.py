"""Merging environment files: the git merge driver and sync share this."""

from __future__ import annotations

from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import Decryptor, Encryptor, unb64
from envtrail.errors import ConflictError
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile
from envtrail.format.merge import merge
from envtrail.model import Ciphertext
from envtrail.ops.members import decrypt_one, open_keys


def merge_env(base: EnvFile | None, ours: EnvFile, theirs: EnvFile, path: str,
              identity: Identity | None) -> EnvFile:
    """Per-variable three-way merge; ConflictError naming what conflicts.

    Where one side rotated the key pair, the other side's changes are
    re-encrypted under the new key, which needs a member's identity.
    """
    result = merge(base, ours, theirs)
    if result.conflicts:
        raise ConflictError(f"{path}: both sides changed {', '.join(result.conflicts)}",
                            hint="resolve with `envtrail set` on one side, then merge again")
    assert result.env is not None
    if not result.reencrypt:
        return result.env
    if identity is None:
        raise ConflictError(
            f"{path}: one side rotated the key; re-encrypting the other side's changes "
            "needs a member's identity",
            hint="set ENVTRAIL_IDENTITY (or use `envtrail sync`) and merge again")
    old_side = theirs if result.rotated_side == "ours" else ours
    new_side = result.env
    old_keys = open_keys(old_side, identity)
    new_keys = open_keys(new_side, identity)
    old_dec = Decryptor(old_keys, old_side.environment)
    new_dec = Decryptor(new_keys, new_side.environment)
    base_dec = Decryptor(open_keys(base, identity), base.environment) if base else None
    enc = Encryptor(unb64(new_side.public_key, 32), new_side.environment)
    values = dict(new_side.values)
    clashes = []
    for name, token in sorted(result.reencrypt.items()):
        if base is not None and base_dec is not None and name in base.values and name in values:
            # The rotated side re-encrypted every value; it also *changed* this
            # one if the plaintexts differ. Then both sides changed it.
            before = decrypt_one(base, open_keys(base, identity), base_dec, name)
            if decrypt_one(new_side, new_keys, new_dec, name) != before:
                clashes.append(name)
                continue
        plain = old_dec.decrypt(name, Ciphertext.parse(token))
        values[name] = str(enc.encrypt(name, plain))
    if clashes:
        raise ConflictError(f"{path}: both sides changed {', '.join(clashes)}")
    return new_side.with_values(values)


def merge_files(base: bytes | None, ours: bytes, theirs: bytes, path: str,
                identity: Identity | None) -> bytes:
    """The merge driver's work on raw file contents."""
    b = envfile.parse(base, path) if base else None
    return envfile.render(merge_env(b, envfile.parse(ours, path), envfile.parse(theirs, path),
                                    path, identity))
