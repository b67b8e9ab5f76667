"""What bounds the account: the per-second window, the daily quota, the user directory."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from datetime import date, datetime


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most of ``times`` that fall within any span shorter than ``window`` (sliding)."""
    ordered = sorted(times)  # already sorted in practice: timsort makes that O(n)
    best = 0
    start = 0
    for end, now in enumerate(ordered):
        while now - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class SlidingWindowLimit:
    """At most ``capacity`` admissions in any ``window`` seconds.

    Sliding-window log, as described in Figma's "An alternative approach to rate limiting"
    (2017): keep the admitted timestamps; refuse when the last window already holds capacity.
    A fractional rate r admits ceil(r) requests per ceil(r)/r seconds (e.g. 2.5/s: 3 per 1.2 s).
    """

    __slots__ = ("_log", "capacity", "rate", "window")

    def __init__(self, rate: float) -> None:
        self._log: deque[float] = deque()
        self.rate = 0.0
        self.capacity = 0
        self.window = 1.0
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        if rate > 0:
            self.capacity = max(1, math.ceil(rate))
            self.window = self.capacity / rate

    def full(self, now: float) -> bool:
        """Whether the last window already holds ``capacity`` admissions (forgets older ones)."""
        if self.rate <= 0:
            return False
        stamps = self._log
        horizon = now - self.window
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        return len(stamps) >= self.capacity

    def add(self, now: float) -> None:
        if self.rate > 0:
            self._log.append(now)


class DailyQuota:
    """At most ``limit`` uploads accepted per UTC day.

    An admitted call holds a pending unit until it is answered, so calls admitted together
    never overrun the quota; only the ones that succeeded count once they are answered.
    """

    __slots__ = ("_day", "_pending", "_used", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._day: date | None = None
        self._used = 0
        self._pending = 0  # admitted uploads still being read: keeps the quota exact

    def take(self, now: datetime) -> bool:
        """Admit one call at UTC ``now`` (pending until :meth:`settle`), or False: spent."""
        if now.date() != self._day:
            self._day = now.date()
            self._used = 0
        if self._used + self._pending >= self.limit:
            return False
        self._pending += 1
        return True

    def settle(self, succeeded: bool) -> None:
        """An admitted call has been answered; it counts against the quota if it succeeded."""
        self._pending -= 1
        if succeeded:
            self._used += 1


class UserDirectory:
    """Who exists: emails compared case-insensitively, Zoom user IDs exactly."""

    __slots__ = ("_emails", "_ids")

    def __init__(self, users: Iterable[str]) -> None:
        self._emails = {user.lower() for user in users if "@" in user}
        self._ids = {user for user in users if "@" not in user}

    def __contains__(self, user: str) -> bool:
        if "@" in user:
            return user.lower() in self._emails
        return user == "me" or user in self._ids
