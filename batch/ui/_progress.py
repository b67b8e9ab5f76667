"""What the operator sees and what cron logs: progress display, closing text, event logs.

Every class here implements :class:`~batch._events.RunObserver`. ``ConsoleProgress`` is for people
(a live display on a terminal, sparse plain lines otherwise); ``JsonLog`` and ``TextLog`` write one
line per event for ``--log-file``; ``Observers`` fans the pool's events out to several of them.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from math import ceil
from typing import TYPE_CHECKING, Any, TextIO

from .._models import RowResult, RunSummary, Status
from ._events import RunObserver

if TYPE_CHECKING:
    from ._live import LiveDisplay

__all__ = [
    "ConsoleProgress",
    "JsonLog",
    "Observers",
    "TextLog",
    "closing_text",
    "forecast",
    "format_duration",
    "redact",
]

_log = logging.getLogger(__name__)

# --- words and numbers -------------------------------------------------------------------------


def format_duration(seconds: float, *, compact: bool = False) -> str:
    """Say a duration the way a person reads it: ``45 s``, ``3 min 31 s``, ``2 h 05 min``.

    ``compact=True`` gives the same units without spaces (``3m31s``) for one-line progress.
    """
    whole = int(max(seconds, 0.0) + 0.5)  # half up; round() would make 2.5 s into 2 s
    space = "" if compact else " "

    def part(n: int, unit: str, width: int = 1) -> str:
        return f"{n:0{width}d}{space}{unit}"

    if whole == 0:
        return f"<1{space}s"
    if whole < 60:
        return part(whole, "s")
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return space.join((part(minutes, "m" if compact else "min"), part(secs, "s", 2)))
    hours, minutes = divmod(int(whole / 60 + 0.5), 60)
    return space.join((part(hours, "h"), part(minutes, "m" if compact else "min", 2)))


def forecast(valid: int, rate: float, plan: str | None) -> str:
    """Say how long uploading ``valid`` rows takes at ``rate`` requests/s (``--dry-run``)."""
    text = _rows(valid, "valid row")
    if valid > 0 and rate > 0:
        text += f" ≈ {format_duration(valid / rate)} at {_pace(rate)}"
        if plan:
            name = plan[:1].upper() + plan[1:]
            article = "an" if name[:1] in "AEIOU" else "a"
            text += f" on {article} {name} account"
    return text


def _rows(n: int, noun: str = "row") -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _pace(rate: float) -> str:
    return f"{rate:,.1f}/s"


def _counts_line(counts: Mapping[Status, int]) -> str:
    """``uploaded 1,150 skipped 40 failed 10``: the non-zero counts, in the report's order."""
    return " ".join(f"{_label(s)} {counts[s]:,}" for s in Status if counts.get(s, 0))


def _label(status: Status) -> str:
    return status.value.replace("_", " ")


def _holding_text(seconds: float, reason: str, rate: float) -> str:
    """``holding back 1.0 s: rate limited (429) — pace now 12.0/s``; ``reason`` is the pool's."""
    wait = f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)  # quota holds: hours
    return f"holding back {wait}: {reason} — pace now {_pace(rate)}"


# --- closing text ------------------------------------------------------------------------------


def closing_text(summary: RunSummary, *, manifest: str) -> str:
    """The text printed when a run ends: counts, duration, report paths and the next step.

    Plain text without markup, so it reads the same on a terminal and in a cron log.
    ``manifest`` is the manifest path as the operator gave it, for the command to run next.
    """
    counts = summary.counts
    numbers = [(_label(s), f"{counts[s]:,}") for s in Status if counts.get(s, 0)]
    numbers.append(("total", f"{sum(counts.values()):,}"))
    width = max(len(value) for _, value in numbers)
    table = [(label, value.rjust(width)) for label, value in numbers]

    took = format_duration(summary.duration_s)
    if not summary.dry_run and summary.uploads_per_second > 0:
        took += f" at {_pace(summary.uploads_per_second)}"
        if summary.rate > 0:
            took += f" (target {_pace(summary.rate)})"
    table.append(("duration", took))
    for label, path in (
        ("report CSV", summary.report_path),
        ("JSON summary", summary.summary_path),
        ("HTML report", summary.html_path),
    ):
        if path:
            table.append((label, path))

    label_width = max(len(label) for label, _ in table) + 2
    lines = [f"{label:<{label_width}}{value}" for label, value in table]
    steps = [f"warning: {warning}" for warning in summary.warnings]
    steps += _next_steps(summary, manifest)
    if steps:
        lines += ["", *steps]
    return "\n".join(lines)


def _next_steps(summary: RunSummary, manifest: str) -> list[str]:
    """One line per thing left to do, each naming the command that does it."""
    counts = summary.counts
    failed = counts.get(Status.FAILED, 0)
    invalid = counts.get(Status.INVALID, 0)
    deferred = counts.get(Status.DEFERRED, 0)
    not_attempted = counts.get(Status.NOT_ATTEMPTED, 0)
    steps: list[str] = []

    if summary.dry_run:
        line = "dry run: " + forecast(counts.get(Status.VALID, 0), summary.rate, summary.plan)
        if invalid:
            line += f"; {invalid:,} invalid, see report"
        steps.append(line)
    elif failed or invalid:
        if failed and invalid:
            what = f"{_rows(failed)} failed, {invalid:,} invalid"
        else:
            what = f"{_rows(failed)} failed" if failed else f"{_rows(invalid)} invalid"
        if summary.report_path:
            command = shlex.join(
                ["zoom-batch", "run", manifest or "MANIFEST", "--retry-failed", summary.report_path]
            )
            steps.append(f"{what} — fix them, then: {command}")
        else:
            steps.append(f"{what} — fix them, then run the same command again")

    if deferred:
        until = f" until {_utc_minute(summary.resumes_at)}" if summary.resumes_at else ""
        after = "after then" if summary.resumes_at else "after 00:00 UTC"
        steps.append(
            f"{_rows(deferred)} deferred: daily quota spent{until} — run the same command {after}"
        )

    resume = "run the same command again to resume (finished rows are skipped)"
    if summary.interrupted:
        steps.append(f"interrupted — {resume}")
    elif not_attempted:
        steps.append(f"{_rows(not_attempted)} not attempted — {resume}")
    return steps


def _utc_minute(iso: str) -> str:
    """``2026-11-29T00:00:00Z`` → ``2026-11-29 00:00 UTC``; an unreadable value is shown as is."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# --- console -----------------------------------------------------------------------------------


def _live_terminal(stream: TextIO) -> bool:
    from ._live import is_interactive  # rich loads only for a terminal

    return is_interactive(stream)


class _Speed:
    """Rows per second and time left, estimated as rich's progress task does.

    The samples of the last 30 s (at most 1,000): rows finished over the time they span.
    The same figures the live display showed when it kept them, so that plain lines and the
    display agree; kept here so that runs without a terminal do not load rich.
    """

    WINDOW = 30.0  #: rich's ``speed_estimate_period``
    MAX_SAMPLES = 1000

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._samples: deque[float] = deque(maxlen=self.MAX_SAMPLES)  # when each row finished
        self.done = 0
        self.total = 0

    def reset(self, total: int) -> None:
        self._samples.clear()
        self.done, self.total = 0, total

    def advance(self) -> None:
        now = self._clock()
        self.done += 1
        samples = self._samples
        while samples and samples[0] < now - self.WINDOW:
            samples.popleft()
        samples.append(now)

    @property
    def finished(self) -> bool:
        return bool(self.total) and self.done >= self.total

    @property
    def per_second(self) -> float | None:
        """Rows per second, None until two rows have finished at different times."""
        samples = self._samples
        span = samples[-1] - samples[0] if samples else 0.0
        return (len(samples) - 1) / span if span else None

    @property
    def seconds_left(self) -> float | None:
        speed = self.per_second
        if self.finished or not speed or not self.total:
            return None
        return float(ceil((self.total - self.done) / speed))


class ConsoleProgress:
    """Shows a run's progress to the operator: live on a terminal, sparse plain lines otherwise.

    ``stream`` defaults to ``sys.stderr``. ``plain=None`` decides from it: a live display on a
    terminal that can redraw, plain lines (no ANSI codes) for cron, CI and pipes. ``quiet``
    shows only the closing text.
    ``manifest`` is the manifest path as given, used in the closing text's next-step command.
    Call :meth:`close` in a ``finally`` so Ctrl-C leaves the terminal clean.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        quiet: bool = False,
        plain: bool | None = None,
        interval: float = 5.0,
        manifest: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must be 0 or more seconds, got {interval!r}")
        # Looked up now, not at import: sys.stderr may have been replaced since (tests, rich).
        self._stream = stream = stream or sys.stderr
        self._quiet = quiet
        self._interval = interval
        self._manifest = manifest
        self._clock = clock
        self._counts: Counter[Status] = Counter()
        self._target: float | None = None
        self._holding: str | None = None
        self._last_line = clock()
        self._closed = False

        self._speed = _Speed(clock)
        if plain is None:
            # A dumb terminal cannot redraw in place: plain lines serve it better.
            plain = quiet or not (stream.isatty() and _live_terminal(stream))
        self._display: LiveDisplay | None = None
        if not (quiet or plain):
            from ._live import LiveDisplay

            self._display = LiveDisplay(
                stream, status=self._status_line, extra=self._extra_lines, clock=clock
            )

    # RunObserver

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        self._target = None if dry_run else rate
        self._last_line = self._clock()
        self._speed.reset(total)
        if self._display is not None:
            self._display.begin(total)
        elif not self._quiet:
            what = "dry run: checking" if dry_run else "run started:"
            pace = "" if dry_run else f" at {_pace(rate)}"
            self._write(f"{what} {_rows(total)}{pace}")

    def row_finished(self, result: RowResult) -> None:
        self._counts[result.status] += 1
        self._speed.advance()
        if self._display is not None:
            self._display.step()
            return
        if self._quiet:
            return
        now = self._clock()
        if now - self._last_line >= self._interval:
            self._last_line = now
            counts = _counts_line(self._counts)
            self._write(f"progress {self._status_line()}" + (f" · {counts}" if counts else ""))

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self._target = rate
        self._holding = _holding_text(seconds, reason, rate)
        if self._display is not None:
            self._display.refresh()  # show the hold now, not at the next tick
        elif not self._quiet:
            self._write(self._holding)

    def backoff_ended(self, *, rate: float) -> None:
        self._target = rate
        self._holding = None

    def token_renewed(self) -> None:
        """Nothing to show: renewing the token is routine."""

    def run_finished(self, summary: RunSummary) -> None:
        self.close()
        self._write(closing_text(summary, manifest=self._manifest))

    def close(self) -> None:
        """Stop the live display and give the cursor back; safe to call more than once."""
        if not self._closed:
            self._closed = True
            if self._display is not None:
                self._display.stop()

    # rendering

    def _status_line(self) -> str:
        """``1,200/8,000 (15%) · 18.7/s of 19.4/s · eta 5m52s``; unknown parts are left out."""
        done, total = self._speed.done, self._speed.total
        parts = [f"{done:,}/{total:,} ({done * 100 // total}%)" if total else f"{done:,}"]
        speed = self._speed.per_second
        if speed is not None:
            parts.append(_pace(speed) + (f" of {_pace(self._target)}" if self._target else ""))
        eta = self._speed.seconds_left
        if eta is not None:
            parts.append(f"eta {format_duration(eta, compact=True)}")
        return " · ".join(parts)

    def _extra_lines(self) -> Iterable[tuple[str, str]]:
        """The live display's lines under the bar: (text, rich style)."""
        yield _counts_line(self._counts), ""
        holding = self._holding
        if holding:
            yield holding, "yellow"

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


# --- logs --------------------------------------------------------------------------------------

# What a secret looks like in text that might quote a request or a response. The Basic pattern
# wants a long base64 run so that prose such as "Basic plan" is left alone.
_SECRETS = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/]{16,}=*"), r"\1***"),
    (
        re.compile(
            r"""(?i)\b((?:access_token|refresh_token|id_token|client_secret|password)"""
            r"""["']?\s*[:=]\s*["']?)[^"'&\s,;}]+"""
        ),
        r"\1***",
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),  # user:password@ in a URL
)


def redact(text: str) -> str:
    """Mask what looks like a credential: bearer/basic auth, token values, URL passwords.

    The events carry no secrets; this is the safety net in case a message ever quotes one.
    """
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime, timespec: str) -> str:
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


class _EventLog:
    """Turns each event into a name and fields, redacted; subclasses decide how the line reads."""

    def __init__(self, stream: TextIO, *, now: Callable[[], datetime] = _utc_now) -> None:
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
        )

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self._emit("backoff_started", seconds=seconds, reason=reason, rate=rate)

    def backoff_ended(self, *, rate: float) -> None:
        self._emit("backoff_ended", rate=rate)

    def token_renewed(self) -> None:
        self._emit("token_renewed")

    def run_finished(self, summary: RunSummary) -> None:
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
        )

    def _emit(self, event: str, **fields: Any) -> None:
        clean = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        self._stream.write(self._format(self._now(), event, clean) + "\n")
        self._stream.flush()  # a crash or a `tail -f` must see every finished event

    def _format(self, now: datetime, event: str, fields: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonLog(_EventLog):
    """One JSON object per event and line (``--log-format json``), with ``ts`` and ``event``."""

    def _format(self, now: datetime, event: str, fields: dict[str, Any]) -> str:
        # ASCII-only output: the log file's encoding never decides whether a line can be written.
        return json.dumps({"ts": _iso(now, "milliseconds"), "event": event, **fields})


class TextLog(_EventLog):
    """One readable line per event (``--log-format text``): ``<ts> row 12 jane@x.com failed``."""

    def _format(self, now: datetime, event: str, fields: dict[str, Any]) -> str:
        return f"{_iso(now, 'seconds')} {_TEXT_LINES[event](fields)}"


def _row_line(f: dict[str, Any]) -> str:
    details = [
        f"HTTP {f['http_status']}" if f["http_status"] is not None else "",
        f"Zoom code {f['zoom_code']}" if f["zoom_code"] is not None else "",
        _rows(f["attempts"], "attempt") if f["attempts"] else "",
        f"{f['duration_ms']:,} ms" if f["duration_ms"] is not None else "",
    ]
    line = f"row {f['row']} {f['user']} {f['status']}"
    if f["message"]:
        line += f": {f['message']}"
    shown = ", ".join(d for d in details if d)
    return f"{line} ({shown})" if shown else line


def _summary_line(f: dict[str, Any]) -> str:
    what = "dry run" if f["dry_run"] else "run"
    how = "interrupted" if f["interrupted"] else "finished"
    counts = _counts_line({Status(s): n for s, n in f["counts"].items()})
    return (
        f"{what} {how}: {counts or 'no rows'} in {format_duration(f['duration_s'])}, "
        f"exit code {f['exit_code']}"
    )


_TEXT_LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "run_started": lambda f: (
        f"dry run started: {_rows(f['total'])}"
        if f["dry_run"]
        else f"run started: {_rows(f['total'])} at {_pace(f['rate'])}"
    ),
    "row_finished": _row_line,
    "backoff_started": lambda f: _holding_text(f["seconds"], f["reason"], f["rate"]),
    "backoff_ended": lambda f: f"hold over, pace {_pace(f['rate'])}",
    "token_renewed": lambda f: "access token renewed",
    "run_summary": _summary_line,
}


# --- fan-out -----------------------------------------------------------------------------------


class Observers:
    """Passes each event to several observers; one that raises never breaks the run.

    The first failure of each observer is logged (with its traceback) to the ``batch._progress``
    logger, which reaches stderr when logging is not configured; later ones are silent so a
    broken log file does not print a line per row. The observer keeps receiving events.
    """

    def __init__(self, *observers: RunObserver) -> None:
        self._observers = observers
        self._failed: set[int] = set()

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        self._each("run_started", total=total, rate=rate, dry_run=dry_run)

    def row_finished(self, result: RowResult) -> None:
        self._each("row_finished", result)

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self._each("backoff_started", seconds=seconds, reason=reason, rate=rate)

    def backoff_ended(self, *, rate: float) -> None:
        self._each("backoff_ended", rate=rate)

    def token_renewed(self) -> None:
        self._each("token_renewed")

    def run_finished(self, summary: RunSummary) -> None:
        self._each("run_finished", summary)

    def close(self) -> None:
        """Close the observers that can be closed (the live display), e.g. after Ctrl-C."""
        self._each("close", optional=True)

    def _each(self, method: str, *args: Any, optional: bool = False, **kwargs: Any) -> None:
        for index, observer in enumerate(self._observers):
            if optional and not hasattr(observer, method):
                continue
            try:
                getattr(observer, method)(*args, **kwargs)
            except Exception:
                if index not in self._failed:
                    self._failed.add(index)
                    _log.error(
                        "%s failed in %s; the run goes on, later failures are not shown",
                        type(observer).__name__,
                        method,
                        exc_info=True,
                    )
