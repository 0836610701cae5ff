"""Opening an environment with an identity (no git involved, so fast paths can use it)."""

from __future__ import annotations

from envtrail.crypto.keys import Identity
from envtrail.crypto.seal import DecryptError, Decryptor, EnvKeys, unb64
from envtrail.errors import AccessDenied, IntegrityError, NotFoundError
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile
from envtrail.model import Ciphertext, Secret


def open_keys(env: EnvFile, identity: Identity) -> EnvKeys:
    """Unseal the environment's keys for a member; AccessDenied for a non-member."""
    member = env.member_with_key(identity.public.openssh)
    if member is None:
        raise AccessDenied(
            f"you are not a member of environment {env.environment!r}",
            hint="ask an admin to run `envtrail access grant` for you (`envtrail access list` names them)",
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


def decrypt_values(env: EnvFile, identity: Identity, names: list[str] | None) -> dict[str, Secret]:
    """Decrypt ``names`` (all if None) for a member; NotFoundError for a missing name."""
    keys = open_keys(env, identity)
    dec = Decryptor(keys, env.environment)
    out = {}
    for name in names if names is not None else sorted(env.values):
        if name not in env.values:
            raise NotFoundError(f"{env.environment} has no variable {name}")
        out[name] = Secret(decrypt_one(env, keys, dec, name))
    return out
