"""Parsing TIME arguments: ISO 8601 or relative (``2h ago``, ``yesterday``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from envtrail.errors import UsageError

_REL_RE = re.compile(
    r"(\d+)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?|w|weeks?)\s+ago"
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def looks_like_time(text: str) -> bool:
    """Whether ``text`` reads as a TIME rather than a Git revision."""
    t = text.strip().lower()
    return bool(_ISO_START.match(t) or _REL_RE.fullmatch(t) or t in {"now", "today", "yesterday"})


def parse_time(text: str, now: datetime) -> datetime:
    """An aware datetime for ``text``; naive ISO times are taken as UTC."""
    t = text.strip().lower()
    if t == "now":
        return now
    if t == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if t == "yesterday":
        return now - timedelta(days=1)
    m = _REL_RE.fullmatch(t)
    if m:
        try:
            return now - timedelta(**{_UNITS[m.group(2)[0]]: int(m.group(1))})
        except OverflowError:  # before year 1, or more days than timedelta holds
            raise UsageError(f"{text.strip()[:40]!r} reaches before the year 1",
                             hint="use a nearer time, or an ISO 8601 date") from None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"cannot read {text[:40]!r} as a time",
            hint="use ISO 8601 (2026-11-26T10:00Z) or a relative time (2h ago, yesterday)",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
