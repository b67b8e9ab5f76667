"""The retry policy and its one loop, on virtual time: what is retried, counted, waited for."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from batch._exceptions import (
    ConfigError,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
)
from batch._retry import RetryPolicy, Tries, send_with_retries


class Clock:
    """Virtual time: ``sleep`` moves it on at once and remembers how long it was asked."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(*errors: BaseException, result: str = "ok") -> tuple[Callable[[], object], list[int]]:
    """An attempt that raises ``errors`` in turn, then returns ``result``; and its call count."""
    calls = [0]

    async def attempt() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return result

    return attempt, calls


async def run(
    attempt: Callable[[], object], policy: RetryPolicy, clock: Clock, **kwargs: object
) -> tuple[object, Tries]:
    tries = Tries(started=clock())
    result = await send_with_retries(
        attempt,  # type: ignore[arg-type]
        policy=policy,
        tries=tries,
        clock=clock,
        sleep=clock.sleep,
        **kwargs,  # type: ignore[arg-type]
    )
    return result, tries


async def test_success_at_once_never_waits() -> None:
    clock = Clock()
    attempt, calls = failing()
    result, tries = await run(attempt, RetryPolicy(), clock)
    assert (result, calls[0], tries.counted, clock.sleeps) == ("ok", 1, 0, [])


async def test_transient_failures_are_retried_with_growing_jittered_waits() -> None:
    clock = Clock()
    attempt, calls = failing(*[TransientError("503")] * 3)
    policy = RetryPolicy(backoff=1.0, backoff_max=30.0)
    result, tries = await run(attempt, policy, clock)
    assert (result, calls[0], tries.counted) == ("ok", 4, 3)
    # Full jitter: each wait lies in [0, backoff * 2**n].
    assert len(clock.sleeps) == 3
    assert all(0 <= s <= 1.0 * 2**n for n, s in enumerate(clock.sleeps))


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    clock = Clock()
    attempt, calls = failing(*[TransientError(f"503 #{n}") for n in range(10)])
    with pytest.raises(TransientError, match="503 #2"):
        await run(attempt, RetryPolicy(max_attempts=3), clock)
    assert calls[0] == 3


async def test_gives_up_when_the_row_has_used_its_time() -> None:
    clock = Clock()
    errors = [TransientError("slow", retry_after=40.0) for _ in range(10)]
    attempt, calls = failing(*errors)
    with pytest.raises(TransientError):
        await run(attempt, RetryPolicy(max_attempts=100, max_retry_time=100.0), clock)
    # Retry-After is honoured, but never past the row's remaining time: 40 + 40 + 20.
    assert clock.sleeps == [40.0, 40.0, 20.0]
    assert calls[0] == 4


async def test_a_permanent_error_is_never_retried() -> None:
    clock = Clock()
    attempt, calls = failing(PermanentError("404"))
    with pytest.raises(PermanentError):
        await run(attempt, RetryPolicy(), clock)
    assert (calls[0], clock.sleeps) == (1, [])


async def test_per_second_429s_do_not_use_up_attempts() -> None:
    """The pacer holds the pool after a 429; the row goes again at once and keeps its budget."""
    clock = Clock()
    attempt, calls = failing(*[RateLimited("429")] * 7)
    result, tries = await run(attempt, RetryPolicy(max_attempts=2), clock)
    assert (result, calls[0], tries.counted) == ("ok", 8, 0)
    assert set(clock.sleeps) == {0.0}


async def test_a_failure_marked_not_counted_keeps_the_budget() -> None:
    """The refusal that renewed the token is not the row's fault; the next one is."""
    clock = Clock()
    renewed = TokenExpired("401")
    renewed.counted = False
    attempt, calls = failing(renewed, TokenExpired("401 again"))
    result, tries = await run(attempt, RetryPolicy(max_attempts=2), clock)
    assert (result, calls[0], tries.counted) == ("ok", 3, 1)
    with pytest.raises(TokenExpired):
        attempt, _ = failing(renewed, TokenExpired("a"), TokenExpired("b"))
        await run(attempt, RetryPolicy(max_attempts=2), clock)


async def test_a_stopping_run_ends_the_loop_after_the_current_attempt() -> None:
    clock = Clock()
    attempt, calls = failing(*[TransientError("503")] * 5)
    with pytest.raises(TransientError):
        await run(attempt, RetryPolicy(), clock, cancelled=lambda: calls[0] >= 2)
    assert calls[0] == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_attempts": 0}, "max_attempts: must be at least 1, got 0"),
        ({"max_attempts": 2.5}, "max_attempts: expected a whole number, got 2.5"),
        ({"max_retry_time": -1.0}, "max_retry_time: must be a positive number, got -1.0"),
        ({"backoff": float("nan")}, "backoff: must be a positive number, got nan"),
    ],
)
def test_a_bad_policy_fails_when_built(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RetryPolicy(**changes)  # type: ignore[arg-type]
    assert str(caught.value) == message
