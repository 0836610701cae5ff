"""Values in plain sight in a dotenv-like text: the shapes the pre-commit hook refuses.

The hook cannot tell a secret from a setting, so it looks for the shape of a
variable given a value. It reads each line as a person sees it: NFKC folds
look-alike spaces and signs (NBSP, U+3000, a fullwidth ``=``) into their ASCII
forms, and characters that show nothing (format characters such as U+200B,
stray combining marks, controls) are dropped, so neither can hide a value
that a reader of the file would see. Copy-pasting from a chat, wiki or PDF
gives such characters by accident.
"""

from __future__ import annotations

import re
import unicodedata

# A name starts a word: not inside a URL, a path or a flag ("https://x/?a=b", "--env=prod",
# "a/b.c=d"). A lone "-" or an "e.g."-style abbreviation before a name starts one too:
# "# -STRIPE_KEY=...", "# e.g.STRIPE_KEY=..." ("--name=" stays a flag).
_INSIDE = r"[\w/?&.=:%+~@-]"
_START = (rf"(?:(?<!{_INSIDE})|(?<=-)(?<!{_INSIDE}-)"
          rf"|(?<=[^\W\d_]\.[^\W\d_]\.)(?<!{_INSIDE}[^\W\d_]\.[^\W\d_]\.))")
_NAME = r"([^\W\d]\w*)"
# Nothing, an empty quoted value, or a comment: what an empty NAME= looks like.
_EMPTY = r"(?:''|\"\")?\s*(?:#|$)"
# Possessive spaces (`*+`): a line of spaces cannot make the match backtrack.
_ASSIGNED = re.compile(rf"{_START}{_NAME}\s*+=\s*+(?!{_EMPTY})\S")
_LABELLED = re.compile(rf"{_START}{_NAME}\s*+:\s*+(?!{_EMPTY})(?=(\S+))")
# Labels that open prose in a comment, whatever follows ("NOTE: `make setup` fills these").
_TAGS = frozenset({"TODO", "FIXME", "XXX", "HACK", "BUG", "NOTE", "NB", "WARNING", "WARN",
                   "CAUTION", "IMPORTANT", "DEPRECATED", "TIP", "INFO", "SEE"})
# An ordinary word, perhaps bracketed or followed by punctuation: "from", "(optional)", "<your".
_WORD = re.compile(r"[(<\[]?([^\W\d_]+)[)>\].,;:!?]*")


def visible(line: str) -> str:
    """``line`` as a reader sees it: NFKC-folded, without the characters that show nothing."""
    return "".join(c for c in unicodedata.normalize("NFKC", line) if not _shows_nothing(c))


def _shows_nothing(c: str) -> bool:
    category = unicodedata.category(c)
    return category in ("Cf", "Mn") or (category == "Cc" and not c.isspace())


def lines(text: str) -> list[str]:
    """Lines as python-dotenv splits a file (LF, CRLF, CR), so a comment ends where it sees one end."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def commented_values(text: str) -> list[int]:
    """Numbers (from 1) of the lines whose comment gives a variable a value.

    ``NAME=value`` counts whatever the name; ``NAME: value`` only where NAME is
    written as a variable is (upper case or with an underscore: ``API_KEY``,
    ``api_key``, not ``Note`` or ``Format``), is no comment tag such as
    ``NOTE`` or ``WARNING``, and the first word after the colon is not an ordinary
    word (``# API_KEY: from the dashboard`` is prose; ``# API_KEY: sk_live_...``
    is not).
    """
    found = []
    for number, line in enumerate(lines(text), 1):
        comment = visible(line).partition("#")[2]
        if _ASSIGNED.search(comment) or any(
                _labels_a_value(m[1], m[2]) for m in _LABELLED.finditer(comment)):
            found.append(number)
    return found


def assigned_values(text: str) -> list[int]:
    """Numbers (from 1) of the lines of a shell script (direnv's ``.envrc``) that give a
    variable a value, in code (``export NAME=value``) or in a comment."""
    return sorted({n for n, line in enumerate(lines(text), 1) if _ASSIGNED.search(visible(line))}
                  | set(commented_values(text)))


def _labels_a_value(name: str, first: str) -> bool:
    if not (name.isupper() or "_" in name) or name in _TAGS:
        return False  # prose: "Note: ...", "Format: postgres://...", "WARNING: ..."
    word = _WORD.fullmatch(first)
    return word is None or not (word[1].islower() or word[1].istitle() or word[1].isupper())
