"""Who a commit of the verified line is credited to, for the readers that name one
(history, blame, list, access log).

A commit a ``repair`` acknowledged as a finding stands on the line but was never
verified: its ``Envtrail-Actor`` is only a claim (an outsider may have written any
name), and nothing it says was checked. Such a commit is credited as ``log``
credits it, by its signature, and named as an acknowledged finding with the
repair that accepted it, never as an ordinary change.
"""

from __future__ import annotations

from dataclasses import dataclass

from envtrail.audit.acknowledgements import Acknowledgement, Marks, marks
from envtrail.audit.events import attested
from envtrail.audit.line import Swept
from envtrail.audit.record import Record
from envtrail.audit.view import StoreView
from envtrail.gitstore.repo import CommitInfo


@dataclass(frozen=True)
class Credit:
    """A commit's actor as its record claims it, and how far that claim holds."""

    actor: str | None  # the record's Envtrail-Actor; None for a commit envtrail did not make
    verified: bool  # signed by that actor's allowed key (log's ✓)
    finding: Acknowledgement | None = None  # set when a repair acknowledged the commit as a finding
    swept: Swept | None = None  # set when a repair undid this honest commit's value changes


class Credits:
    """Credits for the commits of one verified line (``tainted``: what its repairs
    acknowledged). The acknowledged commits, and commits off the first-parent line
    (reachable only through an acknowledged merge, so part of what it brought in), are
    checked again and named with the repair; the line's verification vouched for the rest."""

    def __init__(self, view: StoreView, head: str | None, tainted: frozenset[str]) -> None:
        self._view, self._head, self._tainted = view, head, tainted
        self._line: set[str] | None = None
        self._marks: Marks | None = None

    def of(self, info: CommitInfo, rec: Record | None) -> Credit:
        """The credit of ``info`` (whose record is ``rec``)."""
        actor = rec.actor if rec is not None else None
        if not self._tainted:
            return Credit(actor, rec is not None)  # a clean verified line has no merges
        on_line = info.id in self._first_parents()
        _, verified = attested(self._view, info, rec, on_line and info.id not in self._tainted)
        if info.id in self._tainted:
            found = self._acknowledged(info.id)
            if found is None and verified:
                # Swept: an honest commit a repair undid along with the findings (verify,
                # show, log and status name that repair); nothing about it was a finding.
                return Credit(actor, verified, swept=self._said().swept.get(info.id))
            return Credit(actor, verified, found or Acknowledgement(info.id, (), None, None,
                                                                     None))
        if not on_line:  # reachable only through a merge a repair acknowledged
            return Credit(actor, verified, self._brought_in(info.id))
        return Credit(actor, verified)

    def _first_parents(self) -> set[str]:
        if self._line is None:
            self._line = set(self._view.git.first_parents(self._head)[0] if self._head else [])
        return self._line

    def _brought_in(self, commit: str) -> Acknowledgement:
        """The acknowledgement of the merge on the line that brought ``commit`` in."""
        git = self._view.git
        for merge in sorted(self._tainted & self._first_parents()):
            if len(git.info(merge).parents) > 1 and git.is_ancestor(commit, merge):
                return self._finding(merge)
        return Acknowledgement(commit, (), None, None, None)

    def _finding(self, commit: str) -> Acknowledgement:
        return self._acknowledged(commit) or Acknowledgement(commit, (), None, None, None)

    def _acknowledged(self, commit: str) -> Acknowledgement | None:
        return self._said().acknowledged.get(commit)

    def _said(self) -> Marks:
        if self._marks is None:
            self._marks = marks(self._view, self._head, self._tainted)
        return self._marks
