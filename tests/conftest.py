"""Shared fixtures: small real images, the in-process simulator, and ways to run the CLI."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from batch import Simulator, SimulatorOptions
from batch._cli import main

ROOT = Path(__file__).resolve().parent.parent


def make_jpeg(seed: int = 0, size: tuple[int, int] = (48, 48)) -> bytes:
    """A small real JPEG whose bytes differ with ``seed``."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    image.putpixel((seed % size[0], (seed // size[0]) % size[1]), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def make_png(seed: int = 0, size: tuple[int, int] = (40, 40)) -> bytes:
    image = Image.new("RGBA", size, ((seed * 13) % 256, 120, (seed * 7) % 256, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Photos:
    """A folder of photos and a manifest naming them."""

    folder: Path
    manifest: Path
    files: dict[str, bytes]  #: user -> bytes written for that user


def write_manifest(path: Path, rows: Sequence[tuple[str, str]], header: str = "email,file") -> Path:
    lines = [header] + [f"{user},{file}" for user, file in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Callable[..., Photos]:
    """Factory: ``photos(n)`` writes n users' photos (JPEG and PNG alternating) and a manifest."""

    def build(n: int, *, name: str = "manifest.csv", domain: str = "example.com") -> Photos:
        folder = tmp_path / "photos"
        folder.mkdir(exist_ok=True)
        files: dict[str, bytes] = {}
        rows = []
        for i in range(n):
            user = f"user{i:04d}@{domain}"
            data = make_jpeg(i) if i % 2 == 0 else make_png(i)
            file = f"photos/u{i:04d}.{'jpg' if i % 2 == 0 else 'png'}"
            (tmp_path / file).write_bytes(data)
            files[user] = data
            rows.append((user, file))
        return Photos(folder, write_manifest(tmp_path / name, rows), files)

    return build


@pytest.fixture
async def simulator() -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await simulator(rate_limit=..., ...)`` starts one; all are stopped at the end."""
    started: list[Simulator] = []

    async def start(**options: Any) -> Simulator:
        sim = Simulator(SimulatorOptions(**options))
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


def report_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a report CSV, as dicts."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def status_counts(rows: list[dict[str, str]]) -> dict[str, int]:
    """How many rows of a report have each status."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def sim_env(sim: Simulator, **extra: str) -> dict[str, str]:
    """Environment with the simulator's credentials (as an operator would export them)."""
    env = {
        "ZOOM_ACCOUNT_ID": sim.options.account_id,
        "ZOOM_CLIENT_ID": sim.options.client_id,
        "ZOOM_CLIENT_SECRET": sim.options.client_secret,
    }
    env.update(extra)
    return env


def sim_args(sim: Simulator) -> list[str]:
    return ["--api-url", sim.api_url, "--oauth-url", sim.oauth_url]


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No Zoom variables from the developer's shell; state folder inside tmp_path."""
    for name in list(os.environ):
        if name.startswith("ZOOM_") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def cli(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Any]:
    """``await cli(args, env)``: the real ``zoom-batch`` main() in a thread (its own loop)."""

    async def run(args: Sequence[str], env: dict[str, str] | None = None) -> Outcome:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


async def spawn(args: Sequence[str], env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """``python -m batch ARGS`` as its own process, left running (a test may signal it)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batch",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=cwd,
    )


async def run_subprocess(
    args: Sequence[str], env: dict[str, str], cwd: Path, limit: float = 60
) -> Outcome:
    """The command as a separate process, run to the end (real exit codes and streams)."""
    process = await spawn(args, env, cwd)
    out, err = await asyncio.wait_for(process.communicate(), limit)
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode())


def chromium_screenshot(page: Path, png: Path, *, size: tuple[int, int]) -> list[str] | None:
    """The command that renders ``page`` to ``png`` in Debian's headless Chromium, or None.

    The flags keep Chromium off the network this machine does not have (see the env notes).
    """
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return None
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={png.parent / (png.stem + '-profile')}",
        f"--screenshot={png}",
        f"--window-size={size[0]},{size[1]}",
        page.as_uri(),
    ]
