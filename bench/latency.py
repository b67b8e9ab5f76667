"""Pace against Zoom's answer time: ``zoom-batch run`` when an upload takes 50 ms to 3 s (issue 12).

Zoom content-checks each picture before it answers (1-3 s, ZOOM_API.md "Latency"), so holding
a limit takes limit x answer time requests in flight: 60 at 20/s with 3 s answers, 180 at
60/s. For each answer time (50, 300, 1000, 2000, 3000 ms, jitter +/- a third) and limit
(20/s with --plan pro, 60/s with --plan business), ``zoom-batch simulate`` runs in its own
process with that rate limit and processing time, and the real CLI runs against it as another
subprocess, default settings otherwise. The server's figures come from its /_simulator/stats
route; the client's CPU and peak RSS from wait4 and GNU time.

--memory: 2 MB photos at 60/s with 3 s answers (~180 in flight), for the client's peak RSS.

    python bench/latency.py [--quick] [--memory] [--photo-kb KB] [--uplink-mbps N] [--rows N]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    GNU_TIME,
    Measured,
    header,
    make_jpeg,
    manifest_over,
    run_measured,
    table,
    url_flags,
    write_photos,
    zoom_batch,
)
from _server import ServedSimulator, server_efficiency
from PIL import Image

ANSWERS_MS = (50, 300, 1000, 2000, 3000)
#: (plan, its Medium limit in requests/s, rows for ~10 s, rows with --quick)
LIMITS = (("pro", 20, 300, 60), ("business", 60, 600, 120))
#: The largest photo made: under the simulator's (and Zoom's, read pessimistically) 2,000,000.
LARGEST = 1_999_000
_COM = b"\xff\xfe"  # a JPEG comment segment: padding any decoder skips
_COM_MAX = 65_533  # payload bytes one segment holds (its length field counts itself)


@dataclass(frozen=True, kw_only=True)
class Point:
    plan: str
    limit: int
    answer_ms: float
    rows: int


@dataclass(frozen=True, kw_only=True)
class Outcome:
    point: Point
    run: Measured
    stats: dict[str, Any]
    summary: dict[str, Any] | None  #: the report's JSON summary, None if it was not written
    sim_cpu: float


def noise_jpeg(size: int, seed: int) -> bytes:
    """A JPEG of random pixels (it does not compress) of a little under ``size`` bytes."""
    side = max(16, int((size * 0.85 / 1.2) ** 0.5))  # ~1.2 bytes a pixel at quality 95
    while True:
        pixels = random.Random(seed).randbytes(side * side * 3)
        image = Image.frombytes("RGB", (side, side), pixels)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        if out.tell() <= size - 64 or side == 16:
            return out.getvalue()
        side = max(16, int(side * 0.9))


def padded(base: bytes, tag: bytes, size: int) -> bytes:
    """``base`` with comment segments after its SOI marker: exactly ``size`` bytes, unique by
    ``tag``, as valid as ``base`` (the photo itself is untouched)."""
    room = size - len(base)
    segments = []
    payload = tag
    while room > 0:
        # Each segment costs 4 bytes besides its payload; never leave 1-3 bytes unfillable.
        take = min(room - 4, _COM_MAX)
        if 0 < room - 4 - take < 4:
            take -= 4
        payload = (payload + b"\0" * take)[:take]
        segments.append(_COM + (take + 2).to_bytes(2, "big") + payload)
        room -= take + 4
        payload = b""
    return base[:2] + b"".join(segments) + base[2:]


def write_large_photos(folder: Path, count: int, size: int) -> list[Path]:
    """``count`` distinct valid JPEGs of exactly ``size`` bytes (the simulator decodes each)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = noise_jpeg(size, seed=12) if size > 4096 else make_jpeg(12)
    paths = []
    for i in range(count):
        path = folder / f"p{i:06d}.jpg"
        path.write_bytes(padded(base, b"bench photo %d" % i, max(size, len(base) + 64)))
        paths.append(path)
    return paths


def points(args: argparse.Namespace) -> list[Point]:
    if args.memory:
        return [Point(plan="business", limit=60, answer_ms=3000, rows=args.rows or 600)]
    return [
        Point(plan=plan, limit=limit, answer_ms=ms, rows=args.rows or (few if args.quick else n))
        for plan, limit, n, few in LIMITS
        for ms in ANSWERS_MS
    ]


def run_point(point: Point, photos: list[Path], work: Path, uplink_mbps: float) -> Outcome:
    work.mkdir(parents=True)
    # Beside the photos' folder: the manifest names them relative to its own.
    manifest = manifest_over(work.with_suffix(".csv"), photos[: point.rows], point.rows)
    report = work / "report.csv"
    flags = [
        *("--rate-limit", str(point.limit), "--seed", "12"),
        *("--processing-ms", f"{point.answer_ms:g}"),
        *("--processing-jitter-ms", f"{point.answer_ms / 3:g}"),
        *(("--uplink-mbps", f"{uplink_mbps:g}") if uplink_mbps else ()),
    ]
    with ServedSimulator(flags) as served:
        argv = [*zoom_batch(), "run", str(manifest), "--plan", point.plan]
        argv += [*url_flags(served.base_url), "--no-state", "--quiet", "--report", str(report)]
        run = run_measured(argv, env=served.env, cwd=work)
        stats = served.stats()
    summary_path = report.with_suffix(".json")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return Outcome(point=point, run=run, stats=stats, summary=summary, sim_cpu=served.cpu)


def row(o: Outcome) -> tuple[object, ...]:
    p, s = o.point, o.stats
    efficiency = server_efficiency(s, p.limit)
    requests = s["picture_requests"]
    share = s["responses_429"] / requests if requests else 0.0
    uploaded = (o.summary or {}).get("counts", {}).get("uploaded", 0)
    duration = (o.summary or {}).get("duration_s")
    return (
        f"{p.limit}/s ({p.plan})",
        f"{p.answer_ms:g} ± {p.answer_ms / 3:.0f}",
        f"{p.limit * p.answer_ms / 1000:.0f}",
        f"{uploaded}/{p.rows}",
        "—" if efficiency is None else f"{efficiency:.3f}",
        f"{s['responses_429']} ({share:.1%})",
        s["peak_in_flight"],
        f"{o.run.cpu:.2f}",
        f"{o.run.max_rss_mb:.0f}",
        f"{o.sim_cpu:.2f}",
        "—" if duration is None else f"{float(duration):.2f}",
        f"{o.run.wall:.2f}",
    )


def render(outcomes: list[Outcome], args: argparse.Namespace, photo_bytes: int | None) -> str:
    headers = (
        "limit",
        "answer time ms",
        "in flight needed (limit x answer)",
        "uploaded",
        "efficiency at the server",
        "429s (share)",
        "peak in flight at the server",
        "client CPU s",
        "client peak RSS MB",
        "simulator CPU s",
        "run duration_s",
        "process wall s",
    )
    if photo_bytes is None:
        photos = "small distinct JPEGs (64x64, ~1 KB)"
    else:
        photos = f"distinct {photo_bytes:,}-byte JPEGs (random pixels, padded with comments)"
    if args.uplink_mbps:
        uplink = f"an uplink of {args.uplink_mbps:g} Mbit/s shared by the requests in flight"
    else:
        uplink = "an unlimited uplink (loopback; the simulator holds no answer for the body)"
    if photo_bytes is not None:
        need = max(point.limit for point in (o.point for o in outcomes)) * photo_bytes * 8 / 1e6
        uplink += f"; this pace of these photos needs {need:,.0f} Mbit/s"
    rss = "GNU time" if Path(GNU_TIME).exists() else "wait4 (GNU time missing: inflated)"
    title = "Peak memory with 2 MB photos in flight" if args.memory else "Pace against answer time"
    parts = [
        header(f"### {title} (`bench/latency.py`)"),
        f"`zoom-batch simulate` in its own process (answer = Zoom's processing ± a third, no"
        f" added round trip), {photos}, {uplink}. `zoom-batch run --plan PLAN --no-state"
        " --quiet` as a subprocess, default settings otherwise. *Efficiency at the server*:"
        " (accepted requests - 1) over the span from the first to the last accepted arrival,"
        " divided by the limit. *Peak in flight*: the most requests the server held at once."
        f" Client peak RSS from {rss}.",
        "",
        table(headers, [row(o) for o in outcomes]),
    ]
    notes = [
        f"- note: {o.point.limit}/s, {o.point.answer_ms:g} ms: exit {o.run.returncode}:"
        f" {o.run.stderr.strip()[-300:]}"
        for o in outcomes
        if o.run.returncode not in (0, 1)
    ]
    if notes:
        parts += ["", *notes]
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 and 120 rows, not 300 and 600")
    parser.add_argument("--memory", action="store_true", help="2 MB photos, 60/s, 3 s answers")
    parser.add_argument("--photo-kb", type=int, help="photo size in KB (default ~1; 2000 = 2 MB)")
    parser.add_argument("--uplink-mbps", type=float, default=0.0, help="default: unlimited")
    parser.add_argument("--rows", type=int, help="uploads per run (default: ~10 s at the limit)")
    args = parser.parse_args()
    if args.memory and args.photo_kb is None:
        args.photo_kb = 2000
    if args.memory and args.quick and args.rows is None:
        args.rows = 240
    todo = points(args)
    most = max(point.rows for point in todo)
    photo_bytes = None if args.photo_kb is None else min(args.photo_kb * 1000, LARGEST)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        folder = Path(tmp) / "photos"
        if photo_bytes is None:
            photos = write_photos(folder, most, seed=12)
        else:
            photos = write_large_photos(folder, most, photo_bytes)
        for i, point in enumerate(todo):
            print(
                f"… {point.limit}/s, answers {point.answer_ms:g} ms, {point.rows} rows"
                f" ({i + 1}/{len(todo)})",
                file=sys.stderr,
                flush=True,
            )
            outcomes.append(run_point(point, photos, Path(tmp) / f"run{i}", args.uplink_mbps))
    print(render(outcomes, args, photo_bytes))


if __name__ == "__main__":
    main()
