"""One timeline: the store line's changes with approvals and events-line markers in order.

``log`` reads the store line newest first; this merges in the events line by
time and tells each change who approved it (an approval always comes after
the change it names, so it has been seen by the time the change is).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from envtrail.audit import eventline
from envtrail.audit.events import Event, Filters
from envtrail.audit.view import StoreView


def interleave(view: StoreView, changes: Iterable[Event], filters: Filters,
               hide: str | None = None, tainted: frozenset[str] = frozenset(),
               vouched: str | None = None) -> Iterator[Event]:
    """``changes`` (unfiltered, newest first) with markers merged in, then ``filters``;
    with ``hide``, only markers that follow that store commit or a later one
    (``tainted``, ``vouched``: what judging the markers may rely on, see
    :func:`eventline.markers`)."""
    git = view.git
    markers = [_as_event(m) for m in reversed(eventline.markers(view, tainted, vouched))
               if hide is None or m.after is None or m.after == hide
               or not (git.has_commit(m.after) and git.is_ancestor(m.after, hide))]
    approved: dict[str, list[str]] = {}
    for event in changes:
        while markers and _above(markers[0], event):
            marker = markers.pop(0)
            if filters.keep(marker):
                yield marker
        target = event.approves if event.verified else None
        if target and event.actor not in approved.get(target, []):
            approved.setdefault(target, []).append(event.actor or "")
        if event.commit in approved:
            event = replace(event, approved_by=tuple(reversed(approved[event.commit])))
        if filters.keep(event):
            yield event
    yield from (m for m in markers if filters.keep(m))


def _above(marker: Event, change: Event) -> bool:
    """Whether a marker comes before ``change`` newest first: it sits right above the store
    commit it follows; time decides only where that commit is not on the walk."""
    return (marker.event or {}).get("after") == change.commit or marker.time > change.time


def _as_event(marker: eventline.Marker) -> Event:
    rec = marker.record
    return Event(commit=marker.commit, time=marker.time,
                 environment=rec.environments[0] if rec.environments else None,
                 action="event", actor=rec.actor, verified=marker.verified,
                 signature="good" if marker.verified else "unverified", reason=rec.reason,
                 context=rec.context, event=marker.as_dict())
