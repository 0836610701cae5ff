"""The merge driver's rotation case: re-encrypt with a member's identity, else say why not."""

import pytest

from envtrail.crypto.keys import Identity
from envtrail.errors import ConflictError
from envtrail.format import envfile
from envtrail.model import Secret
from envtrail.ops.members import decrypt_values
from envtrail.ops.merge import merge_env
from envtrail.ops.setup import new_env_file

ALICE = Identity.generate("alice@example.com")


def with_values(env, **values):
    from envtrail.crypto.seal import Encryptor, unb64

    enc = Encryptor(unb64(env.public_key, 32), env.environment)
    return env.with_values({**env.values, **{k: str(enc.encrypt(k, v)) for k, v in values.items()}})


def rotated(env):
    from envtrail.ops.access import rotated as rotate

    return rotate(env, ALICE, dict(env.members))[0]


def test_rotation_on_one_side_reencrypts_the_other_sides_change():
    base = with_values(new_env_file("production", "alice@example.com", ALICE), A="a0", B="b0")
    ours = rotated(base)
    theirs = with_values(base, B="b1", C="c1")
    merged = merge_env(base, ours, theirs, "envs/production.yaml", ALICE)
    assert merged.public_key == ours.public_key
    assert decrypt_values(merged, ALICE, None) == {"A": Secret("a0"), "B": Secret("b1"),
                                                   "C": Secret("c1")}
    assert envfile.parse(envfile.render(merged)) == merged


def test_rotation_without_an_identity_is_a_conflict_that_says_so():
    base = with_values(new_env_file("production", "alice@example.com", ALICE), A="a0")
    with pytest.raises(ConflictError, match="needs a member's identity"):
        merge_env(base, rotated(base), with_values(base, A="a1"), "envs/production.yaml", None)


def test_rotated_side_that_also_changed_the_value_conflicts():
    base = with_values(new_env_file("production", "alice@example.com", ALICE), A="a0")
    ours = with_values(rotated(base), A="ours")
    with pytest.raises(ConflictError, match="both sides changed A"):
        merge_env(base, ours, with_values(base, A="theirs"), "envs/production.yaml", ALICE)
