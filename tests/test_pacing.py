"""The pacer spaces sends evenly, never bursts, and settles under a limit it has to discover.

Everything here runs on virtual time: an event loop whose clock jumps to the next timer instead
of waiting, so a 30-second scenario takes milliseconds and every figure is deterministic.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import selectors
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from batch._exceptions import ConfigError
from batch._pacing import DEFAULT_POLICY, Pacer, PacingPolicy, Ticket

T = TypeVar("T")

PRO = 20.0
PACE = PRO * DEFAULT_POLICY.headroom  # 19.4/s
GAP = 1 / PACE


# --- virtual time -------------------------------------------------------------------------------


class _JumpingSelector(selectors.SelectSelector):
    """Never blocks: where a real loop would wait for its next timer, time jumps there."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        self.now += timeout
        return super().select(0)


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a fresh virtual-time loop that starts at t = 0."""
    with asyncio.Runner(loop_factory=_VirtualLoop) as runner:
        return runner.run(main())


def now() -> float:
    return asyncio.get_running_loop().time()


def virtual_pacer(rate: float, **kwargs: Any) -> Pacer:
    return Pacer(rate, clock=asyncio.get_running_loop().time, **kwargs)


class ManualClock:
    """A clock the test sets by hand, for checks that need no event loop."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window (t - window, t]."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


# --- a fake Zoom: the simulator's sliding-window rule, nothing else ----------------------------


class SlidingWindowServer:
    """Accepts a request unless its window (t - 1, t] already holds ``limit`` accepted ones."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self.window: deque[float] = deque()
        self.arrivals: list[float] = []
        self.refused = 0

    def arrive(self) -> bool:
        t = self.clock()
        self.arrivals.append(t)
        while self.window and self.window[0] <= t - 1.0:
            self.window.popleft()
        if len(self.window) >= self.limit:
            self.refused += 1
            return False
        self.window.append(t)
        return True


@dataclass
class Outcome:
    wall: float
    refused: int
    requests: int
    most_in_one_second: int
    efficiency: float  # (uploads / allowed rate) / wall
    cuts: int  # congestion events the pacer reacted to
    sends: list[float] = field(repr=False)


async def scenario(
    *,
    ceiling: float,
    allowed: int,
    uploads: int = 300,
    workers: int = 32,
    latency: float = 0.005,
) -> Outcome:
    """``workers`` tasks upload ``uploads`` rows through one pacer; a 429 sends the row again."""
    pacer = virtual_pacer(ceiling)
    cuts: list[float] = []
    pacer.add_listener(lambda seconds, rate: cuts.append(rate), lambda rate: None)
    server = SlidingWindowServer(allowed, now)
    rows = iter(range(uploads))
    sends: list[float] = []

    async def worker() -> None:
        for _ in rows:
            while True:
                ticket = await pacer.acquire()
                sends.append(now())
                await asyncio.sleep(latency / 2)
                accepted = server.arrive()
                await asyncio.sleep(latency / 2)
                if accepted:
                    pacer.on_success(ticket)
                    break
                pacer.on_rate_limited(ticket=ticket)

    await asyncio.gather(*(worker() for _ in range(workers)))
    wall = now()
    return Outcome(
        wall=wall,
        refused=server.refused,
        requests=len(server.arrivals),
        most_in_one_second=max_in_window(server.arrivals),
        efficiency=(uploads / allowed) / wall,
        cuts=len(cuts),
        sends=sends,
    )


async def grant_times(pacer: Pacer, count: int, *, tasks: int = 8) -> list[float]:
    """``tasks`` workers acquire until ``count`` grants were made; returns the grant times."""
    times: list[float] = []

    async def worker() -> None:
        while len(times) < count:
            await pacer.acquire()
            times.append(now())

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return times[:count]


# --- proactive pacing ---------------------------------------------------------------------------


def test_first_sends_are_spaced_one_interval_apart_with_no_burst() -> None:
    async def main() -> list[float]:
        return await grant_times(virtual_pacer(PRO), 40, tasks=32)

    times = run_virtual(main)
    assert times[:4] == pytest.approx([0.0, GAP, 2 * GAP, 3 * GAP], abs=1e-9)
    assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([GAP] * 39, abs=1e-9)
    assert sum(t < 0.1 for t in times) == 2  # 0 and 51.5 ms; a full bucket would let 20 through


def test_free_plan_two_per_second_does_not_burst() -> None:
    async def main() -> Outcome:
        return await scenario(ceiling=2, allowed=2, uploads=20, workers=16)

    out = run_virtual(main)
    assert out.sends[1] - out.sends[0] == pytest.approx(1 / 1.94, abs=1e-9)
    assert out.refused == 0
    assert out.most_in_one_second == 2


@pytest.mark.parametrize(("limit", "most"), [(2, 2), (20, 20), (60, 59)])
def test_no_one_second_window_exceeds_the_limit_with_many_acquirers(limit: int, most: int) -> None:
    async def main() -> list[float]:
        return await grant_times(virtual_pacer(limit), limit * 30, tasks=32)

    times = run_virtual(main)
    assert max_in_window(times) == most  # 1 + floor(pace), at most floor(limit)
    assert times[-1] == pytest.approx((limit * 30 - 1) / (limit * DEFAULT_POLICY.headroom))


@pytest.mark.parametrize("limit", [2, 20, 60])
def test_late_timers_neither_break_the_limit_nor_cost_throughput(limit: int) -> None:
    rng = random.Random(limit)
    very_late = 0

    async def late_sleep(seconds: float) -> None:
        # Real timers fire late: usually within `slack` (5 ms), now and then far beyond it.
        nonlocal very_late
        late = rng.uniform(0, DEFAULT_POLICY.slack)
        if rng.random() < 0.02:
            very_late += 1
            late = 0.03
        await asyncio.sleep(seconds + late)

    async def main() -> list[float]:
        pacer = Pacer(limit, clock=asyncio.get_running_loop().time, sleep=late_sleep)
        return await grant_times(pacer, limit * 30, tasks=32)

    times = run_virtual(main)
    assert max_in_window(times) <= limit
    # Lateness within `slack` keeps the grid; only a very late timer restarts it and loses time.
    ideal = (len(times) - 1) / (limit * DEFAULT_POLICY.headroom)
    assert ideal < times[-1] - times[0] < ideal + DEFAULT_POLICY.slack + very_late * 0.03


def test_a_very_high_rate_costs_almost_nothing_on_a_real_loop() -> None:
    async def main() -> float:
        pacer = Pacer(10_000)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await grant_times(pacer, 2_000, tasks=32)
        return loop.time() - start

    elapsed = asyncio.run(main())
    assert elapsed < 0.6  # 2,000 at 9,700/s is 0.21 s; sleeping 1 ms per grant would take 2 s


# --- reaction to 429s ---------------------------------------------------------------------------


def test_a_429_holds_every_new_send_then_resumes_at_the_cut_pace() -> None:
    events: list[tuple[str, float, float]] = []

    async def main() -> tuple[list[float], float]:
        pacer = virtual_pacer(PRO)
        pacer.add_listener(
            lambda seconds, rate: events.append(("hold", seconds, rate)),
            lambda rate: events.append(("release", now(), rate)),
        )
        times: list[float] = []
        refused_at = -1.0

        async def worker() -> None:
            nonlocal refused_at
            while len(times) < 20:
                ticket = await pacer.acquire()
                times.append(now())
                if len(times) == 10:  # no success was recorded: a blind, multiplicative cut
                    refused_at = now()
                    pacer.on_rate_limited(ticket=ticket)
                    assert pacer.holding

        await asyncio.gather(*(worker() for _ in range(16)))
        assert not pacer.holding
        return times[:20], refused_at

    times, refused_at = run_virtual(main)
    cut = PACE * DEFAULT_POLICY.decrease  # 13.58/s
    assert refused_at == pytest.approx(9 * GAP)
    # The head waiter slept for the old slot (10 * GAP); it re-checked and waited out the hold.
    assert times[10] == pytest.approx(refused_at + DEFAULT_POLICY.hold, abs=1e-9)
    assert times[11] - times[10] == pytest.approx(1 / cut, abs=1e-9)
    assert [name for name, _, _ in events] == ["hold", "release"]
    assert [value for _, *values in events for value in values] == pytest.approx(
        [DEFAULT_POLICY.hold, cut, times[10], cut]
    )


def test_429s_from_one_episode_cut_once() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock)
    holds: list[float] = []
    pacer.add_listener(lambda seconds, rate: holds.append(rate), lambda rate: None)
    in_flight = [Ticket(sent_at=i * GAP, epoch=0) for i in range(6)]
    clock.t = 0.4
    for ticket in in_flight:  # all six come back refused, one after another
        pacer.on_rate_limited(ticket=ticket)
        clock.t += 0.01
    assert holds == [pytest.approx(PACE * 0.7)]
    assert pacer.rate == pytest.approx(PACE * 0.7)
    # A request sent after the hold and refused is a new episode: a second cut.
    clock.t = 1.0
    pacer.on_rate_limited(ticket=Ticket(sent_at=0.95, epoch=1))
    assert pacer.rate == pytest.approx(PACE * 0.7 * 0.7)
    assert len(holds) == 2


def test_without_tickets_429s_during_the_hold_are_the_same_episode() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock)
    pacer.on_rate_limited()
    clock.t = 0.3
    pacer.on_rate_limited(retry_after=5.0)  # ignored: still holding
    assert pacer.rate == pytest.approx(PACE * 0.7)
    clock.t = 0.49
    assert pacer.holding
    clock.t = 0.5
    assert not pacer.holding


def test_the_cut_goes_to_the_share_the_server_accepted() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock)
    for i in range(15):  # 15 of ours accepted in the second before the refused one
        clock.t = 0.5 + i * 0.03
        pacer.on_success(Ticket(sent_at=clock.t, epoch=0))
    clock.t = 0.96
    pacer.on_rate_limited(ticket=Ticket(sent_at=0.95, epoch=0))
    assert pacer.rate == pytest.approx(15 * 0.97)
    # Held (longer than `hold`) until the oldest of those 15 has left the server's window,
    # plus the jitter margin: a send before that would be refused again.
    clock.t = 0.5 + 1.0 + (1 / 0.97 - 1) - 1e-6
    assert pacer.holding
    clock.t += 2e-6
    assert not pacer.holding


def test_retry_after_lengthens_the_hold() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock)
    pacer.on_rate_limited(retry_after=2.0)
    clock.t = 1.99
    assert pacer.holding
    clock.t = 2.0
    assert not pacer.holding


def test_pace_recovers_after_quiet_time_concave_then_levels_off() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock)
    pacer.on_rate_limited()  # blind cut to 13.58/s; plateau stays at 19.4/s
    quiet, recover = DEFAULT_POLICY.quiet, DEFAULT_POLICY.recover
    expected = {
        quiet - 0.01: PACE * 0.7,
        quiet + recover / 2: PACE - PACE * 0.3 * 0.5**3,  # 18.67: most of the way, quickly
        quiet + recover: PACE,
        quiet + recover + 60: PACE,  # never above ceiling * headroom
    }
    for t, rate in expected.items():
        clock.t = t
        assert pacer.rate == pytest.approx(rate), t


def test_probing_above_the_share_is_slow_and_slower_after_each_confirmation() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock)

    def refused_with_share(at: float, share: int) -> None:
        for i in range(share):
            pacer.on_success(Ticket(sent_at=at - 0.9 + i * 0.9 / share, epoch=0))
        clock.t = at
        ticket = asyncio.run(pacer.acquire())  # due long ago: granted at once, current epoch
        pacer.on_rate_limited(ticket=ticket)

    refused_with_share(1.0, 10)
    assert pacer.rate == pytest.approx(9.7)
    start = 1.0 + DEFAULT_POLICY.quiet
    clock.t = start + 5
    assert pacer.rate == pytest.approx(9.7 * (1 + (1 / 0.97 - 1) / 8))  # 9.74: barely moving
    clock.t = start + 10
    assert pacer.rate == pytest.approx(10.0)  # back at the refused rate after `probe` s
    # Refused again at the same level: the next probe takes twice as long.
    refused_with_share(start + 11, 10)
    start = start + 11 + DEFAULT_POLICY.quiet
    clock.t = start + 10
    assert pacer.rate == pytest.approx(9.7 * (1 + (1 / 0.97 - 1) / 8))
    clock.t = start + 20
    assert pacer.rate == pytest.approx(10.0)


def test_the_pace_never_drops_below_min_rate() -> None:
    clock = ManualClock()
    pacer = Pacer(PRO, clock=clock, policy=PacingPolicy(min_rate=5.0))
    for _ in range(10):
        pacer.on_rate_limited()
        clock.t += 1.0
    assert pacer.rate == 5.0


# --- whole scenarios against the sliding-window server ------------------------------------------


def test_scenario_a_limit_20_run_at_20() -> None:
    out = run_virtual(lambda: scenario(ceiling=20, allowed=20))
    assert (out.refused, out.cuts) == (0, 0)
    assert out.wall == pytest.approx(299 / PACE + 0.005)
    assert out.efficiency >= 0.93
    assert out.most_in_one_second == 20


def test_scenario_b_server_allows_10_while_the_run_is_set_for_20() -> None:
    out = run_virtual(lambda: scenario(ceiling=20, allowed=10))
    assert out.refused <= 15  # 5% of ~300 requests, discovery included
    assert out.efficiency >= 0.85
    # As measured: discovery, then one probe above 10/s; the next probe would come after the end.
    assert (out.refused, out.cuts, out.requests) == (2, 2, 302)
    assert out.efficiency == pytest.approx(0.962, abs=0.001)
    # Discovery costs one 429: the 11th request, 51.5 ms after the 10th.
    assert out.sends[10] == pytest.approx(10 * GAP)
    assert out.sends[11] > 1.0


def test_scenario_b_with_slow_responses_treats_in_flight_429s_as_one_event() -> None:
    out = run_virtual(lambda: scenario(ceiling=20, allowed=10, latency=0.3))
    # Five more requests were in flight when the first 429 came back; all were refused, and
    # together with it they made one cut. The second cut is the one probe.
    assert out.efficiency >= 0.85
    assert (out.refused, out.cuts) == (7, 2)


# --- cancellation -------------------------------------------------------------------------------


def test_cancelling_waiters_leaks_no_slot_and_blocks_no_one() -> None:
    async def main() -> dict[str, float]:
        pacer = virtual_pacer(PRO)
        got: dict[str, float] = {}

        async def take(name: str) -> None:
            await pacer.acquire()
            got[name] = now()

        await take("first")
        head = asyncio.create_task(take("head"))  # sleeping until GAP
        queued = asyncio.create_task(take("queued"))  # waiting for its turn
        later = asyncio.create_task(take("later"))
        await asyncio.sleep(0.01)
        head.cancel()
        queued.cancel()
        await asyncio.sleep(0)
        await later
        assert head.cancelled() and queued.cancelled()
        await take("after")
        return got

    got = run_virtual(main)
    assert got == {
        "first": 0.0,
        "later": pytest.approx(GAP),  # the cancelled head's slot went to the next waiter
        "after": pytest.approx(2 * GAP),
    }


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field_name", "value", "message"),
    [
        ("headroom", 1.2, "PacingPolicy.headroom must be in (0, 1], got 1.2"),
        ("headroom", 0.0, "PacingPolicy.headroom must be in (0, 1], got 0.0"),
        ("decrease", 1.0, "PacingPolicy.decrease must be in (0, 0.99], got 1.0"),
        ("hold", -1.0, "PacingPolicy.hold must be in [0, 3600], got -1.0"),
        ("quiet", math.nan, "PacingPolicy.quiet must be in [0, 3600], got nan"),
        ("recover", 0.0, "PacingPolicy.recover must be in (0, 3600], got 0.0"),
        ("probe", 0.0, "PacingPolicy.probe must be in (0, 3600], got 0.0"),
        ("probe_max", 5.0, "PacingPolicy.probe_max must be in [10, 3600], got 5.0"),
        ("min_rate", 0.0, "PacingPolicy.min_rate must be > 0, got 0.0"),
        ("slack", 0.5, "PacingPolicy.slack must be in [0, 0.1], got 0.5"),
    ],
)
def test_policy_values_are_checked_and_the_message_names_the_field(
    field_name: str, value: float, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        PacingPolicy(**{field_name: value})
    assert str(caught.value) == message


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan])
def test_the_rate_must_be_a_positive_number(rate: float) -> None:
    with pytest.raises(ConfigError, match=r"^rate must be a positive number of requests/s"):
        Pacer(rate)


def test_the_default_policy_and_the_properties() -> None:
    pacer = Pacer(60)
    assert PacingPolicy() == DEFAULT_POLICY
    assert pacer.ceiling == 60
    assert pacer.rate == pytest.approx(58.2)
    assert not pacer.holding


def test_a_success_older_than_the_memory_does_not_empty_the_pacer() -> None:
    """One upload slower than the 5 s memory, nothing else in flight: no IndexError."""
    clock = [0.0]
    pacer = Pacer(20, clock=lambda: clock[0])
    ticket = Ticket(sent_at=0.0, epoch=0)
    clock[0] = 6.5
    pacer.on_success(ticket)
    pacer.on_success(None)
