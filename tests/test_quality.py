"""The codebase's own checks: ruff clean, mypy --strict clean, a deliberate public surface."""

from __future__ import annotations

import subprocess
import sys

import pytest

import batch

from .conftest import ROOT


def _module(name: str) -> list[str]:
    pytest.importorskip(name, reason=f"{name} is not installed (pip install '.[test]')")
    return [sys.executable, "-m", name]


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [*_module("ruff"), "check", "batch", "tests", "bench", "samples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run([*_module("mypy"), "batch"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names() -> None:
    """__all__ is exactly what the package exposes, and it holds what a caller needs."""
    public = {n for n in dir(batch) if not n.startswith("_")}
    assert set(batch.__all__) - {"__version__"} == public
    assert all(getattr(batch, name) is not None for name in batch.__all__)  # lazy ones too
    assert {"Config", "run_manifest", "RowResult", "Status", "SetupError", "Simulator"} <= public


def test_start_up_leaves_out_what_a_plain_run_does_not_use() -> None:
    """Start-up is part of every run's cost (bench/scale.py): the simulator, PyYAML, the retry
    library and rich load when a run asks for them (--simulate, a YAML file, a first retry, a
    terminal to draw on)."""
    unused = ("batch.simulator", "aiohttp.web", "yaml", "tenacity", "rich")
    probe = (
        "import io, sys, batch._cli, batch._runner, batch._pool;"
        "from batch.ui import ConsoleProgress;"
        "ConsoleProgress(stream=io.StringIO(), quiet=True);"
        "ConsoleProgress(stream=io.StringIO());"
        f"print(sorted(m for m in {unused!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
