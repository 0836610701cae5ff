"""gitstore.rawcommit reads what libgit2 reads, wherever libgit2 can read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pygit2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# Header lines other than the signature: any key, a value, and continuation lines.
_LINE = st.binary(max_size=12).filter(lambda b: b"\n" not in b)
_FIELD = st.tuples(
    st.sampled_from([b"tree", b"parent", b"author", b"committer", b"encoding", b"mergetag",
                     b"gpgsig-sha256x", b"x"]),
    _LINE, st.lists(_LINE, max_size=2))


def _field(key: bytes, value: bytes, more: list[bytes]) -> bytes:
    return key + b" " + value + b"\n" + b"".join(b" " + m + b"\n" for m in more)


@settings(max_examples=300, deadline=None)
@given(before=st.lists(_FIELD, max_size=4), after=st.lists(_FIELD, max_size=3),
       sig=st.lists(_LINE, min_size=1, max_size=4), message=st.binary(max_size=40))
def test_the_signature_and_payload_are_cut_where_they_were_put(before, after, sig, message):
    # Built the way git signs a commit: the payload's header, then one gpgsig header
    # whose lines after the first are continuation lines, then the rest.
    fields = [_field(*f) for f in before + after
              if not f[0].startswith(b"gpgsig")]
    block = b"gpgsig " + b"\n ".join(sig) + b"\n"
    cut = len([f for f in before if not f[0].startswith(b"gpgsig")])
    payload_header = b"".join(fields)
    data = b"".join(fields[:cut]) + block + b"".join(fields[cut:]) + b"\n" + message
    read = parse(data)
    assert read.signature == b"\n".join(sig) + b"\n"
    assert read.payload == payload_header + b"\n" + message
    # A second gpgsig-like header makes the commit unsigned: unsigned text would ride along.
    twice = b"gpgsig-sha256 x\n" + data
    assert parse(twice).signature is None and parse(twice).payload == twice


WHO = b"eve <eve@example.com> 1795704074 +0000"
TREE = b"tree " + b"a" * 40 + b"\n"


def test_what_cannot_be_read_is_named_and_the_rest_still_read():
    fine = parse(TREE + b"author " + WHO + b"\ncommitter " + WHO + b"\n\nm\n")
    assert fine.flaws == () and fine.author == ("eve", "eve@example.com")
    assert fine.committer_time == datetime.fromtimestamp(1795704074, UTC)
    assert fine.tree == "a" * 40 and fine.message == "m\n"

    no_mail = parse(TREE + b"author eve 1 +0000\ncommitter " + WHO + b"\n\nm\n")
    assert no_mail.flaws == (("ident", "its author line is not 'name <email> seconds zone'"),)
    assert no_mail.author == ("", "") and no_mail.committer == ("eve", "eve@example.com")

    # An ident line that goes on over a continuation line is not one git writes.
    continued = parse(TREE + b"author " + WHO + b"\n more\ncommitter " + WHO + b"\n\nm\n")
    assert [kind for kind, _ in continued.flaws] == ["ident"]

    bad_time = parse(TREE + b"author " + WHO + b"\ncommitter eve <e@x> soon +0000\n\nm\n")
    assert [kind for kind, _ in bad_time.flaws] == ["time"]
    assert bad_time.committer_time == datetime(1970, 1, 1, tzinfo=UTC)

    late = parse(TREE + b"author " + WHO + b"\ncommitter eve <e@x> 99999999999999 +0000\n\nm\n")
    assert [kind for kind, _ in late.flaws] == ["time"]
    assert late.committer_time == datetime(9999, 12, 30, tzinfo=UTC)  # clamped, and named


def test_a_commit_without_a_message_is_all_header():
    data = TREE + b"author " + WHO + b"\ncommitter " + WHO
    read = parse(data)
    assert read.message == "" and read.flaws == () and read.signature is None
    assert read.payload == data
    signed = parse(data + b"\ngpgsig A\n B")
    assert signed.signature == b"A\nB" and signed.payload == data + b"\n"


def test_a_bare_gpgsig_line_holds_no_signature():
    data = TREE + b"gpgsig\n -----BEGIN SSH SIGNATURE-----\n\nm\n"
    read = parse(data)
    assert read.signature == b"" and read.payload == data


PARENT = b"parent " + b"b" * 40 + b"\n"
IDENTS = b"author " + WHO + b"\ncommitter " + WHO + b"\n"


@pytest.mark.parametrize("header", [
    b"\n" + TREE + IDENTS,                      # an empty first line: git reads no header
    IDENTS + TREE,                              # the tree not first
    TREE + b"author " + WHO + b"\n" + PARENT + b"committer " + WHO + b"\n",  # a parent late
    TREE + b"parent nothex\n" + IDENTS,          # a parent that is no id
    b"tree " + b"a" * 40 + b"\n x\n" + IDENTS,   # a tree line that goes on
    b"gpgsig x\n" + TREE + IDENTS,               # re-encoded around its signature
])
def test_what_git_calls_a_bogus_commit_is_named(header):
    assert ("shape" in {kind for kind, _ in parse(header + b"\nm\n").flaws})


def test_git_order_is_not_a_flaw():
    assert parse(TREE + PARENT + PARENT.replace(b"b", b"c") + IDENTS + b"\nm\n").flaws == ()


def test_an_object_starting_with_an_empty_line_is_all_message():
    read = parse(b"\n" + TREE + IDENTS + b"\nm\n")
    assert read.tree is None and read.message == (TREE + IDENTS + b"\nm\n").decode()
