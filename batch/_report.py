"""The per-user report: one row per manifest row, in manifest order, plus a JSON summary.

Rows finish out of order (workers run concurrently); :class:`ReportWriter` holds a finished row
only until every earlier row has finished, so its buffer is bounded by the rows in flight, not
by the manifest. Rows go to ``<report>.partial`` as soon as they are in order (a crash keeps
them); the finished report appears under its real name only when complete (write, then rename).

The report is CSV, or an Excel workbook when its name ends in ``.xlsx`` (``_xlsx_report.py``):
its ``.partial`` is then still CSV — the same rows, crash-safe while the run goes — and closing
turns it into the workbook, with a Summary sheet, then deletes it.

After our own :data:`COLUMNS` come the manifest's extra columns (a Name, a department), under
the names :func:`report_columns` gives them. Every text cell a spreadsheet could run as a
formula gets a leading apostrophe, in both formats; :func:`read_rows` takes it off again.

A report that cannot be written (a full disk) never raises into the run: :attr:`ReportWriter.error`
says why, the rows still count, and the runner stops the run (exit 2); the ``.partial`` keeps
the rows written before.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ._exceptions import ConfigError
from ._files import atomic_write
from ._models import RowResult, RunSummary, Status

COLUMNS = (
    "row",
    "user",
    "file",
    "status",
    "http_status",
    "zoom_code",
    "message",
    "attempts",
    "bytes",
    "sha256",
    "duration_ms",
    "finished_at",
    "line",
    "original_bytes",
    "tracking_id",
    "crop",
    "dn",
)
#: Our columns that hold whole numbers: numbers, not text, in a workbook.
NUMBER_COLUMNS = frozenset(
    {"row", "http_status", "zoom_code", "attempts", "bytes", "duration_ms", "line"}
    | {"original_bytes"}
)
#: Suffixes :func:`default_report_path` may give a report.
REPORT_SUFFIXES = (".csv", ".xlsx")

# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP);
# the report is opened by HR in one, so such cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def uncell(text: str) -> str:
    """A cell as it was before :func:`_cell` guarded it against formulas."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_START):
        return text[1:]
    return text


def is_workbook(path: Path) -> bool:
    """True when ``path`` names an Excel report (``.xlsx``, any case)."""
    return path.suffix.lower() == ".xlsx"


def report_columns(extra_columns: Sequence[str] = ()) -> tuple[str, ...]:
    """The report's header: :data:`COLUMNS`, then the manifest's extra columns.

    An extra column keeps its name as written unless it clashes (compared trimmed and
    case-insensitively): with one of ours (``Status``, `` user``) it becomes ``manifest_status``;
    with a name already taken it gets a number (``manifest_status_2``, ``Name_2``). A blank
    name becomes ``manifest_column``.
    """
    ours = {name.casefold() for name in COLUMNS}
    taken = set(ours)
    names = list(COLUMNS)
    for written in extra_columns:
        name = written.strip()
        chosen = written
        if not name:
            chosen = name = "manifest_column"
        elif name.casefold() in ours:
            chosen = name = f"manifest_{name.lower()}"
        n = 2
        while chosen.strip().casefold() in taken:
            chosen, n = f"{name}_{n}", n + 1
        taken.add(chosen.strip().casefold())
        names.append(chosen)
    return tuple(names)


def default_report_path(
    now: datetime | None = None, folder: Path | None = None, *, suffix: str = ".csv"
) -> Path:
    """``reports/zoom-batch-YYYYmmdd-HHMMSS.csv`` (or ``.xlsx``) in the current folder.

    Never a name an earlier run's report, ``.partial`` or JSON summary has, in either format:
    the run's files share one stem (``_retention.py`` relies on it).
    """
    suffix = suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueError(f"suffix: expected one of {', '.join(REPORT_SUFFIXES)}, got {suffix!r}")
    now = now or datetime.now(UTC)
    folder = folder or Path("reports")
    stem = f"zoom-batch-{now:%Y%m%d-%H%M%S}"
    n = 2
    while _stem_in_use(folder / stem):
        stem = f"zoom-batch-{now:%Y%m%d-%H%M%S}-{n}"
        n += 1
    return folder / f"{stem}{suffix}"


def _stem_in_use(stem: Path) -> bool:
    names = [f"{stem.name}{s}" for s in REPORT_SUFFIXES]
    names += [f"{name}.partial" for name in names] + [f"{stem.name}.json"]
    return any(stem.with_name(name).exists() for name in names)


def summary_path(report: Path) -> Path:
    return report.with_suffix(".json")


class ReportWriter:
    """Writes finished rows in manifest order; see the module docstring.

    ``extra_columns`` are the manifest's own (``Manifest.extra_columns``), one per cell of each
    :attr:`RowResult.extras <batch.RowResult.extras>`: a row with fewer cells gets empty ones.
    """

    def __init__(self, path: Path, extra_columns: Sequence[str] = ()) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        #: The header: :data:`COLUMNS` and the extra columns, as :func:`report_columns` names them.
        self.columns = report_columns(extra_columns)
        self.xlsx = is_workbook(path)
        self._extras = len(self.columns) - len(COLUMNS)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # utf-8-sig: Excel reads a UTF-8 CSV without a BOM as the local code page.
            self._file: IO[str] = self.partial.open("w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ConfigError(f"--report: cannot write {path} ({exc.strerror or exc})") from None
        self._writer = csv.writer(self._file)
        header = [_cell(name) for name in self.columns]
        self._writer.writerow(header)
        self._file.flush()
        # Longest text per column, for the workbook's column widths (known before any row).
        self._widths = [len(name) for name in header] if self.xlsx else None
        self._pending: dict[int, RowResult] = {}
        self._next = 1
        self.counts: dict[Status, int] = {}
        self.written = 0
        #: Why the report cannot be written any more (one line), once it cannot.
        self.error: str | None = None

    @property
    def buffered(self) -> int:
        """Finished rows waiting for an earlier row (bounded by the rows in flight)."""
        return len(self._pending)

    def add(self, result: RowResult) -> None:
        """Record a finished row; it is written once every earlier row is in."""
        if result.row < self._next or result.row in self._pending:
            raise ValueError(f"row {result.row} reported twice")
        self._pending[result.row] = result
        wrote = False
        while self._next in self._pending:
            row = self._pending.pop(self._next)
            self.counts[row.status] = self.counts.get(row.status, 0) + 1
            self._next += 1
            if self.error is None:
                wrote = self._guard(self._write, row)
        if wrote:
            self._guard(self._file.flush)

    def _guard(self, write: Any, *args: Any) -> bool:
        """Call ``write``; on an OSError remember why and write nothing more. True if it wrote."""
        try:
            write(*args)
        except OSError as exc:
            if self.error is None:
                self.error = (
                    f"cannot write the report {self.partial} ({exc.strerror or exc});"
                    f" {self.written:,} rows are in it"
                )
            return False
        return True

    def _write(self, r: RowResult) -> None:
        cells = [
            str(r.row),
            _cell(r.user),
            _cell(r.file),
            r.status.value,
            _cell(r.http_status),
            _cell(r.zoom_code),
            _cell(r.message),
            str(r.attempts),
            _cell(r.bytes),
            _cell(r.sha256),
            _cell(r.duration_ms),
            _cell(r.finished_at),
            _cell(r.line),
            _cell(r.original_bytes),
            _cell(r.tracking_id),
            _cell(r.crop),
            _cell(r.dn),
        ]
        if self._extras:
            extras = [_cell(value) for value in r.extras[: self._extras]]
            cells += extras + [""] * (self._extras - len(extras))
        self._writer.writerow(cells)
        if self._widths is not None:
            for i, cell in enumerate(cells):
                self._widths[i] = max(self._widths[i], len(cell))
        self.written += 1

    def close(self, summary: RunSummary | None = None) -> None:
        """Finish the file and give it its real name. Every row must be in.

        A workbook gets ``summary`` as its Summary sheet (the run as it stands at this call;
        without one, the counts); a CSV report ignores it — its summary is the JSON beside it.
        Writing a workbook takes a while (~0.4 ms a row): from async code, run it in a thread.
        When the report could not be written (:attr:`error`), the ``.partial`` stays as it is.
        """
        if self._pending:
            missing = self._next
            raise RuntimeError(f"report incomplete: row {missing} never finished")
        if self.error is None and self._guard(self._finish):
            if not self.xlsx:
                return
            try:
                self._write_workbook(summary)
            except Exception as exc:
                # The rows are all in the .partial, synced: whatever the workbook library
                # raised, the run ends cleanly with them, as with a full disk.
                reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
                self.error = (
                    f"cannot write the report {self.path} ({reason});"
                    f" all {self.written:,} rows are in {self.partial}"
                )
            return
        with contextlib.suppress(OSError):
            self._file.close()

    def _finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if not self.xlsx:
            os.replace(self.partial, self.path)

    def _write_workbook(self, summary: RunSummary | None) -> None:
        from ._xlsx_report import summary_items, write_workbook

        assert self._widths is not None
        items = summary_items(summary, counts=self.counts, rows=self.written)
        header = [_cell(name) for name in self.columns]
        write_workbook(self.path, header, self._typed_rows(), self._widths, items)
        with contextlib.suppress(OSError):  # the workbook is in place: a leftover is harmless
            self.partial.unlink()

    def _typed_rows(self) -> Iterator[list[str | int]]:
        """The rows of the ``.partial``, numbers as numbers (for the workbook)."""
        numbers = [name in NUMBER_COLUMNS for name in COLUMNS]
        numbers += [False] * self._extras
        with self.partial.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)  # the header: the workbook writes its own
            for cells in reader:
                yield [_number(c) if n else c for c, n in zip(cells, numbers, strict=False)]

    def abandon(self) -> None:
        """Close without renaming (the partial file stays for inspection)."""
        if not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()


def _number(cell: str) -> str | int:
    try:
        return int(uncell(cell))
    except ValueError:
        return cell  # empty, or not a number after all: kept as the text it is


def write_summary(path: Path, summary: RunSummary) -> None:
    data: dict[str, Any] = asdict(summary)
    data["counts"] = {status.value: summary.counts.get(status, 0) for status in Status}
    data["problems"] = summary.problems
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2) + "\n")


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a report, CSV or ``.xlsx`` (by suffix), as text without formula guards.

    Each row maps every header name to its cell ("" when empty or missing). Raises OSError
    when the file cannot be read, ValueError when it is not a table this tool can read.
    """
    table = _table(path)
    header = [uncell(name) for name in next(table, [])]
    for cells in table:
        yield _record(header, cells)


def _record(header: list[str], cells: list[str]) -> dict[str, str]:
    values = [uncell(cell) for cell in cells[: len(header)]]
    values += [""] * (len(header) - len(values))
    return dict(zip(header, values, strict=True))


def _table(path: Path) -> Iterator[list[str]]:
    """The header, then each row, as the cells' text (formula guards still on)."""
    if is_workbook(path):
        from ._xlsx_report import read_workbook

        yield from read_workbook(path)
        return
    # utf-8-sig: a report saved again by a spreadsheet may have gained a BOM.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            yield from csv.reader(handle)
        except csv.Error as exc:  # UnicodeDecodeError already is a ValueError
            raise ValueError(str(exc)) from None


def read_report(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a report written by this tool (for ``--retry-failed``). Raises ConfigError."""
    table = _table(path)
    try:
        header = [uncell(name) for name in next(table, [])]
        if "user" not in header or "status" not in header:
            raise ConfigError(
                f"--retry-failed: {path} is not a zoom-batch report (no user/status columns)"
            )
        for cells in table:
            yield _record(header, cells)
    except OSError as exc:
        raise ConfigError(f"--retry-failed: cannot read {path} ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"--retry-failed: {path}: unreadable report ({exc})") from None
