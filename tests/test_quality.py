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


def test_a_run_loads_neither_the_simulator_nor_yaml() -> None:
    """Start-up is part of every run's cost (bench/scale.py): what a plain run never uses
    stays unloaded until asked for."""
    probe = (
        "import sys, batch._cli, batch._runner, batch._pool;"
        "print(sorted(m for m in ('batch._simulator', 'aiohttp.web', 'yaml') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
