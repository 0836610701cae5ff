"""attack37: a member's walk tests a new seat against the fingerprint the line recorded for
a value the file holds (attack36 F1). What the line recorded is read through repairs as
the line reads them: a repair puts back its clean point, so the values it restores were
written (and their fingerprints recorded) before that point, and what the commits it
acknowledges say about them is no record. Before: the repair itself counted as the last
writer of every value it restored, recording none, so after a repair that restored every
value a forged seat went unflagged (B1); and a hand-made commit inside the acknowledged
damage that put a value back with a made-up fingerprint stood as its record, so an honest
seat granted later was named forged in its member's walk (B2). Also the cost: each seat
change walked back to the newest value writer, so many commits sealing one member again
made that member's walk quadratic (C1)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

from conftest import git
from envtrail.audit.keyring import Keyring
from envtrail.audit.line import walk
from envtrail.audit.view import StoreView
from envtrail.crypto.seal import Decryptor, Encryptor, EnvKeys
from envtrail.format import envfile
from envtrail.format.envfile import Member
from envtrail.gitstore.commit import Author, create_commit, move_branch
from envtrail.gitstore.repo import GitRepo
from envtrail.model import Ciphertext
from envtrail.ops.members import open_keys
from envtrail.ops.txn import signer_for
from hostile import setv

PATH = envfile.path_for("production")


def _walk(store, who):
    view = StoreView(GitRepo(store))
    return walk(view, view.git.head(), keyring=Keyring(who.identity),
                now=datetime.now(UTC))


def _findings(store, who) -> list[str]:
    return [f.line() for f in _walk(store, who).findings]


def _unsigned(store, text: str, message: str) -> None:
    """An outsider's commit (anyone who can push): the file as given, no signature."""
    (store / PATH).write_text(text)
    git(store, "add", PATH)
    subprocess.run(["git", "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
                    "-m", message], cwd=store, check=True, capture_output=True)


def _reseal(store, alice, who, fp_key: bytes | None = None, times: int = 1) -> None:
    """Alice's signed grant commits that seal ``who`` the production key pair again, with
    the true fingerprint key or ``fp_key`` (what `access grant` never writes)."""
    g = GitRepo(store)
    start = head = g.head()
    when = g.info(head).committer_time
    env = StoreView(g).env_at(head, "production")
    keys = open_keys(env, alice.identity)
    keys = EnvKeys(keys.private, fp_key) if fp_key is not None else keys
    message = ("production: grant\n\nr\n\nEnvtrail-Format: 1\nEnvtrail-Environment: production\n"
               "Envtrail-Action: grant\nEnvtrail-Actor: alice@example.com\nEnvtrail-Reason: r\n"
               f"Envtrail-Member: + {who.principal}\n")
    for _ in range(times):
        env = env.with_members({**env.members, who.principal: Member(
            who.principal, who.identity.public.openssh, keys.seal_to(who.identity.public))})
        head = create_commit(g, [head], {PATH: envfile.render(env)}, message,
                             Author(alice.principal, alice.principal, when),
                             signer_for(alice.identity))
    move_branch(g, g.branch(), start, head, "test")
    git(store, "reset", "-q", "--hard")


def _forge_head_seat(store, alice, who, fp_key: bytes) -> None:
    """The head commit (a grant of ``who``) made again before anyone saw it, with their
    seat holding the key pair's private key and ``fp_key``."""
    g = GitRepo(store)
    honest = g.head()
    info = g.info(honest)
    env = StoreView(g).env_at(honest, "production")
    keys = open_keys(env, alice.identity)
    forged = env.with_members({**env.members, who.principal: Member(
        who.principal, who.identity.public.openssh,
        EnvKeys(keys.private, fp_key).seal_to(who.identity.public))})
    files = {p: g.read(honest, p) for p in g.changed_paths(info.parents[0], honest)}
    commit = create_commit(g, list(info.parents), {**files, PATH: envfile.render(forged)},
                           info.message, Author(alice.principal, alice.principal,
                                                info.committer_time),
                           signer_for(alice.identity))
    move_branch(g, g.branch(), honest, commit, "test")
    git(store, "reset", "-q", "--hard")


def _grant(cli, who) -> None:
    r = cli("access", "grant", who.principal, str(who.path) + ".pub", "--env", "production",
            "--reason", "r")
    assert r.code == 0, r.err


def test_a_forged_seat_after_a_repair_that_restored_every_value_is_a_finding(
        cli, store, alice, make_identity):
    """B1: an outsider's commit empties the file, the admin repairs (the honest answer), and
    then seats dave with the right private key and another fingerprint key."""
    dave = make_identity("dave@example.com")
    setv(cli, "A", "a1")
    setv(cli, "B", "b1")
    _unsigned(store, "", "oops")
    assert cli("repair", "--reason", "restore").code == 0
    _grant(cli, dave)
    _forge_head_seat(store, alice, dave, os.urandom(32))
    assert _findings(store, alice) == []
    found = _findings(store, dave)
    assert len(found) == 1 and "dave@example.com's seat opens with another fingerprint key" \
        in found[0], found


def test_an_honest_seat_after_a_repair_is_not_judged_by_what_the_damage_said(
        cli, store, alice, make_identity):
    """B2: inside the damage a repair acknowledges, one commit drops A and the next puts
    A's very ciphertext back with a made-up fingerprint; the repair's tree equals its
    parent's. An honest grant afterwards must not read that claim as the line's record."""
    dave = make_identity("dave@example.com")
    setv(cli, "A", "a1")
    clean = (store / PATH).read_text()
    env = envfile.parse(clean.encode(), PATH)
    _unsigned(store, envfile.render(env.with_values({})).decode(), "drop A")
    _unsigned(store, clean, "put A back\n\nEnvtrail-Format: 1\nEnvtrail-Environment: production\n"
              "Envtrail-Action: set\nEnvtrail-Actor: alice@example.com\nEnvtrail-Reason: r\n"
              f"Envtrail-Change: + A {'ab' * 16}\n")
    r = cli("repair", "--reason", "restore")
    assert r.code == 0, r.both
    _grant(cli, dave)
    assert _findings(store, alice) == []
    assert _findings(store, dave) == []


def test_many_commits_sealing_one_member_again_cost_that_member_a_walk_each_not_more(
        cli, store, alice, make_identity):
    """C1: every commit that seals dave again is a seat change in dave's walk; the line's
    record of the values is the same for all of them, so it is looked up once."""
    dave = make_identity("dave@example.com")
    setv(cli, "A", "a1")
    _grant(cli, dave)
    _reseal(store, alice, dave, times=60)
    view = StoreView(GitRepo(store))  # fresh: it counts the commits one walk visits
    report = walk(view, view.git.head(), keyring=Keyring(dave.identity), now=datetime.now(UTC))
    assert report.findings == []
    # The line is 67 commits; a walk back per reseal visited about 60 * 60 / 2 of them.
    assert view.git.walked < 400, view.git.walked


def test_the_search_for_the_lines_record_ends_where_the_key_pair_began(
        cli, store, alice, make_identity):
    """N1: values nobody recorded (re-encrypted by hand, every one: findings of their own)
    send the search back; no token of a key pair is older than the rotation that made it,
    so it stops there rather than at the genesis."""
    dave = make_identity("dave@example.com")
    for i in range(20):
        setv(cli, "A", f"a{i}")
    assert cli("access", "rotate", "--env", "production", "--reason", "r").code == 0
    _grant(cli, dave)
    g = GitRepo(store)
    env = StoreView(g).env_at(g.head(), "production")
    keys = open_keys(env, alice.identity)
    plain = Decryptor(keys, "production").decrypt("A", Ciphertext.parse(env.values["A"]))
    again = str(Encryptor(keys.public, "production", env.version).encrypt("A", plain))
    _unsigned(store, envfile.render(env.with_values({"A": again})).decode(), "by hand")
    _reseal(store, alice, dave)
    view = StoreView(GitRepo(store))
    walk(view, view.git.head(), keyring=Keyring(dave.identity), now=datetime.now(UTC))
    # The search goes back over the grant and the rotation, not the 20 sets before it.
    assert view.git.walked < 10, view.git.walked
