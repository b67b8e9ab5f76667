"""The codebase's own checks: ruff clean, mypy --strict clean, a deliberate public surface."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator

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
    library, rich, aiohttp and Pillow's decoders load when a run asks for them (--simulate, a
    YAML file, a first retry, a terminal to draw on, a request to send, a photo to check)."""
    unused = (
        "batch.simulator",
        "cv2",
        "numpy",
        "skimage",
        "aiohttp",
        "yaml",
        "tenacity",
        "rich",
        "PIL.JpegImagePlugin",
        "PIL.PngImagePlugin",
    )
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


# --- the layout shows the architecture ------------------------------------------------------

PACKAGE = ROOT / "batch"


def _modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name, parsed."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return found


def _imports(name: str, tree: ast.Module, package: bool) -> Iterator[tuple[str, list[str]]]:
    """(module imported, names taken from it) for each import of ``batch`` modules."""
    base = name.split(".") if package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - node.level + 1]
                module = ".".join([*parent, node.module] if node.module else parent)
            else:
                module = node.module or ""
            if module.startswith("batch"):
                yield module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("batch"):
                    yield alias.name, []


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def test_no_import_cycle_in_the_package() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, tree in modules.items():
        for module, names in _imports(name, tree, _is_package(name)):
            # `from . import x` names a submodule as often as a package attribute.
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            for target in targets or [module]:
                if target in modules and target != name:
                    graph[name].add(target)
    # A package's __init__ re-exporting its own modules is not a cycle of the layout.
    for name in graph:
        graph[name] = {t for t in graph[name] if not (_is_package(t) and name.startswith(t))}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_private_name_is_imported_from_another_module() -> None:
    offenders = []
    for name, tree in _modules().items():
        for module, names in _imports(name, tree, _is_package(name)):
            for imported in names:
                submodule = f"{module}.{imported}"
                dunder = imported.startswith("__") and imported.endswith("__")
                if imported.startswith("_") and not dunder and not _is_module(submodule):
                    offenders.append(f"{name}: {imported} from {module}")
    assert offenders == []


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_no_module_is_a_wall_of_code() -> None:
    """~450 lines at most, except the simulator (a whole fake Zoom in one place)."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 470
        and "simulator" not in path.parts
    }
    assert long == {}


def test_the_run_path_does_not_know_the_simulator() -> None:
    """The CLI starts the simulator and points an ordinary Config at it; nothing else knows."""
    run_path = [PACKAGE / "_runner.py", PACKAGE / "_config.py", PACKAGE / "_pool.py"]
    run_path += [PACKAGE / "_sender.py", *sorted((PACKAGE / "jobs").glob("*.py"))]
    mentions = [p.name for p in run_path if "simulat" in p.read_text(encoding="utf-8").lower()]
    assert mentions == []


def test_one_retry_loop() -> None:
    """Retrying lives in _retry.py: no other module loops over attempts or imports tenacity."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_retry.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "tenacity" in text or re.search(r"for \w+ in range\(\w*ATTEMPTS", text):
            offenders.append(path.name)
    assert offenders == []
