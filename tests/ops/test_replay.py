"""The conflict model of sync's replay, as properties: disjoint changes never conflict."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrail.errors import ConflictError, UsageError
from envtrail.model import Secret
from envtrail.ops.replay import Delta, Item, conflicts, settle

items = st.sampled_from([Item("value", e, n) for e in ("prod", "dev") for n in ("A", "B", "C")]
                        + [Item("member", "prod", "bob@x"), Item("signer", "", "bob@x"),
                           Item("policy", "", "defaults")])
states = st.one_of(st.none(), st.sampled_from(["1", "2", "3"]).map(Secret))


@given(st.dictionaries(items, states, max_size=5), st.dictionaries(items, states, max_size=5))
def test_only_items_both_sides_changed_differently_conflict(mine, theirs):
    found = conflicts([Delta(mine)], Delta(theirs))
    assert found == sorted(i for i in mine if i in theirs and mine[i] != theirs[i])
    disjoint = {i: v for i, v in theirs.items() if i not in mine}
    assert conflicts([Delta(mine)], Delta(disjoint)) == []


def test_the_last_of_several_commits_counts():
    a = Item("value", "prod", "A")
    ours = [Delta({a: Secret("x")}), Delta({a: Secret("y")})]
    assert conflicts(ours, Delta({a: Secret("y")})) == []
    assert conflicts(ours, Delta({a: Secret("x")})) == [a]


def test_settling_by_name_env_name_and_star():
    prod, dev = Item("value", "prod", "A"), Item("value", "dev", "A")
    with pytest.raises(ConflictError) as exc:
        settle([prod, dev], [], [])
    assert "prod:A" in exc.value.message and "dev:A" in exc.value.message
    with pytest.raises(UsageError):
        settle([prod, dev], ["A"], [])  # ambiguous
    assert settle([prod, dev], ["prod:A"], ["dev:A"]) == {dev}
    assert settle([prod, dev], [], ["*"]) == {prod, dev}
    assert settle([prod, dev], ["*"], []) == set()
    with pytest.raises(UsageError):
        settle([prod], ["prod:A"], ["A"])


def test_a_principals_membership_and_signer_line_settle_to_one_side():
    # Seated with the remote's key but signing with this clone's, bob would get a grant
    # that verify refuses: sync says so before it writes anything.
    member, signer = Item("member", "prod", "bob@x"), Item("signer", "", "bob@x")
    other = Item("member", "prod", "carol@x")
    with pytest.raises(UsageError) as exc:
        settle([member, signer, other], ["prod:member:bob@x"],
               ["signer:bob@x", "prod:member:carol@x"])
    assert "bob@x's membership and signer line" in exc.value.message
    assert settle([member, signer], [], ["*"]) == {member, signer}
    assert settle([member, signer, other], ["prod:member:carol@x"],
                  ["prod:member:bob@x", "signer:bob@x"]) == {member, signer}
