"""Nothing a file can do hangs the run or misreports a row: hostile manifests and config files.

Through the real CLI: a manifest edited while the run goes (the run reads the snapshot taken
when it was checked), a pipe, a device, a socket or a directory where a manifest should be
(refused at once, named, before anything opens it), and config files built to exhaust memory
or the stack (a "billion laughs" of YAML aliases, 10,000 nested lists).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import socket
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch import _sources
from batch._exceptions import ManifestError
from batch.manifest import Manifest, _manifest, open_manifest
from batch.manifest._snapshot import COPY_CHUNK, Snapshot, take

from .conftest import Outcome, Photos

FAST = ["--simulate", "--sim-rate-limit", "0", "--rate", "1000", "--no-state", "--quiet"]


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


async def within(seconds: float, run: Any, unblock: Callable[[], None]) -> Outcome:
    """Await ``run`` (a ``cli(...)`` call); if it takes longer, ``unblock`` it, then fail."""
    task = asyncio.ensure_future(run)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        unblock()
        await task
        pytest.fail(f"the run took more than {seconds} s: it hung")
    return task.result()


def one_line(outcome: Outcome) -> str:
    lines = outcome.err.splitlines()
    assert len(lines) == 1, outcome.err
    assert "Traceback" not in outcome.err
    return lines[0]


# -- a manifest edited while the run goes ------------------------------------------------------


def truncate(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: len(lines) // 2]))


EDITS: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "not-utf8": lambda path: path.write_bytes(b"email,file\n" + b"caf\xe9@x.com,\xff.jpg\n" * 50),
    "emptied": lambda path: path.write_bytes(b""),
    "deleted": lambda path: path.unlink(),
    "replaced-by-a-directory": lambda path: (path.unlink(), path.mkdir()),
}


@pytest.mark.parametrize("edit", list(EDITS))
async def test_a_manifest_edited_after_its_check_is_run_as_it_was_checked(
    cli: Any,
    photos: Callable[..., Photos],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: str,
) -> None:
    """The edit lands between the check (which counts the rows) and the streaming of them."""
    batch = photos(300)  # more than one batch of reads (the pool reads 256 rows at a time)
    original = batch.manifest.read_bytes()
    checked: list[Manifest] = []

    def open_then_edit(path: Path, **options: Any) -> Manifest:
        manifest = open_manifest(path, **options)
        checked.append(manifest)
        EDITS[edit](path)
        return manifest

    monkeypatch.setattr(_sources, "open_manifest", open_then_edit)
    report = tmp_path / "report.csv"
    outcome = await cli(["run", str(batch.manifest), *FAST, "--report", str(report)])
    assert outcome.code == 0, outcome.err
    rows = read_report(report)
    assert [r["user"] for r in rows] == list(batch.files)
    assert {r["status"] for r in rows} == {"uploaded"}
    summary = json.loads(report.with_suffix(".json").read_text())
    assert (summary["total"], summary["counts"]["uploaded"]) == (300, 300)
    assert sum(summary["counts"].values()) == 300
    (manifest,) = checked
    assert manifest.size == len(original)
    assert manifest.sha256 == hashlib.sha256(original).hexdigest()


def test_the_rows_come_from_the_snapshot_not_the_path(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b"email,file\na@x.com,a.jpg\nb@x.com,b.jpg\n")
    with open_manifest(path) as manifest:
        path.write_bytes(b"email,file\nc@x.com,c.jpg\n")
        assert [(r.line, r.user) for r in manifest.rows()] == [(2, "a@x.com"), (3, "b@x.com")]
        path.unlink()
        assert [r.user for r in manifest.rows()] == ["a@x.com", "b@x.com"]  # read again
        assert manifest.total == 2
    with pytest.raises(ValueError, match="closed"):
        next(manifest.rows())


def test_two_readers_of_one_snapshot_keep_their_own_place(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("email,file\n" + "".join(f"u{i}@x.com,{i}.jpg\n" for i in range(5000)))
    with open_manifest(path) as manifest:
        first, second = manifest.rows(), manifest.rows()
        pairs = [(a.user, b.user) for a, b in zip(first, second, strict=True)]
    assert pairs == [(f"u{i}@x.com", f"u{i}@x.com") for i in range(5000)]


def test_a_manifest_refused_early_is_not_copied_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot is copied as the check reads: a bad header on line 1 of a 20 MB file
    stops the check there, and the rest of the file is never read."""
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.write(b"name,photo\n")
        handle.write(b"Ada,a.jpg\n" * 2_000_000)
    taken: list[Snapshot] = []

    def spy(path: Path) -> Snapshot:
        taken.append(take(path))
        return taken[-1]

    monkeypatch.setattr(_manifest, "take", spy)
    with pytest.raises(ManifestError, match="line 1: no user column"):
        open_manifest(path)
    (snapshot,) = taken
    assert snapshot.size == COPY_CHUNK
    assert snapshot.closed  # and deleted


# -- what is not a file -----------------------------------------------------------------------


def refused(path: Path | str, what: str) -> str:
    return f"zoom-batch: {path}: is {what}, not a manifest file — save the manifest to a file first"


async def test_a_fifo_is_refused_at_once(cli: Any, tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes, deaf to SIGTERM: nothing may open it."""
    fifo = tmp_path / "m.csv"
    os.mkfifo(fifo)

    def unblock() -> None:  # a writer that writes nothing: the reader's open() returns
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    started = time.perf_counter()
    outcome = await within(5, cli(["run", str(fifo), "--simulate"]), unblock)
    assert time.perf_counter() - started < 2
    assert (outcome.code, one_line(outcome)) == (2, refused(fifo, "a pipe"))


async def test_a_fifo_with_a_writer_is_not_drained(cli: Any, tmp_path: Path) -> None:
    fifo = tmp_path / "m.csv"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that the writer can open
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, b"email,file\na@x.com,a.jpg\n")
        outcome = await within(5, cli(["validate", str(fifo)]), lambda: os.close(writer))
        assert (outcome.code, one_line(outcome)) == (2, refused(fifo, "a pipe"))
        assert os.read(reader, 100) == b"email,file\na@x.com,a.jpg\n"  # still all there
    finally:
        os.close(writer)
        os.close(reader)


async def test_a_pipe_through_dev_fd_is_refused(cli: Any) -> None:
    """``/dev/stdin`` and ``<(...)`` are symlinks to a pipe: what they point to is refused."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"photos/p254.png\n" * 10)
        path = f"/dev/fd/{read_end}"
        outcome = await within(5, cli(["validate", path, "--format", "csv"]), lambda: None)
        assert (outcome.code, one_line(outcome)) == (2, refused(path, "a pipe"))
    finally:
        os.close(write_end)
        os.close(read_end)


@pytest.mark.parametrize("path", ["/dev/null", "/dev/zero"])
async def test_a_device_is_refused(cli: Any, path: str) -> None:
    outcome = await within(5, cli(["validate", path, "--format", "csv"]), lambda: None)
    assert (outcome.code, one_line(outcome)) == (2, refused(path, "a device"))


async def test_a_socket_is_refused(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
        outcome = await within(5, cli(["validate", str(path)]), lambda: None)
        assert (outcome.code, one_line(outcome)) == (2, refused(path, "a socket"))
    finally:
        server.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "{p}: is a directory, not a manifest file"),
        (lambda p: None, "{p}: manifest not found"),
        (lambda p: os.symlink(p, p), "{p}: cannot read the manifest (Too many levels of symbolic"),
        (lambda p: os.symlink(p.parent / "gone", p), "{p}: manifest not found"),
    ],
    ids=["directory", "missing", "symlink-loop", "dangling-symlink"],
)
async def test_other_paths_that_are_no_file_say_what_they_are(
    cli: Any, tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "m.csv"
    make(path)
    outcome = await within(5, cli(["validate", str(path)]), lambda: None)
    assert outcome.code == 2
    assert one_line(outcome).startswith("zoom-batch: " + message.format(p=path))


# -- config files that would exhaust memory or the stack ---------------------------------------


def laughs(levels: int = 9, width: int = 10) -> str:
    """YAML whose last alias stands for width**levels strings: ~1 KB that expands to 10**9."""
    lines = ['a0: &a0 "lol"']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def bounded(run: Callable[[], int]) -> tuple[int, float, int]:
    """(exit code, seconds, peak bytes Python allocated) of ``run()``."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        code = run()
        return code, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(
            "plan: pro\nsimulator:\n  " + laughs().replace("\n", "\n  "),
            4,
            "*a0 is a YAML alias; write the value out — a config file takes no aliases",
            id="billion-laughs-under-simulator",
        ),
        pytest.param(
            "state: &x [a, b]\nroot: *x\n",
            2,
            "*x is a YAML alias; write the value out — a config file takes no aliases",
            id="alias-of-a-setting",
        ),
        pytest.param(
            "plan: pro\nroot: " + "[" * 10_000 + "]" * 10_000 + "\n",
            2,
            "nested more than 20 levels deep — a config file's settings nest a few levels at most",
            id="10000-nested-lists",
        ),
        pytest.param(
            "simulator:\n  users: " + "{a: " * 10_000 + "b" + "}" * 10_000 + "\n",
            2,
            "nested more than 20 levels deep — a config file's settings nest a few levels at most",
            id="10000-nested-mappings",
        ),
        pytest.param(
            "simulator:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 100)),
            21,
            "nested more than 20 levels deep — a config file's settings nest a few levels at most",
            id="100-nested-blocks",
        ),
    ],
)
def test_a_hostile_config_stops_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, message: str
) -> None:
    from batch._cli import main

    (tmp_path / "m.csv").write_text("email,file\na@x.com,a.jpg\n")
    config = tmp_path / "c.yaml"
    config.write_text(text)
    assert config.stat().st_size < 70_000
    argv = ["run", str(tmp_path / "m.csv"), "--config", str(config), "--simulate"]
    code, seconds, peak = bounded(lambda: main(argv))
    err = capsys.readouterr().err
    assert (code, err) == (2, f"zoom-batch: {config}: line {line}: {message}\n")
    assert seconds < 1.0
    assert peak < 20 * 1024 * 1024, peak
