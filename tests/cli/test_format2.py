"""Format 2 in a store: what it hides, and the way a format 1 environment becomes format 2.

A format 1 environment is written here exactly as envtrail wrote it before
format 2 (the same building blocks, a signed ``init`` commit by an admin);
everything after that goes through the CLI.
"""

import json
import re

import nacl.bindings as sodium
import nacl.utils
import pytest
from nacl.public import PrivateKey

import forge
from conftest import assert_one_line_error, git
from envtrail.audit.record import Record
from envtrail.crypto.seal import Decryptor, Encryptor, EnvKeys, b64, derive_value_key, unb64
from envtrail.format import envfile
from envtrail.format.envfile import EnvFile, Member
from envtrail.model import Change, Ciphertext
from envtrail.ops.members import open_keys
from envtrail.ops.txn import Plan, context_for

CANARY = "CANARY-format2-31c7"
HEX12, HEX32 = re.compile(r"[0-9a-f]{12}"), re.compile(r"[0-9a-f]{32}")


def setv(cli, key, value, env="production"):
    r = cli("set", key, "--env", env, "--reason", "r", input=value)
    assert r.code == 0, r.err


def changes(store, rev="HEAD"):
    """{name: (op, old_fp, new_fp)} from one commit's Envtrail-Change trailers."""
    out = {}
    for line in git(store, "log", "-1", "--format=%B", rev).splitlines():
        if line.startswith("Envtrail-Change: "):
            parts = line.split()[1:]
            op, name = parts[0], parts[1]
            fps = [p for p in parts[2:] if p != "->"]
            out[name] = (op, *(fps if op == "~" else ([None, fps[0]] if op == "+" else [fps[0], None])))
    return out


def env_text(store, env):
    return (store / f"envs/{env}.yaml").read_text()


@pytest.fixture
def legacy(store, alice):
    """A format 1 environment ``legacy`` with A, B and C set, through the CLI."""
    keys = EnvKeys.generate()
    member = Member(alice.principal, alice.identity.public.openssh, keys.seal_to(alice.identity.public))
    env = EnvFile("legacy", b64(keys.public), {alice.principal: member}, {}, version=1)
    rec = Record("init", alice.principal, "add environment legacy", ("legacy",),
                 context=context_for(forge.runtime(store)))
    forge.commit_plan(store, alice.identity, Plan({envfile.path_for("legacy"): envfile.render(env)}, rec))
    return store


def test_a_format_1_environment_reads_verifies_and_stays_format_1_on_writes(cli, legacy):
    setv(cli, "A", f"{CANARY}-a", "legacy")
    setv(cli, "B", "b1", "legacy")
    text = env_text(legacy, "legacy")
    assert text.splitlines()[1] == "envtrail: 1"
    assert "ENC[v2," not in text and text.count("ENC[v1,") == 2
    a_line = next(ln for ln in text.splitlines() if ln.startswith("  A: "))
    assert all(HEX12.fullmatch(fp) for fp in changes(legacy)["B"][2:] if fp)
    setv(cli, "B", "b2", "legacy")
    after = env_text(legacy, "legacy")
    # Until its next rotation, a format 1 file is written as format 1: A's line is untouched.
    assert after.splitlines()[1] == "envtrail: 1" and a_line in after.splitlines()
    _, old_fp, new_fp = changes(legacy)["B"]
    assert HEX12.fullmatch(old_fp) and HEX12.fullmatch(new_fp)
    assert cli("get", "A", "--env", "legacy").out == f"{CANARY}-a"
    assert cli("verify").code == 0
    assert "legacy is still in format 1" in cli("status").out
    assert "production is still" not in cli("status").out
    # Environments made now are format 2, in the same store.
    setv(cli, "P", "p1")
    assert env_text(legacy, "production").splitlines()[1] == "envtrail: 2"
    assert HEX32.fullmatch(changes(legacy)["P"][2])


@pytest.mark.parametrize("how", ["rotate", "revoke"])
def test_rotation_rewrites_a_format_1_environment_as_format_2(cli, legacy, bob, how):
    setv(cli, "A", f"{CANARY}-a", "legacy")
    setv(cli, "SAME", "true", "legacy")
    setv(cli, "SAME2", "true", "legacy")
    fp_before = {k: changes(legacy, rev)[k][2] for k, rev in
                 (("A", "HEAD~2"), ("SAME", "HEAD~1"), ("SAME2", "HEAD"))}
    # Format 1's weakness, which format 2 removes: equal values, equal fingerprints.
    assert fp_before["SAME"] == fp_before["SAME2"]
    if how == "revoke":
        r = cli("access", "grant", bob.principal, bob.publine, "--env", "legacy", "--reason", "join")
        assert r.code == 0, r.err
        assert env_text(legacy, "legacy").splitlines()[1] == "envtrail: 1"
        r = cli("access", "revoke", bob.principal, "--env", "legacy", "--reason", "left")
    else:
        r = cli("access", "rotate", "--env", "legacy", "--reason", "upgrade")
    assert r.code == 0, r.err
    text = env_text(legacy, "legacy")
    assert text.splitlines()[1] == "envtrail: 2"
    assert "ENC[v1," not in text and text.count("ENC[v2,") == 3
    # Values intact, history verifies, and stock git accepts the rotation's signature.
    assert cli("get", "A", "--env", "legacy").out == f"{CANARY}-a"
    assert cli("get", "SAME2", "--env", "legacy").out == "true"
    assert cli("verify").code == 0
    git(legacy, "verify-commit", "HEAD")
    assert "format 1" not in cli("status").out
    # The rotation maps each old 12-digit fingerprint to its new 32-digit one ...
    mapped = changes(legacy)
    assert set(mapped) == {"A", "SAME", "SAME2"}
    for name, (op, old_fp, new_fp) in mapped.items():
        assert op == "~" and old_fp == fp_before[name] and HEX32.fullmatch(new_fp)
    assert mapped["SAME"][2] != mapped["SAME2"][2]
    # ... and the value can be followed on: removing A records the new fingerprint.
    r = cli("unset", "A", "--env", "legacy", "--reason", "r")
    assert r.code == 0, r.err
    assert changes(legacy)["A"] == ("-", mapped["A"][2], None)
    assert cli("verify").code == 0
    assert CANARY not in git(legacy, "log", "--format=%B")


def test_log_follows_a_value_across_the_upgrade(cli, legacy):
    setv(cli, "K", "v", "legacy")
    assert cli("access", "rotate", "--env", "legacy", "--reason", "upgrade").code == 0
    events = [e for e in map(json.loads, cli("log", "--json").out.splitlines()) if e["key"] == "K"]
    rotate, first = events[0], events[1]
    assert rotate["action"] == "rotate" and first["action"] == "set"
    assert rotate["old_fp"] == first["new_fp"] and HEX32.fullmatch(rotate["new_fp"])


def test_equal_values_in_two_variables_do_not_show(cli, store):
    setv(cli, "ONE", "same")
    setv(cli, "TWO", "same")
    fp_two = changes(store)["TWO"][2]
    fp_one = changes(store, "HEAD~1")["ONE"][2]
    assert HEX32.fullmatch(fp_one) and HEX32.fullmatch(fp_two)
    assert fp_one != fp_two
    # Same value, same variable: the same fingerprint, so values can be followed.
    setv(cli, "ONE", "other")
    setv(cli, "ONE", "same")
    assert changes(store)["ONE"][2] == fp_one


def test_true_and_false_store_as_tokens_of_equal_length(cli, store):
    setv(cli, "T", "true")
    setv(cli, "F", "false")
    lines = dict(ln.strip().split(": ", 1) for ln in env_text(store, "production").splitlines()
                 if ln.startswith(("  T:", "  F:")))
    assert len(lines["T"]) == len(lines["F"])
    assert len(Ciphertext.parse(lines["T"]).body) == 24 + 32 + 16


def _badly_padded(env: EnvFile, name: str, plain: bytes) -> str:
    """An authentic format 2 token whose plaintext is not validly padded."""
    env_pk = unb64(env.public_key, 32)
    eph = PrivateKey.generate()
    key = derive_value_key(sodium.crypto_scalarmult(bytes(eph), env_pk), bytes(eph.public_key), env_pk)
    nonce = nacl.utils.random(24)
    ad = f"envtrail/v2/{env.environment}/{name}".encode()
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, ad, nonce, key)
    return str(Ciphertext(bytes(eph.public_key), nonce + ct, 2))


@pytest.mark.parametrize("plain", [
    CANARY.encode().ljust(32, b"\x00"),                  # zeros without the 0x80 marker
    CANARY.encode() + b"\x80" + b"\x00" * 44,             # marker more than a block from the end
    CANARY.encode().ljust(31, b"\x00") + b"\x01",          # no marker, garbage last byte
])
def test_malformed_padding_is_an_integrity_error(cli, store, alice, plain):
    setv(cli, "GOOD", "fine")
    env = envfile.parse((store / "envs/production.yaml").read_bytes())
    bad = env.with_values({**env.values, "BAD": _badly_padded(env, "BAD", plain)})
    plan = forge.honest_plan(store, alice.identity, "production", {"OTHER": "x"})
    plan = Plan({"envs/production.yaml": envfile.render(bad)}, plan.record)
    forge.commit_plan(store, alice.identity, plan)
    head = git(store, "rev-parse", "HEAD")
    for args in (("get", "BAD", "--env", "production", "--no-verify"),
                 ("export", "--env", "production", "--no-verify"),
                 ("get", "BAD", "--env", "production")):
        r = cli(*args)
        assert_one_line_error(r, 5)
        assert CANARY not in r.both
    assert "padding" in cli("get", "BAD", "--env", "production", "--no-verify").err
    assert git(store, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(("env", "to"), [("production", 1), ("legacy", 2)])
def test_a_format_change_without_a_new_key_pair_is_a_finding(cli, legacy, alice, env, to):
    """Going back to format 1 would bring back grindable fingerprints; going forward
    happens only with a rotation. An honest-looking re-encryption under the same key
    pair, signed by an admin member, is still reported (rule 5), with or without a key."""
    setv(cli, "A", "a1", env)
    old = envfile.parse((legacy / f"envs/{env}.yaml").read_bytes())
    keys = open_keys(old, alice.identity)
    plain = Decryptor(keys, env).decrypt("A", Ciphertext.parse(old.values["A"]))
    enc = Encryptor(unb64(old.public_key, 32), env, to)
    new = EnvFile(old.environment, old.public_key, old.members, {"A": str(enc.encrypt("A", plain))}, to)
    change = Change("~", "A", keys.fingerprint(old.version, env, "A", plain),
                    keys.fingerprint(to, env, "A", plain))
    rec = Record("set", alice.principal, "re-encode", (env,), (change,),
                 context_for(forge.runtime(legacy)))
    forge.commit_plan(legacy, alice.identity, Plan({envfile.path_for(env): envfile.render(new)}, rec))
    for who in (alice, None):
        r = cli.as_(who)("verify")
        assert r.code == 1, r.both
        assert f"{env}: format {old.version} -> {to} without a rotation" in r.both


@pytest.mark.parametrize("first", ["rotate", "set"])
def test_sync_replays_across_the_upgrade(tmp_path, cli, legacy, bob, first):
    """One clone upgrades `legacy` by rotating while the other writes it in format 1: whichever
    reaches the remote second is replayed onto the other, and the line ends in format 2."""
    from test_sync import clone_as, make_remote, values

    r = cli("access", "grant", bob.principal, bob.publine, "--env", "legacy", "--reason", "join")
    assert r.code == 0, r.err
    setv(cli, "BASE", "b", "legacy")
    bare = make_remote(tmp_path, legacy)
    a = clone_as(tmp_path, str(bare), cli.identity, "alice")
    b = clone_as(tmp_path, str(bare), bob, "bob")
    # Rotating changes keys: an admin's act (alice); bob is a plain member.
    assert a("access", "rotate", "--env", "legacy", "--reason", "upgrade").code == 0
    setv(b, "NEW", f"{CANARY}-n", "legacy")
    assert env_text(b.cwd, "legacy").splitlines()[1] == "envtrail: 1"
    order = (a, b, a) if first == "rotate" else (b, a, b)
    for c in order:
        r = c("sync")
        assert r.code == 0, r.err
    assert values(a, "legacy") == values(b, "legacy") == {"BASE": "b", "NEW": f"{CANARY}-n"}
    for c in (a, b):
        text = env_text(c.cwd, "legacy")
        assert text.splitlines()[1] == "envtrail: 2" and "ENC[v1," not in text
        assert c("verify").code == 0
        git(c.cwd, "verify-commit", "HEAD")
    assert env_text(a.cwd, "legacy") == env_text(b.cwd, "legacy")
