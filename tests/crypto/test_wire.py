"""The SSH wire encoding: strings() reads exactly the record that string() writes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrail.crypto.wire import Reader, WireError, string, strings, uint32

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
