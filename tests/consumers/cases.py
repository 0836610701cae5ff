"""Values for the export tests: arbitrary UTF-8 text, hostile values, and the refusal check."""

from __future__ import annotations

from hypothesis import strategies as st

from envtrail.errors import UsageError
from envtrail.format import exports

# Pieces every quoting rule turns on, mixed into arbitrary UTF-8 text.
AWKWARD_PIECES = [*"'\"\\$`{}:-#=\r\n \t!*?;&|<>()~", "\u2028", "\x85", "\ufeff", "${", "\\\\"]
values = st.lists(st.one_of(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                            st.sampled_from(AWKWARD_PIECES)), max_size=30).map("".join)
# T_ keeps the names clear of the shells' own variables (PATH, IFS, ...).
names = st.from_regex(r"\AT_[A-Z0-9_]{1,8}\Z")
stores = st.dictionaries(names, values, min_size=1, max_size=4)

HOSTILE = {
    "T_QUOTE_BREAK": "'; touch pwned; #",
    "T_SUBST": "$(touch pwned)",
    "T_BACKTICK": "`touch pwned`",
    "T_DQ_BREAK": '"; touch pwned; "',
    "T_NEWLINE_CMD": "x\ntouch pwned\n",
    "T_BOTH": "'\"$(touch pwned)`touch pwned`",
    "T_ESCAPED": "\\'; touch pwned; #",
    "T_DOLLAR_BRACE": "${HOME}$(touch pwned)",
}


def render_or_refuse(vals, fmt):
    """(text of the values ``fmt`` carries, names it refused), checking the refusal itself.

    A refusal must name every refused variable (the first five), show no value,
    and offer only formats that do carry them, json always among them.
    """
    refused = sorted(k for k, v in vals.items() if not exports.carries(fmt, k, v))
    error = None
    try:
        text = exports.render(vals, fmt)
    except UsageError as exc:
        error = exc
    if error is None:
        assert not refused
        return text, []
    assert refused, "refused although every value is carried"
    said = error.message + (error.hint or "")
    assert all(name in error.message for name in refused[:5])
    assert not any(v in said for v in vals.values() if len(v) >= 8)
    alternatives = [f for f in exports.FORMATS if f"--format {f}" in (error.hint or "")]
    assert "json" in alternatives
    for other in alternatives:
        assert all(exports.carries(other, k, vals[k]) for k in refused)
    carried = {k: v for k, v in vals.items() if k not in refused}
    return (exports.render(carried, fmt) if carried else ""), refused
