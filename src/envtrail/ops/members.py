"""Opening an environment with an identity (no git involved, so fast paths can use it)."""

from __future__ import annotations

from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import DecryptError, Decryptor, EnvKeys, unb64
from envtrail.errors import AccessDenied, IntegrityError
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile
from envtrail.model import Ciphertext


def open_keys(env: EnvFile, identity: Identity) -> EnvKeys:
    """Unseal the environment's keys for a member; AccessDenied for a non-member."""
    member = env.member_with_key(identity.public.openssh)
    if member is None:
        raise AccessDenied(
            f"you are not a member of environment {env.environment!r}",
            hint="ask a member to run `envtrail access grant` for you",
        )
    try:
        return EnvKeys.unseal(member.sealed, identity, unb64(env.public_key, 32))
    except DecryptError as exc:
        raise IntegrityError(f"{envfile.path_for(env.environment)}: {exc}") from None


def decrypt_one(env: EnvFile, keys: EnvKeys, dec: Decryptor, name: str) -> str:
    """Decrypt one stored value; IntegrityError (exit 5) if it will not authenticate."""
    path = envfile.path_for(env.environment)
    try:
        return dec.decrypt(name, Ciphertext.parse(env.values[name]))
    except (DecryptError, ValueError) as exc:
        raise IntegrityError(f"{path}: {exc}") from None
