"""Dotenv input as python-dotenv reads a file, and envtrail's lossless form for edit."""

from importlib.metadata import version

import pytest
from hypothesis import given, settings

from consumers import python_dotenv
from consumers.cases import stores
from envtrail.errors import UsageError
from envtrail.format import dotenv

CANARY = "sk_live_CANARY_7d1e"


# Before 1.2.3, python-dotenv runs a quoted value ending in a backslash on into
# the next quoted line (CI was red with 1.2.2): edit then refuses such a value.
OLD_PYTHON_DOTENV = tuple(int(p) for p in version("python-dotenv").split(".")[:3]) < (1, 2, 3)


def edit_form_round_trip(vals):
    try:
        text = dotenv.render(vals)
    except UsageError as exc:
        assert OLD_PYTHON_DOTENV
        named = exc.message.split(" read ")[1].split(" back")[0].split(", ")
        assert named and all(vals[k].endswith("\\") for k in named)
        return
    assert dotenv.parse(text, "x") == vals


@settings(max_examples=150, deadline=None)
@given(stores)
def test_edit_form_reads_back_exactly(vals):
    edit_form_round_trip(vals)


def test_edit_form_keeps_values_python_dotenv_used_to_break():
    vals = {"A": "C:\\temp\\", "B": "#", "C": "x'y\\", "D": "a\\\\'b", "E": "cr\r\n"}
    edit_form_round_trip(vals)
    edit_form_round_trip({k: v for k, v in vals.items() if not v.endswith("\\")})
    if OLD_PYTHON_DOTENV:
        with pytest.raises(UsageError, match="cannot read A, C back"):
            dotenv.render(vals)


def test_parse_reads_like_python_dotenv_reading_a_path():
    text = 'A="line1\r\nline2"\r\nB=\'x\ry\'\r\nC="esc\\r"\r\n'
    got = dotenv.parse(text, "f")
    assert got == python_dotenv.read(text)["path"]
    assert got == {"A": "line1\nline2", "B": "x\ny", "C": "esc\r"}
    assert dotenv.parse("\ufeffA=1\n", "f") == {"A": "1"}


def test_parse_is_literal_unless_asked_to_interpolate():
    text = "A=1\nB=${A}x\nC='${A:-d}'\nD=$A\n"
    assert dotenv.parse(text, "f") == {"A": "1", "B": "${A}x", "C": "${A:-d}", "D": "$A"}
    got = dotenv.parse(text, "f", interpolate=True)
    assert got == {"A": "1", "B": "1x", "C": "1", "D": "$A"}
    # exactly what load_dotenv would give, for references to earlier lines
    assert got == python_dotenv.read(text)["path, interpolate"]


@pytest.mark.parametrize("text", ["B=${NOPE}\n", "B=${A}\nA=1\n", "A=1\nB=${NOPE:-fallback}\n"])
def test_interpolation_refuses_what_only_the_app_environment_could_answer(text):
    with pytest.raises(UsageError, match="not defined above it") as info:
        dotenv.parse(text, "in.env", interpolate=True)
    assert "line" in info.value.message and "B" in info.value.message
    assert "NOPE" not in info.value.message


@pytest.mark.parametrize(("text", "line", "message"), [
    (f"A=1\n{CANARY}\n", 2, "no '='"),
    (f"A=1\n\n\n  {CANARY}\n", 4, "no '='"),
    (f"export {CANARY} more\n", 1, "cannot parse"),
    (f"A='{CANARY}\n", 1, "cannot parse"),
    (f"{CANARY}-x=1\n", 1, "not a valid variable name"),
    (f"A=1\r\nB=2\r\n{CANARY}\r\n", 3, "no '='"),
])
def test_errors_name_the_line_number_never_the_line(text, line, message):
    with pytest.raises(UsageError, match=message) as info:
        dotenv.parse(text, ".env")
    assert f"line {line}:" in info.value.message
    assert "CANARY" not in info.value.message + (info.value.hint or "")


def test_a_repeated_name_is_named():
    with pytest.raises(UsageError, match="line 2: A is set twice"):
        dotenv.parse("A=1\nA=2\n", ".env")


@pytest.mark.parametrize(("value", "quoted"), [
    ("plain", "'plain'"),
    ("it's", '"it\'s"'),
    ("cr\rhere", '"cr\\rhere"'),
    ("multi\nline\n", "'multi\nline\n'"),
    ("$HOME `x`", "'$HOME `x`'"),
    ("${HOME}", None),
    ("a\\\\b", None),
    ("trailing\\", None),
    ("'\"", None),
    ("it's $x", None),
])
def test_quote_picks_the_one_quoting_every_reader_agrees_on(value, quoted):
    assert dotenv.quote(value) == quoted


def test_a_name_of_256_characters_is_read_and_one_of_257_is_refused():
    # The same bound the environment file holds names to (format/envfile.py).
    name = "A" * 256
    assert dotenv.parse(f"{name}=1\n", ".env") == {name: "1"}
    with pytest.raises(UsageError, match="line 1: not a valid variable name"):
        dotenv.parse(f"{name}B=1\n", ".env")


def test_comments_and_blank_lines_are_skipped_wherever_they_are():
    text = "# the app's settings\n\nA=1\n   # indented comment\n\n\nB='2' # trailing comment\n#END\n\n"
    assert dotenv.parse(text, ".env") == {"A": "1", "B": "2"}
