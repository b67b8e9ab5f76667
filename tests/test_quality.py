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
    public = {n for n in vars(batch) if not n.startswith("_") and n != "annotations"}
    assert set(batch.__all__) - {"__version__"} == public
    assert {"Config", "run_manifest", "RowResult", "Status", "SetupError", "Simulator"} <= public
