"""How long an answer takes: the round trip, the body over the client's uplink, processing.

ZOOM_API.md, "Latency". The simulator waits with ``asyncio.sleep``; these only compute how long.
"""

from __future__ import annotations

import math
import random


class Uplink:
    """The client's uplink: one link of ``mbps`` megabits/s that every request body shares.

    Model: a single shared link, kept as a virtual "link free at" time. A body of n bytes that
    starts at t finishes at max(t, free_at) + 8n / (mbps * 1e6), which becomes the new
    free_at: the bodies in flight cross one after another (FIFO). The link is busy for the
    total bytes in flight divided by the bandwidth whatever the order, so a burst drains when
    it would under TCP's fair share between connections and the last body of a burst arrives
    at the same time; only the order differs (under fair share, equal bodies sent together all
    finish near the end), which makes the mean answer a little shorter than fair share would.
    """

    __slots__ = ("_free_at", "_seconds_per_byte")

    def __init__(self, mbps: float) -> None:
        self._seconds_per_byte = 8.0 / (mbps * 1e6)
        self._free_at = -math.inf

    def cross(self, start: float, size: int) -> float:
        """When a body of ``size`` bytes, sent from ``start``, has wholly arrived."""
        done = max(start, self._free_at) + size * self._seconds_per_byte
        self._free_at = done
        return done


class Delay:
    """A wait of ``mean_ms`` +/- a uniform ``jitter_ms``, drawn from its own seeded generator."""

    __slots__ = ("_jitter_ms", "_mean_ms", "_rng")

    def __init__(self, mean_ms: float, jitter_ms: float, seed: int | None) -> None:
        self._mean_ms = mean_ms
        self._jitter_ms = jitter_ms
        self._rng = random.Random(seed)

    def draw(self) -> float:
        """Seconds: ``mean_ms`` +/- a uniform ``jitter_ms``, never below zero."""
        mean_ms, jitter_ms = self._mean_ms, self._jitter_ms
        if not mean_ms and not jitter_ms:
            return 0.0
        ms = mean_ms + (self._rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
        return max(0.0, ms) / 1000.0
