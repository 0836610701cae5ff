"""The SSH wire encoding: strings() reads exactly the record that string() writes, and the
PEM-style armor around keys is exactly OpenSSH's."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrail.crypto.wire import Reader, WireError, armor, dearmor, string, strings, uint32

fields = st.lists(st.binary(max_size=80), max_size=6)


@given(st.binary(max_size=12), fields)
def test_strings_reads_back_what_string_wrote_after_any_head(head, parts):
    record = head + b"".join(string(p) for p in parts)
    assert strings(record, len(parts), len(head)) == parts
    r = Reader(record[len(head):])
    assert [r.string() for _ in parts] == parts  # the Reader it stands in for agrees


@given(fields, st.binary(min_size=1, max_size=10))
def test_strings_refuses_bytes_after_the_last_field(parts, tail):
    with pytest.raises(WireError, match="trailing data"):
        strings(b"".join(string(p) for p in parts) + tail, len(parts))


@given(fields.filter(bool), st.data())
def test_strings_refuses_a_record_cut_anywhere(parts, draw):
    record = b"".join(string(p) for p in parts)
    cut = draw.draw(st.integers(0, len(record) - 1))
    with pytest.raises(WireError, match="truncated"):
        strings(record[:cut], len(parts))


def test_strings_refuses_a_length_past_the_end():
    with pytest.raises(WireError, match="truncated"):
        strings(uint32(5) + b"abcd", 1)
    with pytest.raises(WireError, match="truncated"):
        strings(uint32(2**32 - 1) + b"abcd", 1)


def test_armor_writes_70_columns_as_ssh_keygen_does(tmp_path):
    import subprocess

    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    theirs = path.read_text().splitlines()
    blob = dearmor("OPENSSH PRIVATE KEY", path.read_text())
    ours = armor("OPENSSH PRIVATE KEY", blob).splitlines()
    assert ours == theirs
    assert {len(line) for line in ours[1:-2]} == {70}


@pytest.mark.parametrize("change", [
    lambda t: t.replace("-----END OPENSSH PRIVATE KEY-----", "-----END OPENSSH PRIVATE KEX-----"),
    lambda t: t.replace("-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEX-----"),
    lambda t: t.replace("-----END OPENSSH PRIVATE KEY-----", ""),
], ids=["end", "begin", "no-end"])
def test_dearmor_needs_both_armor_lines_with_the_label(change):
    from envtrail.crypto.keys import Identity

    text = Identity.generate("a").to_openssh()
    assert dearmor("OPENSSH PRIVATE KEY", text)
    with pytest.raises(WireError, match="not an armored OPENSSH PRIVATE KEY"):
        dearmor("OPENSSH PRIVATE KEY", change(text))


def test_dearmor_refuses_characters_base64_does_not_have():
    # A lenient decoder would drop them and read the key as if they were not there.
    from envtrail.crypto.keys import Identity

    text = Identity.generate("a").to_openssh()
    lines = text.splitlines()
    lines[2] = lines[2][:20] + "*!?." + lines[2][20:]
    with pytest.raises(WireError, match="bad base64"):
        dearmor("OPENSSH PRIVATE KEY", "\n".join(lines))


def test_reader_refuses_to_read_past_the_end():
    with pytest.raises(WireError, match="truncated"):
        Reader(uint32(5) + b"abcd").string()
    with pytest.raises(WireError, match="truncated"):
        Reader(b"\x00\x00\x01").uint32()
    r = Reader(string(b"") + string(b"ab") + b"x")
    assert (r.string(), r.string(), r.rest()) == (b"", b"ab", b"x")
    with pytest.raises(WireError, match="truncated"):
        r.raw(2)
