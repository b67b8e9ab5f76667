"""Shared pieces of the benchmarks: photos, manifests, the simulator, measured subprocesses.

Not a benchmark itself. Every benchmark prints one markdown block (title, when and where, the
exact command, a table, goals met or not) that ``bench/run_all.py --write`` pastes into
BENCHMARKS.md. Figures come from one run on a shared, noisy machine: they never assert.
"""

from __future__ import annotations

import asyncio
import collections
import compileall
import contextlib
import dataclasses
import io
import multiprocessing
import multiprocessing.connection
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from batch import Simulator, SimulatorOptions  # noqa: E402

ACCOUNT = "sim-account"
GNU_TIME = "/usr/bin/time"
CLIENT_ID = "sim-client-id"
CLIENT_SECRET = "sim-client-secret"


# -- where and when ------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine_line(*, load: bool = True) -> str:
    """E.g. ``2026-11-28 11:30 UTC · nproc 2 (AMD EPYC) · Python 3.11.7 · load average 0.4``."""
    line = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · nproc {nproc()} ({cpu_model()})"
        f" · Python {platform.python_version()}"
    )
    if load and hasattr(os, "getloadavg"):
        line += f" · load average {os.getloadavg()[0]:.2f} at start"
    return line


def command_line() -> str:
    """How this benchmark was started, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def header(title: str) -> str:
    return f"{title}\n\nMeasured {machine_line()}, with `{command_line()}`.\n"


# -- photos and manifests ------------------------------------------------------------------


def make_jpeg(seed: int, size: int = 64) -> bytes:
    """A small real JPEG (~1-3 KB), different for every seed: a gradient plus noise pixels."""
    rng = random.Random(seed)
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    image = Image.new("RGB", (size, size), base)
    pixels = image.load()
    assert pixels is not None
    for _ in range(24):
        x, y = rng.randrange(size), rng.randrange(size)
        pixels[x, y] = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def write_photos(folder: Path, count: int, *, seed: int = 0) -> list[Path]:
    """``count`` distinct JPEGs named ``pNNNNNN.jpg`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"p{i:06d}.jpg"
        path.write_bytes(make_jpeg(seed * 1_000_003 + i))
        paths.append(path)
    return paths


def user(i: int) -> str:
    return f"user{i:06d}@example.com"


def write_manifest(path: Path, rows: Iterable[tuple[str, str]]) -> Path:
    """A CSV manifest with an ``email,file`` header."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("email,file\n")
        for email, file in rows:
            handle.write(f"{email},{file}\n")
    return path


def manifest_over(path: Path, photos: Sequence[Path], rows: int) -> Path:
    """``rows`` users, photos used in turn (relative to the manifest's folder)."""
    folder = path.parent
    names = [str(p.relative_to(folder)) for p in photos]
    return write_manifest(path, ((user(i), names[i % len(names)]) for i in range(rows)))


# -- running the tool ----------------------------------------------------------------------


def compile_package() -> None:
    """Write the package's bytecode, as ``pip install .`` does, before timing any start-up.

    An editable install run with PYTHONDONTWRITEBYTECODE=1 (these machines set it) compiles
    every module of ``batch`` from source at each start: ~90 ms that an installed copy, whose
    .pyc files pip writes, never spends. Idempotent: up-to-date files are left alone.
    """
    compileall.compile_dir(ROOT / "batch", quiet=1)


def zoom_batch() -> list[str]:
    """The installed ``zoom-batch`` script next to this Python, else ``python -m batch``."""
    compile_package()
    script = Path(sys.executable).with_name("zoom-batch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "batch"]


def sim_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a run against the simulator (its documented demo credentials)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")}
    env.update(
        ZOOM_ACCOUNT_ID=ACCOUNT,
        ZOOM_CLIENT_ID=CLIENT_ID,
        ZOOM_CLIENT_SECRET=CLIENT_SECRET,
        NO_COLOR="1",
    )
    env.update(extra or {})
    return env


def url_flags(base_url: str) -> list[str]:
    return ["--api-url", f"{base_url}/v2", "--oauth-url", f"{base_url}/oauth/token"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Measured:
    """One finished child process: wall time and the kernel's own accounting (wait4)."""

    returncode: int
    wall: float  #: seconds from spawn to exit
    max_rss_mb: float  #: peak resident set of the child (or its largest reaped descendant)
    cpu: float  #: user + system seconds of the child and its reaped descendants
    stdout: str
    stderr: str


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: Path | None = None,
) -> Measured:
    """Run ``argv`` to completion (stdout and stderr captured through temp files).

    CPU comes from ``wait4`` on the child: its own and its reaped descendants' (the kernel's
    RUSAGE_BOTH), unlike RUSAGE_CHILDREN, which is the maximum over every child so far. Peak
    RSS comes from GNU time when present: a child forked from this (large) process inherits
    its high-water mark, which would hide a smaller child's own peak.
    """
    started = time.perf_counter()
    with (
        open(stdin or os.devnull, "rb") as source,
        _spool() as out,
        _spool() as err,
        tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss,
    ):
        wrapped = list(argv)
        if Path(GNU_TIME).exists():
            wrapped = [GNU_TIME, "-q", "-f", "%M", "-o", rss.name, *wrapped]
        proc = subprocess.Popen(wrapped, stdin=source, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        peak_kb = usage.ru_maxrss  # Linux: kilobytes
        with contextlib.suppress(ValueError, OSError):
            peak_kb = int(Path(rss.name).read_text().split()[-1])
        return Measured(
            returncode=proc.returncode,
            wall=wall,
            max_rss_mb=peak_kb / 1024,
            cpu=usage.ru_utime + usage.ru_stime,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


@contextlib.contextmanager
def _spool() -> Iterator[Any]:
    with tempfile.TemporaryFile() as handle:
        yield handle


async def run_async(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None
) -> tuple[int, float, str, str]:
    """Run ``argv`` without blocking the loop (an in-process simulator keeps serving)."""
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
    )
    out, err = await proc.communicate()
    wall = time.perf_counter() - started
    assert proc.returncode is not None
    return proc.returncode, wall, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


# -- the simulator in its own process ------------------------------------------------------


def _serve_child(options: SimulatorOptions, conn: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        async with Simulator(options) as sim:
            conn.send(sim.base_url)
            while True:
                command = await asyncio.to_thread(conn.recv)
                if command == "stop":
                    return
                if command == "stats":
                    stats = dataclasses.asdict(sim.stats)
                    stats.pop("arrivals")
                    stats.pop("accepted")
                    stats["max_in_1s"] = sim.max_requests_in_window()
                    conn.send(stats)
                elif command == "received":
                    conn.send({key: pic.sha256 for key, pic in sim.received.items()})
                elif command == "reset":
                    sim.stats = type(sim.stats)()
                    sim.received.clear()
                    conn.send(True)

    asyncio.run(main())


class SimulatorProcess:
    """``batch.Simulator`` in a separate process, so client and server use different cores."""

    def __init__(self, options: SimulatorOptions) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_child, args=(options, child), daemon=True)

    def __enter__(self) -> SimulatorProcess:
        self._process.start()
        if not self._conn.poll(30):
            raise RuntimeError("the simulator process did not start")
        self.base_url: str = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)

    def _ask(self, command: str) -> Any:
        self._conn.send(command)
        return self._conn.recv()

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self._ask("stats")
        return result

    def received(self) -> dict[str, str]:
        result: dict[str, str] = self._ask("received")
        return result

    def reset(self) -> None:
        self._ask("reset")


# -- profiles ------------------------------------------------------------------------------

#: Frames that only say "the event loop ran something": left out of the inclusive ranking.
_PLUMBING = (
    "asyncio/",
    "<frozen ",
    "threading.py",
    "concurrent/futures",
    "selectors.py",
    "(batch/_cli.py)",
    "<module> (zoom-batch)",
)
_IDLE_WORKER = "_worker (concurrent/futures/thread.py:81)"


def py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def profile_summary(
    title: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, top: int = 18
) -> str:
    """Run ``argv`` under py-spy (100 Hz) and rank functions by their share of the samples.

    py-spy stops the process for each sample (its default): slower, but whole stacks.
    ``--nonblocking`` gave torn stacks here. Shares are of all samples, idle threads excluded.
    """
    spy = py_spy()
    if spy is None:
        return f"({title}: py-spy is not installed)"
    with tempfile.TemporaryDirectory(prefix="bench-prof-") as tmp:
        raw = Path(tmp) / "profile.txt"
        run = run_measured(
            [spy, "record", "-r", "100", "-f", "raw", "-o", str(raw), "--", *argv],
            env=env,
        )
        if not raw.exists():
            return f"({title}: py-spy failed: {run.stderr.strip()[-300:]})"
        inclusive: collections.Counter[str] = collections.Counter()
        own: collections.Counter[str] = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack.endswith(_IDLE_WORKER):
                continue  # an executor thread waiting for work
            n = int(count)
            total += n
            frames = [_frame_name(f) for f in stack.split(";")[1:]]
            for name in set(frames):
                inclusive[name] += n
            if frames:
                own[frames[-1]] += n
    ranked = [
        (name, n) for name, n in inclusive.most_common() if not any(p in name for p in _PLUMBING)
    ]
    ranked = ranked[:top]
    rows = [(f"`{name}`", f"{n / total:.1%}", f"{own[name] / total:.1%}") for name, n in ranked]
    return f"{title}: {total:,} samples over {run.wall:.1f} s (all threads)\n\n" + table(
        ("function", "inclusive", "self"), rows
    )


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (file.py)``; site-packages paths shortened."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", "/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


# -- output --------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; numbers right-aligned."""
    body = [[str(cell) for cell in row] for row in rows]
    align = []
    for col in range(len(headers)):
        numeric = all(_numeric(row[col]) for row in body if row[col] not in ("", "—"))
        align.append("---:" if numeric and body else "---")
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    cleaned = text.replace(",", "").replace("x", "").replace("%", "").replace(" ", "").strip()
    cleaned = cleaned.removesuffix("s").removesuffix("MB").removesuffix("ms")
    try:
        float(cleaned)
    except ValueError:
        return False
    return True


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def goal_lines(goals: Iterable[tuple[str, str, bool]]) -> str:
    """``- goal: measured → met`` lines."""
    return "\n".join(f"- {goal}: {measured} → {verdict(ok)}" for goal, measured, ok in goals)
