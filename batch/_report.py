"""The per-user report: one CSV row per manifest row, in manifest order, plus a JSON summary.

Rows finish out of order (workers run concurrently); :class:`ReportWriter` holds a finished row
only until every earlier row has finished, so its buffer is bounded by the rows in flight, not
by the manifest. Rows go to ``<report>.partial`` as soon as they are in order (a crash keeps
them); the finished report appears under its real name only when complete (write, then rename).

A report that cannot be written (a full disk) never raises into the run: :attr:`ReportWriter.error`
says why, the rows still count, and the runner stops the run (exit 2); the ``.partial`` keeps
the rows written before.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from collections.abc import Iterator
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
)


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


def default_report_path(now: datetime | None = None, folder: Path | None = None) -> Path:
    """``reports/zoom-batch-YYYYmmdd-HHMMSS.csv`` in the current folder, never an existing one."""
    now = now or datetime.now(UTC)
    folder = folder or Path("reports")
    stem = f"zoom-batch-{now:%Y%m%d-%H%M%S}"
    path = folder / f"{stem}.csv"
    n = 2
    while path.exists() or path.with_name(path.name + ".partial").exists():
        path = folder / f"{stem}-{n}.csv"
        n += 1
    return path


def summary_path(report: Path) -> Path:
    return report.with_suffix(".json")


class ReportWriter:
    """Writes finished rows in manifest order; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # utf-8-sig: Excel reads a UTF-8 CSV without a BOM as the local code page.
            self._file: IO[str] = self.partial.open("w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise ConfigError(f"--report: cannot write {path} ({exc.strerror or exc})") from None
        self._writer = csv.writer(self._file)
        self._writer.writerow(COLUMNS)
        self._file.flush()
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
        self._writer.writerow(
            (
                r.row,
                _cell(r.user),
                _cell(r.file),
                r.status.value,
                _cell(r.http_status),
                _cell(r.zoom_code),
                _cell(r.message),
                r.attempts,
                _cell(r.bytes),
                _cell(r.sha256),
                _cell(r.duration_ms),
                _cell(r.finished_at),
                _cell(r.line),
                _cell(r.original_bytes),
                _cell(r.tracking_id),
            )
        )
        self.written += 1

    def close(self) -> None:
        """Finish the file and give it its real name. Every row must be in.

        When the report could not be written (:attr:`error`), the ``.partial`` stays as it is.
        """
        if self._pending:
            missing = self._next
            raise RuntimeError(f"report incomplete: row {missing} never finished")
        if self.error is None and self._guard(self._finish):
            return
        with contextlib.suppress(OSError):
            self._file.close()

    def _finish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)

    def abandon(self) -> None:
        """Close without renaming (the partial file stays for inspection)."""
        if not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()


def write_summary(path: Path, summary: RunSummary) -> None:
    data: dict[str, Any] = asdict(summary)
    data["counts"] = {status.value: summary.counts.get(status, 0) for status in Status}
    data["problems"] = summary.problems
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2) + "\n")


def read_report(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a report written by this tool (for ``--retry-failed``). Raises ConfigError."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"--retry-failed: cannot read {path} ({exc.strerror or exc})") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            if "user" not in header or "status" not in header:
                raise ConfigError(
                    f"--retry-failed: {path} is not a zoom-batch report (no user/status columns)"
                )
            for row in reader:
                yield {k: uncell(v or "") for k, v in row.items() if k is not None}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"--retry-failed: {path}: unreadable report ({exc})") from None
