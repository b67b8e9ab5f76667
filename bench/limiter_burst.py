"""What a server would see from aiolimiter and from our Pacer at 20 requests/s (no network).

32 tasks acquire in a loop for 3 s through one limiter; for each limiter the script prints the
acquisitions, the most in any sliding one-second window, and those in the first 100 ms; then
how many acquisitions a Pacer(10000) allows in one second (the cost when pacing is lifted).
Zoom refuses anything past the limit in a sliding second, so "most in 1 s" must stay <= 20.

    /work/venv/bin/python bench/limiter_burst.py [--seconds 3] [--tasks 32]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiolimiter import AsyncLimiter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch._pacing import Pacer

RATE = 20


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window (t - window, t]."""
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def measure(
    acquire: Callable[[], Awaitable[object]], *, seconds: float, tasks: int
) -> list[float]:
    """Acquisition times, relative to the start, of ``tasks`` tasks looping for ``seconds``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    times: list[float] = []

    async def worker() -> None:
        while loop.time() - start < seconds:
            await acquire()
            times.append(loop.time() - start)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return sorted(t for t in times if t < seconds)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--tasks", type=int, default=32)
    args = parser.parse_args()

    candidates: list[tuple[str, Callable[[], Callable[[], Awaitable[object]]]]] = [
        (f"aiolimiter AsyncLimiter({RATE}, 1)", lambda: AsyncLimiter(RATE, 1).acquire),
        (f"aiolimiter AsyncLimiter(1, 1/{RATE})", lambda: AsyncLimiter(1, 1 / RATE).acquire),
        (f"batch._pacing Pacer({RATE})", lambda: Pacer(RATE).acquire),
    ]
    print(f"{args.tasks} tasks, {args.seconds:g} s each, limit {RATE}/s in any sliding second")
    header = f"{'limiter':<34} {'total':>6} {'/s':>6} {'most in 1 s':>12} {'first 100 ms':>13}"
    print(header)
    print("-" * len(header))
    for name, make in candidates:
        times = await measure(make(), seconds=args.seconds, tasks=args.tasks)
        first = sum(t < 0.1 for t in times)
        per_second = len(times) / args.seconds
        print(
            f"{name:<34} {len(times):>6} {per_second:>6.1f} {max_in_window(times):>12} {first:>13}"
        )
    # With pacing lifted (a benchmark's --rate 10000) acquiring must cost almost nothing.
    times = await measure(Pacer(10_000).acquire, seconds=1.0, tasks=args.tasks)
    print(f"\nPacer(10000), pace 9700/s: {len(times)} acquisitions in 1 s")


if __name__ == "__main__":
    asyncio.run(main())
