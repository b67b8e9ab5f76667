"""The report's columns and formats: the manifest's extra columns after ours, and ``.xlsx``.

A workbook report is an ordinary Excel file — a "Rows" sheet like the CSV (numbers as numbers,
text as text, nothing a formula) and a "Summary" sheet — written from a ``.partial`` CSV that
keeps the rows while the run goes, and read back by ``--retry-failed`` and the contact sheet.
"""

from __future__ import annotations

import csv
import errno
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batch._exceptions import ConfigError
from batch._models import RowResult, RunSummary, Status
from batch._report import (
    COLUMNS,
    NUMBER_COLUMNS,
    ReportWriter,
    default_report_path,
    read_report,
    read_rows,
    report_columns,
    summary_path,
)

from .conftest import ROOT, Photos, make_jpeg, report_rows, write_manifest

EXTRA = ["Name", "Department"]


def _row(row: int, status: Status = Status.UPLOADED, **fields: Any) -> RowResult:
    fields.setdefault("user", f"u{row}@x.com")
    fields.setdefault("file", f"photos/u{row}.jpg")
    return RowResult(row=row, status=status, **fields)


def _summary(**fields: Any) -> RunSummary:
    base: dict[str, Any] = {
        "counts": {Status.UPLOADED: 2, Status.FAILED: 1},
        "started_at": "2026-12-02T14:03:00Z",
        "finished_at": "2026-12-02T14:05:30Z",
        "duration_s": 150.0,
        "requests_sent": 4,
        "uploads_per_second": 0.013,
        "rate": 9.5,
        "plan": "pro",
        "exit_code": 1,
        "total": 3,
        "report_path": "reports/r.xlsx",
        "summary_path": "reports/r.json",
    }
    return RunSummary(**(base | fields))


def _three_rows(writer: ReportWriter) -> None:
    """Rows 1..3 finished out of order, one failed, with the manifest's cells."""
    writer.add(_row(3, extras=("Cy", "Sales"), bytes=300, sha256="c" * 64, attempts=1))
    writer.add(
        _row(
            2,
            Status.FAILED,
            user="=HYPERLINK(1)",
            message="-no such user in this Zoom account",
            http_status=404,
            zoom_code=1001,
            attempts=1,
            line=3,
            extras=("@Bo", "+1 Sales"),
        )
    )
    writer.add(_row(1, extras=("Ann",), bytes=100, duration_ms=12, line=2, original_bytes=4000))


def _sheet_rows(path: Path, sheet: str = "Rows") -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(path)
    try:
        return [tuple(row) for row in book[sheet].iter_rows(values_only=True)]
    finally:
        book.close()


# --- the manifest's extra columns ------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ([], []),
        (["Name", "Department"], ["Name", "Department"]),
        (
            ["Status", " user ", "FILE", "Row"],
            ["manifest_status", "manifest_user", "manifest_file", "manifest_row"],
        ),
        (["Status", "manifest_status"], ["manifest_status", "manifest_status_2"]),
        (["manifest_status", "status"], ["manifest_status", "manifest_status_2"]),
        (["Name", "name"], ["Name", "name_2"]),
        (["", " "], ["manifest_column", "manifest_column_2"]),
        (["Tracking_ID", "sha256"], ["manifest_tracking_id", "manifest_sha256"]),
    ],
)
def test_extra_columns_come_after_ours_and_never_take_a_name_of_ours(
    extra: list[str], names: list[str]
) -> None:
    columns = report_columns(extra)
    assert columns[: len(COLUMNS)] == COLUMNS
    assert list(columns[len(COLUMNS) :]) == names
    assert len({c.strip().casefold() for c in columns}) == len(columns)


def test_a_csv_report_carries_the_manifest_cells_guarded_and_padded(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv", ["Name", "Status", "Department"])
    writer.add(_row(1, extras=("Ann", "on leave", "Sales", "a cell past the header")))
    writer.add(_row(2, extras=("=cmd|' /C calc'!A0",)))
    writer.add(_row(3))
    writer.close()
    with (tmp_path / "r.csv").open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == [*COLUMNS, "Name", "manifest_status", "Department"]
    assert [line[len(COLUMNS) :] for line in lines[1:]] == [
        ["Ann", "on leave", "Sales"],
        ["'=cmd|' /C calc'!A0", "", ""],
        ["", "", ""],
    ]
    rows = list(read_report(tmp_path / "r.csv"))  # what --retry-failed reads
    assert [(r["user"], r["status"], r["Name"]) for r in rows] == [
        ("u1@x.com", "uploaded", "Ann"),
        ("u2@x.com", "uploaded", "=cmd|' /C calc'!A0"),
        ("u3@x.com", "uploaded", ""),
    ]


def test_without_extra_columns_the_header_is_ours(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv")
    writer.add(_row(1, extras=("ignored: no column for it",)))
    writer.close()
    assert [list(r) for r in report_rows(tmp_path / "r.csv")] == [list(COLUMNS)]


# --- .xlsx -----------------------------------------------------------------------------------


def test_an_xlsx_report_is_a_workbook_with_the_same_columns(tmp_path: Path) -> None:
    report = tmp_path / "r.xlsx"
    writer = ReportWriter(report, EXTRA)
    _three_rows(writer)
    writer.close(_summary())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]  # no .partial, no temp
    book = openpyxl.load_workbook(report)
    assert book.sheetnames == ["Rows", "Summary"]
    rows = book["Rows"]
    header = [cell.value for cell in rows[1]]
    assert header == [*COLUMNS, *EXTRA]
    assert all(cell.font.b for cell in rows[1])
    assert rows.freeze_panes == "A2"
    assert rows.auto_filter.ref == "A1:S4"
    values = [[cell.value for cell in line] for line in rows.iter_rows(min_row=2)]
    by_name = [dict(zip(header, line, strict=True)) for line in values]
    assert [r["row"] for r in by_name] == [1, 2, 3]
    first, failed, third = by_name
    assert (first["bytes"], first["duration_ms"], first["line"]) == (100, 12, 2)
    assert first["original_bytes"] == 4000 and first["attempts"] == 0
    assert (failed["http_status"], failed["zoom_code"], failed["attempts"]) == (404, 1001, 1)
    for record in by_name:
        for name in NUMBER_COLUMNS:
            assert record[name] is None or type(record[name]) is int, name
    assert first["http_status"] is None and first["message"] is None  # empty, not ""
    # The CSV's guard, cell for cell, and no cell is a formula.
    assert failed["user"] == "'=HYPERLINK(1)"
    assert failed["message"] == "'-no such user in this Zoom account"
    assert (failed["Name"], failed["Department"]) == ("'@Bo", "'+1 Sales")
    assert (first["Name"], first["Department"]) == ("Ann", None)
    assert third["sha256"] == "c" * 64
    assert all(cell.data_type != "f" for line in rows.iter_rows() for cell in line)
    # Sensible widths: the header at least, a long message capped.
    widths = {c: rows.column_dimensions[c].width for c in ("A", "B", "G", "J")}
    assert widths["A"] >= 5 and widths["B"] >= len("=HYPERLINK(1)")
    assert widths["J"] >= 64 or widths["J"] == 60
    assert 30 <= widths["G"] <= 60
    book.close()


def test_the_summary_sheet(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.xlsx")
    _three_rows(writer)
    writer.close(_summary(stopped="=cannot write the state", warnings=["--html: disk full"]))
    items = dict(_sheet_rows(tmp_path / "r.xlsx", "Summary"))
    assert items.pop("item") == "value"
    assert items["rows"] == 3
    assert (items["uploaded"], items["failed"], items["skipped"]) == (2, 1, 0)
    assert items["problems"] == 1
    assert items["started (UTC)"] == "2026-12-02T14:03:00Z"
    assert items["finished (UTC)"] == "2026-12-02T14:05:30Z"
    assert items["duration (s)"] == 150
    assert items["requests sent"] == 4
    assert items["uploads per second"] == 0.013
    assert (items["plan"], items["rate (requests per second)"]) == ("pro", 9.5)
    assert items["exit code"] == 1
    assert items["stopped"] == "=cannot write the state"  # as text, not a formula
    assert items["report"] == "reports/r.xlsx"
    assert items["JSON summary"] == "reports/r.json"
    assert items["warnings"] == "--html: disk full"
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert all(c.data_type != "f" for line in book["Summary"].iter_rows() for c in line)
    book.close()


def test_without_a_summary_the_summary_sheet_has_the_counts(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.xlsx")
    _three_rows(writer)
    writer.close()
    items = dict(_sheet_rows(tmp_path / "r.xlsx", "Summary"))
    assert (items["rows"], items["uploaded"], items["failed"]) == (3, 2, 1)
    assert "exit code" not in items


def test_a_csv_report_ignores_the_summary(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.csv")
    _three_rows(writer)
    writer.close(_summary())
    assert [r["row"] for r in report_rows(tmp_path / "r.csv")] == ["1", "2", "3"]


def test_the_suffix_is_case_insensitive(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "R.XLSX")
    _three_rows(writer)
    writer.close()
    assert [r[0] for r in _sheet_rows(tmp_path / "R.XLSX")] == ["row", 1, 2, 3]


def test_while_the_run_goes_the_rows_are_in_a_csv_partial(tmp_path: Path) -> None:
    report = tmp_path / "r.xlsx"
    writer = ReportWriter(report, EXTRA)
    writer.add(_row(1, extras=("Ann", "Sales")))
    writer.add(_row(3))
    partial = tmp_path / "r.xlsx.partial"
    assert not report.exists()
    # A crash now keeps row 1: the .partial is a CSV any spreadsheet or --retry-failed reads.
    assert [(r["row"], r["Name"]) for r in report_rows(partial)] == [("1", "Ann")]
    assert [r["user"] for r in read_report(partial)] == ["u1@x.com"]
    writer.add(_row(2))
    writer.abandon()  # the run died: the .partial stays, no workbook
    assert [r["row"] for r in report_rows(partial)] == ["1", "2", "3"]
    assert not report.exists()


@pytest.mark.parametrize(
    "failure", [OSError(errno.ENOSPC, "No space left on device"), ValueError("bad cell")]
)
def test_a_workbook_that_cannot_be_written_keeps_the_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    import batch._xlsx_report

    def broken(*args: Any) -> None:
        raise failure

    monkeypatch.setattr(batch._xlsx_report, "write_workbook", broken)
    report = tmp_path / "r.xlsx"
    writer = ReportWriter(report)
    _three_rows(writer)
    writer.close(_summary())  # never raises into the run
    reason = "No space left on device" if isinstance(failure, OSError) else "bad cell"
    assert writer.error == (
        f"cannot write the report {report} ({reason}); all 3 rows are in {report}.partial"
    )
    assert not report.exists()
    assert [r["row"] for r in report_rows(tmp_path / "r.xlsx.partial")] == ["1", "2", "3"]


def test_an_old_workbook_is_replaced_whole(tmp_path: Path) -> None:
    report = tmp_path / "r.xlsx"
    report.write_bytes(b"an older report")
    writer = ReportWriter(report)
    _three_rows(writer)
    writer.close()
    assert len(_sheet_rows(report)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xlsx"]


def test_cells_a_workbook_cannot_hold_are_made_fit(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.xlsx", ["Note"])
    writer.add(_row(1, message="bell\x07 and\x00nul", extras=("x" * 40_000,)))
    writer.close()
    (row,) = read_report(tmp_path / "r.xlsx")
    assert row["message"] == "bell\ufffd and\ufffdnul"
    assert row["Note"] == "x" * 32_767  # Excel's most characters in a cell


def test_a_report_longer_than_a_sheet_goes_on_in_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import batch._xlsx_report

    monkeypatch.setattr(batch._xlsx_report, "MAX_SHEET_ROWS", 3)  # header + 2 rows a sheet
    writer = ReportWriter(tmp_path / "r.xlsx")
    for row in range(1, 6):
        writer.add(_row(row))
    writer.close()
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["Rows", "Rows 2", "Rows 3", "Summary"]
    assert [book[name].max_row for name in book.sheetnames[:3]] == [3, 3, 2]
    assert book["Rows 3"].auto_filter.ref == "A1:Q2"
    book.close()
    assert [r["row"] for r in read_report(tmp_path / "r.xlsx")] == ["1", "2", "3", "4", "5"]


def test_an_empty_run_still_gives_a_workbook(tmp_path: Path) -> None:
    writer = ReportWriter(tmp_path / "r.xlsx", EXTRA)
    writer.close()
    assert _sheet_rows(tmp_path / "r.xlsx") == [(*COLUMNS, *EXTRA)]
    assert list(read_report(tmp_path / "r.xlsx")) == []


def test_writing_a_workbook_keeps_memory_flat(tmp_path: Path) -> None:
    """Rows stream through the workbook library's write-only mode, never all held at once.

    Measured in a process of its own (the peak RSS of this one says nothing): 2,000 rows held
    as cells would take some 11 MB; streamed, closing grows the peak by well under 1 MB. The
    same at 20,000 rows (~8 s) is left to a benchmark.
    """
    probe = f"""
import resource, sys
from pathlib import Path
from batch._models import RowResult, Status
from batch._report import ReportWriter
import openpyxl
writer = ReportWriter(Path({str(tmp_path / "big.xlsx")!r}), ["Name", "Department"])
for i in range(1, 2001):
    writer.add(RowResult(i, f"user{{i}}@example.com", f"photos/u{{i}}.jpg", Status.UPLOADED,
        message="ok", bytes=12345, sha256=f"{{i:064x}}", duration_ms=120, attempts=1,
        finished_at="2026-12-01T10:00:00Z", line=i + 1, extras=(f"Name {{i}}", "Sales")))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
writer.close()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    grown_kib = int(done.stdout)
    assert grown_kib < 4 * 1024
    assert sum(1 for _ in read_rows(tmp_path / "big.xlsx")) == 2000


# --- reading a report back -------------------------------------------------------------------


def test_read_report_reads_a_workbook_like_a_csv(tmp_path: Path) -> None:
    for name in ("r.csv", "r.xlsx"):
        writer = ReportWriter(tmp_path / name, EXTRA)
        _three_rows(writer)
        writer.close()
    from_csv = list(read_report(tmp_path / "r.csv"))
    from_xlsx = list(read_report(tmp_path / "r.xlsx"))
    assert from_xlsx == from_csv
    assert from_xlsx[1]["user"] == "=HYPERLINK(1)"  # the guard is off again
    assert from_xlsx[1]["http_status"] == "404"


def test_a_workbook_saved_again_by_a_spreadsheet_still_reads(tmp_path: Path) -> None:
    """Excel keeps the sheet; numbers may come back as floats, the sheet may be renamed."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet.append(["row", "user", "status", "http_status"])
    sheet.append([1.0, "a@x.com", "failed", 404.0])
    sheet.append([])
    sheet.append([2, "b@x.com", "uploaded", None])
    book.save(tmp_path / "saved.xlsx")
    rows = list(read_report(tmp_path / "saved.xlsx"))
    assert rows == [
        {"row": "1", "user": "a@x.com", "status": "failed", "http_status": "404"},
        {"row": "2", "user": "b@x.com", "status": "uploaded", "http_status": ""},
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "--retry-failed: cannot read {p} (No such file or directory)"),
        (lambda p: p.write_bytes(b"user,status\n"), "--retry-failed: {p}: unreadable report"),
        (lambda p: p.write_bytes(b"PK\x03\x04 broken"), "--retry-failed: {p}: unreadable report"),
        (lambda p: _workbook(p, [["email", "state"], ["a@x.com", "ok"]]), ""),  # not ours
    ],
)
def test_an_unusable_workbook_is_a_config_error(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "r.xlsx"
    make(path)
    expected = message.format(p=path) or f"--retry-failed: {path} is not a zoom-batch report"
    with pytest.raises(ConfigError) as caught:
        list(read_report(path))
    assert str(caught.value).startswith(expected)


def _workbook(path: Path, rows: list[list[str]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)


# --- default report names --------------------------------------------------------------------


def test_default_report_path_in_either_format(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 14, 3, 7, tzinfo=UTC)
    assert default_report_path(now, tmp_path) == tmp_path / "zoom-batch-20261202-140307.csv"
    xlsx = default_report_path(now, tmp_path, suffix=".XLSX")
    assert xlsx == tmp_path / "zoom-batch-20261202-140307.xlsx"
    # A run in the same second, in either format, never shares a stem (nor a JSON summary).
    xlsx.with_name(xlsx.name + ".partial").write_text("", encoding="utf-8")
    assert default_report_path(now, tmp_path).name == "zoom-batch-20261202-140307-2.csv"
    (tmp_path / "zoom-batch-20261202-140307-2.json").write_text("{}", encoding="utf-8")
    assert default_report_path(now, tmp_path, suffix=".xlsx").name == (
        "zoom-batch-20261202-140307-3.xlsx"
    )
    assert summary_path(xlsx) == tmp_path / "zoom-batch-20261202-140307.json"
    with pytest.raises(ValueError, match="suffix"):
        default_report_path(now, tmp_path, suffix=".ods")


# --- through the CLI, against the simulator --------------------------------------------------


def _hr_manifest(tmp_path: Path, n: int = 4) -> Path:
    """An HR export: e-mail, photo, and columns of HR's own (one named like ours)."""
    (tmp_path / "photos").mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        (tmp_path / f"photos/p{i}.jpg").write_bytes(make_jpeg(i))
        rows.append((f"user{i:04d}@example.com", f"photos/p{i}.jpg,Person {i},=Dept{i},active"))
    return write_manifest(tmp_path / "hr.csv", rows, header="email,file,Full name,Dept,Status")


async def test_a_run_with_an_xlsx_report(cli: Any, tmp_path: Path) -> None:
    report = tmp_path / "out" / "run.xlsx"
    manifest = ROOT / "samples" / "manifest.csv"
    outcome = await cli(["run", str(manifest), "--simulate", "--report", str(report)])
    assert outcome.code == 1, outcome.err  # two sample rows fail on purpose
    assert str(report) in outcome.err
    assert sorted(p.name for p in report.parent.iterdir()) == ["run.json", "run.xlsx"]
    rows = list(read_report(report))
    assert len(rows) == 12
    assert [r["status"] for r in rows].count("uploaded") == 10
    sheet = _sheet_rows(report)
    assert sheet[0][: len(COLUMNS)] == COLUMNS
    assert [line[0] for line in sheet[1:]] == list(range(1, 13))


async def test_an_xlsx_run_summary_sheet_has_how_the_run_went(cli: Any, tmp_path: Path) -> None:
    """Needs the runner to build the summary before ``report.close(summary)``."""
    report = tmp_path / "run.xlsx"
    manifest = ROOT / "samples" / "manifest.csv"
    outcome = await cli(["run", str(manifest), "--simulate", "--report", str(report)])
    assert outcome.code == 1, outcome.err
    items = dict(_sheet_rows(report, "Summary"))
    assert (items["uploaded"], items["exit code"], items["report"]) == (10, 1, str(report))
    assert items["requests sent"] >= 12 - 1  # the "web page" photo is never sent


async def test_retry_failed_reads_an_xlsx_report(
    cli: Any, tmp_path: Path, photos: Callable[..., Photos], simulator: Any
) -> None:
    batch = photos(6)
    (tmp_path / "photos/u0001.png").unlink()  # one row fails: no file
    first = tmp_path / "1.xlsx"
    outcome = await cli(["run", str(batch.manifest), "--simulate", "--report", str(first)])
    assert outcome.code == 1, outcome.err
    (tmp_path / "photos/u0001.png").write_bytes(make_jpeg(99))
    second = tmp_path / "2.xlsx"
    args = ["run", str(batch.manifest), "--simulate", "--retry-failed", str(first)]
    retry = await cli([*args, "--report", str(second)])
    assert retry.code == 0, retry.err
    statuses = [r["status"] for r in read_report(second)]
    assert statuses.count("uploaded") == 1 and statuses.count("skipped") == 5


async def test_a_contact_sheet_from_an_xlsx_run(cli: Any, tmp_path: Path) -> None:
    report, html = tmp_path / "run.xlsx", tmp_path / "sheet.html"
    manifest = ROOT / "samples" / "manifest.csv"
    outcome = await cli(
        ["run", str(manifest), "--simulate", "--report", str(report), "--html", str(html)]
    )
    assert outcome.code == 1, outcome.err
    page = html.read_text(encoding="utf-8")
    assert page.count("<article") == 12
    assert page.count('<img class="thumb avatar"') >= 10


async def test_the_manifest_columns_reach_the_report_and_the_sheet(
    cli: Any, tmp_path: Path
) -> None:
    """Needs the manifest's ``extra_columns`` and ``ReportWriter(path, extra_columns)``."""
    manifest = _hr_manifest(tmp_path)
    for name in ("r.csv", "r.xlsx"):
        report = tmp_path / name
        html = tmp_path / f"{name}.html"
        args = ["run", str(manifest), "--simulate", "--no-state", "--report", str(report)]
        outcome = await cli([*args, "--html", str(html)])
        assert outcome.code == 0, outcome.err
        rows = list(read_report(report))
        assert list(rows[0])[len(COLUMNS) :] == ["Full name", "Dept", "manifest_status"]
        assert [(r["Full name"], r["Dept"], r["manifest_status"]) for r in rows] == [
            (f"Person {i}", f"=Dept{i}", "active") for i in range(4)
        ]
        assert [r["status"] for r in rows] == ["uploaded"] * 4
        page = html.read_text(encoding="utf-8")
        assert '<div class="name">Person 0</div>' in page
    raw = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert ",'=Dept0," in raw  # guarded like our own cells
