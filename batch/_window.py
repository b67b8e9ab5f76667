"""How many rows are in progress at once: a window that follows latency, and a byte budget.

Little's law: holding a pace of ``r`` requests/s when a row takes ``L`` seconds of work and
waiting (checking its photo, then its request's answer) needs about ``r * L`` rows in progress.
:class:`InflightWindow` sizes itself so, from the rows it has seen: ``ceil(r * L90 * headroom)
+ spare``, where ``L90`` is the 90th percentile of recent rows' service times (the time a row
spent, less its wait for a send slot: a row queued at the pacer is waiting, not working, and
counting it would grow the window without end). It never goes above ``cap`` (``--concurrency``)
nor below ``floor``. The pacer still decides when each request goes; the window only makes sure
one is ready when it may.

:class:`ByteBudget` bounds the photo bytes held in memory by the rows in progress (a read photo
being checked, a ``--fit`` result, a download); a photo streamed from disk while it is sent
holds one read buffer. A row that would pass the budget waits for others to finish, except
when nothing is held: one photo larger than the whole budget still goes, alone.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable

__all__ = ["DEFAULT_BUDGET", "READ_BUFFER", "ByteBudget", "InflightWindow"]

#: Photo bytes rows in progress may hold in memory, by default (``--memory-budget``).
DEFAULT_BUDGET = 256 * 1000 * 1000
#: What a photo streamed from disk holds in memory while it is sent (the client's read size).
READ_BUFFER = 64 * 1024
#: The percentile is recomputed after this many new service times.
_RESORT_EVERY = 16
#: Service times remembered: enough for a stable percentile, few enough to follow a change.
_SAMPLES = 128


class InflightWindow:
    """The number of rows in progress at once; see the module docstring."""

    def __init__(
        self,
        *,
        cap: int,
        rate: Callable[[], float],
        floor: int = 4,
        headroom: float = 1.25,
        spare: int = 2,
        first_guess: float = 3.0,
    ) -> None:
        if cap < 1:
            raise ValueError(f"cap must be at least 1, got {cap}")
        self.cap = cap
        self._rate = rate
        self._floor = min(floor, cap)
        self._headroom = headroom
        self._spare = spare
        # Seconds per row assumed before any is seen: the slow end of Zoom's one to three
        # seconds per upload (ZOOM_API.md), so a run starts with room enough and shrinks once
        # faster answers are seen; the byte budget bounds what that room may hold.
        self._first_guess = first_guess
        self._samples: collections.deque[float] = collections.deque(maxlen=_SAMPLES)
        self._sorted: list[float] | None = None
        self._seen = 0

    def observe(self, seconds: float) -> None:
        """A row that sent a request took ``seconds`` of service (pacer wait excluded)."""
        if math.isfinite(seconds) and seconds >= 0:
            self._samples.append(seconds)
            self._seen += 1
            # Sorted again every few rows, not at each: the percentile moves slowly, and at
            # hundreds of rows a second a sort per row is CPU the rows need.
            if len(self._samples) < _RESORT_EVERY or self._seen % _RESORT_EVERY == 0:
                self._sorted = None

    @property
    def service_time(self) -> float:
        """The 90th percentile of recent service times (the first guess before any)."""
        if not self._samples:
            return self._first_guess
        if self._sorted is None:
            self._sorted = sorted(self._samples)
        ordered = self._sorted
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]

    @property
    def limit(self) -> int:
        """Rows that may be in progress now."""
        want = self._rate() * self.service_time * self._headroom
        if not math.isfinite(want):
            return self.cap  # no pace to follow (nothing paces these rows)
        want = math.ceil(want) + self._spare
        return max(self._floor, min(self.cap, want))


class ByteBudget:
    """Photo bytes held in memory by the rows in progress; see the module docstring.

    Waiters are served in order (FIFO), so a large photo is not starved by small ones.
    """

    def __init__(self, limit: int = DEFAULT_BUDGET) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1 byte, got {limit}")
        self.limit = limit
        self.held = 0
        self.peak = 0  #: the most bytes held at once
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()

    def _fits(self, n: int) -> bool:
        return self.held == 0 or self.held + n <= self.limit

    async def take(self, n: int) -> None:
        """Hold ``n`` more bytes, waiting while they would pass the budget (unless none are
        held). Cancellation-safe: a cancelled wait holds nothing."""
        if n <= 0:
            return
        if not self._waiters and self._fits(n):
            self._hold(n)
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (n, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give(n)  # granted just as it was cancelled
            else:
                self._waiters.remove(entry)
                self._grant()
            raise

    def give(self, n: int) -> None:
        """Give back ``n`` bytes held."""
        if n > 0:
            self.held = max(0, self.held - n)
            self._grant()

    def _hold(self, n: int) -> None:
        self.held += n
        self.peak = max(self.peak, self.held)

    def _grant(self) -> None:
        while self._waiters:
            n, waiter = self._waiters[0]
            if not self._fits(n):
                return
            self._waiters.popleft()
            self._hold(n)
            waiter.set_result(None)
