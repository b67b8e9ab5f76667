"""HR's own files and cron's own habits, end to end through the CLI against the simulator.

Duplicates after an unusable row, forecasts that know the state store, a quiet day, flags that
are misspelt or need another, and the JSON summary agreeing with the process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batch._state import StateStore

from .conftest import make_jpeg, report_rows, sim_args, sim_env, status_counts


async def test_the_first_usable_row_for_a_user_wins(
    cli: Any, simulator: Any, tmp_path: Path
) -> None:
    """A user's first row names a missing file: the next row for that user is sent, not
    refused as its duplicate; a third row is the duplicate of the second."""
    (tmp_path / "anna.jpg").write_bytes(make_jpeg(1))
    (tmp_path / "anna2.jpg").write_bytes(make_jpeg(2))
    (tmp_path / "bob.jpg").write_bytes(make_jpeg(3))
    (tmp_path / "m.csv").write_text(
        "email,file\n"
        "anna@example.com,missing.jpg\n"
        "bob@example.com,bob.jpg\n"
        "ANNA@example.com ,anna.jpg\n"
        "anna@example.com,anna2.jpg\n"
        "bob@example.com,missing.jpg\n"
    )
    sim = await simulator(rate_limit=0)
    outcome = await cli(["run", "m.csv", *sim_args(sim), "--report", "r.csv"], sim_env(sim))
    assert outcome.code == 1, outcome.err
    rows = report_rows(tmp_path / "r.csv")
    assert [(r["status"], r["message"].split(" —")[0]) for r in rows] == [
        ("invalid", "file not found: missing.jpg"),
        ("uploaded", "uploaded"),
        ("uploaded", "uploaded"),
        ("invalid", "duplicate of row 3 (same user)"),
        ("invalid", "duplicate of row 2 (same user)"),
    ]
    assert sim.received["anna@example.com"].sha256 == rows[2]["sha256"]
    assert sim.stats.uploads == 2


async def test_validate_forecasts_what_the_state_store_would_skip(
    cli: Any, simulator: Any, tmp_path: Path
) -> None:
    for n in range(3):
        (tmp_path / f"p{n}.jpg").write_bytes(make_jpeg(n))
    (tmp_path / "m.csv").write_text(
        "email,file\n" + "".join(f"u{n}@example.com,p{n}.jpg\n" for n in range(3))
    )
    sim = await simulator(rate_limit=0)
    state = tmp_path / "state.sqlite3"
    first = await cli(
        ["run", "m.csv", *sim_args(sim), "--state", str(state), "--report", "r.csv"], sim_env(sim)
    )
    assert first.code == 0, first.err
    (tmp_path / "p2.jpg").write_bytes(make_jpeg(20))  # one photo changed since

    dry = await cli(["validate", "m.csv", "--state", str(state), "--report", "v.csv"])
    assert dry.code == 0, dry.err
    rows = report_rows(tmp_path / "v.csv")
    assert [r["status"] for r in rows] == ["skipped", "skipped", "valid"]
    assert rows[0]["message"].endswith(": would be skipped")
    assert rows[0]["message"].startswith("unchanged since ")

    # --no-state: the forecast does not know, as the run would not.
    blind = await cli(["validate", "m.csv", "--no-state", "--report", "b.csv"])
    assert status_counts(report_rows(tmp_path / "b.csv")) == {"valid": 3}, blind.err

    # A store held by a running run is not waited for: the forecast says it does not know.
    with StateStore.open(state, account_id=sim.options.account_id, run_id="other"):
        held = await cli(["validate", "m.csv", "--state", str(state), "--report", "h.csv"])
    assert held.code == 0, held.err
    assert status_counts(report_rows(tmp_path / "h.csv")) == {"valid": 3}
    assert "does not know which photos are unchanged" in held.err
    # The dry runs opened the store read-only: the run's records are as they were.
    with StateStore.open(state, account_id=sim.options.account_id, run_id="check") as store:
        assert store.last_upload("u2@example.com") is not None


async def test_a_header_only_manifest_is_a_quiet_day_not_an_error(cli: Any, tmp_path: Path) -> None:
    """No new hires tonight: exit 0, a report with no rows, and no credentials needed."""
    (tmp_path / "m.csv").write_text("email,file,name\n")
    outcome = await cli(["run", "m.csv", "--report", "r.csv"])
    assert outcome.code == 0, outcome.err
    assert "nothing to do" in outcome.err
    assert report_rows(tmp_path / "r.csv") == []
    summary = json.loads((tmp_path / "r.json").read_text())
    assert (summary["exit_code"], summary["total"], summary["requests_sent"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["run", "m.csv", "--fitt"],
            "zoom-batch: unrecognized arguments: --fitt — did you mean --fit?"
            " (see zoom-batch --help)",
        ),
        (
            ["run", "m.csv", "--sim-rate-limt", "3", "--simulate"],
            "zoom-batch: unrecognized arguments: --sim-rate-limt 3 — did you mean"
            " --sim-rate-limit? (see zoom-batch --help)",
        ),
        (
            ["run", "m.csv", "--sim-rate-limit", "3"],
            "zoom-batch: --sim-rate-limit sets the simulator: add --simulate, or drop it",
        ),
        (
            ["run", "m.csv", "--plan", "enterprize"],
            "zoom-batch run: argument --plan: invalid choice: 'enterprize' (choose from 'free',"
            " 'pro', 'business', 'business+', 'enterprise', 'education', 'partner')"
            " (see zoom-batch run --help)",
        ),
        (
            ["run", "m.csv", "--delimiter", "x"],
            "zoom-batch: --delimiter: expected ',', ';', tab or '|'; got 'x'",
        ),
    ],
    ids=["flag", "sim-flag", "sim-without-simulate", "plan", "delimiter"],
)
async def test_a_misspelt_or_misplaced_flag_gets_one_line_that_helps(
    args: list[str], expected: str, cli: Any, tmp_path: Path
) -> None:
    (tmp_path / "m.csv").write_text("email,file\na@example.com,a.jpg\n")
    outcome = await cli(args)
    assert (outcome.code, outcome.err.strip()) == (2, expected)


async def test_enterprise_plan_paces_as_business(cli: Any, simulator: Any, tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(make_jpeg(1))
    (tmp_path / "m.csv").write_text("email,file\na@example.com,a.jpg\n")
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", "m.csv", *sim_args(sim), "--plan", "enterprise", "--report", "r.csv"],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    summary = json.loads((tmp_path / "r.json").read_text())
    assert (summary["plan"], summary["rate"]) == ("business", pytest.approx(60 * 0.97, rel=0.01))


async def test_hr_files_as_excel_saves_them_run_end_to_end(
    cli: Any, simulator: Any, tmp_path: Path
) -> None:
    """A European Excel's semicolon CSV (BOM, CRLF) and a real workbook, with HR's own header
    names, upload through the simulator; an .xlsx report carries the Name column."""
    from openpyxl import Workbook, load_workbook

    for n in range(4):
        (tmp_path / f"p{n}.jpg").write_bytes(make_jpeg(n))
    (tmp_path / "eu.csv").write_bytes(
        b"\xef\xbb\xbfName;E-Mail;Foto\r\nAda;ada@example.com;p0.jpg\r\nBo;bo@example.com;p1.jpg\r\n"
    )
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Full Name", "Staff Mail", "Portrait"])
    sheet.append(["Cy", "cy@example.com", "p2.jpg"])
    sheet.append(["Di", "di@example.com", "p3.jpg"])
    book.save(tmp_path / "hr.xlsx")
    sim = await simulator(rate_limit=0)

    eu = await cli(["run", "eu.csv", *sim_args(sim), "--report", "eu.xlsx"], sim_env(sim))
    assert eu.code == 0, eu.err
    columns = ["--user-column", "staff mail", "--file-column", "Portrait"]
    hr = await cli(["run", "hr.xlsx", *sim_args(sim), *columns, "--report", "hr.csv"], sim_env(sim))
    assert hr.code == 0, hr.err
    assert set(sim.received) == {
        "ada@example.com",
        "bo@example.com",
        "cy@example.com",
        "di@example.com",
    }

    rows = list(load_workbook(tmp_path / "eu.xlsx", read_only=True)["Rows"].values)
    header = list(rows[0])
    assert header[-1] == "Name"
    assert [(r[header.index("user")], r[header.index("status")], r[-1]) for r in rows[1:]] == [
        ("ada@example.com", "uploaded", "Ada"),
        ("bo@example.com", "uploaded", "Bo"),
    ]
    # In a workbook, `line` is Excel's row number: the header is row 1.
    assert [r["line"] for r in report_rows(tmp_path / "hr.csv")] == ["2", "3"]
    assert [r["Full Name"] for r in report_rows(tmp_path / "hr.csv")] == ["Cy", "Di"]


async def test_keep_reports_keeps_the_last_runs_in_the_report_folder(
    cli: Any, simulator: Any, tmp_path: Path
) -> None:
    (tmp_path / "a.jpg").write_bytes(make_jpeg(1))
    (tmp_path / "m.csv").write_text("email,file\na@example.com,a.jpg\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "notes.txt").write_text("HR's own file\n")
    for day in (1, 2, 3):  # three earlier nights' runs
        for suffix in (".csv", ".json", ".html"):
            (reports / f"zoom-batch-202611{day:02}-023000{suffix}").write_text("old\n")
    sim = await simulator(rate_limit=0)
    outcome = await cli(["run", "m.csv", *sim_args(sim), "--keep-reports", "2"], sim_env(sim))
    assert outcome.code == 0, outcome.err
    kept = sorted(p.name for p in reports.iterdir())
    # This run and the newest earlier one, each with its summary; and never a stranger's file.
    assert kept[0] == "notes.txt"
    assert [name for name in kept if name.startswith("zoom-batch-202611")] == [
        "zoom-batch-20261103-023000.csv",
        "zoom-batch-20261103-023000.html",
        "zoom-batch-20261103-023000.json",
    ]
    this_run = [name for name in kept[1:] if not name.startswith("zoom-batch-202611")]
    assert [Path(name).suffix for name in this_run] == [".csv", ".json"]
