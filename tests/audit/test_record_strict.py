"""Commit records: each rule of the trailer grammar, at the edge where it changes answer."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from envtrail.audit import record
from envtrail.audit.record import Record
from envtrail.model import Change

FP1, FP2 = "3f9a12c4e1aa", "77b0e1d2b3c4"


def msg(*trailers: str, subject: str = "production: set A", body: str = "why") -> str:
    return f"{subject}\n\n{body}\n\n" + "\n".join(trailers) + "\n"


BASE = ("Envtrail-Format: 1", "Envtrail-Environment: production", "Envtrail-Action: set",
        "Envtrail-Actor: alice@example.com")


def test_each_change_form_renders_and_parses_back():
    for change, text in [(Change("+", "A", None, FP1), f"+ A {FP1}"),
                         (Change("-", "B", FP1, None), f"- B {FP1}"),
                         (Change("~", "C", FP1, FP2), f"~ C {FP1} -> {FP2}")]:
        assert record.render_change(change) == text
        assert record.parse_change(text) == change
        assert record.parse_change(f"  {text}  ") == change


@pytest.mark.parametrize("text", [f"* A {FP1}", f"+ A {FP1.upper()}", f"~ A {FP1}", "+ A", "",
                                  f"+ A B {FP1}", f"- A {FP1} -> {FP2}"])
def test_malformed_changes_are_refused(text):
    with pytest.raises(ValueError, match="malformed"):
        record.parse_change(text)


def test_the_parsed_record_holds_every_field():
    rec = record.parse(msg(*BASE, "Envtrail-Reason: rotate",
                           f"Envtrail-Change: ~ A {FP1} -> {FP2}", "Envtrail-Member: +bob@x",
                           "Envtrail-Context: ci=github-actions", "Envtrail-Admin: -carol@x"))
    assert rec == Record("set", "alice@example.com", "rotate", ("production",),
                         (Change("~", "A", FP1, FP2),), "ci=github-actions",
                         (("Member", "+bob@x"), ("Admin", "-carol@x")))
    assert rec.extra_value("Member") == "+bob@x"
    assert rec.extra_value("Admin") == "-carol@x"
    assert rec.extra_value("Acknowledges") is None


@pytest.mark.parametrize("key", ["Format", "Action", "Actor", "Reason", "Context"])
def test_a_repeated_single_valued_trailer_is_refused(key):
    extra = {"Format": "Envtrail-Format: 1", "Action": "Envtrail-Action: unset",
             "Actor": "Envtrail-Actor: mallory@x", "Reason": "Envtrail-Reason: a",
             "Context": "Envtrail-Context: host=x"}
    with pytest.raises(ValueError, match=f"repeated Envtrail-{key}"):
        record.parse(msg(*BASE, "Envtrail-Reason: r", "Envtrail-Context: c", extra[key]))


@pytest.mark.parametrize(("drop", "why"), [(0, "Format"), (2, "Action"), (3, "Actor")])
def test_a_missing_required_trailer_is_refused(drop, why):
    lines = [t for i, t in enumerate(BASE) if i != drop]
    with pytest.raises(ValueError, match=why):
        record.parse(msg(*lines))


def test_another_format_is_refused():
    with pytest.raises(ValueError, match="Format"):
        record.parse(msg("Envtrail-Format: 2", *BASE[1:]))
    assert record.parse(msg(*BASE)).format == 1


def test_reason_and_context_default_to_empty():
    rec = record.parse(msg(*BASE))
    assert (rec.reason, rec.context, rec.changes, rec.extra) == ("", "", (), ())


def test_trailers_are_only_a_last_paragraph_of_key_value_lines():
    assert record.trailers("just a subject\n") == []
    assert record.trailers("Envtrail-Action: set\n") == []  # a subject alone is no trailer block
    assert record.trailers(msg(*BASE)) == [tuple(t.split(": ", 1)) for t in BASE]
    assert record.trailers(msg(*BASE, "not a trailer")) == []
    assert record.parse(msg(*BASE, "not a trailer")) is None
    # U+2028 is not a line break to git: the trailer value keeps it, so the line stays one.
    assert record.trailers(msg("Envtrail-Reason: a\u2028b")) == [("Envtrail-Reason", "a\u2028b")]


def _trailers_as_a_grammar(message: str) -> list[tuple[str, str]]:
    """The trailer block by its grammar, a whole-block match then a search, as written
    before ``trailers`` found it in one pass: the two must never differ."""
    import re

    one = r"([A-Za-z0-9-]+): ([^\n]*)"
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return []
    last = paragraphs[-1]
    return re.findall(one, last) if re.fullmatch(rf"{one}(?:\n{one})*", last) else []


_PIECES = ["Envtrail-Action", "Key", "-", "a", ":", ": ", " ", "\n", "\n\n", "\r", "\u2028",
           "\x85", "\u00e9", "x: y", "=", "\t"]


@given(st.lists(st.sampled_from(_PIECES), max_size=24))
@example(["\n", "Key", ": ", "a"])  # three line breaks: the last part keeps one
@example(["\n\n", "\n", "Key", ": ", "a", "\n\n", " "])
@example(["\x85", "\n\n", "Key", ": ", "a", "\u2028"])  # white space to strip, not a break
def test_trailers_are_found_as_the_grammar_says(pieces):
    message = "subject\n\n" + "".join(pieces)
    assert record.trailers(message) == _trailers_as_a_grammar(message)
    assert record.trailers("".join(pieces)) == _trailers_as_a_grammar("".join(pieces))


def test_foreign_trailers_alone_are_no_record():
    assert record.parse(msg("Signed-off-by: a <a@x>", "Reviewed-by: b <b@x>")) is None


def test_subjects_name_what_changed():
    def subj(action, changes=(), extra=(), envs=("production",)):
        return record.subject(Record(action, "a", "r", envs, tuple(changes), extra=tuple(extra)))

    four = [Change("+", f"K{i}", None, FP1) for i in range(3)] + [Change("-", "Z", FP1, None)]
    assert subj("set", four) == "production: set K0, K1, K2, unset Z"
    assert subj("unset", [Change("-", "Z", FP1, None)]) == "production: unset Z"
    assert subj("set", [*four, Change("~", "Y", FP1, FP2)]) == "production: 4 set, 1 unset"
    assert subj("rollback", four[:1]) == "production: rollback: set K0"
    assert subj("merge", four[:1], envs=("a", "b")) == "a, b: merge: set K0"
    assert subj("set", envs=()) == "store: set"
    assert subj("grant", extra=[("Member", "+bob@x")]) == "production: grant bob@x"
    assert subj("rotate", four[:1]) == "production: rotate"


def test_render_puts_context_last_and_only_when_present():
    rec = Record("set", "a@x", "r", ("production",), context="host=h")
    lines = record.render(rec).splitlines()
    assert lines[-1] == "Envtrail-Context: host=h"
    assert "Envtrail-Context" not in record.render(Record("set", "a@x", "r", ("production",)))


def test_two_changes_of_one_variable_are_refused():
    # verify checks one change per variable and history shows one: they must be the same.
    with pytest.raises(ValueError, match="repeated Envtrail-Change"):
        record.parse(msg(*BASE, f"Envtrail-Change: ~ A {FP1} -> {FP2}",
                         f"Envtrail-Change: ~ A {FP1} -> {FP1}"))
    rec = record.parse(msg(*BASE, f"Envtrail-Change: ~ A {FP1} -> {FP2}",
                           f"Envtrail-Change: ~ B {FP1} -> {FP1}"))
    assert [c.key for c in rec.changes] == ["A", "B"]


@pytest.mark.parametrize("trailer", [
    "Envtrail-Reason: INC-1\r\x1b[2Kalice@example.com set",  # a row drawn over the real one
    "Envtrail-Reason: INC-1 \x1b7", "Envtrail-Reason: INC-1\x85", "Envtrail-Reason: a\u2028b",
    "Envtrail-Reason: a\x7fb", "Envtrail-Rollback-To: \x1b[1A",
    # attack12b G1: format characters hide or reorder the text wherever it is read raw
    "Envtrail-Reason: CHG-9 \u202edevorppa", "Envtrail-Reason: PAY\u200bMENT",
    "Envtrail-Reason: \u2066x\u2069", "Envtrail-Reason: a\ufeffb", "Envtrail-Reason: a\xadb",
    "Envtrail-Reason: tag \U000e0041", "Envtrail-Approves: \u2060abc",
    "Envtrail-Context: host=\x1b8\x1b[K", "Envtrail-Context: host=vm  ci=github-actions",
    "Envtrail-Context: host=vm ci", "Envtrail-Context: host=v m", "Envtrail-Context:  host=vm",
])
def test_a_trailer_envtrail_would_never_write_is_no_record(trailer):
    # attack12 F2: a signer's own reason or context carried terminal escapes, which
    # piped log printed raw; envtrail itself never writes them (check_reason, gather).
    # (Each is followed by another trailer: the message's end is stripped as git does.)
    after = "Envtrail-Reason: r" if "Context" in trailer else "Envtrail-Context: host=vm"
    assert record.parse(msg(*BASE, "Envtrail-Reason: r", "Envtrail-Context: host=vm")) is not None
    with pytest.raises(ValueError, match=r"control or format character|Envtrail-Context"):
        record.parse(msg(*BASE, trailer, after))


def test_reasons_and_contexts_envtrail_writes_parse_back():
    from hypothesis import given
    from hypothesis import strategies as st

    from envtrail.audit import context
    from envtrail.errors import UsageError
    from envtrail.model import check_reason

    @given(st.dictionaries(st.sampled_from(["ENVTRAIL_CONTEXT", "GITHUB_ACTIONS",
                                            "GITHUB_REPOSITORY", "GITHUB_RUN_ID"]),
                           st.text(max_size=60)), st.text(max_size=40), st.text(max_size=200))
    def written(env, host, reason):
        env = {**env, "GITHUB_ACTIONS": "true"} if "GITHUB_RUN_ID" in env else env
        try:
            reason = check_reason(reason)
        except UsageError:
            reason = "r"
        if "\n" in reason or not reason.strip():
            reason = "r"
        text = context.gather(env, host, "0.1.0")
        assert context.well_formed(text), text
        rec = record.parse(record.render(Record("set", "alice@example.com", reason,
                                                ("production",), context=text)))
        assert rec is not None and (rec.reason, rec.context) == (reason, text)

    written()


def test_the_refused_characters_are_what_a_terminal_acts_on_or_hides():
    """model.CONTROL (check_reason, record.parse and every view's escaping) over the whole
    of Unicode: exactly categories Cc, Cf, Cs, Zl and Zp, and hidden_char, its fast
    form, agrees with it. U+13439-1343F are Cf from Unicode 15 on (unassigned before)."""
    import unicodedata

    from envtrail.model import CONTROL, hidden_char

    newer_cf = {chr(c) for c in range(0x13439, 0x13440)}
    for code in range(0x110000):
        ch = chr(code)
        hidden = unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") or ch in newer_cf
        assert (CONTROL.match(ch) is not None) == hidden, hex(code)
        # hidden_char passes over any text Python calls printable.
        assert not (hidden and ch.isprintable()), hex(code)
        if hidden or code % 97 == 0:  # every hidden character, and a sample of the rest
            assert hidden_char(f"ab\u00e9{ch}z") == (ch if hidden else None), hex(code)
    assert hidden_char("plain ASCII, no controls") is None
    assert hidden_char("emoji \U0001F600 and CJK \u65e5\u672c") is None
