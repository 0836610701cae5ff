"""Dotenv input through python-dotenv, and the output formats."""

import json
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envtrail.errors import UsageError
from envtrail.format import dotenv

AWKWARD = {
    "MULTI": "line1\nline2\n",
    "QUOTES": "it's \"quoted\"",
    "DOLLAR": "$HOME ${PATH} $(id)",
    "BACKTICK": "`rm -rf /`",
    "UNICODE": "päss—wörd 🔑",
    "DASHES": "--not-an-option",
    "EMPTY": "",
    "BACKSLASH": "a\\nb\\",
}

values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                 max_size=50)
names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z")


@given(st.dictionaries(names, values, max_size=6))
def test_dotenv_roundtrip(vals):
    assert dotenv.parse(dotenv.render(vals, "dotenv"), "x") == vals


def test_awkward_values_roundtrip_in_every_format():
    assert dotenv.parse(dotenv.render(AWKWARD, "dotenv"), "x") == AWKWARD
    assert json.loads(dotenv.render(AWKWARD, "json")) == AWKWARD
    script = dotenv.render(AWKWARD, "shell") + 'printf "%s" "$MULTI|$QUOTES|$DOLLAR|$BACKTICK"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "|".join(AWKWARD[k] for k in ("MULTI", "QUOTES", "DOLLAR", "BACKTICK"))


def test_parse_is_literal_no_interpolation():
    assert dotenv.parse("A=1\nB=${A}x\n", "f") == {"A": "1", "B": "${A}x"}


@pytest.mark.parametrize(("text", "message"), [
    ("A=1\nA=2\n", "set twice"),
    ("JUSTKEY\n", "no '='"),
    ("A='unterminated\n", "cannot parse"),
])
def test_parse_errors_name_the_line_not_the_value(text, message):
    with pytest.raises(UsageError, match=message) as info:
        dotenv.parse(text, ".env")
    assert "unterminated" not in info.value.message
