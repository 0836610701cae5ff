"""What the repairs on this clone's verified line acknowledged, for the readers that show it.

A full walk (``verify``, the gate) decides which repairs are valid and keeps the
commits they acknowledged as findings in the checkpoint's ``tainted`` set. Each
run of such commits ends right below the repair that accepted them, and that
repair's signed record names each one with its rules (``Envtrail-Acknowledges``)
and carries the admin and the reason. So a reader that did not walk the line
(``log``, ``status``) finds who acknowledged what, and why, from those two alone:
nothing is judged again here, and nothing outside ``tainted`` is ever named.

The honest commits a repair swept (undid along with the findings, ``Envtrail-Sweeps``)
lie in the same runs, so the same pass names them too, with the same repair.
"""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit.history import parse_record
from envtrail.audit.line import Swept
from envtrail.audit.record import Record
from envtrail.audit.repairs import acknowledged, swept
from envtrail.audit.verify import RULES
from envtrail.audit.view import StoreView


@dataclass(frozen=True)
class Acknowledgement:
    """A line commit that a repair acknowledged as a finding: which rules, by whom, why."""

    commit: str
    rules: tuple[int, ...]  # the rules the repair names for it, ascending
    repair: str | None  # None only where this clone's line no longer shows which one
    admin: str | None  # the repair's actor (verified with the line)
    reason: str | None

    def as_dict(self) -> dict[str, object]:
        """The JSON form of a row's mark (``acknowledged`` in the ``--json`` rows of
        log, history, blame and list; ``granted_acknowledged``/``revoked_acknowledged``
        in access log)."""
        return {"repair": self.repair, "admin": self.admin, "reason": self.reason,
                "rules": list(self.rules)}

    def findings(self) -> list[dict[str, object]]:
        """One JSON object per acknowledged rule, named as ``verify --json`` names them."""
        return [{"commit": self.commit, "rule": rule, "name": RULES[rule],
                 "repair": self.repair, "admin": self.admin, "reason": self.reason}
                for rule in self.rules]

    def said(self, rules: tuple[int, ...] | None = None) -> str:
        """``rule N (name) by ADMIN in REPAIR: REASON`` (the repair's id shortened), for
        ``rules`` (default: all of them)."""
        named = ", ".join(f"{rule} ({RULES[rule]})" for rule in rules or self.rules)
        word = "rule" if len(rules or self.rules) == 1 else "rules"
        return f"{word} {named} by {self.admin or '?'} in {(self.repair or '?')[:10]}: " \
               f"{self.reason}"


@dataclass(frozen=True)
class Marks:
    """What the repairs on a verified line say of its tainted commits, by commit."""

    acknowledged: dict[str, Acknowledgement]
    swept: dict[str, Swept]  # honest commits whose value changes a repair undid


def marks(view: StoreView, head: str | None, tainted: frozenset[str]) -> Marks:
    """Commit -> its acknowledgement, and commit -> the repair that swept it, for the
    verified line up to ``head`` whose walk found ``tainted`` (the checkpoint's), newest
    commit first. Empty, and no commit read, when nothing was repaired; empty too when
    that head is gone from the clone (``verify`` reports the rewrite)."""
    out = Marks({}, {})
    if head is None or not tainted:
        return out
    try:
        ids, _ = view.git.first_parents(head)  # newest first
    except KeyError:
        return out
    records: dict[str, Record | None] = {}
    above: list[str] = []  # untainted commits met so far: the nearest last
    for commit in ids:
        if commit not in tainted:
            above.append(commit)
            continue
        # The repair is normally the first untainted commit above the run; a repair
        # that a later one went back over (it had findings of its own) is tainted,
        # never asked.
        for candidate in reversed(above):
            if candidate not in records:
                records[candidate] = parse_record(view.git.info(candidate))
            rec = records[candidate]
            if rec is None or rec.action != "repair":
                continue
            rules = sorted({int(rule) for c, rule in acknowledged(rec)
                            if c == commit and rule.isdigit() and int(rule) in RULES})
            if rules:
                out.acknowledged[commit] = Acknowledgement(commit, tuple(rules), candidate,
                                                           rec.actor, rec.reason)
                break
            if commit in swept(rec):
                out.swept[commit] = Swept(commit, candidate, rec.actor, rec.reason)
                break
    return out
