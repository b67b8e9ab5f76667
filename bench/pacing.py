"""Full speed under Zoom's rate limits: ``zoom-batch run`` against the simulator.

The simulator runs in this process (so the server's own arrival log gives the busiest second);
the real CLI runs as a subprocess pointed at it with --api-url/--oauth-url and ZOOM_* variables,
default settings (plan pro: 20/s) unless a scenario says otherwise. Four scenarios:

1. limit 20/s, 200 +/- 100 ms latency, 300 uploads: efficiency (300/20 s) / wall >= 0.93,
   429s <= 1% of requests;
2. the account allows 10/s, the run is configured for 20/s: efficiency against 10/s >= 0.85,
   429s <= 5% of requests;
3. 10% 5xx answers, 5% dropped connections, tokens living 2 s: every row uploaded, byte-exact;
4. a daily quota with 30 uploads left, 60 rows: 30 uploaded, 30 deferred, fewer than 10
   requests after the first daily 429.

    python bench/pacing.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from _common import (
    goal_lines,
    header,
    manifest_over,
    run_async,
    sim_env,
    table,
    url_flags,
    user,
    write_photos,
    zoom_batch,
)

from batch import Simulator, SimulatorOptions

#: Every scenario: 200 +/- 100 ms per upload, like a far-away API.
BASE = SimulatorOptions(latency_ms=200.0, latency_jitter_ms=100.0)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    key: str
    title: str
    rows: int
    options: SimulatorOptions
    limit: float  #: the account's real limit, for the efficiency
    flags: tuple[str, ...] = ()


@dataclass(kw_only=True)
class Outcome:
    scenario: Scenario
    returncode: int
    wall: float
    summary: dict[str, object]
    stats: dict[str, int]
    max_in_1s: int
    max_accepted_in_1s: int
    byte_exact: int  #: users whose received bytes match their file
    after_first_daily: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return float(self.summary["duration_s"])  # type: ignore[arg-type]

    @property
    def counts(self) -> dict[str, int]:
        return self.summary["counts"]  # type: ignore[return-value]

    @property
    def efficiency(self) -> float:
        return (self.scenario.rows / self.scenario.limit) / self.duration

    @property
    def share_429(self) -> float:
        requests = self.stats["picture_requests"]
        return self.stats["rate_limited"] / requests if requests else 0.0


def scenarios(quick: bool) -> list[Scenario]:
    n = 120 if quick else 300
    return [
        Scenario(
            key="pro",
            title=f"limit 20/s, {n} uploads",
            rows=n,
            options=SimulatorOptions(rate_limit=20, seed=1),
            limit=20,
        ),
        Scenario(
            key="lower",
            title=f"limit 10/s, run paced for 20/s, {n} uploads",
            rows=n,
            options=replace(BASE, rate_limit=10, seed=2),
            limit=10,
        ),
        Scenario(
            key="faults",
            title=f"limit 20/s, 10% 5xx, 5% drops, 2 s tokens, {n} uploads",
            rows=n,
            options=replace(
                BASE, rate_limit=20, fail_rate=0.10, drop_rate=0.05, token_ttl=2, seed=3
            ),
            limit=20,
        ),
        Scenario(
            key="daily",
            title="limit 20/s, 30 uploads left today, 60 rows",
            rows=60,
            options=replace(BASE, rate_limit=20, daily_limit=30, seed=4),
            limit=20,
        ),
    ]


async def run_one(scenario: Scenario, folder: Path) -> Outcome:
    work = folder / scenario.key
    work.mkdir(parents=True)
    photos = write_photos(work / "photos", scenario.rows, seed=sum(map(ord, scenario.key)))
    manifest = manifest_over(work / "manifest.csv", photos, scenario.rows)
    report = work / "report.csv"
    async with Simulator(scenario.options) as sim:
        argv = [
            *zoom_batch(),
            "run",
            str(manifest),
            *url_flags(sim.base_url),
            "--no-state",
            "--quiet",
            "--report",
            str(report),
            *scenario.flags,
        ]
        returncode, wall, _out, err = await run_async(argv, env=sim_env())
        stats = sim.stats
        after_first_daily = None
        if stats.daily_limited:
            # A request is refused for the day only once every upload of the quota was
            # accepted: count the requests that arrived after the last accepted one, less the
            # first refusal itself.
            flags = list(stats.accepted)
            last_accepted = max(i for i, ok in enumerate(flags) if ok)
            after_first_daily = len(flags) - last_accepted - 2
        received = {k: v.sha256 for k, v in sim.received.items()}
        outcome = Outcome(
            scenario=scenario,
            returncode=returncode,
            wall=wall,
            summary=json.loads(report.with_suffix(".json").read_text()),
            stats={
                name: getattr(stats, name)
                for name in (
                    "picture_requests",
                    "token_requests",
                    "uploads",
                    "rate_limited",
                    "daily_limited",
                    "server_errors",
                    "dropped",
                    "unauthorized",
                )
            },
            max_in_1s=sim.max_requests_in_window(),
            max_accepted_in_1s=sim.max_requests_in_window(accepted_only=True),
            byte_exact=sum(
                received.get(user(i)) == hashlib.sha256(photos[i].read_bytes()).hexdigest()
                for i in range(scenario.rows)
            ),
            after_first_daily=after_first_daily,
        )
    if returncode not in (0, 1):
        outcome.notes.append(f"exit {returncode}: {err.strip()[-300:]}")
    return outcome


def eff(o: Outcome) -> str:
    return f"{o.efficiency:.3f}"


def s429(o: Outcome) -> str:
    return f"{o.share_429:.1%}"


def judge(
    runs: list[Outcome],
    goal: str,
    ok: Callable[[Outcome], bool],
    shown: Callable[[Outcome], str],
) -> tuple[str, str, bool]:
    """One goal over every run of a scenario: met only if met in each run."""
    met = sum(ok(o) for o in runs)
    figures = "; ".join(shown(o) for o in runs)
    if len(runs) > 1:
        figures += f" (met in {met} of {len(runs)} runs)"
    return goal, figures, met == len(runs)


def render(outcomes: list[Outcome]) -> str:
    rows = []
    for o in outcomes:
        s, c = o.stats, o.counts
        other = ", ".join(f"{n} {status}" for status, n in c.items() if n and status != "uploaded")
        rows.append(
            (
                o.scenario.title,
                f"{c.get('uploaded', 0)}/{o.scenario.rows}" + (f" ({other})" if other else ""),
                f"{o.byte_exact}/{o.scenario.rows}",
                f"{o.scenario.rows / o.scenario.limit:.2f}",
                f"{o.duration:.2f}",
                f"{o.wall:.2f}",
                f"{o.efficiency:.3f}" if o.scenario.key != "daily" else "—",
                s["picture_requests"],
                f"{s['rate_limited']} ({o.share_429:.1%})",
                f"{s['server_errors']} / {s['dropped']}",
                s["token_requests"],
                f"{o.max_in_1s} ({o.max_accepted_in_1s})",
            )
        )
    headers = (
        "scenario",
        "uploaded",
        "byte-exact",
        "ideal s (rows/limit)",
        "run duration_s",
        "process wall s",
        "efficiency",
        "requests",
        "429 per-second (share)",
        "5xx / dropped",
        "token requests",
        "most requests in any 1 s (accepted)",
    )
    by: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by.setdefault(o.scenario.key, []).append(o)
    goals = [
        judge(by["pro"], "limit 20/s: efficiency ≥ 0.93", lambda o: o.efficiency >= 0.93, eff),
        judge(by["pro"], "limit 20/s: 429s ≤ 1% of requests", lambda o: o.share_429 <= 0.01, s429),
        judge(
            by["lower"],
            "limit 10/s, paced for 20/s: efficiency against 10/s ≥ 0.85",
            lambda o: o.efficiency >= 0.85,
            eff,
        ),
        judge(
            by["lower"],
            "limit 10/s, paced for 20/s: 429s ≤ 5% of requests",
            lambda o: o.share_429 <= 0.05,
            s429,
        ),
        judge(
            by["faults"],
            "faults: every row uploaded, byte-exact",
            lambda o: o.counts.get("uploaded", 0) == o.byte_exact == o.scenario.rows,
            lambda o: f"{o.counts.get('uploaded', 0)} uploaded, {o.byte_exact} byte-exact",
        ),
        judge(
            by["daily"],
            "daily quota: 30 uploaded, 30 deferred, < 10 requests after the first daily 429",
            lambda o: (
                o.counts.get("uploaded", 0) == 30
                and o.counts.get("deferred", 0) == 30
                and o.after_first_daily is not None
                and o.after_first_daily < 10
            ),
            lambda o: (
                f"{o.counts.get('uploaded', 0)} uploaded,"
                f" {o.counts.get('deferred', 0)} deferred, {o.after_first_daily} requests after it"
            ),
        ),
    ]
    notes = [note for o in outcomes for note in o.notes]
    parts = [
        header("### Pacing under Zoom's rate limits (`bench/pacing.py`)"),
        "Simulator in the benchmark process (latency 200 ± 100 ms per upload), `zoom-batch run"
        " --no-state --quiet` as a subprocess with default settings (plan pro, 20/s, 16"
        " workers). *run duration_s* is the run's own figure from its JSON summary; *process"
        " wall* adds interpreter start-up, the first token and writing the report.",
        "",
        table(headers, rows),
        "",
        goal_lines(goals),
    ]
    if notes:
        parts += ["", *[f"- note: {note}" for note in notes]]
    return "\n".join(parts) + "\n"


async def main_async(quick: bool, repeat: int) -> str:
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        for scenario in scenarios(quick):
            for i in range(repeat):
                print(f"… {scenario.title} ({i + 1}/{repeat})", file=sys.stderr, flush=True)
                outcomes.append(await run_one(scenario, Path(tmp) / str(i)))
    return render(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="120 rows instead of 300")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (default 1)")
    args = parser.parse_args()
    # The simulator's arrival log is the measurement: keep this process's full garbage
    # collections (~35 ms over the imported modules) from bunching its arrivals.
    gc.freeze()
    print(asyncio.run(main_async(args.quick, args.repeat)))


if __name__ == "__main__":
    main()
