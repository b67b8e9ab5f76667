"""One request budget shared by every worker: a no-burst schedule that backs off on 429s.

Pacing: GCRA, the Generic Cell Rate Algorithm in its virtual-scheduling form (ATM Forum,
Traffic Management Specification 4.0, 1996, section 4.4; explained for APIs in Brandur Leach,
"Rate Limiting, Cells, and GCRA", https://brandur.org/rate-limiting), with burst tolerance
tau = 0: a send is due one emission interval ``1 / pace`` after the previous one and never
earlier, so ``n`` sends span at least ``(n - 1) / pace`` seconds and nothing bursts at start-up
(a token bucket that starts full, such as aiolimiter's, lets ``max_rate`` through at once).
One deviation: a send granted late by at most ``slack`` (event-loop timer lateness) keeps the
schedule's grid instead of restarting it, so lateness does not leak throughput. Then any one-second
window holds at most ``1 + pace * (1 + slack)`` sends, which is below the limit while
``slack`` plus the network's jitter stays under ``1 / headroom - 1`` seconds (31 ms at 0.97).

Reaction: other apps on the account draw on the same budget, so 429s come even when we pace
perfectly. A per-second 429 is a congestion event, handled as in TCP congestion control:

- One event per episode. :meth:`Pacer.acquire` returns a :class:`Ticket` carrying the epoch it
  was granted in; each cut starts a new epoch, and a 429 on a ticket from an older epoch (sent
  before the cut, already in flight) is ignored.
- Cut. At the moment the server refuses, its sliding window holds exactly the limit, so the
  requests of ours it accepted in the second before the refused one were our whole share of
  the budget. The pace drops straight to ``headroom`` times that count (one step, not a series
  of halvings); when the count does not explain the 429 (somebody else's burst) the pace is cut
  by ``decrease`` instead, AIMD-style (Chiu and Jain, 1989).
- Hold. Every new send waits ``hold`` seconds, and at least until the oldest request we had in
  the server's window has left it, so the first send after the hold is not refused again.
- Recovery, CUBIC-shaped (RFC 9438) but asymmetric: after ``quiet`` seconds without a 429 the
  pace climbs back to the plateau (``headroom`` times the last 429's rate) in ``recover``
  seconds, concave; then it probes above it, convex and slowly: it is back at the rate that was
  refused only ``probe`` seconds later. A probe refused at the same level doubles ``probe`` (up
  to ``probe_max``), so a steady limit is probed more and more rarely.

The pool's side::

    ticket = await pacer.acquire()
    ...send...
    if per-second 429: pacer.on_rate_limited(ticket, retry_after)
    elif accepted:     pacer.on_success(ticket)
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ._exceptions import ConfigError

__all__ = ["DEFAULT_POLICY", "Pacer", "PacingPolicy", "Ticket"]

#: Zoom counts its per-second limits over a sliding window of this many seconds.
WINDOW = 1.0
#: Successes are remembered this long (by send time), for the count a 429 is compared with.
_KEEP = 5 * WINDOW

HoldListener = Callable[[float, float], None]
"""Called as ``on_hold(seconds, rate)`` when a 429 starts (or extends) a hold."""

ReleaseListener = Callable[[float], None]
"""Called as ``on_release(rate)`` when the first send after a hold is let through."""


def _check(name: str, value: float, low: float, high: float, *, open_low: bool = False) -> None:
    """Raise ConfigError naming ``PacingPolicy.<name>`` unless ``value`` is in the range."""
    ok = math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        if math.isinf(high):
            bound = f"> {low:g}" if open_low else f">= {low:g}"
        else:
            bound = f"in {'(' if open_low else '['}{low:g}, {high:g}]"
        raise ConfigError(f"PacingPolicy.{name} must be {bound}, got {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class PacingPolicy:
    """How the pacer spaces requests and reacts to per-second 429s."""

    #: Pace = limit * headroom. 0.97 costs 3% (300 uploads at 20/s: 15.4 s instead of 15 s) and
    #: buys 31 ms per one-second window for timer lateness and client-to-server jitter.
    headroom: float = 0.97
    #: Multiplicative cut when the accepted count does not explain a 429; CUBIC's beta (RFC 9438).
    decrease: float = 0.7
    #: Seconds every new send waits after a per-second 429 (longer while our own earlier requests
    #: still fill the server's window, or when the server sent Retry-After).
    hold: float = 0.5
    #: Seconds without a new 429 before the pace starts climbing again.
    quiet: float = 2.0
    #: Seconds to climb from a multiplicative cut back to the plateau.
    recover: float = 3.0
    #: Seconds after reaching the plateau for the pace to be back at the rate refused last:
    #: at 10/s a probe costs about one 429 per 13 s, then half as often each time it confirms.
    probe: float = 10.0
    #: Upper bound of ``probe`` once doubled by probes refused at the same level.
    probe_max: float = 60.0
    #: The pace never drops below this (requests/s), nor below the ceiling times headroom.
    min_rate: float = 0.1
    #: A send this many seconds late (or less) keeps the schedule's grid; see the module doc.
    slack: float = 0.005

    def __post_init__(self) -> None:
        _check("headroom", self.headroom, 0.0, 1.0, open_low=True)
        _check("decrease", self.decrease, 0.0, 0.99, open_low=True)
        _check("hold", self.hold, 0.0, 3600.0)
        _check("quiet", self.quiet, 0.0, 3600.0)
        _check("recover", self.recover, 0.0, 3600.0, open_low=True)
        _check("probe", self.probe, 0.0, 3600.0, open_low=True)
        _check("probe_max", self.probe_max, self.probe, 3600.0)
        _check("min_rate", self.min_rate, 0.0, math.inf, open_low=True)
        _check("slack", self.slack, 0.0, 0.1)


DEFAULT_POLICY = PacingPolicy()


@dataclass(frozen=True, slots=True)
class Ticket:
    """Permission for one request; hand it back with the request's outcome."""

    sent_at: float  #: pacer clock reading when the request was let through
    epoch: int  #: congestion epoch it was granted in; 429s from older epochs are ignored


class Pacer:
    """Shared pacing for all the pool's workers; see the module docstring for the algorithm.

    ``rate`` is the configured ceiling in requests/s (the account's Medium limit, or
    ``--rate``); the pace starts at ``rate * headroom``. ``clock`` and ``sleep`` are injectable
    so tests can run it on virtual time. Use it from one event loop.
    """

    def __init__(
        self,
        rate: float,
        *,
        policy: PacingPolicy = DEFAULT_POLICY,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(f"rate must be a positive number of requests/s, got {rate!r}")
        self._ceiling = float(rate)
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._top = rate * policy.headroom
        self._floor = min(policy.min_rate, self._top)
        # Probing climbs, in `probe` seconds, from the plateau back to the rate that was refused.
        self._growth = max(1.0 / policy.headroom - 1.0, 0.01)
        self._margin = 1.0 / policy.headroom - 1.0  # jitter allowance per window, seconds
        # One waiter at a time watches the clock; asyncio.Lock queues the others in FIFO order.
        self._turn = asyncio.Lock()
        self._last = -math.inf  # grid time of the last send
        self._hold_until = -math.inf
        self._release_pending = False
        self._epoch = 0
        # The pace curve since the last cut: start -> (recover) -> plateau -> (probe) -> top.
        self._start = self._top
        self._plateau = self._top
        self._recover_from = -math.inf
        self._probe_scale = 1.0
        self._accepted: collections.deque[float] = collections.deque()  # send times of successes
        self._on_hold: list[HoldListener] = []
        self._on_release: list[ReleaseListener] = []

    @property
    def rate(self) -> float:
        """The current pace, requests/s."""
        return self._pace_at(self._clock())

    @property
    def ceiling(self) -> float:
        """The configured rate, requests/s."""
        return self._ceiling

    @property
    def holding(self) -> bool:
        """True while new sends are held after a 429."""
        return self._clock() < self._hold_until

    def add_listener(self, on_hold: HoldListener, on_release: ReleaseListener) -> None:
        """Be told when a hold starts (seconds, new pace) and when sending resumes (pace)."""
        self._on_hold.append(on_hold)
        self._on_release.append(on_release)

    async def acquire(self) -> Ticket:
        """Wait until one request may be sent now; FIFO among waiters, cancellation-safe.

        A cancelled waiter consumes no slot. The waiter at the head re-reads the pace and the
        hold each time it wakes, so a cut made while it slept applies to it.
        """
        async with self._turn:
            while True:
                now = self._clock()
                pace = self._pace_at(now)
                due = max(self._last + 1.0 / pace, self._hold_until)
                if now >= due:
                    break
                await self._sleep(due - now)
            # Late by no more than `slack`: keep the grid so timer lateness costs no throughput.
            self._last = due if now - due <= self._policy.slack else now
            if self._release_pending:
                self._release_pending = False
                for on_release in self._on_release:
                    on_release(pace)
            return Ticket(sent_at=now, epoch=self._epoch)

    def on_success(self, ticket: Ticket | None = None) -> None:
        """Record that a request was accepted (any answer but a 429)."""
        now = self._clock()
        self._accepted.append(now if ticket is None else ticket.sent_at)
        while self._accepted and self._accepted[0] < now - _KEEP:
            self._accepted.popleft()

    def on_rate_limited(
        self, ticket: Ticket | None = None, retry_after: float | None = None
    ) -> None:
        """React to a per-second 429: cut the pace and hold new sends, once per episode.

        Pass the request's ``ticket``: a 429 on a request sent before the last cut is part of
        that episode and ignored. Without a ticket, 429s arriving during a hold are ignored.
        ``retry_after`` (seconds), when the server gave one, lengthens the hold.
        """
        now = self._clock()
        if ticket is not None:
            if ticket.epoch < self._epoch:
                return
            refused_at = ticket.sent_at
        else:
            if now < self._hold_until:
                return
            refused_at = now
        policy = self._policy
        pace = self._pace_at(now)
        in_window = [t for t in self._accepted if refused_at - WINDOW < t <= refused_at]
        share = len(in_window)  # what the server took from us when its window was full

        if share and share * policy.headroom < pace:
            plateau = start = share * policy.headroom
        else:
            plateau, start = pace, pace * policy.decrease
        plateau = min(max(plateau, self._floor), self._top)
        start = min(max(start, self._floor), plateau)

        # A probe refused at the level it set out from: the limit is steady, probe half as often.
        probing = pace > self._plateau * (1 + 1e-9)
        same_level = abs(plateau - self._plateau) <= max(
            self._plateau * self._growth, policy.headroom
        )
        if probing and same_level:
            self._probe_scale = min(self._probe_scale * 2, policy.probe_max / policy.probe)
        else:
            self._probe_scale = 1.0

        hold = policy.hold if retry_after is None else max(policy.hold, retry_after)
        until = now + hold
        if in_window:
            until = max(until, min(in_window) + WINDOW + self._margin)
        self._hold_until = max(self._hold_until, until)
        self._release_pending = True
        self._epoch += 1
        self._start, self._plateau = start, plateau
        self._recover_from = max(now + policy.quiet, self._hold_until)
        for on_hold in self._on_hold:
            on_hold(self._hold_until - now, start)

    def _pace_at(self, now: float) -> float:
        """The pace curve since the last cut, evaluated at ``now``."""
        if self._start >= self._top:
            return self._top
        since = now - self._recover_from
        if since <= 0:
            return self._start
        policy = self._policy
        rise = self._plateau - self._start
        if rise > 0:
            if since < policy.recover:  # concave: quick at first, flattening near the plateau
                return self._plateau - rise * (1 - since / policy.recover) ** 3
            since -= policy.recover
        probe = min(policy.probe * self._probe_scale, policy.probe_max)
        # convex: barely above the plateau for a while, then faster if nothing objects
        # (the ratio is capped only so that cubing it cannot overflow)
        ratio = min(since / probe, 1e3)
        return min(self._plateau * (1 + self._growth * ratio**3), self._top)
