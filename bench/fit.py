"""``--fit`` on 12-megapixel camera JPEGs: the tool against a bare Pillow loop, in one run.

Camera photos of 3-8 MB (4000x3000; noise then a blur gives a camera's file sizes) are over
Zoom's 2 MB: ``--fit`` converts each to a JPEG of at most 1024 px. Measured in one run, so the
figures compare on the same (noisy, shared) machine:

- a bare Pillow loop on every core (threads: Pillow releases the GIL while it decodes, scales
  and encodes): ``draft`` + ``thumbnail`` to 1024 px + JPEG save, nothing else;
- ``zoom-batch run --fit`` with pacing lifted, against the simulator in its own process;
- the same at 20/s (Pro) and 60/s (Business): does ``--fit`` hold the pace?

Peak RSS is the client's (GNU time). Prints markdown; never asserts.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SimulatorProcess,
    compile_package,
    goal_lines,
    header,
    nproc,
    run_measured,
    sim_env,
    table,
    url_flags,
    user,
    write_manifest,
    zoom_batch,
)

from batch.simulator import SimulatorOptions

SIZE = (4000, 3000)


def camera_jpeg(seed: int) -> bytes:
    """A 12-MP JPEG of a camera's size (~3.3 MB): coarse noise blurred, fine noise, quality 90."""
    rng = random.Random(seed)
    small = Image.frombytes("RGB", (500, 375), rng.randbytes(500 * 375 * 3))
    im = small.resize(SIZE, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(1.2))
    noise = Image.effect_noise(SIZE, 18).convert("RGB")
    im = Image.blend(im, noise, 0.1)
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_camera_photos(folder: Path, count: int, distinct: int) -> list[Path]:
    """``count`` files (distinct inodes, so no check is cached), ``distinct`` pictures."""
    pictures = [camera_jpeg(seed) for seed in range(distinct)]
    paths = []
    for i in range(count):
        path = folder / f"cam{i:04d}.jpg"
        path.write_bytes(pictures[i % distinct])
        paths.append(path)
    return paths


def bare_fit(path: Path) -> int:
    with Image.open(path) as im:
        im.draft("RGB", (1024, 768))  # the smallest DCT scale keeping 1024 px
        im.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG", quality=85)
        return out.tell()


def bare_loop(paths: list[Path]) -> float:
    """Photos per second of the bare loop on every core."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=nproc()) as pool:
        list(pool.map(bare_fit, paths))
    return len(paths) / (time.perf_counter() - started)


def tool_run(
    manifest: Path, base_url: str, plan_flags: list[str], report: Path
) -> tuple[float, float, int]:
    """(uploads/s, peak RSS MB, exit code) of ``zoom-batch run --fit``."""
    argv = [
        *zoom_batch(),
        "run",
        str(manifest),
        "--fit",
        *url_flags(base_url),
        *plan_flags,
        "--no-state",
        "--quiet",
        "--report",
        str(report),
    ]
    measured = run_measured(argv, env=sim_env())
    rows = sum(1 for _ in report.open(encoding="utf-8-sig")) - 1 if report.exists() else 0
    return rows / measured.wall, measured.max_rss_mb, measured.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos")
    parser.add_argument("--photos", type=int, default=None)
    args = parser.parse_args()
    count = args.photos or (24 if args.quick else 120)
    compile_package()
    print(header("--fit on 12-megapixel camera JPEGs"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_camera_photos(folder, count, distinct=min(count, 12))
        sizes = sorted(p.stat().st_size for p in paths)
        manifest = write_manifest(
            folder / "m.csv", ((user(i), p.name) for i, p in enumerate(paths))
        )
        bare = bare_loop(paths)
        rows = []
        lifted = 0.0
        held: dict[int, float] = {}
        peak = 0.0
        for label, limit, flags in (
            ("pacing lifted", 0.0, ["--rate", "1000"]),
            ("Pro, 20/s", 20.0, ["--plan", "pro"]),
            ("Business, 60/s", 60.0, ["--plan", "business"]),
        ):
            with SimulatorProcess(SimulatorOptions(rate_limit=limit)) as sim:
                speed, rss, code = tool_run(manifest, sim.base_url, flags, folder / "r.csv")
                stats = sim.stats()
            if limit == 0:
                lifted, peak = speed, rss
                ratio = f"{speed / bare:.2f}x the bare loop"
            else:
                held[int(limit)] = speed / (limit * 0.97)
                ratio = f"{held[int(limit)]:.2f} of the pace"
            rows.append(
                (label, f"{speed:.1f}", ratio, f"{rss:.0f} MB", stats["rate_limited"], code)
            )
        print(
            f"{count} photos of {SIZE[0]}x{SIZE[1]}, {sizes[0] / 1e6:.1f}-{sizes[-1] / 1e6:.1f} MB;"
            f" bare Pillow loop on {nproc()} threads: **{bare:.1f} photos/s**\n"
        )
        print(table(["run", "uploads/s", "against", "peak RSS", "429s", "exit"], rows))
        print()
        print(
            goal_lines(
                [
                    (
                        "pacing lifted vs bare loop ≥ 0.8x",
                        f"{lifted / bare:.2f}x",
                        lifted / bare >= 0.8,
                    ),
                    ("holds ≥ 0.95 of 20/s", f"{held[20]:.2f}", held[20] >= 0.95),
                    ("peak RSS at full speed ≤ 250 MB", f"{peak:.0f} MB", peak <= 250),
                ]
            )
        )


if __name__ == "__main__":
    main()
