"""The report as an Excel workbook: a "Rows" sheet with the CSV's columns, and a "Summary".

Written with openpyxl in write-only mode, which streams rows to a temporary file, so memory
stays flat however many rows; read back in read-only mode (``--retry-failed x.xlsx``, the
contact sheet). Imported only when a report is ``.xlsx``. Measured on the development machine:
~0.4 ms a row to write (15 columns; lxml would save only a quarter of it, so it is not
required), ~0.35 ms a row to read — 40 s to write 100,000 rows, against an hour's run.

Every text cell is written as text, never as a formula (openpyxl makes a formula of a string
starting with ``=``); the row cells also carry the CSV's apostrophe guard (``_report.py``), so
the two formats hold the same text and a sheet exported to CSV stays safe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._files import atomic_write
from ._models import RunSummary, Status

ROWS_SHEET = "Rows"
SUMMARY_SHEET = "Summary"
#: Excel's rows per sheet, header included: a longer report goes on in "Rows 2", "Rows 3"...
MAX_SHEET_ROWS = 1_048_576
#: Excel's characters per cell: a longer text is cut (Excel would refuse the file).
MAX_CELL_TEXT = 32_767
#: Widest column, in characters: a long message wraps in the cell rather than widens it.
MAX_WIDTH = 60

Value = str | int | float | None


def write_workbook(
    out: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str | int]],
    widths: Sequence[int],
    summary: Sequence[tuple[str, Value]],
) -> None:
    """Write the workbook to ``out`` atomically: ``rows`` under ``header`` (bold, frozen,
    filtered, ``widths`` in characters), then the ``summary`` key/value rows."""
    from openpyxl import Workbook  # type: ignore[import-untyped, unused-ignore]

    book = Workbook(write_only=True)
    sheet: Any = None
    filled = 0
    for row in rows:
        if sheet is None or filled == MAX_SHEET_ROWS - 1:
            if sheet is not None:
                _finish_rows_sheet(sheet, filled, len(header))
            title = ROWS_SHEET if sheet is None else f"{ROWS_SHEET} {len(book.worksheets) + 1}"
            sheet, filled = _rows_sheet(book, title, header, widths), 0
        sheet.append([_value(sheet, cell) for cell in row])
        filled += 1
    if sheet is None:
        sheet = _rows_sheet(book, ROWS_SHEET, header, widths)
    _finish_rows_sheet(sheet, filled, len(header))
    facts = book.create_sheet(SUMMARY_SHEET)
    facts.column_dimensions["A"].width = 28
    facts.column_dimensions["B"].width = MAX_WIDTH
    facts.append([_bold(facts, "item"), _bold(facts, "value")])
    for key, value in summary:
        facts.append([_value(facts, key), _value(facts, value)])
    # atomic_write's handle is text; the zip goes to its binary buffer, which atomic_write
    # then flushes, syncs and renames into place like any other file.
    with atomic_write(out) as handle:
        book.save(handle.buffer)


def _rows_sheet(book: Any, title: str, header: Sequence[str], widths: Sequence[int]) -> Any:
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped, unused-ignore]

    sheet = book.create_sheet(title)
    # Write-only sheets take their layout before the first row.
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width, 4) + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.append([_bold(sheet, name) for name in header])
    return sheet


def _finish_rows_sheet(sheet: Any, rows: int, columns: int) -> None:
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped, unused-ignore]

    sheet.auto_filter.ref = f"A1:{get_column_letter(max(columns, 1))}{rows + 1}"


def _bold(sheet: Any, text: str) -> Any:
    from openpyxl.styles import Font  # type: ignore[import-untyped, unused-ignore]

    cell = _value(sheet, text, force_cell=True)
    cell.font = Font(bold=True)
    return cell


def _value(sheet: Any, value: Value, *, force_cell: bool = False) -> Any:
    """``value`` as openpyxl should store it: numbers as numbers, any text as text."""
    if not isinstance(value, str):
        return value
    if value == "":
        return None  # an empty cell, not an empty string
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped, unused-ignore]
    from openpyxl.cell.cell import (  # type: ignore[import-untyped, unused-ignore]
        ILLEGAL_CHARACTERS_RE,
    )

    # Control characters are not allowed in the file format: shown as U+FFFD instead.
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)[:MAX_CELL_TEXT]
    if not (force_cell or text.startswith("=")):
        return text
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # text, even when it starts with "="
    return cell


def summary_items(
    summary: RunSummary | None, *, counts: dict[Status, int], rows: int
) -> list[tuple[str, Value]]:
    """The Summary sheet's rows: counts per status, then what the run was and how it went."""
    counts = summary.counts if summary is not None else counts
    items: list[tuple[str, Value]] = [("rows", rows)]
    items += [(status.value, counts.get(status, 0)) for status in Status]
    if summary is None:
        return items
    per_second = "uploads per second" if summary.job == "upload" else "rows done per second"
    items += [
        ("problems", summary.problems),
        ("job", summary.job),
        ("dry run", "yes" if summary.dry_run else "no"),
        ("started (UTC)", summary.started_at),
        ("finished (UTC)", summary.finished_at),
        ("duration (s)", summary.duration_s),
        ("requests sent", summary.requests_sent),
        (per_second, summary.uploads_per_second),
        ("plan", summary.plan or "(set by --rate)"),
        ("rate (requests per second)", summary.rate),
        ("exit code", summary.exit_code),
        ("stopped", summary.stopped),
        ("interrupted", "yes" if summary.interrupted else "no"),
        ("daily quota returns (UTC)", summary.resumes_at),
        ("report", summary.report_path),
        ("JSON summary", summary.summary_path),
        ("contact sheet", summary.html_path),
        ("warnings", "; ".join(summary.warnings) or None),
    ]
    return items


def read_workbook(path: Path) -> Iterator[list[str]]:
    """The header, then each row, of a report workbook's Rows sheets, as the cells' text.

    Raises OSError when the file cannot be read, ValueError when it is no workbook.
    """
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except OSError:
        raise
    # openpyxl raises zipfile's, its own and KeyError for a file that is not a workbook:
    # translated here, once, into what the report's readers catch.
    except Exception as exc:
        raise ValueError(f"not an Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheets = [s for s in book.worksheets if _is_rows_sheet(s.title)] or book.worksheets[:1]
        for number, sheet in enumerate(sheets):
            values = sheet.iter_rows(values_only=True)
            header = next(values, None)
            if number == 0:
                yield _texts(header or ())
            for row in values:
                if any(value is not None for value in row):
                    yield _texts(row)
    except (OSError, ValueError):
        raise
    except Exception as exc:
        raise ValueError(f"unreadable workbook ({type(exc).__name__}: {exc})") from None
    finally:
        book.close()


def _is_rows_sheet(title: str) -> bool:
    rest = title.removeprefix(ROWS_SHEET)
    return title.startswith(ROWS_SHEET) and (rest == "" or rest.strip().isdigit())


def _texts(values: Iterable[object]) -> list[str]:
    return [_text(value) for value in values]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a sheet saved again may hold 404 as 404.0
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
