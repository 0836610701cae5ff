"""A non-member, a revoked member and an outsider can neither read nor write a commit
that verify accepts, even when they bypass envtrail and sign commits themselves."""

import base64
import json

import pytest

import forge
from conftest import Cli, git
from envtrail.audit import record
from envtrail.crypto.seal import Encryptor
from envtrail.format import envfile
from envtrail.model import Change
from envtrail.ops.txn import Plan

SECRET = "CANARY-access-77e1"


def forged_write(store, identity, principal, key="STOLEN"):
    """What someone with only the environment's *public* key can write: a new
    ciphertext and trailers with made-up fingerprints, signed with their own key."""
    env = envfile.parse((store / "envs/production.yaml").read_bytes())
    token = Encryptor(base64.b64decode(env.public_key), "production", env.version).encrypt(key, "attacker")
    changed = env.with_values({**env.values, key: str(token)})
    rec = record.Record("set", principal, "sneaky", ("production",),
                        (Change("+", key, None, "0123456789ab" * 2 + "01234567"),), "host=x")
    return Plan({"envs/production.yaml": envfile.render(changed)}, rec)


def rules(cli):
    return [f["rule"] for f in json.loads(cli("verify", "--json").out)["findings"]]


@pytest.fixture
def shared(cli, store):
    assert cli("set", "TOKEN", "--env", "production", "--reason", "r", input=SECRET).code == 0
    return store


def test_non_member(cli, shared, bob):
    # bob may sign (a member of staging) but is no member of production.
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "staging",
               "--reason", "staging only").code == 0
    b = cli.as_(bob)
    assert b("get", "TOKEN", "--env", "production").code == 4
    assert b("set", "X", "--env", "production", "--reason", "r", input="x").code == 4
    forge.commit_plan(shared, bob.identity, forged_write(shared, bob.identity, bob.principal))
    assert rules(cli.as_(None)) == [4]  # no key needed: he is no member
    assert rules(cli) == [3, 4]  # with a key: the fingerprint is made up too


def test_revoked_member(cli, shared, bob):
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    assert cli("access", "revoke", bob.principal, "--env", "production", "--reason", "left").code == 0
    b = cli.as_(bob)
    assert b("get", "TOKEN", "--env", "production").code == 4
    assert b("set", "X", "--env", "production", "--reason", "r", input="x").code == 4
    forge.commit_plan(shared, bob.identity, forged_write(shared, bob.identity, bob.principal))
    assert rules(cli) == [1]  # his key expired with his last membership


def test_outsider_key(cli, shared, make_identity):
    mallory = make_identity("mallory@example.com")
    m = cli.as_(mallory)
    assert m("get", "TOKEN", "--env", "production").code == 4
    assert m("set", "X", "--env", "production", "--reason", "r", input="x").code == 4
    plan = forged_write(shared, mallory.identity, "alice@example.com")  # and claims to be alice
    forge.commit_plan(shared, mallory.identity, plan)
    assert rules(cli) == [1]
    r = Cli(shared, mallory)("get", "TOKEN", "--env", "production", "--no-verify")
    assert r.code == 4 and SECRET not in r.both


def test_forged_admin_change_by_member(cli, shared, bob):
    # A member who edits allowed_signers to make himself admin, and signs it.
    assert cli("access", "grant", bob.principal, bob.publine, "--env", "production",
               "--reason", "join").code == 0
    text = (shared / ".envtrail/allowed_signers").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("bob@"))
    plan = Plan({".envtrail/allowed_signers": text.replace(line, line + " envtrail:admin").encode()},
                record.Record("signers", bob.principal, "promote myself", (),
                              extra=(("Admin", f"+ {bob.principal}"),)))
    forge.commit_plan(shared, bob.identity, plan)
    assert rules(cli) == [5]
    assert git(shared, "log", "-1", "--format=%G?").strip() == "G"  # git sees a good signature
