"""What cron keeps: one line per event for ``--log-file``, as JSON or as text, redacted.

Each event becomes a name and its fields; every string field goes through :func:`redact`
before it is written, and every line is flushed so a crash or a ``tail -f`` sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from .._clock import iso_utc, utc_now
from .._exceptions import redact
from .._models import RowResult, RunSummary, Status
from .._words import plural
from ._events import NullObserver
from ._wording import counts_line, format_duration, holding_text, pace

__all__ = ["JsonLog", "TextLog", "redact"]


class _EventLog(NullObserver):
    """Turns each event into a name and fields, redacted; subclasses decide how the line reads.

    ``now`` gives each line's timestamp (timezone-aware); tests pass a fixed one.
    """

    def __init__(self, stream: TextIO, *, now: Callable[[], datetime] = utc_now) -> None:
        self._stream = stream
        self._now = now

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        self._emit("run_started", total=total, rate=rate, dry_run=dry_run)

    def row_finished(self, result: RowResult) -> None:
        self._emit(
            "row_finished",
            row=result.row,
            user=result.user,
            file=result.file,
            status=result.status.value,
            http_status=result.http_status,
            zoom_code=result.zoom_code,
            message=result.message,
            attempts=result.attempts,
            duration_ms=result.duration_ms,
            tracking_id=result.tracking_id,
        )

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self._emit("backoff_started", seconds=seconds, reason=reason, rate=rate)

    def backoff_ended(self, *, rate: float) -> None:
        self._emit("backoff_ended", rate=rate)

    def token_renewed(self) -> None:
        self._emit("token_renewed")

    def run_finished(self, summary: RunSummary) -> None:
        # Named run_summary in the log: the line carries the summary, not just the moment.
        self._emit(
            "run_summary",
            counts={s.value: n for s, n in summary.counts.items()},
            total=summary.total,
            started_at=summary.started_at,
            finished_at=summary.finished_at,
            duration_s=summary.duration_s,
            requests_sent=summary.requests_sent,
            uploads_per_second=summary.uploads_per_second,
            rate=summary.rate,
            dry_run=summary.dry_run,
            interrupted=summary.interrupted,
            resumes_at=summary.resumes_at,
            report_path=summary.report_path,
            summary_path=summary.summary_path,
            html_path=summary.html_path,
            exit_code=summary.exit_code,
            stopped=summary.stopped,
        )

    def _emit(self, event: str, **fields: Any) -> None:
        clean = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        self._stream.write(self._format(self._now(), event, clean) + "\n")
        self._stream.flush()  # a crash or a `tail -f` must see every finished event

    def _format(self, now: datetime, event: str, fields: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonLog(_EventLog):
    """One JSON object per event and line (``--log-format json``), with ``ts`` and ``event``.

    ``ts`` is UTC to the millisecond; the other keys are the event's fields.
    """

    def _format(self, now: datetime, event: str, fields: dict[str, Any]) -> str:
        # ASCII-only output: the log file's encoding never decides whether a line can be written.
        return json.dumps({"ts": iso_utc(now, "milliseconds"), "event": event, **fields})


class TextLog(_EventLog):
    """One readable line per event (``--log-format text``): ``<ts> row 12 jane@x.com failed``.

    The timestamp is UTC to the second; the wording is the console's.
    """

    def _format(self, now: datetime, event: str, fields: dict[str, Any]) -> str:
        return f"{iso_utc(now)} {_TEXT_LINES[event](fields)}"


def _row_line(f: dict[str, Any]) -> str:
    details = [
        f"HTTP {f['http_status']}" if f["http_status"] is not None else "",
        f"Zoom code {f['zoom_code']}" if f["zoom_code"] is not None else "",
        plural(f["attempts"], "attempt") if f["attempts"] else "",
        f"{f['duration_ms']:,} ms" if f["duration_ms"] is not None else "",
        f"tracking id {f['tracking_id']}" if f.get("tracking_id") else "",
    ]
    line = f"row {f['row']} {f['user']} {f['status']}"
    if f["message"]:
        line += f": {f['message']}"
    shown = ", ".join(d for d in details if d)
    return f"{line} ({shown})" if shown else line


def _summary_line(f: dict[str, Any]) -> str:
    what = "dry run" if f["dry_run"] else "run"
    how = "interrupted" if f["interrupted"] else "finished"
    counts = counts_line({Status(s): n for s, n in f["counts"].items()})
    return (
        f"{what} {how}: {counts or 'no rows'} in {format_duration(f['duration_s'])}, "
        f"exit code {f['exit_code']}"
    )


_TEXT_LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "run_started": lambda f: (
        f"dry run started: {plural(f['total'], 'row')}"
        if f["dry_run"]
        else f"run started: {plural(f['total'], 'row')} at {pace(f['rate'])}"
    ),
    "row_finished": _row_line,
    "backoff_started": lambda f: holding_text(f["seconds"], f["reason"], f["rate"]),
    "backoff_ended": lambda f: f"hold over, pace {pace(f['rate'])}",
    "token_renewed": lambda f: "access token renewed",
    "run_summary": _summary_line,
}
