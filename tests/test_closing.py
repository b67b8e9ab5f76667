"""What a run ends with, and the pace and time left on the way: honest about what was sent.

The problem rows the end lists, why a run was slow, commands that repeat the run's own flags,
resume hints only where the run remembers, a manifest with no rows, a dry run's forecast with
skips, and a pace that counts the rows sent. Driven with events and a fake clock for the exact
lines, then through the real command against the simulator.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch._models import RowResult, RunSummary, Status
from batch.ui import ConsoleProgress, ProblemRows, Slowdown, closing_text, forecast

from .conftest import Photos, make_jpeg, report_rows, sim_args, sim_env, status_counts
from .test_progress import FakeClock, row
from .test_progress import summary as progress_summary


def summary(counts: dict[Status, int], **kw: Any) -> RunSummary:
    """test_progress's summary, with ``total`` the rows counted."""
    return progress_summary(counts, **{"total": sum(counts.values()), **kw})


def listed(*results: RowResult) -> list[str]:
    problems = ProblemRows()
    for result in results:
        problems.add(result)
    return problems.lines()


def after_table(text: str) -> list[str]:
    """The closing text's lines after the counts table (and its blank line)."""
    return text.split("\n\n", 1)[1].splitlines() if "\n\n" in text else []


STOPPED = "not sent: the run stopped — the state store cannot be written: disk full"


# --- 1. the problem rows -------------------------------------------------------------------------


def test_the_end_lists_the_first_dozen_problem_rows_then_how_many_more() -> None:
    # Finished out of order (concurrency): the lowest row numbers are the ones listed.
    results = [
        row(n, Status.INVALID, message=f"file not found: photos/u{n}.jpg")
        for n in reversed(range(1, 51))
    ]
    results += [row(n, attempts=1) for n in range(51, 60)]  # done rows are not listed
    assert listed(*results) == [
        *(
            f"  row {n:>2}  user{n}@example.com: file not found: photos/u{n}.jpg"
            for n in range(1, 13)
        ),
        "  … and 38 more in the report",
    ]


def test_failed_and_invalid_rows_are_listed_with_their_message() -> None:
    lines = listed(
        RowResult(
            12,
            "anna@example.com",
            "photos/anna.jpg",
            Status.INVALID,
            "file not found: photos/anna.jpg",
        ),
        RowResult(
            1204,
            "bob@example.com",
            "b.jpg",
            Status.FAILED,
            "User does not exist: bob@example.com. (1 attempt)",
        ),
        RowResult(7, "", "c.jpg", Status.INVALID, "no user: the user cell is empty — fill it in"),
    )
    assert lines == [
        "  row    7  (no user): no user: the user cell is empty — fill it in",
        "  row   12  anna@example.com: file not found: photos/anna.jpg",
        "  row 1204  bob@example.com: User does not exist: bob@example.com. (1 attempt)",
    ]


def test_a_long_message_is_cut_to_a_hundred_columns_with_an_ellipsis() -> None:
    message = "Zoom refused the picture: " + "the image is not what we expected " * 5
    (line,) = listed(row(3, Status.FAILED, message=message))
    assert len(line) == 100
    assert line.startswith("  row 3  user3@example.com: Zoom refused the picture: the image")
    assert line.endswith("…")


def test_rows_a_stop_kept_from_being_sent_are_one_line_per_reason_after_the_failed_ones() -> None:
    results = [
        row(1, attempts=1),
        row(2, Status.FAILED, attempts=1, message="Zoom answered 500 (1 attempt)"),
    ]
    results += [row(3, Status.FAILED, message="the run stopped: disk full (1 attempt)")]
    # In flight when the run stopped: the note of attempts does not make another reason.
    results += [
        row(n, Status.NOT_ATTEMPTED, message=f"{STOPPED} (after 2 attempts)") for n in (4, 5)
    ]
    results += [row(n, Status.NOT_ATTEMPTED, message=STOPPED) for n in range(6, 44)]
    results += [
        row(
            44,
            Status.NOT_ATTEMPTED,
            message="interrupted while uploading: it may or may not have reached Zoom"
            " — run again to make sure",
        )
    ]
    assert listed(*results) == [
        "  row  2  user2@example.com: Zoom answered 500 (1 attempt)",
        "  row  3  user3@example.com: the run stopped: disk full (1 attempt)",
        "  40 rows not attempted: the run stopped — the state store cannot be written: disk full",
        # A reason of its own is the row itself: that user is worth a look.
        "  row 44  user44@example.com: interrupted while uploading: it may or may not have reached"
        " Zoom — ru…",
    ]


def test_deferred_rows_are_one_line() -> None:
    spent = "not sent: Zoom's daily limit is spent; run again after 2026-11-29 00:00 UTC"
    assert listed(*(row(n, Status.DEFERRED, message=spent) for n in range(1, 31))) == [
        "  30 rows deferred: Zoom's daily limit is spent; run again after 2026-11-29 00:00 UTC"
    ]


def test_the_list_shows_no_secret_and_no_control_character() -> None:
    (line,) = listed(
        RowResult(
            9,
            "eve@example.com\x1b[2J",
            "e.jpg",
            Status.FAILED,
            "proxy said: Authorization: Bearer abc.def (1 attempt)",
        )
    )
    assert (
        line
        == "  row 9  eve@example.com\\x1b[2J: proxy said: Authorization: Bearer *** (1 attempt)"
    )


def test_what_is_kept_does_not_grow_with_the_manifest() -> None:
    problems = ProblemRows()
    for n in range(1, 100_001):
        if n % 3 == 0:
            problems.add(
                row(n, Status.FAILED, message=f"Zoom answered 500 for user{n} (5 attempts)")
            )
        else:  # a different reason on every row, the worst case for grouping
            problems.add(row(n, Status.NOT_ATTEMPTED, message=f"not sent: reason {n}"))
    assert len(problems._each) == 12
    assert len(problems._groups) == 12
    lines = problems.lines()
    assert len(lines) == 12 + 1 + 12 + 1
    assert lines[12] == "  … and 33,321 more in the report"
    assert lines[-1] == "  … and 66,655 more deferred or not attempted in the report"


def test_the_closing_text_puts_the_list_between_the_table_and_the_next_steps() -> None:
    problems = ProblemRows()
    problems.add(
        RowResult(
            12,
            "anna@example.com",
            "photos/anna.jpg",
            Status.INVALID,
            "file not found: photos/anna.jpg",
        )
    )
    result = summary({Status.UPLOADED: 9, Status.INVALID: 1}, exit_code=1, duration_s=1.2)
    assert closing_text(result, manifest="m.csv", problems=problems) == (
        "uploaded       9\n"
        "invalid        1\n"
        "total         10\n"
        "duration      1 s at 19.3/s (target 19.4/s)\n"
        "report CSV    reports/x.csv\n"
        "JSON summary  reports/x.json\n"
        "\n"
        "  row 12  anna@example.com: file not found: photos/anna.jpg\n"
        "\n"
        "1 row invalid — fix them, then: zoom-batch run m.csv --retry-failed reports/x.csv"
    )


def test_quiet_prints_the_problem_rows_too() -> None:
    """--quiet prints "only the final summary and errors": the problem rows are errors."""
    stream = io.StringIO()
    progress = ConsoleProgress(stream=stream, quiet=True, clock=FakeClock(), manifest="m.csv")
    progress.run_started(total=2, rate=19.4, dry_run=False)
    progress.row_finished(row(1, attempts=1))
    progress.row_finished(
        row(2, Status.FAILED, attempts=1, message="User does not exist (1 attempt)")
    )
    progress.run_finished(summary({Status.UPLOADED: 1, Status.FAILED: 1}, exit_code=1))
    assert "\n  row 2  user2@example.com: User does not exist (1 attempt)\n" in stream.getvalue()


# --- 2. a slow run explained -------------------------------------------------------------------

SLOW_LINE = (
    "slow: Zoom answered 'too many requests' and the pace was cut 3 times, down to 9.7/s of"
    " 19.4/s: another app or integration may be using this account's rate limit (every app on"
    " the account shares it); lower --rate to leave it room, or run when it is quiet"
)


def paced_run(*, every: float, cuts: list[float], rows: int = 100) -> str:
    """A run of ``rows`` uploads, one per ``every`` seconds, with a 429 cut to each of ``cuts``."""
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, quiet=True, clock=clock, manifest="m.csv")
    progress.run_started(total=rows, rate=19.4, dry_run=False)
    for n in range(1, rows + 1):
        clock.now += every
        progress.row_finished(row(n, attempts=1))
        if n <= len(cuts):
            progress.backoff_started(seconds=1.0, reason="rate limited (429)", rate=cuts[n - 1])
            progress.backoff_ended(rate=cuts[n - 1])
    progress.run_finished(summary({Status.UPLOADED: rows}, uploads_per_second=round(1 / every, 3)))
    return stream.getvalue()


def test_a_run_slowed_by_429s_says_why_and_what_to_do() -> None:
    text = paced_run(every=1 / 12, cuts=[15.5, 9.7, 12.4])  # 12/s of 19.4/s: 62 %
    assert after_table(text) == [SLOW_LINE]


def test_one_cut_reads_once() -> None:
    text = paced_run(every=1 / 12, cuts=[12.0])
    assert after_table(text)[-1].startswith(
        "slow: Zoom answered 'too many requests' and the pace was cut once,"
        " down to 12.0/s of 19.4/s:"
    )


def test_429s_that_did_not_slow_the_run_are_not_blamed() -> None:
    text = paced_run(every=1 / 18, cuts=[15.5])  # 18/s of 19.4/s: 93 %
    assert "slow:" not in text
    assert after_table(text) == []


def test_a_slow_run_without_429s_does_not_blame_another_app() -> None:
    text = paced_run(every=1.0, cuts=[])  # 1/s: slow photos, not the rate limit
    assert "too many requests" not in text
    assert after_table(text) == []


def test_a_hold_for_the_daily_quota_is_not_a_cut_of_the_pace() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, quiet=True, clock=clock, manifest="m.csv")
    progress.run_started(total=10, rate=19.4, dry_run=False)
    progress.backoff_started(
        seconds=30_000, reason="daily quota spent (--wait-for-quota)", rate=19.4
    )
    for n in range(1, 11):
        clock.now += 3_000
        progress.row_finished(row(n, attempts=1))
    progress.run_finished(summary({Status.UPLOADED: 10}))
    assert "slow:" not in stream.getvalue()


def test_slowdown_explains_only_below_four_fifths_of_the_target() -> None:
    facts = {"cuts": 2, "lowest": 10.0, "target": 20.0}
    assert Slowdown(**facts, achieved=15.9).explains
    assert not Slowdown(**facts, achieved=16.0).explains
    assert not Slowdown(cuts=0, lowest=10.0, target=20.0, achieved=1.0).explains


# --- 3. the pace and time left count what is sent ----------------------------------------------


def test_a_resume_that_skips_thousands_shows_the_pace_and_time_of_the_uploads() -> None:
    """5,000 unchanged rows skipped in half a second, then uploads at 11.6/s: counting every
    row said ``159.0/s of 11.6/s · eta 26s`` with minutes of uploads left."""
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, clock=clock, interval=25.0, plain=True)
    progress.run_started(total=8_000, rate=11.6, dry_run=False)
    for n in range(1, 5_001):
        clock.now += 0.0001
        progress.row_finished(
            row(n, Status.SKIPPED, message="unchanged since 2026-11-27 22:00 UTC")
        )
    for n in range(5_001, 5_301):
        clock.now += 1 / 11.6
        progress.row_finished(row(n, attempts=1))
    # 2,715 rows left, every one to send: 3 min 54 s at 11.6/s.
    assert stream.getvalue().splitlines() == [
        "run started: 8,000 rows at 11.6/s",
        "progress 5,285/8,000 (66%) · 11.6/s of 11.6/s · eta 3m41s · uploaded 285 skipped 5,000",
    ]


def test_half_the_rows_skipped_take_half_the_time() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, clock=clock, interval=30.0, plain=True)
    progress.run_started(total=2_000, rate=10.0, dry_run=False)
    for n in range(1, 601):  # every other row unchanged; a skip takes no time
        if n % 2:
            progress.row_finished(row(n, Status.SKIPPED))
        else:
            clock.now += 0.1
            progress.row_finished(row(n, attempts=1))
    # 1,400 rows left, 700 of them to send at 10/s: 70 s (71 s: the last row was sent).
    assert stream.getvalue().splitlines()[-1] == (
        "progress 600/2,000 (30%) · 10.0/s of 10.0/s · eta 1m11s · uploaded 300 skipped 300"
    )


def test_invalid_rows_do_not_make_the_pace() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, clock=clock, interval=0.0, plain=True)
    progress.run_started(total=100, rate=19.4, dry_run=False)
    for n in range(1, 51):
        clock.now += 0.01
        progress.row_finished(row(n, Status.INVALID, message="file not found"))
    assert stream.getvalue().splitlines()[-1] == "progress 50/100 (50%) · invalid 50"
    for n in range(51, 53):
        clock.now += 0.5
        progress.row_finished(row(n, Status.FAILED, attempts=3, message="Zoom answered 500"))
    # The pace of the two rows sent, not the 34 rows/s finished.
    assert stream.getvalue().splitlines()[-1].startswith("progress 52/100 (52%) · 2.0/s of 19.4/s")


def test_a_dry_run_shows_the_rows_checked_per_second() -> None:
    stream = io.StringIO()
    clock = FakeClock()
    progress = ConsoleProgress(stream=stream, clock=clock, interval=0.995, plain=True)
    progress.run_started(total=400, rate=19.4, dry_run=True)
    for n in range(1, 101):
        clock.now += 0.01
        progress.row_finished(row(n, Status.VALID if n % 4 else Status.SKIPPED))
    assert stream.getvalue().splitlines() == [
        "dry run: checking 400 rows",
        "progress 100/400 (25%) · 100.0/s · eta 3s · skipped 25 valid 75",
    ]


# --- 4 and 5. next commands repeat the run, and resume only where it remembers ---------------

SIM_RUN = [
    "run",
    "HR list.csv",
    "--simulate",
    "--fit",
    "--plan",
    "business",
    "--sim-rate-limit",
    "5",
]


def test_the_next_command_repeats_the_runs_own_flags_quoted() -> None:
    result = summary({Status.UPLOADED: 9, Status.FAILED: 1}, report_path="my reports/x.csv")
    text = closing_text(result, manifest="HR list.csv", again=SIM_RUN)
    assert text.splitlines()[-1] == (
        "1 row failed — fix them, then: zoom-batch run 'HR list.csv' --simulate --fit --plan"
        " business --sim-rate-limit 5 --retry-failed 'my reports/x.csv'"
    )


def test_without_the_runs_words_the_next_command_is_the_plain_form() -> None:
    result = summary({Status.UPLOADED: 9, Status.FAILED: 1})
    assert closing_text(result, manifest="m.csv").splitlines()[-1] == (
        "1 row failed — fix them, then: zoom-batch run m.csv --retry-failed reports/x.csv"
    )


def test_console_progress_passes_the_runs_words_to_the_closing_text() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(
        stream=stream, quiet=True, manifest="m.csv", again=["remove", "m.csv", "--simulate"]
    )
    progress.run_finished(summary({Status.REMOVED: 1, Status.FAILED: 1}, job="remove", exit_code=1))
    assert stream.getvalue().splitlines()[-1] == (
        "1 row failed — fix them, then:"
        " zoom-batch remove m.csv --simulate --retry-failed reports/x.csv"
    )


def test_again_must_be_words_not_one_string() -> None:
    with pytest.raises(TypeError, match="again"):
        ConsoleProgress(stream=io.StringIO(), again="run m.csv")


def interrupted(**kw: Any) -> RunSummary:
    return summary({Status.UPLOADED: 1200, Status.NOT_ATTEMPTED: 6800}, interrupted=True, **kw)


def test_a_run_that_remembers_says_the_same_command_resumes() -> None:
    text = closing_text(interrupted(), manifest="m.csv", again=["run", "m.csv", "--simulate"])
    assert text.splitlines()[-1] == (
        "interrupted — run the same command again to resume (finished rows are skipped)"
    )


def test_a_run_with_no_state_suggests_the_report_to_finish() -> None:
    again = ["run", "m.csv", "--simulate", "--no-state"]
    text = closing_text(interrupted(), manifest="m.csv", again=again, remembers=False)
    assert text.splitlines()[-1] == (
        "interrupted — run the rows left (this run kept no state: the same command would send"
        " every row again): zoom-batch run m.csv --simulate --no-state --retry-failed reports/x.csv"
    )


def test_a_forced_run_suggests_the_report_to_finish() -> None:
    text = closing_text(interrupted(), manifest="m.csv", again=["run", "m.csv"], remembers=False)
    assert text.splitlines()[-1] == (
        "interrupted — run the rows left (--force sends every row again):"
        " zoom-batch run m.csv --retry-failed reports/x.csv"
    )


def test_a_stopped_run_that_kept_no_state_says_so_after_the_reason() -> None:
    result = summary(
        {Status.UPLOADED: 10, Status.NOT_ATTEMPTED: 40},
        stopped="the report cannot be written: disk full",
        exit_code=2,
    )
    text = closing_text(
        result, manifest="m.csv", again=["run", "m.csv", "--no-state"], remembers=False
    )
    assert after_table(text) == [
        "stopped: the report cannot be written: disk full",
        "40 rows not attempted — fix that, then run the rows left (this run kept no state: the"
        " same command would send every row again): zoom-batch run m.csv --no-state"
        " --retry-failed reports/x.csv",
    ]


def test_deferred_rows_of_a_run_that_kept_no_state() -> None:
    result = summary(
        {Status.UPLOADED: 1970, Status.DEFERRED: 30}, resumes_at="2026-11-29T00:00:00Z"
    )
    again = ["run", "m.csv", "--no-state"]
    assert closing_text(result, manifest="m.csv", again=again, remembers=False).splitlines()[
        -1
    ] == (
        "30 rows deferred: daily quota spent until 2026-11-29 00:00 UTC — after then, run the rows"
        " left (this run kept no state: the same command would send every row again):"
        " zoom-batch run m.csv --no-state --retry-failed reports/x.csv"
    )
    assert closing_text(result, manifest="m.csv", again=again).splitlines()[-1] == (
        "30 rows deferred: daily quota spent until 2026-11-29 00:00 UTC"
        " — run the same command after then"
    )


def test_an_interrupted_removal_names_the_command_that_finishes_it() -> None:
    result = interrupted(job="remove")
    text = closing_text(
        result, manifest="leavers.csv", again=["remove", "leavers.csv", "--plan", "business"]
    )
    assert text.splitlines()[-1] == (
        "interrupted — run the rows left (removals are not remembered):"
        " zoom-batch remove leavers.csv --plan business --retry-failed reports/x.csv"
    )


# --- 6. a quiet day ----------------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_manifest_with_no_rows_is_one_line(dry_run: bool) -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(stream=stream, quiet=True, clock=FakeClock(), manifest="HR list.csv")
    progress.run_started(total=0, rate=19.4, dry_run=dry_run)
    progress.run_finished(summary({}, dry_run=dry_run, total=0, uploads_per_second=0.0))
    assert stream.getvalue() == "nothing to do: HR list.csv has no rows\n"


def test_a_manifest_with_no_rows_prints_one_line_without_quiet_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from .test_progress import Terminal

    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    plain, terminal = io.StringIO(), Terminal()
    try:
        for stream in (plain, terminal.stream):
            progress = ConsoleProgress(stream=stream, clock=FakeClock(), manifest="m.csv")
            progress.run_started(total=0, rate=19.4, dry_run=False)
            progress.run_finished(summary({}, total=0, uploads_per_second=0.0))
            progress.close()
        assert plain.getvalue() == "nothing to do: m.csv has no rows\n"
        assert terminal.output() == "nothing to do: m.csv has no rows\r\n"  # no display drawn
    finally:
        terminal.close()


# --- 7. a dry run's forecast counts only what would be sent --------------------------------------


@pytest.mark.parametrize(
    ("valid", "skipped", "plan", "text"),
    [
        (
            10,
            4990,
            None,
            "5,000 rows: 4,990 already done (would be skipped), 10 to send ≈ 1 s at 19.4/s",
        ),
        (
            1200,
            3800,
            "business",
            "5,000 rows: 3,800 already done (would be skipped), 1,200 to send"
            " ≈ 1 min 02 s at 19.4/s on a Business account",
        ),
        (0, 40, "pro", "40 rows: 40 already done (would be skipped), nothing to send"),
        (4210, 0, "pro", "4,210 valid rows ≈ 3 min 37 s at 19.4/s on a Pro account"),
    ],
)
def test_forecast_with_skipped_rows(valid: int, skipped: int, plan: str | None, text: str) -> None:
    assert forecast(valid, 19.4, plan, skipped=skipped) == text


def test_a_dry_run_that_would_skip_says_so_in_its_last_line() -> None:
    result = summary(
        {Status.SKIPPED: 4990, Status.VALID: 10, Status.INVALID: 2},
        dry_run=True,
        requests_sent=0,
        uploads_per_second=0.0,
        exit_code=1,
    )
    assert closing_text(result, manifest="m.csv").splitlines()[-1] == (
        "dry run: 5,000 rows: 4,990 already done (would be skipped), 10 to send ≈ 1 s at 19.4/s;"
        " 2 invalid, see report"
    )


# --- through the real command ------------------------------------------------------------------

CLI_SLOW = re.compile(
    r"slow: Zoom answered 'too many requests' and the pace was cut (once|\d+ times), down to"
    r" \d+\.\d/s of 19\.4/s: another app or integration may be using this account's rate limit"
    r" \(every app on the account shares it\); lower --rate to leave it room, or run when it is"
    r" quiet"
)


async def test_the_command_lists_missing_files_and_says_a_slow_run_was_rate_limited(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(20)
    (tmp_path / "photos/u0004.jpg").unlink()
    (tmp_path / "photos/u0017.png").unlink()
    sim = await simulator(rate_limit=5)  # a quarter of the run's pace: another app's share
    outcome = await cli(
        ["run", "manifest.csv", *sim_args(sim), "--rate", "20", "--report", "r.csv", "--quiet"],
        sim_env(sim),
    )

    assert outcome.code == 1, outcome.err
    assert sim.stats.rate_limited > 0
    rest = after_table(outcome.err)
    assert rest[:2] == [
        # Cut to 100 columns: "… (a relative path starts at the manifest's folder)".
        "  row  5  user0004@example.com: file not found: photos/u0004.jpg"
        " — check the file name (a relative …",
        "  row 18  user0017@example.com: file not found: photos/u0017.png"
        " — check the file name (a relative …",
    ]
    assert rest[2] == ""
    # The suggestion repeats the flags that shape the run, so that pasting it does the same.
    assert rest[3] == (
        "2 rows invalid — fix them, then: zoom-batch run manifest.csv --rate 20"
        f" --api-url {sim.api_url} --oauth-url {sim.oauth_url} --retry-failed r.csv"
    )
    assert CLI_SLOW.fullmatch(rest[4]), rest
    assert len(rest) == 5
    assert batch.manifest.exists()


async def test_the_command_says_nothing_of_429s_when_there_were_none(
    photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    photos(10)
    sim = await simulator(rate_limit=0)
    outcome = await cli(["run", "manifest.csv", *sim_args(sim), "--report", "r.csv"], sim_env(sim))
    assert outcome.code == 0, outcome.err
    assert "slow:" not in outcome.err
    assert "too many requests" not in outcome.err


def suggested(err: str) -> list[str]:
    """The command the closing text's last line suggests, as ``main()`` takes it."""
    command = err.rstrip("\n").rsplit(": ", 1)[1]
    words = shlex.split(command)
    assert words[0] == "zoom-batch", command
    return words[1:]


async def test_the_suggested_command_repeats_a_simulated_fitted_run(
    tmp_path: Path, cli: Any
) -> None:
    (tmp_path / "photos").mkdir()
    for n in (1, 3):
        (tmp_path / f"photos/u{n}.jpg").write_bytes(make_jpeg(n, (900, 700)))
    (tmp_path / "HR list.csv").write_text(
        "email,file\n" + "".join(f"u{n}@example.com,photos/u{n}.jpg\n" for n in (1, 2, 3))
    )
    args = [
        "run",
        "HR list.csv",
        "--simulate",
        "--fit",
        "--plan",
        "business",
        "--sim-rate-limit",
        "0",
    ]
    first = await cli([*args, "--report", "r.csv", "--quiet"])
    assert first.code == 1, first.err
    again = suggested(first.err)
    for flag in ("--simulate", "--fit", "--plan", "business"):
        assert flag in again, again
    assert again[-2:] == ["--retry-failed", "r.csv"]

    (tmp_path / "photos/u2.jpg").write_bytes(make_jpeg(2, (900, 700)))
    second = await cli(again)  # pasted as is
    assert second.code == 0, second.err
    (report,) = re.findall(r"^report CSV +(.+)$", second.err, re.MULTILINE)
    assert status_counts(report_rows(tmp_path / report)) == {"uploaded": 1, "skipped": 2}


@pytest.mark.parametrize(
    ("flag", "why"),
    [
        ("--no-state", "this run kept no state: the same command would send every row again"),
        ("--force", "--force sends every row again"),
    ],
)
async def test_a_run_that_does_not_remember_says_how_to_finish(
    flag: str, why: str, photos: Callable[..., Photos], cli: Any
) -> None:
    photos(5)
    outcome = await cli(
        [
            "run",
            "manifest.csv",
            "--simulate",
            "--sim-daily-limit",
            "2",
            "--sim-rate-limit",
            "0",
            flag,
            "--report",
            "r.csv",
        ]
    )
    assert outcome.code == 1, outcome.err
    last = outcome.err.splitlines()[-1]
    assert last.startswith("3 rows deferred: daily quota spent until "), last
    assert f"after then, run the rows left ({why}): zoom-batch run manifest.csv" in last
    assert last.endswith(" --retry-failed r.csv")
    assert "--force" not in suggested(outcome.err)
    assert ("--no-state" in suggested(outcome.err)) == (flag == "--no-state")


@pytest.mark.parametrize("command", ["run", "validate"])
async def test_a_header_only_manifest_is_a_quiet_success(
    command: str, tmp_path: Path, cli: Any
) -> None:
    (tmp_path / "m.csv").write_text("email,file\n", encoding="utf-8")
    extra = ["--simulate"] if command == "run" else []
    outcome = await cli([command, "m.csv", *extra, "--report", "r.csv", "--quiet"])
    assert (outcome.code, outcome.err) == (0, "nothing to do: m.csv has no rows\n")


async def test_a_dry_run_with_the_state_store_forecasts_only_what_it_would_send(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    photos(4)
    sim = await simulator(rate_limit=0)
    state = ["--state", "s.db"]
    done = await cli(
        ["run", "manifest.csv", *sim_args(sim), *state, "--report", "r.csv"], sim_env(sim)
    )
    assert done.code == 0, done.err
    photos(6)  # two more users; the first four are unchanged
    dry = await cli(["validate", "manifest.csv", *state, "--report", "v.csv"], sim_env(sim))
    assert dry.code == 0, dry.err
    assert dry.err.splitlines()[-1] == (
        "dry run: 6 rows: 4 already done (would be skipped), 2 to send ≈ <1 s at 19.4/s"
        " on a Pro account"
    )
