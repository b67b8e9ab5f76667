"""Report retention (``--keep-reports N``): the last N runs stay, older ones go, nothing else."""

from __future__ import annotations

import errno
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import batch._retention
from batch._report import default_report_path, summary_path
from batch._retention import PARTIAL_LIVE_S, prune_reports

T0 = datetime(2026, 11, 30, 22, 0, 0, tzinfo=UTC)
OLD = time.time() - PARTIAL_LIVE_S - 3600  # a .partial no run has written to for days


def _touch(path: Path, mtime: float | None = None) -> Path:
    path.write_text("x", encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _run(
    folder: Path,
    hours: float,
    *,
    suffix: str = ".csv",
    json: bool = True,
    html: bool = False,
    partial_only: bool = False,
    mtime: float | None = None,
) -> Path:
    """A finished run's files as a run names them by default; returns its report path."""
    report = default_report_path(T0 + timedelta(hours=hours), folder, suffix=suffix)
    if partial_only:
        _touch(report.with_name(report.name + ".partial"), OLD)
    else:
        _touch(report, mtime)
    if json:
        _touch(summary_path(report), mtime)
    if html:
        _touch(report.with_suffix(".html"), mtime)
    return report


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "reports"
    path.mkdir()
    return path


def test_keeps_the_last_n_runs_and_deletes_the_others_with_their_companions(
    folder: Path,
) -> None:
    reports = [_run(folder, hours, html=True) for hours in range(5)]
    deleted = prune_reports(folder, 2)
    assert [p.name for p in deleted] == [
        f"zoom-batch-{stamp}.{ext}"
        for stamp in ("20261130-220000", "20261130-230000", "20261201-000000")
        for ext in ("csv", "html", "json")
    ]
    assert _names(folder) == [
        f"zoom-batch-{stamp}.{ext}"
        for stamp in ("20261201-010000", "20261201-020000")
        for ext in ("csv", "html", "json")
    ]
    assert all(not r.exists() for r in reports[:3]) and all(r.exists() for r in reports[3:])


def test_orders_runs_by_the_time_in_their_name_not_the_files_times(folder: Path) -> None:
    newest = _run(folder, 10, mtime=time.time() - 10 * 86400)  # copied back from a backup
    older = _run(folder, 1)
    prune_reports(folder, 1)
    assert newest.exists() and not older.exists()


def test_both_formats_and_same_second_runs_count(folder: Path) -> None:
    first = _run(folder, 0)
    second = _run(folder, 0, suffix=".xlsx")  # the same second: zoom-batch-...-2.xlsx
    third = _run(folder, 0)  # ...-3.csv
    assert (second.name, third.name) == (
        "zoom-batch-20261130-220000-2.xlsx",
        "zoom-batch-20261130-220000-3.csv",
    )
    deleted = prune_reports(folder, 2)
    assert deleted == [first, summary_path(first)]
    assert second.exists() and third.exists()


def test_a_crashed_run_counts_and_its_partial_goes(folder: Path) -> None:
    crashed = _run(folder, 0, partial_only=True)
    _run(folder, 1)
    deleted = prune_reports(folder, 1)
    assert deleted == [crashed.with_name(crashed.name + ".partial"), summary_path(crashed)]


def test_a_run_still_writing_its_partial_is_never_deleted(folder: Path) -> None:
    """Another process's run, waiting for the quota or still sending, keeps its .partial."""
    live = default_report_path(T0, folder, suffix=".xlsx")
    _touch(live.with_name(live.name + ".partial"))  # written just now
    finished = _run(folder, 1)
    _run(folder, 2)
    assert prune_reports(folder, 1) == [finished, summary_path(finished)]
    assert live.with_name(live.name + ".partial").exists()


def test_never_the_protected_runs_files(folder: Path) -> None:
    current = _run(folder, -5)  # the current run, whose clock was behind
    current.unlink()  # its report is not there yet: only the .partial is being written
    partial = _touch(current.with_name(current.name + ".partial"), OLD)
    older = _run(folder, -6)
    _run(folder, 1)
    deleted = prune_reports(folder, 1, protect=[current, summary_path(current)])
    assert deleted == [older, summary_path(older)]
    assert partial.exists() and summary_path(current).exists()


def test_protect_compares_the_files_not_the_spelling(folder: Path, tmp_path: Path) -> None:
    report = _run(folder, 0)
    _run(folder, 1)
    os.chdir(tmp_path)
    assert prune_reports(folder, 1, protect=[Path("reports/../reports") / report.name]) == []
    assert report.exists()


def test_only_files_named_as_this_tool_names_them(folder: Path) -> None:
    strangers = [
        "tonight.csv",  # --report named by the operator
        "zoom-batch-20261130-220000.csv.bak",
        "zoom-batch-20261130-220000.txt",
        "zoom-batch-2026113-220000.csv",
        "zoom-batch-20261399-220000.csv",  # no such date
        "zoom-batch-20261130-220000-1.csv",  # the tool never writes -1
        "zoom-batch-20261130-220000-x.csv",
        "Zoom-Batch-20261130-220000.csv",
        "my-zoom-batch-20261130-220000.csv",
        "zoom-batch-20261130-210000.json",  # a summary with no report: not a run
        "zoom-batch-20261130-210000.html",
    ]
    for name in strangers:
        _touch(folder / name)
    (folder / "zoom-batch-20261130-200000.csv").mkdir()  # a folder so named
    _run(folder, 1)
    _run(folder, 2)
    assert prune_reports(folder, 0) == [
        *(folder / f"zoom-batch-20261130-230000.{ext}" for ext in ("csv", "json")),
        *(folder / f"zoom-batch-20261201-000000.{ext}" for ext in ("csv", "json")),
    ]
    assert _names(folder) == sorted([*strangers, "zoom-batch-20261130-200000.csv"])


def test_an_html_elsewhere_or_named_otherwise_stays(folder: Path, tmp_path: Path) -> None:
    report = _run(folder, 0)
    elsewhere = _touch(tmp_path / report.with_suffix(".html").name)
    chosen = _touch(folder / "sheet.html")
    _run(folder, 1)
    prune_reports(folder, 1)
    assert not report.exists() and elsewhere.exists() and chosen.exists()


def test_fewer_runs_than_kept_deletes_nothing(folder: Path) -> None:
    _run(folder, 0)
    _run(folder, 1)
    assert prune_reports(folder, 5) == []
    assert prune_reports(folder, 2) == []
    assert len(_names(folder)) == 4


def test_a_missing_or_unlistable_folder_deletes_nothing(tmp_path: Path) -> None:
    assert prune_reports(tmp_path / "nowhere", 1) == []
    _touch(tmp_path / "file")
    assert prune_reports(tmp_path / "file", 1) == []


def test_a_file_that_cannot_be_deleted_is_left_and_said(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = _run(folder, 0)
    _run(folder, 1)
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == stuck:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    seen: list[tuple[Path, OSError]] = []
    with caplog.at_level(logging.WARNING, logger=batch._retention.__name__):
        deleted = prune_reports(folder, 1, on_error=lambda path, exc: seen.append((path, exc)))
    assert deleted == [summary_path(stuck)]
    assert [(path, exc.errno) for path, exc in seen] == [(stuck, errno.EACCES)]
    assert caplog.messages == [f"--keep-reports: cannot delete {stuck} (Permission denied)"]
    assert stuck.exists()


def test_a_negative_count_is_refused(folder: Path) -> None:
    with pytest.raises(ValueError, match="keep must be >= 0, got -1"):
        prune_reports(folder, -1)
