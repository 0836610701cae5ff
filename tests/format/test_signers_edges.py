"""allowed_signers: validity windows at their edges, options, and what a line may hold."""

from datetime import UTC, datetime, timedelta

import pytest

from envtrail.crypto.keys import Identity
from envtrail.errors import IntegrityError
from envtrail.format import signers
from envtrail.format.signers import Signer

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
KEY = Identity.generate().public.line()


def test_the_window_includes_valid_after_and_excludes_valid_before():
    s = Signer("a@x", KEY, valid_after=T0, valid_before=T0 + timedelta(days=1))
    assert s.valid_at(T0 - SECOND) is False
    assert s.valid_at(T0) is True
    assert s.valid_at(T0 + SECOND) is True
    assert s.valid_at(T0 + timedelta(days=1) - SECOND) is True
    assert s.valid_at(T0 + timedelta(days=1)) is False
    assert s.valid_at(T0 + timedelta(days=2)) is False


def test_open_ended_windows():
    assert Signer("a@x", KEY).valid_at(T0)
    assert Signer("a@x", KEY, valid_after=T0).valid_at(T0 + timedelta(days=900))
    assert not Signer("a@x", KEY, valid_after=T0).valid_at(T0 - SECOND)
    assert Signer("a@x", KEY, valid_before=T0).valid_at(T0 - SECOND)
    assert not Signer("a@x", KEY).expired(T0).valid_at(T0)


def test_render_and_parse_round_trip_every_field():
    given = [
        Signer("admin@x", KEY, admin=True),
        Signer("bob@x", KEY, valid_after=T0),
        Signer("carol@x", KEY, valid_after=T0, valid_before=T0 + timedelta(hours=1)),
        Signer("dan@x", KEY, valid_before=T0),
    ]
    data = signers.render(given)
    assert data.startswith(signers.HEADER.encode())
    assert signers.parse(data) == given
    lines = data.decode().splitlines()[2:]
    assert lines[0] == f'admin@x namespaces="git" {KEY} envtrail:admin'
    assert lines[2] == f'carol@x namespaces="git",valid-after="20260301120000Z",' \
                       f'valid-before="20260301130000Z" {KEY}'
    assert lines[3] == f'dan@x namespaces="git",valid-before="20260301120000Z" {KEY}'


@pytest.mark.parametrize(("text", "when"), [
    ("20260301120000Z", T0),
    ("202603011200Z", T0),
    ("20260301Z", T0.replace(hour=0)),
])
def test_times_ssh_keygen_accepts_are_read_as_utc(text, when):
    line = f'a@x valid-after="{text}" {KEY}'.encode()
    assert signers.parse(line)[0].valid_after == when


def test_options_with_quoted_commas_and_any_case():
    line = f'a@x namespaces="git",VALID-BEFORE="20260301120000Z" {KEY} a comment'.encode()
    [s] = signers.parse(line)
    assert s.valid_before == T0 and s.valid_after is None and not s.admin
    # A namespace list other than git's alone is refused: git would not trust it.
    with pytest.raises(IntegrityError, match="namespaces"):
        signers.parse(f'a@x namespaces="git,file" {KEY}'.encode())


def test_comments_blank_lines_and_the_admin_word():
    data = f"# a comment\n\n   \nroot@x {KEY} ops envtrail:admin\nuser@x {KEY} envtrail:admins\n".encode()
    got = signers.parse(data)
    assert [(s.principal, s.admin) for s in got] == [("root@x", True), ("user@x", False)]
    assert got[0].key == KEY


@pytest.mark.parametrize("line", [
    "lonely@x",
    "a@x ssh-ed25519",
    'a@x namespaces="git"',
    f'a@x valid-after="yesterday" {KEY}',
    f'a@x valid-before="2026-03-01" {KEY}',
])
def test_a_line_envtrail_cannot_read_is_an_integrity_error_naming_it(line):
    data = f"# header\nok@x {KEY}\n{line}\n".encode()
    with pytest.raises(IntegrityError, match=r"allowed_signers: line 3\b"):
        signers.parse(data)


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(IntegrityError, match="UTF-8"):
        signers.parse(b"a@x \xff " + KEY.encode())


@pytest.fixture
def far_timezone(monkeypatch):
    """A local time 5:30 ahead of UTC, as on a developer's laptop in India."""
    import time

    monkeypatch.setenv("TZ", "XST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_without_z_are_local_as_ssh_keygen_reads_them(far_timezone):
    [local] = signers.parse(f'a@x valid-after="20260301173000" {KEY}'.encode())
    [utc] = signers.parse(f'a@x valid-after="20260301120000Z" {KEY}'.encode())
    assert local.valid_after == utc.valid_after == T0
    assert signers.render_line(local).count("20260301120000Z") == 1


def test_a_quoted_option_value_is_one_value_as_ssh_keygen_reads_it():
    # ssh-keygen sees one namespaces list here, not a validity window: refused as not "git".
    line = f'a@x namespaces="git,valid-before=20200101Z",valid-after="20260301Z" {KEY}'.encode()
    with pytest.raises(IntegrityError, match="namespaces"):
        signers.parse(line)
