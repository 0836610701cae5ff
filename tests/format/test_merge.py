"""The per-variable three-way merge, as a property: disjoint changes commute."""

import base64

from hypothesis import given
from hypothesis import strategies as st

from envtrail.crypto.seal import Encryptor, EnvKeys
from envtrail.format.envfile import EnvFile
from envtrail.format.merge import merge

KEYS = EnvKeys.generate()
PK = base64.b64encode(KEYS.public).decode()
ENC = Encryptor(KEYS.public, "p")
TOKENS = [str(ENC.encrypt("X", str(i))) for i in range(6)]

names = st.sampled_from([f"V{i}" for i in range(8)])
tokens = st.sampled_from(TOKENS)
value_maps = st.dictionaries(names, tokens, max_size=6)


def env(values):
    return EnvFile("p", PK, {}, values)


@st.composite
def disjoint_edits(draw):
    base = draw(value_maps)
    left_keys = draw(st.sets(names, max_size=4))
    right_keys = draw(st.sets(names.filter(lambda n: n not in left_keys), max_size=4))

    def edit(keys):
        out = dict(base)
        for k in keys:
            if draw(st.booleans()):
                out[k] = draw(tokens)
            else:
                out.pop(k, None)
        return out

    return base, edit(left_keys), edit(right_keys)


@given(disjoint_edits())
def test_disjoint_changes_merge_cleanly_and_commute(edits):
    base, left, right = edits
    one = merge(env(base), env(left), env(right))
    two = merge(env(base), env(right), env(left))
    assert one.conflicts == two.conflicts == ()
    assert one.env.values == two.env.values
    for k in set(base) | set(left) | set(right):
        expected = left.get(k) if left.get(k) != base.get(k) else right.get(k)
        assert one.env.values.get(k) == expected


def test_same_variable_changed_differently_conflicts():
    result = merge(env({"A": TOKENS[0]}), env({"A": TOKENS[1]}), env({"A": TOKENS[2]}))
    assert result.env is None
    assert result.conflicts == ("A",)


def test_same_change_on_both_sides_is_clean():
    result = merge(env({"A": TOKENS[0]}), env({"A": TOKENS[1]}), env({"A": TOKENS[1]}))
    assert result.env.values == {"A": TOKENS[1]}
