"""What each part of an upload costs the client: the same run with one part stubbed out.

An analysis, not a way to run the tool: ``zoom-batch run --rate 100000 --concurrency 32
--no-state`` against the simulator (its own process, no rate limit), in a child process that
first replaces one part of the tool with the least that keeps the run going:

* ``retry machinery``: ``send_with_retries`` makes its one attempt and nothing else (the
  first attempt runs before tenacity is imported already: this shows what the wrapper costs);
* ``email checks``: ``check_user`` only trims the cell.

Every variant runs once per round, ``--repeat`` rounds; savings are taken within a round and
the medians shown. The bare aiohttp script (``bench/bare_aiohttp.py``) is the floor.

    python bench/ablation.py [--rows 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _common import (
    ROOT,
    Measured,
    SimulatorProcess,
    compile_package,
    header,
    manifest_over,
    run_measured,
    sim_env,
    table,
    url_flags,
    write_photos,
)

from batch import SimulatorOptions

BARE = "bench/bare_aiohttp.py (the floor)"
SHIPPED = "zoom-batch run, as shipped"
VARIANTS: dict[str, tuple[str, ...]] = {
    SHIPPED: (),
    "… without the retry machinery (tenacity)": ("retry",),
    "… without email checks": ("email",),
    "… without both": ("retry", "email"),
}


def measure(
    sim: SimulatorProcess, manifest: Path, report: Path, stubs: tuple[str, ...]
) -> Measured:
    argv = [*url_flags(sim.base_url), "--rate", "100000", "--concurrency", "32", "--no-state"]
    argv = ["run", str(manifest), *argv, "--quiet", "--report", str(report)]
    child = str(Path(__file__).with_name("_ablation_child.py"))
    command = [sys.executable, child, ",".join(stubs), *argv]
    run = run_measured(command, env=sim_env())
    summary = json.loads(report.with_suffix(".json").read_text())
    if summary["counts"]["uploaded"] != summary["total"]:
        raise SystemExit(f"not every row uploaded: {summary['counts']}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.rows
    compile_package()
    runs: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ablation-") as tmp:
        folder = Path(tmp)
        print(f"… writing {n:,} photos", file=sys.stderr, flush=True)
        photos = write_photos(folder / "photos", n, seed=13)
        manifest = manifest_over(folder / "manifest.csv", photos, n)
        with SimulatorProcess(SimulatorOptions(rate_limit=0)) as sim:
            bare = [sys.executable, str(ROOT / "bench" / "bare_aiohttp.py"), str(manifest)]
            bare += ["--base-url", sim.base_url]
            # Rounds of every variant back to back: a saving is taken within one round, so a
            # change in the machine's load between rounds does not show up as one.
            for i in range(args.repeat):
                for label, stubs in VARIANTS.items():
                    print(f"… {label} ({i + 1}/{args.repeat})", file=sys.stderr, flush=True)
                    run = measure(sim, manifest, folder / f"r{i}.csv", stubs)
                    runs.setdefault(label, []).append(run)
                print(f"… bare aiohttp ({i + 1}/{args.repeat})", file=sys.stderr, flush=True)
                runs.setdefault(BARE, []).append(run_measured(bare))
    full = runs[SHIPPED]
    rows = []
    for label, measured in runs.items():
        cpu = statistics.median(m.cpu for m in measured)
        saved = [(f.cpu - m.cpu) * 1000 / n for f, m in zip(full, measured, strict=True)]
        rows.append(
            (
                label,
                f"{statistics.median(m.wall for m in measured):.2f}",
                f"{cpu:.2f}",
                f"{cpu * 1000 / n:.3f}",
                "—" if label == SHIPPED else f"{statistics.median(saved):+.3f}",
                "—" if label == SHIPPED else f"{min(saved):+.2f} … {max(saved):+.2f}",
            )
        )
    text = (
        f"{n:,} uploads, one distinct ~1 KB JPEG each; {args.repeat} rounds, medians. CPU"
        " includes start-up (~0.6 s for zoom-batch, ~0.4 s for the bare script). The spread"
        " of a saving over the rounds shows the noise: a part whose range straddles zero costs"
        " less than this machine can resolve."
    )
    headers = ("client", "wall s", "CPU s", "CPU ms/row", "saved ms/row", "range over rounds")
    title = "### What an upload costs the client (`bench/ablation.py`)"
    print("\n".join([header(title), text, "", table(headers, rows)]) + "\n")


if __name__ == "__main__":
    main()
