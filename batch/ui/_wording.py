"""How a run is put into words: durations, paces, counts, holds, the closing text.

Plain text only, no markup: the console (live or plain lines), the text log and ``--dry-run``
all say the same thing the same way, so a line read on a terminal and in a cron log agree.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime

from .._models import RunSummary, Status
from .._words import plural

__all__ = [
    "closing_text",
    "counts_line",
    "forecast",
    "format_duration",
    "holding_text",
    "pace",
    "status_label",
]


def format_duration(seconds: float, *, compact: bool = False) -> str:
    """Say a duration the way a person reads it: ``45 s``, ``3 min 31 s``, ``2 h 05 min``.

    ``compact=True`` gives the same units without spaces (``3m31s``) for one-line progress.
    Under half a second reads ``<1 s``; negative durations count as zero.
    """
    if not math.isfinite(seconds):
        return "for ever" if seconds > 0 else f"<1{' ' if not compact else ''}s"
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
    """Say how long uploading ``valid`` rows takes at ``rate`` requests/s (``--dry-run``).

    ``plan`` is the Zoom account type as configured (``"pro"``, ``"Enterprise"``) or None;
    with no rows or no rate only the count is said.
    """
    text = plural(valid, "valid row")
    if valid > 0 and rate > 0:
        text += f" ≈ {format_duration(valid / rate)} at {pace(rate)}"
        if plan:
            name = plan[:1].upper() + plan[1:]
            article = "an" if name[:1] in "AEIOU" else "a"
            text += f" on {article} {name} account"
    return text


def pace(rate: float) -> str:
    """A rate in requests or rows per second: ``19.4/s``, ``1,200.0/s``."""
    return f"{rate:,.1f}/s"


def status_label(status: Status) -> str:
    """A status as the operator reads it: ``not attempted``, not ``not_attempted``."""
    return status.value.replace("_", " ")


def counts_line(counts: Mapping[Status, int]) -> str:
    """``uploaded 1,150 skipped 40 failed 10``: the non-zero counts, in the report's order.

    Empty when every count is zero; callers decide what to say instead.
    """
    return " ".join(f"{status_label(s)} {counts[s]:,}" for s in Status if counts.get(s, 0))


def holding_text(seconds: float, reason: str, rate: float) -> str:
    """``holding back 1.0 s: rate limited (429) — pace now 12.0/s``; ``reason`` is the pool's.

    Short holds are said to a tenth of a second; the hours-long wait for a daily quota reads
    as a duration (``8 h 20 min``).
    """
    wait = f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)
    return f"holding back {wait}: {reason} — pace now {pace(rate)}"


def closing_text(summary: RunSummary, *, manifest: str) -> str:
    """The text printed when a run ends: counts, duration, report paths and the next step.

    Plain text without markup, so it reads the same on a terminal and in a cron log.
    ``manifest`` is the manifest path as the operator gave it, for the command to run next.
    """
    counts = summary.counts
    numbers = [(status_label(s), f"{counts[s]:,}") for s in Status if counts.get(s, 0)]
    numbers.append(("total", f"{sum(counts.values()):,}"))
    width = max(len(value) for _, value in numbers)
    table = [(label, value.rjust(width)) for label, value in numbers]

    took = format_duration(summary.duration_s)
    if not summary.dry_run and summary.uploads_per_second > 0:
        took += f" at {pace(summary.uploads_per_second)}"
        if summary.rate > 0:
            took += f" (target {pace(summary.rate)})"
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


#: The command that runs each job.
_COMMANDS = {"upload": "run", "remove": "remove"}


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
            what = f"{plural(failed, 'row')} failed, {invalid:,} invalid"
        elif failed:
            what = f"{plural(failed, 'row')} failed"
        else:
            what = f"{plural(invalid, 'row')} invalid"
        if summary.report_path:
            command = shlex.join(
                [
                    "zoom-batch",
                    _COMMANDS.get(summary.job, summary.job),
                    manifest or "MANIFEST",
                    "--retry-failed",
                    summary.report_path,
                ]
            )
            steps.append(f"{what} — fix them, then: {command}")
        else:
            steps.append(f"{what} — fix them, then run the same command again")

    if deferred:
        until = f" until {_utc_minute(summary.resumes_at)}" if summary.resumes_at else ""
        after = "after then" if summary.resumes_at else "after 00:00 UTC"
        steps.append(
            f"{plural(deferred, 'row')} deferred: daily quota spent{until}"
            f" — run the same command {after}"
        )

    if summary.job == "upload":
        resume = "run the same command again to resume (finished rows are skipped)"
    else:  # a removal is not remembered: --retry-failed is what leaves the done rows alone
        resume = "run it again with --retry-failed and this report to finish"
    if summary.stopped:
        # What stopped the run comes first: it is what the operator must fix.
        steps.insert(0, f"stopped: {summary.stopped}")
        if not_attempted:
            steps.append(f"{plural(not_attempted, 'row')} not attempted — fix that, then {resume}")
    elif summary.interrupted:
        steps.append(f"interrupted — {resume}")
    elif not_attempted:
        steps.append(f"{plural(not_attempted, 'row')} not attempted — {resume}")
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
