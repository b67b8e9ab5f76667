"""What the operator sees and what the logs say: batch.ui (console, logs, wording, events)."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import random
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import pytest

from batch._models import RowResult, RunSummary, Status
from batch.ui import (
    ConsoleProgress,
    JsonLog,
    NullObserver,
    Observers,
    RunObserver,
    TextLog,
    closing_text,
    forecast,
    format_duration,
    redact,
)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOUR_PARAMS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def row(n: int, status: Status = Status.UPLOADED, **kw: Any) -> RowResult:
    return RowResult(row=n, user=f"user{n}@example.com", file=f"u{n}.jpg", status=status, **kw)


def summary(counts: dict[Status, int], **kw: Any) -> RunSummary:
    defaults: dict[str, Any] = {
        "started_at": "2026-11-28T10:00:00Z",
        "finished_at": "2026-11-28T10:07:01Z",
        "duration_s": 421.0,
        "requests_sent": 8000,
        "uploads_per_second": 19.3,
        "rate": 19.4,
        "report_path": "reports/x.csv",
        "summary_path": "reports/x.json",
    }
    return RunSummary(counts=counts, **{**defaults, **kw})


def colour_codes(text: str) -> list[str]:
    """SGR sequences that set a colour (bold, dim and resets are not colour)."""
    return [
        m.group(0)
        for m in SGR.finditer(text)
        if any(p and int(p) in COLOUR_PARAMS for p in m.group(1).split(";"))
    ]


# --- the speed estimate --------------------------------------------------------------------


def test_speed_estimate_is_richs_own() -> None:
    """Plain lines estimate speed and time left without rich, exactly as rich's task does."""
    from rich.progress import Progress

    from batch.ui._console import _Speed

    clock = FakeClock()
    ours = _Speed(clock)
    theirs = Progress(get_time=clock, disable=True)
    task_id = theirs.add_task("rows", total=None)
    ours.reset(3_000)
    theirs.reset(task_id, total=3_000)
    rng = random.Random(7)
    for n in range(3_000):
        # First more rows in 30 s than rich keeps samples (1,000), then bursts and pauses
        # longer than its 30 s window.
        if n < 1_500:
            clock.now += 0.005
        else:
            clock.now += rng.choice((0.0, 0.01, 0.5, 2.0, 31.0 if n % 500 == 499 else 0.2))
        ours.advance()
        theirs.advance(task_id)
        task = theirs.tasks[0]
        eta = None if task.finished else task.time_remaining
        assert (ours.per_second, ours.seconds_left) == (task.speed, eta), n


# --- live display on a real pseudo-terminal ----------------------------------------------------


class Terminal:
    """A pseudo-terminal: a text stream over its slave end, and what reaches its master end."""

    def __init__(self) -> None:
        self._master, slave = pty.openpty()
        self.stream: TextIO = open(slave, "w", encoding="utf-8")  # noqa: SIM115
        self._received: list[bytes] = []
        # Read as it comes, so a full pty buffer can never block the writer.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO once the slave end is closed
                return
            if not data:
                return
            self._received.append(data)

    def wait_for(self, text: str, timeout: float = 2.0) -> bool:
        """Whether ``text`` reaches the master end within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in b"".join(self._received).decode(errors="replace"):
                return True
            time.sleep(0.01)
        return False

    def output(self) -> str:
        """Close the slave end and return everything written to it."""
        if not self.stream.closed:
            self.stream.close()
        self._reader.join(timeout=5)
        return b"".join(self._received).decode()

    def close(self) -> None:
        self.output()
        os.close(self._master)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLORTERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "100")
    term = Terminal()
    try:
        yield term
    finally:
        term.close()


def drive_live(stream: TextIO) -> ConsoleProgress:
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, clock=clock, manifest="m.csv")
    progress.run_started(total=100, rate=19.4, dry_run=False)
    for n in range(1, 11):
        clock.now += 0.5
        if n <= 8:
            progress.row_finished(row(n, attempts=1))
        else:
            message = "Zoom answered 503 Service Unavailable (5 attempts)"
            progress.row_finished(row(n, Status.FAILED, attempts=5, message=message))
    progress.backoff_started(seconds=1.0, reason="rate limited (429)", rate=12.0)
    return progress


def test_live_display_redraws_in_place_and_shows_the_hold(
    terminal: Terminal,
) -> None:
    assert terminal.stream.isatty()
    progress = drive_live(terminal.stream)
    # Shown while the hold lasts, not only in the last frame drawn by close().
    assert terminal.wait_for("holding back 1.0 s: rate limited (429) — pace now 12.0/s")
    progress.close()
    output = terminal.output()

    assert "\x1b[1A\x1b[2K" in output  # cursor up + erase line: redrawn, not appended
    assert "10/100 (10%) · 2.0/s of 12.0/s · eta 45s" in output
    assert "uploaded 8 failed 2" in output
    assert "holding back 1.0 s: rate limited (429) — pace now 12.0/s" in output
    assert colour_codes(output)  # a colour terminal gets colour (the NO_COLOR test relies on it)
    # On close the cursor comes back and the display's lines are erased (transient).
    assert re.search(r"\x1b\[\?25h\r(\x1b\[1A\x1b\[2K)+\Z", output)


def test_no_color_on_a_terminal_gives_no_colour_codes(
    terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    progress = drive_live(terminal.stream)
    progress.close()
    output = terminal.output()

    assert "\x1b[1A\x1b[2K" in output  # still live
    assert "holding back 1.0 s" in output
    assert colour_codes(output) == []


def test_live_run_ends_with_the_closing_text(terminal: Terminal) -> None:
    progress = drive_live(terminal.stream)
    result = summary({Status.UPLOADED: 8, Status.FAILED: 2})
    progress.run_finished(result)
    progress.close()  # after run_finished: nothing more to do
    output = terminal.output()

    closing = (
        "uploaded       8\n"
        "failed         2\n"
        "total         10\n"
        "duration      7 min 01 s at 19.3/s (target 19.4/s)\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json\n"
        "\n"
        "  row  9  user9@example.com: Zoom answered 503 Service Unavailable (5 attempts)\n"
        "  row 10  user10@example.com: Zoom answered 503 Service Unavailable (5 attempts)\n"
        "\n"
        "2 rows failed — fix them, then: zoom-batch run m.csv --retry-failed reports/x.csv\n"
        "slow: Zoom answered 'too many requests' and the pace was cut once, down to 12.0/s of"
        " 19.4/s: another app or integration may be using this account's rate limit (every app"
        " on the account shares it); lower --rate to leave it room, or run when it is quiet\n"
    )
    assert output.endswith("\x1b[2K" + closing.replace("\n", "\r\n"))  # the pty's \r\n


# --- plain lines for cron and CI ---------------------------------------------------------------


def test_plain_mode_writes_one_line_per_interval_and_no_ansi() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, clock=clock, interval=5.0, manifest="m.csv")
    progress.run_started(total=100, rate=19.4, dry_run=False)
    for n in range(1, 31):  # 30 rows, one every 0.5 s: 15 s in all
        clock.now += 0.5
        progress.row_finished(row(n, Status.SKIPPED) if n % 10 == 0 else row(n, attempts=1))
        if n == 12:
            progress.backoff_started(seconds=1.5, reason="rate limited (429)", rate=12.0)
        if n == 14:
            progress.backoff_ended(rate=12.0)
    progress.close()

    # The pace is that of the rows sent: 18 of the 20 rows of the last 10 s (1.9/s, where
    # counting the skipped rows too said 2.0/s); the time left is that of 2.0 rows/s.
    assert stream.getvalue().splitlines() == [
        "run started: 100 rows at 19.4/s",
        "progress 10/100 (10%) · 2.0/s of 19.4/s · eta 45s · uploaded 9 skipped 1",
        "holding back 1.5 s: rate limited (429) — pace now 12.0/s",
        "progress 20/100 (20%) · 1.9/s of 12.0/s · eta 40s · uploaded 18 skipped 2",
        "progress 30/100 (30%) · 1.9/s of 12.0/s · eta 35s · uploaded 27 skipped 3",
    ]
    assert "\x1b" not in stream.getvalue()


def test_a_long_hold_for_the_daily_quota_is_said_in_hours() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(stream=stream, clock=FakeClock())
    progress.backoff_started(
        seconds=30_000, reason="daily quota spent (--wait-for-quota)", rate=19.4
    )
    assert stream.getvalue() == (
        "holding back 8 h 20 min: daily quota spent (--wait-for-quota) — pace now 19.4/s\n"
    )


def test_plain_is_chosen_for_a_stream_that_is_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(stream=stream, clock=FakeClock(), interval=0.0)
    progress.run_started(total=2, rate=19.4, dry_run=True)
    progress.row_finished(row(1, Status.VALID))
    progress.close()
    assert stream.getvalue() == "dry run: checking 2 rows\nprogress 1/2 (50%) · valid 1\n"


def test_quiet_prints_exactly_the_closing_text() -> None:
    """--quiet prints "only the final summary and errors": the problem rows are errors."""
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(
        stream=stream, quiet=True, clock=clock, interval=0.0, manifest="m.csv"
    )
    progress.run_started(total=3, rate=19.4, dry_run=False)
    for n in range(1, 3):
        clock.now += 0.05
        progress.row_finished(row(n, attempts=1))
    progress.row_finished(row(3, Status.INVALID, message="file not found: u3.jpg"))
    progress.backoff_started(seconds=1.0, reason="rate limited (429)", rate=12.0)
    progress.token_renewed()
    progress.backoff_ended(rate=12.0)
    result = summary({Status.UPLOADED: 2, Status.INVALID: 1})
    progress.run_finished(result)
    progress.close()
    assert stream.getvalue() == (
        "uploaded      2\n"
        "invalid       1\n"
        "total         3\n"
        "duration      7 min 01 s at 19.3/s (target 19.4/s)\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json\n"
        "\n"
        "  row 3  user3@example.com: file not found: u3.jpg\n"
        "\n"
        "1 row invalid — fix them, then: zoom-batch run m.csv --retry-failed reports/x.csv\n"
    )  # a 429 that did not slow the run (20/s sent) is not explained


def test_interval_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="interval"):
        ConsoleProgress(stream=io.StringIO(), interval=-1)


# --- closing text ------------------------------------------------------------------------------


def test_closing_text_for_a_failed_run() -> None:
    result = summary(
        {Status.UPLOADED: 7950, Status.SKIPPED: 40, Status.FAILED: 5, Status.INVALID: 5},
        html_path="reports/x.html",
        exit_code=1,
    )
    assert closing_text(result, manifest="m.csv") == (
        "uploaded      7,950\n"
        "skipped          40\n"
        "failed            5\n"
        "invalid           5\n"
        "total         8,000\n"
        "duration      7 min 01 s at 19.3/s (target 19.4/s)\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json\n"
        "HTML report   reports/x.html\n"
        "\n"
        "5 rows failed, 5 invalid — fix them, then: "
        "zoom-batch run m.csv --retry-failed reports/x.csv"
    )


def test_closing_text_quotes_paths_in_the_next_command() -> None:
    result = summary({Status.FAILED: 1}, report_path="my reports/x.csv")
    assert closing_text(result, manifest="HR list.csv").splitlines()[-1] == (
        "1 row failed — fix them, then: "
        "zoom-batch run 'HR list.csv' --retry-failed 'my reports/x.csv'"
    )


def test_closing_text_for_a_deferred_run() -> None:
    result = summary(
        {Status.UPLOADED: 1970, Status.DEFERRED: 30},
        resumes_at="2026-11-29T00:00:00Z",
        duration_s=101.4,
    )
    assert closing_text(result, manifest="m.csv") == (
        "uploaded      1,970\n"
        "deferred         30\n"
        "total         2,000\n"
        "duration      1 min 41 s at 19.3/s (target 19.4/s)\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json\n"
        "\n"
        "30 rows deferred: daily quota spent until 2026-11-29 00:00 UTC"
        " — run the same command after then"
    )


def test_closing_text_for_an_interrupted_run() -> None:
    result = summary(
        {Status.UPLOADED: 1200, Status.NOT_ATTEMPTED: 6800},
        interrupted=True,
        duration_s=62.2,
        summary_path=None,
    )
    assert closing_text(result, manifest="m.csv") == (
        "uploaded       1,200\n"
        "not attempted  6,800\n"
        "total          8,000\n"
        "duration       1 min 02 s at 19.3/s (target 19.4/s)\n"
        "report CSV     reports/x.csv\n"
        "\n"
        "interrupted — run the same command again to resume (finished rows are skipped)"
    )


def test_closing_text_for_a_clean_run_has_no_next_step() -> None:
    result = summary({Status.UPLOADED: 12, Status.SKIPPED: 3}, duration_s=0.8)
    assert closing_text(result, manifest="m.csv") == (
        "uploaded      12\n"
        "skipped        3\n"
        "total         15\n"
        "duration      1 s at 19.3/s (target 19.4/s)\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json"
    )


def test_closing_text_for_a_dry_run() -> None:
    result = summary(
        {Status.VALID: 4210, Status.INVALID: 12},
        dry_run=True,
        duration_s=2.3,
        requests_sent=0,
        uploads_per_second=0.0,
        exit_code=1,
    )
    assert closing_text(result, manifest="m.csv") == (
        "invalid          12\n"
        "valid         4,210\n"
        "total         4,222\n"
        "duration      2 s\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json\n"
        "\n"
        "dry run: 4,210 valid rows ≈ 3 min 37 s at 19.4/s; 12 invalid, see report"
    )


@pytest.mark.parametrize(
    ("seconds", "text", "compact"),
    [
        (0.0, "<1 s", "<1s"),
        (0.4, "<1 s", "<1s"),
        (2.5, "3 s", "3s"),
        (45, "45 s", "45s"),
        (59.6, "1 min 00 s", "1m00s"),
        (211, "3 min 31 s", "3m31s"),
        (352, "5 min 52 s", "5m52s"),
        (3599.6, "1 h 00 min", "1h00m"),
        (7500, "2 h 05 min", "2h05m"),
        (-3, "<1 s", "<1s"),
    ],
)
def test_format_duration(seconds: float, text: str, compact: str) -> None:
    assert format_duration(seconds) == text
    assert format_duration(seconds, compact=True) == compact


@pytest.mark.parametrize(
    ("valid", "rate", "plan", "text"),
    [
        (4210, 19.4, "Pro", "4,210 valid rows ≈ 3 min 37 s at 19.4/s on a Pro account"),
        (4210, 19.4, None, "4,210 valid rows ≈ 3 min 37 s at 19.4/s"),
        (100, 58.2, "enterprise", "100 valid rows ≈ 2 s at 58.2/s on an Enterprise account"),
        (1, 2.0, "free", "1 valid row ≈ 1 s at 2.0/s on a Free account"),
        (0, 19.4, "Pro", "0 valid rows"),
    ],
)
def test_forecast(valid: int, rate: float, plan: str | None, text: str) -> None:
    assert forecast(valid, rate, plan) == text


# --- logs --------------------------------------------------------------------------------------


def fixed_now() -> datetime:
    return datetime(2026, 11, 28, 10, 0, 0, 123000, tzinfo=UTC)


def drive_log(observer: JsonLog | TextLog) -> None:
    observer.run_started(total=2, rate=19.4, dry_run=False)
    observer.row_finished(row(1, http_status=201, attempts=1, duration_ms=350))
    observer.backoff_started(seconds=1.0, reason="rate limited (429)", rate=12.0)
    observer.backoff_ended(rate=12.0)
    observer.token_renewed()
    observer.row_finished(
        RowResult(
            row=12,
            user="jane@x.com",
            file="jane.jpg",
            status=Status.FAILED,
            message="User does not exist: jane@x.com",
            http_status=404,
            zoom_code=1001,
            attempts=1,
            duration_ms=1240,
        )
    )
    observer.run_finished(summary({Status.UPLOADED: 1, Status.FAILED: 1}, exit_code=1))


def test_json_log_writes_one_parseable_object_per_event() -> None:
    stream = io.StringIO()
    drive_log(JsonLog(stream, now=fixed_now))
    records = [json.loads(line) for line in stream.getvalue().splitlines()]

    assert [r["event"] for r in records] == [
        "run_started",
        "row_finished",
        "backoff_started",
        "backoff_ended",
        "token_renewed",
        "row_finished",
        "run_summary",
    ]
    assert {r["ts"] for r in records} == {"2026-11-28T10:00:00.123Z"}
    assert records[5] == {
        "ts": "2026-11-28T10:00:00.123Z",
        "event": "row_finished",
        "row": 12,
        "user": "jane@x.com",
        "file": "jane.jpg",
        "status": "failed",
        "http_status": 404,
        "zoom_code": 1001,
        "message": "User does not exist: jane@x.com",
        "attempts": 1,
        "duration_ms": 1240,
        "tracking_id": None,
    }
    assert records[6]["counts"] == {"uploaded": 1, "failed": 1}
    assert records[6]["exit_code"] == 1


def test_json_log_flushes_every_line() -> None:
    class CountingFlush(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    stream = CountingFlush()
    JsonLog(stream).token_renewed()
    JsonLog(stream).backoff_ended(rate=1.0)
    assert stream.flushes == 2
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
        json.loads(stream.getvalue().splitlines()[0])["ts"],
    )


def test_text_log_reads_as_one_line_per_event() -> None:
    stream = io.StringIO()
    drive_log(TextLog(stream, now=fixed_now))
    assert stream.getvalue().splitlines() == [
        "2026-11-28T10:00:00Z run started: 2 rows at 19.4/s",
        "2026-11-28T10:00:00Z row 1 user1@example.com uploaded (HTTP 201, 1 attempt, 350 ms)",
        "2026-11-28T10:00:00Z holding back 1.0 s: rate limited (429) — pace now 12.0/s",
        "2026-11-28T10:00:00Z hold over, pace 12.0/s",
        "2026-11-28T10:00:00Z access token renewed",
        "2026-11-28T10:00:00Z row 12 jane@x.com failed: User does not exist: jane@x.com"
        " (HTTP 404, Zoom code 1001, 1 attempt, 1,240 ms)",
        "2026-11-28T10:00:00Z run finished: uploaded 1 failed 1 in 7 min 01 s, exit code 1",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("authorization: bearer eyJ0eXAi.eyJzdWIi.sig-_x==", "authorization: bearer ***"),
        ("Authorization: Basic Y2xpZW50OnNlY3JldHNlY3JldA==", "Authorization: Basic ***"),
        (
            '{"access_token": "eyJabc.def", "token_type": "bearer"}',
            '{"access_token": "***", "token_type": "bearer"}',
        ),
        ("GET /x?access_token=abc123&page=2", "GET /x?access_token=***&page=2"),
        ("client_secret=s3cr3t", "client_secret=***"),
        ("https://id:s3cr3t@zoom.us/oauth", "https://id:***@zoom.us/oauth"),
        ("User is on a Basic plan", "User is on a Basic plan"),  # prose stays
        ("User does not exist: jane@x.com", "User does not exist: jane@x.com"),
    ],
)
def test_redact_masks_credentials(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_logs_redact_every_string_field() -> None:
    leaky = row(3, Status.FAILED, message="echo: Authorization: Bearer abc.def")
    json_stream, text_stream = io.StringIO(), io.StringIO()
    JsonLog(json_stream).row_finished(leaky)
    TextLog(text_stream).row_finished(leaky)
    assert json.loads(json_stream.getvalue())["message"] == "echo: Authorization: Bearer ***"
    assert "abc.def" not in json_stream.getvalue()
    assert "abc.def" not in text_stream.getvalue()


# --- fan-out -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        self.events.append(f"started {total}")

    def row_finished(self, result: RowResult) -> None:
        self.events.append(f"row {result.row}")

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self.events.append("hold")

    def backoff_ended(self, *, rate: float) -> None:
        self.events.append("go")

    def token_renewed(self) -> None:
        self.events.append("token")

    def run_finished(self, summary: RunSummary) -> None:
        self.events.append("finished")


class Broken(Recorder):
    def row_finished(self, result: RowResult) -> None:
        raise OSError("disk full")

    def run_finished(self, summary: RunSummary) -> None:
        raise RuntimeError("boom")


def test_observers_isolate_a_failing_observer(caplog: pytest.LogCaptureFixture) -> None:
    broken, after = Broken(), Recorder()
    fan = Observers(broken, after)
    with caplog.at_level(logging.ERROR, logger="batch.ui._events"):
        fan.run_started(total=2, rate=1.0, dry_run=False)
        fan.row_finished(row(1))
        fan.row_finished(row(2))
        fan.backoff_started(seconds=1.0, reason="rate limited (429)", rate=0.5)
        fan.backoff_ended(rate=0.5)
        fan.token_renewed()
        fan.run_finished(summary({Status.UPLOADED: 2}))
        fan.close()  # neither has close(): nothing to do, nothing logged

    assert after.events == ["started 2", "row 1", "row 2", "hold", "go", "token", "finished"]
    assert broken.events == ["started 2", "hold", "go", "token"]  # still called after failing
    assert [r.getMessage() for r in caplog.records] == [
        "Broken failed in row_finished; the run goes on, later failures are not shown"
    ]
    assert caplog.records[0].exc_info is not None


def test_observers_close_closes_the_console() -> None:
    stream = io.StringIO()
    console = ConsoleProgress(stream=stream, plain=True)
    Observers(Recorder(), console).close()
    console.close()  # twice is fine
    assert stream.getvalue() == ""


def test_a_null_observer_subclass_writes_only_the_events_it_uses() -> None:
    class Rows(NullObserver):
        def __init__(self) -> None:
            self.rows: list[int] = []

        def row_finished(self, result: RowResult) -> None:
            self.rows.append(result.row)

    rows = Rows()
    fan = Observers(rows)
    fan.run_started(total=1, rate=1.0, dry_run=False)
    fan.row_finished(row(7))
    fan.token_renewed()
    fan.run_finished(summary({Status.UPLOADED: 1}))
    assert rows.rows == [7]


def test_observers_forward_every_event_of_the_protocol() -> None:
    """Each RunObserver method reaches every observer with its arguments, and under its name."""
    events = sorted(
        name for name, value in vars(RunObserver).items() if callable(value) and name[0] != "_"
    )
    assert events == [
        "backoff_ended",
        "backoff_started",
        "row_finished",
        "run_finished",
        "run_started",
        "token_renewed",
    ]
    first, second = Recorder(), Recorder()
    fan = Observers(first, second)
    for name in events:
        assert getattr(Observers, name).__name__ == name
        assert getattr(Observers, name).__doc__ == getattr(RunObserver, name).__doc__
    on_renewed = fan.token_renewed  # the token source keeps the bound method as a callback
    fan.run_started(total=3, rate=1.0, dry_run=False)
    fan.row_finished(row(2))
    fan.backoff_started(seconds=1.0, reason="rate limited (429)", rate=0.5)
    fan.backoff_ended(rate=0.5)
    on_renewed()
    fan.run_finished(summary({Status.UPLOADED: 1}))
    expected = ["started 3", "row 2", "hold", "go", "token", "finished"]
    assert first.events == second.events == expected
