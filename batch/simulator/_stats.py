"""What the simulator has seen: exact counters, the pictures received, recent refusals."""

from __future__ import annotations

import time
from array import array
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Final, NamedTuple

from ._limits import max_in_window

_REFUSALS_KEPT: Final = 256


@dataclass(slots=True)
class ReceivedPicture:
    """The last upload accepted for one user."""

    sha256: str  #: hex digest of the exact bytes received
    size: int
    content_type: str  #: the part's Content-Type as sent ("" when absent)
    filename: str
    count: int  #: accepted uploads for this user so far
    received_at: float  #: ``time.monotonic()`` when it arrived, comparable with ``arrivals``


class Refusal(NamedTuple):
    """A picture call answered with an error status, as the client saw it."""

    status: int
    user: str  #: as addressed, decoded
    tracking_id: str  #: the answer's ``x-zm-trackingid``


@dataclass(slots=True)
class SimulatorStats:
    """Exact counters. The picture outcome counters add up to ``picture_requests``.

    The outcome counters are ``uploads``, ``removals``, ``user_lists``, ``unauthorized``,
    ``scope_refused``, ``server_errors``, ``dropped``, ``concurrency_limited``,
    ``rate_limited``, ``daily_limited``, ``not_found``, ``bad_requests`` and ``aborted``: one
    per Medium request (``GET /users`` is one too). The Light calls have counters of their own.
    """

    token_requests: int = 0  #: all token requests, refused ones included
    token_refused: int = 0  #: token requests answered 400 or 401
    picture_requests: int = 0  #: all picture requests, refused ones included
    uploads: int = 0  #: 201
    removals: int = 0  #: 204, pictures removed
    rate_limited: int = 0  #: 429, per-second limit
    daily_limited: int = 0  #: 429, daily limit
    concurrency_limited: int = 0  #: 429, too many calls in flight for one user
    server_errors: int = 0  #: injected 5xx
    dropped: int = 0  #: injected dropped connections
    unauthorized: int = 0  #: 401/124 on picture requests (unknown, expired, superseded, revoked)
    scope_refused: int = 0  #: 4711 or 4700: the token lacks the call's scope
    bad_requests: int = 0  #: 400
    not_found: int = 0  #: 404
    aborted: int = 0  #: the client went away while its body was being read
    user_lists: int = 0  #: GET /users answered 200 (a Medium call: counted in picture_requests)
    #: Light calls (GET /users/{userId}), apart from the Medium ones above: all of them, those
    #: answered 200, those refused by the Light per-second limit, and every other refusal.
    light_requests: int = 0
    user_reads: int = 0
    light_rate_limited: int = 0
    light_refused: int = 0
    picture_downloads: int = 0  #: a pic_url fetched (GET /p/...), answered 200
    #: The most picture requests in progress at once, from arrival until the answer is ready
    #: (refused ones included). Not an outcome counter.
    peak_in_flight: int = 0
    #: ``time.monotonic()`` arrival time of every picture request, in arrival order.
    arrivals: array[float] = field(default_factory=lambda: array("d"))
    #: Parallel to ``arrivals``: 1 when that request was accepted (passed admission).
    accepted: array[int] = field(default_factory=lambda: array("B"))
    #: The ``x-zm-trackingid`` of the latest picture answer ("" before the first).
    last_tracking_id: str = ""
    #: The latest picture answers with a status of 400 or more, oldest first (bounded).
    refusals: deque[Refusal] = field(default_factory=lambda: deque(maxlen=_REFUSALS_KEPT))


def accepted_arrivals(stats: SimulatorStats) -> list[float]:
    """The arrival times of the accepted picture requests, in arrival order."""
    return [t for t, ok in zip(stats.arrivals, stats.accepted, strict=True) if ok]


def summarize(stats: SimulatorStats, in_flight: int) -> dict[str, Any]:
    """``stats`` as :meth:`Simulator.summary <batch.simulator.Simulator.summary>` gives it."""
    counters = {
        item.name: getattr(stats, item.name)
        for item in fields(stats)
        if isinstance(getattr(stats, item.name), int)
    }
    accepted = accepted_arrivals(stats)
    return {
        **counters,
        "in_flight": in_flight,
        "responses_429": stats.rate_limited + stats.daily_limited + stats.concurrency_limited,
        "max_in_window": max_in_window(stats.arrivals),
        "max_in_window_accepted": max_in_window(accepted),
        "accepted_arrivals": {
            "count": len(accepted),
            "first": accepted[0] if accepted else None,
            "last": accepted[-1] if accepted else None,
        },
        "clock": time.monotonic(),
    }
