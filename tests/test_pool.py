"""The pool under pressure: shared 429 backoff, token renewal under concurrency, report order."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch._models import RowResult, Status
from batch._report import COLUMNS, ReportWriter, read_report

from .conftest import Photos, sha256, sim_args, sim_env


async def test_pool_slows_down_when_the_account_budget_is_shared(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    """Configured for 60/s, the server allows 20/s: the pool settles instead of hammering."""
    batch = photos(100)
    sim = await simulator(rate_limit=20, latency_ms=10)
    log = tmp_path / "events.jsonl"
    outcome = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim),
            "--rate",
            "60",
            "--no-state",
            "--quiet",
            "--report",
            str(tmp_path / "r.csv"),
            "--log-format",
            "json",
            "--log-file",
            str(log),
        ],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    assert sim.stats.uploads == 100
    # A pool that only retried the refused request would see dozens of 429s here.
    assert sim.stats.rate_limited <= 10, sim.stats.rate_limited
    assert sim.max_requests_in_window(accepted_only=True) <= 20
    assert '"event": "backoff_started"' in log.read_text()


async def test_one_token_renewal_for_many_concurrent_refusals(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    batch = photos(80)
    sim = await simulator(rate_limit=0, latency_ms=40)

    async def revoke_midway() -> None:
        while sim.stats.uploads < 20:  # noqa: ASYNC110 - polling a counter, no event exists
            await asyncio.sleep(0.005)
        sim.revoke_tokens()

    revoker = asyncio.create_task(revoke_midway())
    outcome = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim),
            "--rate",
            "150",
            "--concurrency",
            "16",
            "--no-state",
            "--report",
            str(tmp_path / "r.csv"),
        ],
        sim_env(sim),
    )
    await revoker
    assert outcome.code == 0, outcome.err
    assert sim.stats.unauthorized >= 1  # several workers held the revoked token at once
    assert sim.stats.token_requests == 2  # ... and one renewal served them all
    for user, data in batch.files.items():
        assert sim.received[user].sha256 == sha256(data)


def _result(row: int, status: Status = Status.UPLOADED, **extra: Any) -> RowResult:
    return RowResult(row=row, user=f"u{row}@x.com", file=f"{row}.jpg", status=status, **extra)


def test_report_keeps_manifest_order_with_a_bounded_buffer(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv")
    for row in (3, 2, 5):
        writer.add(_result(row))
    assert writer.written == 0 and writer.buffered == 3
    writer.add(_result(1))
    assert writer.written == 3 and writer.buffered == 1  # 1, 2, 3 written; 5 waits for 4
    assert (tmp_path / "r.csv.partial").exists() and not (tmp_path / "r.csv").exists()
    writer.add(_result(4, Status.FAILED, message="no such user"))
    writer.close()
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == COLUMNS
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]
    assert not (tmp_path / "r.csv.partial").exists()
    assert writer.counts == {Status.UPLOADED: 4, Status.FAILED: 1}


def test_report_refuses_a_row_twice_and_an_incomplete_close(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv")
    writer.add(_result(1))
    with pytest.raises(ValueError, match="row 1 reported twice"):
        writer.add(_result(1))
    writer.add(_result(3))
    with pytest.raises(RuntimeError, match="row 2 never finished"):
        writer.close()


def test_spreadsheet_formulas_are_neutralised_and_read_back(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv")
    writer.add(RowResult(row=1, user="=HYPERLINK(1)", file="+x.jpg", status=Status.FAILED))
    writer.close()
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "'+x.jpg" in text
    (row,) = list(read_report(tmp_path / "r.csv"))
    assert (row["user"], row["file"], row["status"]) == ("=HYPERLINK(1)", "+x.jpg", "failed")


async def test_a_bug_in_one_row_is_reported_and_the_run_goes_on(
    photos: Callable[..., Photos], cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batch.jobs import UploadJob

    original = UploadJob.process

    async def broken(self: UploadJob, row: Any) -> RowResult:
        if row.row == 2:
            raise RuntimeError("boom")
        return await original(self, row)

    monkeypatch.setattr(UploadJob, "process", broken)
    batch = photos(4)
    report = tmp_path / "r.csv"
    outcome = await cli(["validate", str(batch.manifest), "--report", str(report), "--quiet"])
    assert outcome.code == 1
    rows = list(read_report(report))
    assert [r["status"] for r in rows] == ["valid", "failed", "valid", "valid"]
    assert rows[1]["message"] == "internal error: RuntimeError: boom — please report it"


async def test_an_upload_slower_than_the_pacer_memory(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    """One upload taking longer than the pacer remembers successes (5 s) must not crash it."""
    batch = photos(1)
    sim = await simulator(latency_ms=5600)
    outcome = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim),
            "--no-state",
            "--report",
            str(tmp_path / "r.csv"),
        ],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    assert sim.stats.uploads == 1
