"""Never repeat work: re-running an unchanged 10,000-row manifest sends nothing.

A first ``zoom-batch run`` uploads every row with pacing lifted (``--rate 5000 --concurrency
32``, simulator without a rate limit) and fills a temporary ``--state`` store; the second,
identical run is measured: wall time, rows/s, CPU, peak RSS and requests the server saw
(goal: zero requests, under 5 s). Each row has its own photo, as in a real directory.

    python bench/skip_unchanged.py [--quick] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    goal_lines,
    header,
    manifest_over,
    run_measured,
    sim_env,
    table,
    url_flags,
    write_photos,
    zoom_batch,
)

from batch import Simulator, SimulatorOptions


async def main_async(rows: int) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-skip-") as tmp:
        folder = Path(tmp)
        print(f"… writing {rows:,} photos", file=sys.stderr, flush=True)
        photos = write_photos(folder / "photos", rows, seed=7)
        manifest = manifest_over(folder / "manifest.csv", photos, rows)
        state = folder / "state.sqlite"
        results: list[tuple[str, dict[str, Any], float, float, float, int]] = []
        async with Simulator(SimulatorOptions(rate_limit=0)) as sim:
            for label, extra in (
                ("first run (uploads all)", ["--rate", "5000", "--concurrency", "32"]),
                ("second run, unchanged (measured)", []),
            ):
                print(f"… {label}", file=sys.stderr, flush=True)
                before = sim.stats.picture_requests
                report = folder / f"report-{len(results)}.csv"
                argv = [
                    *zoom_batch(),
                    "run",
                    str(manifest),
                    *url_flags(sim.base_url),
                    "--state",
                    str(state),
                    "--quiet",
                    "--report",
                    str(report),
                    *extra,
                ]
                # In a thread, so this loop keeps serving; wait4 gives the child's own rusage.
                done = await asyncio.to_thread(run_measured, argv, env=sim_env())
                if done.returncode not in (0, 1):
                    raise SystemExit(f"zoom-batch exited {done.returncode}: {done.stderr[-500:]}")
                wall, cpu, rss = done.wall, done.cpu, done.max_rss_mb
                summary = json.loads(report.with_suffix(".json").read_text())
                results.append(
                    (label, summary, wall, cpu, rss, sim.stats.picture_requests - before)
                )
    table_rows = []
    for label, summary, wall, cpu, rss, requests in results:
        counts = summary["counts"]
        table_rows.append(
            (
                label,
                f"{rows:,}",
                f"{counts['uploaded']:,}",
                f"{counts['skipped']:,}",
                f"{requests:,}",
                f"{summary['duration_s']:.2f}",
                f"{wall:.2f}",
                f"{rows / wall:,.0f}",
                f"{cpu * 1000 / rows:.3f}",
                f"{rss:.1f}",
            )
        )
    _, summary, wall, _, _, requests = results[1]
    skipped = summary["counts"]["skipped"]
    goals = [
        (
            "unchanged re-run sends zero requests",
            f"{requests} requests, {skipped:,}/{rows:,} skipped",
            requests == 0 and skipped == rows,
        ),
        ("unchanged re-run under 5 s (process wall)", f"{wall:.2f} s", wall < 5.0),
    ]
    return (
        "\n".join(
            [
                header("### Skipping unchanged rows (`bench/skip_unchanged.py`)"),
                "In-process simulator (no rate limit); `zoom-batch run --state TEMP --quiet` as a"
                " subprocess. CPU (`wait4`) and peak RSS (GNU time) are the CLI process's own.",
                "",
                table(
                    (
                        "run",
                        "rows",
                        "uploaded",
                        "skipped",
                        "requests seen by server",
                        "run duration_s",
                        "process wall s",
                        "rows/s (wall)",
                        "CPU ms/row",
                        "peak RSS MB",
                    ),
                    table_rows,
                ),
                "",
                goal_lines(goals),
            ]
        )
        + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows instead of 10,000")
    parser.add_argument("--rows", type=int, help="rows (default 10,000)")
    args = parser.parse_args()
    rows = args.rows or (2_000 if args.quick else 10_000)
    print(asyncio.run(main_async(rows)))


if __name__ == "__main__":
    main()
