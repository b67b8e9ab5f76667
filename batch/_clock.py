"""The one UTC clock helper: timestamps as the report, the state store and the logs write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["iso_utc", "next_midnight_utc", "now_iso", "utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso_utc(moment: datetime, timespec: str = "seconds") -> str:
    """``moment`` as ISO-8601 in UTC with a ``Z``: ``2026-12-01T21:17:44Z``."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso() -> str:
    """The current time as :func:`iso_utc` writes it, to the second."""
    return iso_utc(utc_now())


def next_midnight_utc(now: datetime | None = None) -> datetime:
    """The next 00:00 UTC after ``now``: when Zoom's daily quotas return."""
    now = now or utc_now()
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
