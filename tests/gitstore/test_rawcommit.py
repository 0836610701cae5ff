"""gitstore.rawcommit reads what libgit2 reads, wherever libgit2 can read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pygit2

from conftest import git
from envtrail.gitstore.commit import Author, commit_text
from envtrail.gitstore.rawcommit import parse
from envtrail.gitstore.repo import GitRepo


def test_every_commit_of_a_store_reads_as_libgit2_reads_it(cli, store):
    assert cli("set", "A", "--env", "production", "--reason", "r", input="v").code == 0
    g = GitRepo(store)
    ids = git(store, "rev-list", "HEAD").split()
    assert len(ids) >= 2
    for commit_id in ids:
        c = g.repo[commit_id]
        raw = parse(g.repo.read(commit_id)[1])
        assert raw.tree == str(c.tree_id)
        assert raw.parents == tuple(str(p) for p in c.parent_ids)
        assert raw.author == (c.author.name, c.author.email)
        assert raw.committer == (c.committer.name, c.committer.email)
        assert raw.committer_time == datetime.fromtimestamp(c.commit_time, UTC)
        assert g.commit_time(commit_id) == c.commit_time
        assert raw.message == c.message
        sig, payload = c.gpg_signature  # libgit2 leaves out the last line's newline; git keeps it
        assert (raw.signature, raw.payload) == (sig + b"\n", payload)
        assert raw.flaws == ()


def test_the_commit_text_is_what_libgit2_writes(store):
    g = GitRepo(store)
    head = g.head()
    tree = str(g.repo[head].tree_id)
    for when in (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                 datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))):
        who = Author("alice@example.com", "alice@example.com", when)
        offset = int(when.utcoffset().total_seconds() // 60)
        sig = pygit2.Signature(who.name, who.email, int(when.timestamp()), offset)
        want = g.repo.create_commit_string(sig, sig, "m\n\nbody\n", pygit2.Oid(hex=tree),
                                           [pygit2.Oid(hex=head)])
        assert commit_text(tree, [head], who, "m\n\nbody\n") == want
