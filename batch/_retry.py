"""Retries: one policy object and one loop, for uploads, token fetches and every later call.

Errors are classified once, by their type (``_exceptions.py``): a :class:`TransientError` or
a :class:`TokenExpired` goes round again; anything else ends the call at once. The policy
decides how long to wait and when to give up; the caller's ``attempt`` does one request and
the reactions to it (the pacer, token renewal), and :func:`send_with_retries` loops::

    tries = Tries(started=clock())
    result = await send_with_retries(attempt, policy=policy, tries=tries, clock=clock)

The loop is tenacity's (``AsyncRetrying``). The first attempt runs before tenacity is imported:
most calls never retry, and the import is ~47 ms of start-up (``python -X importtime -c
'import tenacity'``) that a run with no retry then never pays.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ._exceptions import ConfigError, RateLimited, TokenExpired, TransientError

if TYPE_CHECKING:
    from tenacity import RetryCallState

__all__ = ["DEFAULT_RETRY", "MAX_HOLD", "TOKEN_RETRY", "RetryPolicy", "Tries", "send_with_retries"]

T = TypeVar("T")

#: What goes round again; everything else ends the call at once.
RETRIED = (TransientError, TokenExpired)
#: A per-second hold (the server's Retry-After) never lasts longer than this (DECISIONS.md).
MAX_HOLD = 60.0


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """When to try a call again, how long to wait first, and when to give up."""

    #: Requests per call that may fail; waits on a per-second 429 and the one request after a
    #: token renewal do not count.
    max_attempts: int = 5
    #: Seconds one call may take across all its attempts (waits for the daily quota excluded).
    max_retry_time: float = 300.0
    #: Full-jitter exponential backoff (tenacity's ``wait_random_exponential``; AWS Architecture
    #: Blog, "Exponential Backoff And Jitter", 2015): a random wait in [0, backoff * 2**n]
    #: after the n-th attempt, never above ``backoff_max`` seconds.
    backoff: float = 0.5
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ConfigError(f"max_attempts: expected a whole number, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts: must be at least 1, got {self.max_attempts!r}")
        for name in ("max_retry_time", "backoff", "backoff_max"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"{name}: must be a positive number, got {value!r}")

    def counts(self, exc: BaseException) -> bool:
        """True when ``exc`` uses up one of the call's attempts.

        A per-second 429 does not (the pacer holds the whole pool: not this call's fault),
        nor an error its sender marked ``counted = False`` (a refused token, the wait for
        the daily quota).
        """
        return not isinstance(exc, RateLimited) and getattr(exc, "counted", True)

    def gives_up(self, tries: Tries, now: float) -> bool:
        """True when the call has used its attempts or its time."""
        return tries.counted >= self.max_attempts or tries.elapsed(now) >= self.max_retry_time

    def wait(self, exc: BaseException | None, tries: Tries, now: float) -> float | None:
        """Seconds before the next attempt; None means the exponential backoff decides."""
        if isinstance(exc, TokenExpired):
            return 0.0  # the token was renewed: go again at once
        if isinstance(exc, RateLimited):
            return 0.0  # the pacer holds the whole pool; acquiring again waits for it
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            left = self.max_retry_time - tries.elapsed(now)
            return max(0.0, min(exc.retry_after, left))
        return None


DEFAULT_RETRY = RetryPolicy()
#: Token requests: a few quick tries, then the run stops (it cannot upload without one).
TOKEN_RETRY = RetryPolicy(max_attempts=4, max_retry_time=60.0, backoff=1.0, backoff_max=8.0)


@dataclass(slots=True)
class Tries:
    """One call's retry bookkeeping, read by the policy and by the row's report line."""

    started: float  #: clock reading when the call began
    sent: int = 0  #: requests sent
    counted: int = 0  #: failures that used up an attempt
    paused: float = 0.0  #: seconds spent waiting for the daily quota (not held against it)
    queued: float = 0.0  #: seconds spent waiting for a send slot from the pacer

    def elapsed(self, now: float) -> float:
        """Seconds this call has taken, not counting quota waits."""
        return now - self.started - self.paused


async def send_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    tries: Tries,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    cancelled: Callable[[], bool] = lambda: False,
) -> T:
    """Call ``attempt`` until it returns, fails for good, or the policy gives up.

    Raises the last error when giving up; ``cancelled()`` true (the run is stopping) also
    ends the loop after the current attempt. ``tries.sent`` is the caller's to count.
    """

    async def counted() -> T:
        try:
            return await attempt()
        except RETRIED as exc:
            if policy.counts(exc):
                tries.counted += 1
            raise

    try:
        return await counted()
    except RETRIED as exc:
        failed: BaseException | None = exc
    # Imported here, see the module docstring.
    from tenacity import AsyncRetrying, retry_if_exception_type, wait_random_exponential

    backoff = wait_random_exponential(multiplier=policy.backoff, max=policy.backoff_max)

    def stop(state: RetryCallState) -> bool:
        return cancelled() or policy.gives_up(tries, clock())

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        seconds = policy.wait(exc, tries, clock())
        return float(backoff(state)) if seconds is None else seconds

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RETRIED),
        stop=stop,
        wait=wait,
        sleep=sleep,
        reraise=True,
    )
    # tenacity's first attempt replays the failure above, so its stop and wait see it.
    async for trial in retrying:
        with trial:
            if failed is not None:
                replay, failed = failed, None
                raise replay
            return await counted()
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover
