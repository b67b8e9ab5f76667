"""Never lose or repeat work: kill -9, Ctrl-C, SIGTERM, the state lock, crash-safe reports.

Each test drives real ``zoom-batch run`` processes against the in-process simulator, which is
slowed down (latency, a rate limit) so that a run lasts long enough to be signalled mid-way.
Signals are sent once the run has visibly got going (rows in the ``.partial`` report, requests
at the simulator), never after a blind sleep.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import signal
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from batch._report import COLUMNS
from batch._state import StateStore

from .conftest import Outcome, Photos, sha256, sim_args, sim_env, spawn

ROWS = 60
CONCURRENCY = 4
#: Sent slower than the simulator's limit, so no row waits on a 429.
RATE = "40"
SIM_LIMIT = 50.0
SIM_LATENCY_MS = 60.0
INTERRUPTED = "interrupted while uploading: it may or may not have reached Zoom"


# -- helpers -----------------------------------------------------------------------------------


Spawn = Callable[[Sequence[str], dict[str, str], Path], Awaitable[asyncio.subprocess.Process]]


@pytest.fixture
async def zoom_batch() -> AsyncIterator[Spawn]:
    """``await zoom_batch(args, env, cwd)``: :func:`spawn`, killing any left running at the end."""
    started: list[asyncio.subprocess.Process] = []

    async def start(
        args: Sequence[str], env: dict[str, str], cwd: Path
    ) -> asyncio.subprocess.Process:
        process = await spawn(args, env, cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.communicate()


async def finish(process: asyncio.subprocess.Process, limit: float = 30) -> Outcome:
    out, err = await asyncio.wait_for(process.communicate(), limit)
    assert process.returncode is not None
    return Outcome(process.returncode, out.decode(), err.decode())


def partial_of(report: Path) -> Path:
    return report.with_name(report.name + ".partial")


def complete_rows(path: Path) -> list[list[str]]:
    """The data rows of a report being written: only lines that end with a newline."""
    text = path.read_text(encoding="utf-8-sig") if path.exists() else ""
    done = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(done, newline="")))
    if rows:
        assert tuple(rows[0]) == COLUMNS
    return rows[1:]


async def wait_for_rows(
    process: asyncio.subprocess.Process, report: Path, count: int, limit: float = 15
) -> list[list[str]]:
    """Poll the ``.partial`` report until it holds ``count`` rows; fail if the run ends first."""
    deadline = time.monotonic() + limit
    while True:
        rows = complete_rows(partial_of(report))
        if len(rows) >= count:
            return rows
        if process.returncode is not None:
            outcome = await finish(process)
            pytest.fail(f"the run ended (exit {outcome.code}) before {count} rows: {outcome.err}")
        assert time.monotonic() < deadline, f"only {len(rows)} rows after {limit} s"
        await asyncio.sleep(0.02)


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def run_args(batch: Photos, sim: Any, report: Path, state: Path, *extra: str) -> list[str]:
    return [
        "run",
        str(batch.manifest),
        *sim_args(sim),
        "--rate",
        RATE,
        "--concurrency",
        str(CONCURRENCY),
        "--state",
        str(state),
        "--report",
        str(report),
        "--quiet",
        *extra,
    ]


def by_status(rows: list[dict[str, str]], status: str) -> set[str]:
    return {r["user"] for r in rows if r["status"] == status}


def open_store(state: Path) -> StateStore:
    return StateStore.open(state, account_id="sim-account", run_id="test-check")


# -- kill -9 -----------------------------------------------------------------------------------


async def test_kill_9_mid_run_then_the_same_command_uploads_only_what_is_left(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, zoom_batch: Spawn
) -> None:
    batch = photos(ROWS)
    sim = await simulator(rate_limit=SIM_LIMIT, latency_ms=SIM_LATENCY_MS)
    report, state = tmp_path / "report.csv", tmp_path / "state.sqlite3"
    args = run_args(batch, sim, report, state)
    process = await zoom_batch(args, sim_env(sim), tmp_path)

    # Progress shows in the .partial report while the run goes on, rows only appended.
    early = await wait_for_rows(process, report, 8)
    assert not report.exists()
    later = await wait_for_rows(process, report, len(early) + 10)
    assert later[: len(early)] == early
    process.kill()
    assert await process.wait() == -signal.SIGKILL
    await finish(process)

    # Only the .partial is left: a header plus complete rows 1..k, all uploaded.
    assert not report.exists()
    assert not report.with_suffix(".json").exists()
    assert partial_of(report).read_bytes().endswith(b"\r\n")
    killed = complete_rows(partial_of(report))
    assert len(killed) >= len(later)
    assert [int(r[0]) for r in killed] == list(range(1, len(killed) + 1))
    assert all(len(r) == len(COLUMNS) for r in killed)
    assert {r[3] for r in killed} == {"uploaded"}
    reported_before = {r[1] for r in killed}
    assert len(reported_before) == len(killed) < ROWS

    again = await finish(await zoom_batch(args, sim_env(sim), tmp_path))
    assert again.code == 0, again.err
    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    assert {r["status"] for r in rows} == {"uploaded", "skipped"}
    skipped, uploaded = by_status(rows, "skipped"), by_status(rows, "uploaded")
    # Each success was recorded as it happened: every row the killed run reported is skipped.
    assert reported_before <= skipped
    for user, data in batch.files.items():
        assert sim.received[user].sha256 == sha256(data)
    repeated = {user for user, got in sim.received.items() if got.count > 1}
    assert repeated <= uploaded  # only uploads in flight at the kill are sent again
    assert sim.stats.uploads - ROWS == sum(sim.received[u].count - 1 for u in repeated)
    assert sim.stats.uploads - ROWS <= CONCURRENCY
    assert len(skipped) + len(uploaded) == ROWS
    assert not partial_of(report).exists()


# -- SIGINT / SIGTERM --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code", "reason"),
    [
        (signal.SIGINT, 130, "interrupted (Ctrl-C)"),
        (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    ],
    ids=["SIGINT", "SIGTERM"],
)
async def test_signal_gives_a_complete_report_then_retry_failed_finishes_the_rest(
    tmp_path: Path,
    photos: Callable[..., Photos],
    simulator: Any,
    zoom_batch: Spawn,
    number: signal.Signals,
    code: int,
    reason: str,
) -> None:
    batch = photos(ROWS)
    sim = await simulator(rate_limit=SIM_LIMIT, latency_ms=SIM_LATENCY_MS)
    report, state = tmp_path / "report.csv", tmp_path / "state.sqlite3"
    process = await zoom_batch(run_args(batch, sim, report, state), sim_env(sim), tmp_path)
    await wait_for_rows(process, report, 15)
    process.send_signal(number)
    signalled = time.monotonic()
    outcome = await finish(process)
    assert time.monotonic() - signalled < 3  # in-flight uploads take ~60 ms to finish
    assert outcome.code == code, outcome.err
    assert (
        f"zoom-batch: {reason}: finishing uploads in flight (press Ctrl-C again to abort them)"
        in outcome.err
    )
    assert "Traceback" not in outcome.err

    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    assert {r["status"] for r in rows} == {"uploaded", "not_attempted"}
    uploaded = by_status(rows, "uploaded")
    # In-flight uploads were let finish; nothing else was sent after the signal.
    assert uploaded == set(sim.received)
    assert {got.count for got in sim.received.values()} == {1}
    left = [r for r in rows if r["status"] == "not_attempted"]
    assert len(left) >= ROWS - 15 - 3 * CONCURRENCY
    for row in left:
        assert row["message"].startswith(f"not sent: the run was {reason}"), row
    summary = json.loads(report.with_suffix(".json").read_text())
    assert summary["interrupted"] is True
    assert summary["exit_code"] == code  # the summary and the process agree
    assert summary["counts"]["uploaded"] == len(uploaded)
    assert summary["counts"]["not_attempted"] == len(left)
    assert not partial_of(report).exists()

    # --retry-failed that report: everything ends done, nothing is uploaded twice.
    retried = tmp_path / "retried.csv"
    again = await finish(
        await zoom_batch(
            run_args(batch, sim, retried, state, "--retry-failed", str(report)),
            sim_env(sim),
            tmp_path,
        )
    )
    assert again.code == 0, again.err
    rows = read_report(retried)
    assert [int(r["row"]) for r in rows] == list(range(1, ROWS + 1))
    assert by_status(rows, "skipped") == uploaded
    assert {r["message"] for r in rows if r["status"] == "skipped"} == {
        f"not retried: done in {report}"
    }
    assert by_status(rows, "uploaded") == set(batch.files) - uploaded
    assert sim.stats.uploads == ROWS
    for user, data in batch.files.items():
        assert sim.received[user].count == 1
        assert sim.received[user].sha256 == sha256(data)


async def test_second_ctrl_c_aborts_uploads_in_flight_at_once(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, zoom_batch: Spawn
) -> None:
    batch = photos(12)
    # Uploads that take 3 s: the first Ctrl-C would wait for them, the second must not.
    sim = await simulator(rate_limit=0, latency_ms=3000)
    report, state = tmp_path / "report.csv", tmp_path / "state.sqlite3"
    process = await zoom_batch(run_args(batch, sim, report, state), sim_env(sim), tmp_path)
    deadline = time.monotonic() + 10
    while sim.stats.picture_requests < CONCURRENCY:
        assert process.returncode is None and time.monotonic() < deadline
        await asyncio.sleep(0.02)
    process.send_signal(signal.SIGINT)
    await asyncio.sleep(0.3)
    assert process.returncode is None  # waiting for the uploads in flight
    process.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    outcome = await finish(process)
    assert time.monotonic() - signalled < 1.5
    assert outcome.code == 130, outcome.err
    assert "Traceback" not in outcome.err

    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, 13))
    assert {r["status"] for r in rows} == {"not_attempted"}
    messages = [r["message"] for r in rows]
    assert messages[:CONCURRENCY] == [f"{INTERRUPTED} — run again to make sure"] * CONCURRENCY
    assert messages[CONCURRENCY:] == ["not sent: the run was interrupted (Ctrl-C)"] * (
        12 - CONCURRENCY
    )
    assert sim.stats.picture_requests == CONCURRENCY
    # Not recorded as done, so the next run sends them again; the lock was released.
    with open_store(state) as store:
        assert all(store.last_upload(user) is None for user in batch.files)


# -- one run per state store -------------------------------------------------------------------


async def test_second_run_on_the_same_store_refuses_naming_the_first(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, zoom_batch: Spawn
) -> None:
    batch = photos(ROWS)
    sim = await simulator(rate_limit=SIM_LIMIT, latency_ms=SIM_LATENCY_MS)
    report, state = tmp_path / "report.csv", tmp_path / "state.sqlite3"
    # Slow enough (12 s) to be still going however long the second one takes to start.
    slow = run_args(batch, sim, report, state, "--rate", "5")
    first = await zoom_batch(slow, sim_env(sim), tmp_path)
    await wait_for_rows(first, report, 3)

    other = tmp_path / "other.csv"
    second = await finish(
        await zoom_batch(run_args(batch, sim, other, state), sim_env(sim), tmp_path)
    )
    assert first.returncode is None  # the first run was still going
    assert second.code == 2
    lines = second.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"zoom-batch: {state} is in use by another zoom-batch run"
        f" (pid {first.pid} on {socket.gethostname()}, run "
    )
    assert lines[0].endswith(
        "— wait for it to finish: one run at a time per Zoom account, since two would share"
        " and overrun the account's rate limit"
    )
    assert not other.exists() and not partial_of(other).exists()

    first.send_signal(signal.SIGTERM)
    outcome = await finish(first)
    assert outcome.code == 143, outcome.err
    uploaded = by_status(read_report(report), "uploaded")
    assert uploaded == set(sim.received)
    with open_store(state) as store:  # intact, holding exactly the first run's uploads
        for user, data in batch.files.items():
            record = store.last_upload(user)
            if user in uploaded:
                assert record is not None and record.sha256 == sha256(data)
            else:
                assert record is None


def _random_bytes(path: Path) -> None:
    path.write_bytes(b"not a database\n" * 64)


def _foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.close()


def _damaged_store(path: Path) -> None:
    with open_store(path) as store:
        for i in range(3000):
            store.record_upload(f"old{i}@example.com", sha256(str(i).encode()))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = b"\xff" * 3000  # pages only an integrity check reads
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_random_bytes, re.escape("file is not a database")),
        (_foreign_database, re.escape("it holds other tables: contacts")),
        # SQLite's report of the damage spans lines: it must still be one line.
        (_damaged_store, "damaged: [^\n]+"),
    ],
    ids=["random-bytes", "foreign-sqlite", "damaged-store"],
)
async def test_corrupt_or_foreign_state_file_is_one_clear_line(
    tmp_path: Path,
    photos: Callable[..., Photos],
    simulator: Any,
    cli: Any,
    make: Callable[[Path], None],
    reason: str,
) -> None:
    batch = photos(3)
    sim = await simulator(rate_limit=0)
    report, state = tmp_path / "report.csv", tmp_path / "state.sqlite3"
    make(state)
    before = state.read_bytes()
    outcome = await cli(run_args(batch, sim, report, state), sim_env(sim))
    assert outcome.code == 2
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1, lines
    prefix = f"zoom-batch: {state} is not a zoom-batch state file ("
    assert re.fullmatch(
        re.escape(prefix) + reason + re.escape(") — move it away or pass --state"), lines[0]
    ), lines[0]
    assert state.read_bytes() == before
    assert sim.stats.picture_requests == 0
    assert not report.exists() and not partial_of(report).exists()


async def test_ctrl_c_while_still_connecting_stops_at_once(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, zoom_batch: Spawn
) -> None:
    batch = photos(3)
    sim = await simulator(rate_limit=0)
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        connected.set()

    # An OAuth server that accepts the connection and never answers: the run is stuck in set-up.
    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    report, state = tmp_path / "report.csv", tmp_path / "state.sqlite3"
    args = run_args(batch, sim, report, state, "--oauth-url", f"http://127.0.0.1:{port}/token")
    try:
        process = await zoom_batch(args, sim_env(sim), tmp_path)
        await asyncio.wait_for(connected.wait(), 10)
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        outcome = await finish(process, limit=10)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert time.monotonic() - signalled < 1.5
    assert outcome.code == 130
    assert outcome.err.strip().splitlines() == [
        "zoom-batch: interrupted (Ctrl-C) while starting; nothing was sent"
    ]
    assert sim.stats.picture_requests == 0
    assert not report.exists() and not partial_of(report).exists()
    with open_store(state):  # the lock was released
        pass
