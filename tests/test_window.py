"""The rows in progress: a window that follows latency (Little's law), and the byte budget."""

from __future__ import annotations

import asyncio

import pytest

from batch._window import ByteBudget, InflightWindow


def test_window_follows_service_times() -> None:
    window = InflightWindow(cap=500, rate=lambda: 60.0)
    assert window.limit == 60 * 3 * 1.25 + 2  # the first guess: Zoom's slowest, 3 s a row
    for _ in range(100):
        window.observe(3.0)  # Zoom takes 3 s: 180 in flight hold 60/s
    assert window.limit == 227
    for _ in range(128):
        window.observe(0.05)
    assert window.limit == 6  # fast answers: a handful is enough


def test_window_uses_a_high_percentile_and_stays_within_bounds() -> None:
    window = InflightWindow(cap=100, rate=lambda: 20.0, floor=4)
    for i in range(100):
        window.observe(2.0 if i % 10 == 0 else 0.2)  # one row in ten is slow
    assert window.service_time == 2.0
    for _ in range(128):
        window.observe(60.0)
    assert window.limit == 100  # never above --concurrency
    assert InflightWindow(cap=3, rate=lambda: 0.1).limit == 3  # floor never above the cap
    window.observe(float("inf"))  # ignored
    window.observe(-1.0)
    assert window.limit == 100


def test_no_pace_means_the_cap() -> None:
    assert InflightWindow(cap=16, rate=lambda: float("inf")).limit == 16


async def test_budget_waits_in_order_and_lets_one_big_photo_through() -> None:
    budget = ByteBudget(100)
    await budget.take(60)
    order: list[str] = []

    async def take(name: str, n: int) -> None:
        await budget.take(n)
        order.append(name)

    big = asyncio.create_task(take("big", 500))  # larger than the budget: waits for none held
    small = asyncio.create_task(take("small", 10))  # fits, but waits its turn behind "big"
    await asyncio.sleep(0)
    assert order == []
    budget.give(60)
    await asyncio.sleep(0)
    assert order == ["big"]
    assert budget.held == 500 and budget.peak == 500
    budget.give(500)
    await asyncio.sleep(0)
    assert order == ["big", "small"]
    await asyncio.gather(big, small)


async def test_a_cancelled_wait_holds_nothing() -> None:
    budget = ByteBudget(100)
    await budget.take(90)
    waiting = asyncio.create_task(budget.take(50))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    budget.give(90)
    assert budget.held == 0
    await budget.take(100)
    assert budget.held == 100
