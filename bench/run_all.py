"""Run every benchmark and, with ``--write``, paste their tables into BENCHMARKS.md.

Each benchmark prints one markdown block that names the date, the machine and its own exact
command. BENCHMARKS.md keeps hand-written text outside ``<!-- BEGIN name -->`` /
``<!-- END name -->`` markers; only what lies between them is replaced.

    python bench/run_all.py [--quick] [--large] [--write] [--only NAME,...]

NAME: pacing, latency, memory, fit, faces, skip_unchanged, directory_rerun, scale, ablation, limiter
(all by default, in that order).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

from _common import ROOT, machine_line

DOCUMENT = ROOT / "BENCHMARKS.md"

#: name -> (script, extra arguments); the order in which they run.
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "pacing": ("pacing.py", []),
    "latency": ("latency.py", []),
    "memory": ("latency.py", ["--memory"]),
    "fit": ("fit.py", []),
    "faces": ("faces.py", []),
    "skip_unchanged": ("skip_unchanged.py", []),
    "directory_rerun": ("directory_rerun.py", []),
    "scale": ("scale.py", ["--profile", "--repeat", "3"]),
    "ablation": ("ablation.py", []),
    "limiter": ("limiter_burst.py", []),
}


def run(name: str, quick: bool, large: bool) -> str:
    script, extra = BENCHMARKS[name]
    argv = [sys.executable, str(ROOT / "bench" / script), *extra]
    if large and name == "scale":
        argv.append("--large")
    if quick and name not in ("limiter", "ablation"):
        argv.append("--quick")
    if quick and name == "ablation":
        argv += ["--rows", "1000", "--repeat", "1"]
    print(f"== {script} {' '.join(argv[2:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    print(f"== {script}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed with exit code {done.returncode}")
    out = done.stdout.strip()
    if name == "limiter":  # a plain-text table from an older script: show it verbatim
        command = " ".join(["python", f"bench/{script}", *argv[2:]])
        out = f"Measured {machine_line()}, with `{command}`.\n\n```\n{out}\n```"
    return out


def replace_block(document: str, name: str, block: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->).*?(<!-- END {name} -->)", re.DOTALL)
    if not pattern.search(document):
        raise SystemExit(f"{DOCUMENT.name}: no <!-- BEGIN {name} --> ... <!-- END {name} -->")
    return pattern.sub(lambda m: f"{m.group(1)}\n{block}\n{m.group(2)}", document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (pass --quick on)")
    parser.add_argument("--write", action="store_true", help=f"update {DOCUMENT.name}")
    parser.add_argument("--large", action="store_true", help="scale.py: also 100,000 uploads")
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    blocks = {name: run(name, args.quick, args.large) for name in names}
    if not args.only:
        minutes = (time.perf_counter() - started) / 60
        flags = (" --quick" if args.quick else "") + (" --large" if args.large else "")
        command = f"python bench/run_all.py{flags} --write"
        blocks["run"] = (
            f"Last regenerated in full {machine_line(load=False)}, with `{command}`"
            f" ({minutes:.0f} min)."
        )
    for block in blocks.values():
        print(block + "\n")
    if args.write:
        document = DOCUMENT.read_text(encoding="utf-8")
        for name, block in blocks.items():
            document = replace_block(document, name, block)
        DOCUMENT.write_text(document, encoding="utf-8")
        print(f"updated {DOCUMENT.name}: {', '.join(blocks)}", file=sys.stderr)


if __name__ == "__main__":
    main()
