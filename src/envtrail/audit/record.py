"""Commit messages: what envtrail writes and how it reads them back.

Rendering and parsing live side by side so that they cannot drift. The
message is a subject, the reason as body, and a block of Git trailers that
``git interpret-trailers --parse`` reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envtrail.audit import context
from envtrail.model import Change, hidden_char

FORMAT = 1
PREFIX = "Envtrail-"
_PREFIX_LEN = len(PREFIX)
# One trailer, from the start of a line to its end: ``[^\n]*`` runs to the line's end, and
# (?m)^ starts a match only where a line starts (after \n, never U+0085 or U+2028).
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9-]+): ([^\n]*)", re.MULTILINE)
# A fingerprint is 12 hex digits (a format 1 environment file) or 32 (format
# 2); "?" (which earlier versions wrote where a signer could not compute one)
# still parses, and verify reports it.
_FP = r"([0-9a-f]{32}|[0-9a-f]{12}|\?)"
_CHANGE_RE = re.compile(
    rf"(?:(\+) (\S+) {_FP}|(-) (\S+) {_FP}|(~) (\S+) {_FP} -> {_FP})"
)
_MAX_NAMES_IN_SUBJECT = 4
_CORE = frozenset({"Format", "Action", "Actor", "Reason", "Context"})
# Trailers that may repeat: one Change per variable, one Acknowledges per
# finding a repair acknowledges (Acknowledges-Event per event dated ahead), one
# Sweeps per honest commit it undoes. Every other trailer is single-valued.
_MULTI_VALUED = frozenset({"Change", "Acknowledges", "Acknowledges-Event", "Sweeps"})
# Creating a store names each new environment; a repair (and an old merge)
# may span several, and an approval names what the change it approves names.
_MULTI_ENV_ACTIONS = frozenset({"init", "repair", "merge", "approve"})


@dataclass(frozen=True)
class Record:
    """The envtrail facts one commit carries."""

    action: str
    actor: str
    reason: str
    environments: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    context: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=())
    format: int = FORMAT

    def extra_value(self, name: str) -> str | None:
        """The first extra trailer called ``Envtrail-<name>``."""
        return next((v for k, v in self.extra if k == name), None)


def render_change(change: Change) -> str:
    """``~ KEY old -> new``, ``+ KEY new`` or ``- KEY old``."""
    if change.op == "+":
        return f"+ {change.key} {change.new_fp}"
    if change.op == "-":
        return f"- {change.key} {change.old_fp}"
    return f"~ {change.key} {change.old_fp} -> {change.new_fp}"


def parse_change(text: str) -> Change:
    """Inverse of :func:`render_change`; ValueError if malformed."""
    m = _CHANGE_RE.fullmatch(text.strip())
    if not m:
        raise ValueError("malformed Envtrail-Change")
    g = m.groups()
    if g[0]:
        return Change("+", g[1], None, g[2])
    if g[3]:
        return Change("-", g[4], g[5], None)
    return Change("~", g[7], g[8], g[9])


def subject(record: Record) -> str:
    """A one-line summary naming environment, verbs and variables."""
    where = ", ".join(record.environments) or "store"
    if record.action in {"set", "unset", "import", "rollback", "revert", "merge"} and record.changes:
        set_names = [c.key for c in record.changes if c.op != "-"]
        unset_names = [c.key for c in record.changes if c.op == "-"]
        if len(record.changes) <= _MAX_NAMES_IN_SUBJECT:
            parts = []
            if set_names:
                parts.append("set " + ", ".join(set_names))
            if unset_names:
                parts.append("unset " + ", ".join(unset_names))
            what = ", ".join(parts)
        else:
            what = f"{len(set_names)} set, {len(unset_names)} unset"
        if record.action in {"import", "rollback", "revert", "merge"}:
            what = f"{record.action}: {what}"
        return f"{where}: {what}"
    member = record.extra_value("Member")
    if member:
        return f"{where}: {record.action} {member.lstrip('+- ')}"
    return f"{where}: {record.action}"


def render(record: Record) -> str:
    """The full commit message."""
    lines = [
        f"{PREFIX}Format: {record.format}",
        *(f"{PREFIX}Environment: {e}" for e in record.environments),
        f"{PREFIX}Action: {record.action}",
        f"{PREFIX}Actor: {record.actor}",
        f"{PREFIX}Reason: {record.reason}",
        *(f"{PREFIX}Change: {render_change(c)}" for c in record.changes),
        *(f"{PREFIX}{k}: {v}" for k, v in record.extra),
    ]
    if record.context:
        lines.append(f"{PREFIX}Context: {record.context}")
    return f"{subject(record)}\n\n{record.reason}\n\n" + "\n".join(lines) + "\n"


def trailers(message: str) -> list[tuple[str, str]]:
    """The ``Key: value`` lines of the message's last paragraph, in order."""
    # Paragraphs part at "\n\n". A stripped message starts and ends with a character
    # that is not white space, so its first and last parts are never blank: there are
    # two non-blank paragraphs exactly when there are two parts, and the last part is
    # the last paragraph (no part need be stripped to find out).
    paragraphs = message.strip().split("\n\n")
    if len(paragraphs) < 2:
        return []
    # Every line must be a trailer, or none counts. Lines end at \n only (as git
    # splits them), never at U+0085 or U+2028. A line holds at most one match, and
    # a match is a whole line: one match per line is every line a trailer, found in
    # one pass of the regex engine rather than a check of the block and a search.
    last = paragraphs[-1]
    found = _TRAILER_LINE.findall(last)
    return found if len(found) == last.count("\n") + 1 else []


def parse(message: str) -> Record | None:
    """The record in a commit message, or None if it carries no envtrail trailers.

    Raises ValueError for a message that claims to be envtrail's but is malformed.
    """
    # A single-valued trailer said twice is a record that could be read two
    # ways: it is refused, never "last one wins".
    single: dict[str, str] = {}
    envs, changes, extra = [], [], []
    ours = False
    # One pass over the trailers, not a list of ours first: a commit's record is read
    # for every commit verify judges.
    for name, value in trailers(message):
        if not name.startswith(PREFIX):
            continue  # another tool's (Signed-off-by...): no part of the record
        ours = True
        key = name[_PREFIX_LEN:]
        if hidden_char(value):  # never written by envtrail; could drive or fool a terminal
            raise ValueError(f"a control or format character in Envtrail-{key}")
        if key == "Environment":
            envs.append(value)
        elif key == "Change":
            changes.append(parse_change(value))
        elif key in single:
            raise ValueError(f"repeated Envtrail-{key}")
        elif key in _MULTI_VALUED:
            extra.append((key, value))
        else:
            single[key] = value
            if key not in _CORE:
                extra.append((key, value))
    if not ours:
        return None
    if not context.well_formed(single.get("Context", "")):
        raise ValueError("Envtrail-Context is not key=value pairs as envtrail writes them")
    if single.get("Format") != str(FORMAT):
        raise ValueError("unknown Envtrail-Format")
    if "Action" not in single or "Actor" not in single:
        raise ValueError("missing Envtrail-Action or Envtrail-Actor")
    if len(set(envs)) != len(envs) or (len(envs) > 1 and single["Action"] not in _MULTI_ENV_ACTIONS):
        raise ValueError("repeated Envtrail-Environment")
    # One variable, one change: two would let verify check one and history show the other.
    if len({c.key for c in changes}) != len(changes):
        raise ValueError("repeated Envtrail-Change for one variable")
    return Record(
        action=single["Action"], actor=single["Actor"], reason=single.get("Reason", ""),
        environments=tuple(envs), changes=tuple(changes), context=single.get("Context", ""),
        extra=tuple(extra),
    )
