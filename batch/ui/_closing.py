"""The text a run ends with: the counts, the rows to look at, why it was slow, what to do next.

While the run goes, :class:`ProblemRows` keeps the few problem rows the end lists (a dozen and a
count of the rest, whatever the manifest's size) and :class:`Slowdown` what 429s did to the
pace; :func:`closing_text` puts them into words. Every command it suggests is built from the
run's own words (``again``), so that pasting it repeats the run as it was (``--simulate``,
``--fit``, ``--plan``…), and a resume hint is given only where the run remembers what it did.
"""

from __future__ import annotations

import heapq
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .._exceptions import one_line, redact
from .._models import RowResult, RunSummary, Status
from .._words import plural
from ._wording import forecast, format_duration, pace, status_label

__all__ = ["LINE_WIDTH", "LISTED_ROWS", "SLOW_SHARE", "ProblemRows", "Slowdown", "closing_text"]

#: Problem rows listed one per line (and, apart, kinds of rows the run did not get to).
LISTED_ROWS = 12
#: Longest line of the list; longer ones are cut with an ellipsis, so that each fits a terminal.
LINE_WIDTH = 100
#: After 429s, a run whose pace of sent rows ended below this share of its target is explained.
SLOW_SHARE = 0.8

#: Problem statuses listed row by row; the others (deferred, not attempted) are rows a stop
#: kept from being sent, many with the same message: listed as one line per message.
_EACH = frozenset({Status.FAILED, Status.INVALID})
_AFTER_ATTEMPTS = re.compile(r" \(after [\d,]+ attempts?\)$")


@dataclass(slots=True)
class _Group:
    """Rows of one status and one reason: the first of them, and how many."""

    row: int
    user: str
    message: str
    count: int = 1


class ProblemRows:
    """The problem rows a run's end lists, kept from the ``row_finished`` events; bounded.

    Failed and invalid rows: the ``limit`` with the lowest row numbers (the order rows finish
    in depends on timing), and a count of the others. Deferred and not attempted rows: one
    entry per status and reason (``limit`` at most), with a count.
    """

    def __init__(self, limit: int = LISTED_ROWS) -> None:
        self._limit = limit
        self._each: list[tuple[int, str, str]] = []  # a heap of (-row, user, message)
        self._groups: dict[tuple[Status, str], _Group] = {}
        self.more = 0  #: failed or invalid rows not kept
        self.more_groups = 0  #: deferred or not attempted rows of reasons not kept

    def add(self, result: RowResult) -> None:
        """Keep ``result`` if it is a problem row the list shows (others are ignored)."""
        status = result.status
        if not status.problem:
            return
        if status in _EACH:
            entry = (-result.row, result.user, result.message)
            if len(self._each) < self._limit:
                heapq.heappush(self._each, entry)
            else:
                if entry > self._each[0]:  # a lower row number than the highest kept
                    heapq.heapreplace(self._each, entry)
                self.more += 1
            return
        key = (status, _reason(result.message))
        group = self._groups.get(key)
        if group is not None:
            group.count += 1
        elif len(self._groups) < self._limit:
            self._groups[key] = _Group(result.row, result.user, result.message)
        else:
            self.more_groups += 1

    def lines(self, width: int = LINE_WIDTH) -> list[str]:
        """The list, one line per row or reason, each at most ``width`` characters."""
        each = sorted((-negative, user, message) for negative, user, message in self._each)
        singles = [g.row for g in self._groups.values() if g.count == 1]
        digits = max((len(str(n)) for n in [*(r for r, _, _ in each), *singles]), default=1)
        lines = [_row_line(*entry, digits) for entry in each]
        if self.more:
            lines.append(f"  … and {self.more:,} more in the report")
        for (status, reason), group in self._groups.items():
            if group.count == 1:  # a reason of its own: the row itself
                lines.append(_row_line(group.row, group.user, group.message, digits))
            else:
                lines.append(
                    f"  {plural(group.count, 'row')} {status_label(status)}"
                    + (f": {_clean(reason)}" if reason else "")
                )
        if self.more_groups:
            lines.append(
                f"  … and {self.more_groups:,} more deferred or not attempted in the report"
            )
        return [_fit(line, width) for line in lines]


def _reason(message: str) -> str:
    """What rows a stop kept from being sent share: their message less the per-row parts."""
    return _AFTER_ATTEMPTS.sub("", message).removeprefix("not sent: ")


def _clean(text: str) -> str:
    """Outside text as one line with no credential in it (a message may quote a header)."""
    return one_line(redact(text))


def _row_line(row: int, user: str, message: str, digits: int) -> str:
    line = f"  row {row:>{digits}}  {_clean(user) or '(no user)'}"
    return f"{line}: {_clean(message)}" if message else line


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


@dataclass(frozen=True, slots=True, kw_only=True)
class Slowdown:
    """What 429s did to a run's pace, as the console saw it."""

    cuts: int  #: pace cuts after a 429 (one per episode of 429s, not one per answer)
    lowest: float  #: the lowest pace a cut set, requests/s
    target: float  #: the pace the run aimed at, requests/s
    achieved: float  #: rows sent per second, from the start to the last row sent

    @property
    def explains(self) -> bool:
        """True when 429s were seen and the run ended well below its target pace."""
        return self.cuts > 0 and self.target > 0 and self.achieved < SLOW_SHARE * self.target

    def text(self) -> str:
        times = "once" if self.cuts == 1 else f"{self.cuts:,} times"
        return (
            f"slow: Zoom answered 'too many requests' and the pace was cut {times}, down to"
            f" {pace(self.lowest)} of {pace(self.target)}: another app or integration may be"
            " using this account's rate limit (every app on the account shares it);"
            " lower --rate to leave it room, or run when it is quiet"
        )


def closing_text(
    summary: RunSummary,
    *,
    manifest: str,
    again: Sequence[str] = (),
    remembers: bool = True,
    problems: ProblemRows | None = None,
    slowdown: Slowdown | None = None,
) -> str:
    """The text printed when a run ends: counts, duration, report paths, the rows to look at,
    why the run was slow, and the next step.

    Plain text without markup, so it reads the same on a terminal and in a cron log.
    ``manifest`` is the manifest path as the operator gave it. ``again`` is the command that
    repeats the run (``zoom-batch``'s arguments, unquoted, without ``--retry-failed``,
    ``--report``, ``--force``…); without it the next command is ``zoom-batch run MANIFEST``.
    ``remembers`` is False when running the same command again would send every row again
    (``--no-state``, ``--force``): the resume hint then names ``--retry-failed`` instead.
    """
    counts = summary.counts
    if not summary.total and not any(counts.values()) and not summary.stopped:
        lines = [f"nothing to do: {manifest or 'the manifest'} has no rows"]
        return "\n".join(lines + [f"warning: {warning}" for warning in summary.warnings])

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
    listed = problems.lines() if problems is not None else []
    if listed:
        lines += ["", *listed]
    steps = [f"warning: {warning}" for warning in summary.warnings]
    steps += _NextSteps(summary, manifest, again, remembers).lines()
    if slowdown is not None and slowdown.explains and not summary.dry_run:
        steps.append(slowdown.text())
    if steps:
        lines += ["", *steps]
    return "\n".join(lines)


#: The command that runs each job.
_COMMANDS = {"upload": "run", "remove": "remove", "undo": "undo", "audit": "audit"}
#: Why the same command again would redo what a job did (the upload job's own is its state).
_NOT_REMEMBERED = {
    "remove": "removals are not remembered",
    "undo": "an undo puts every picture back again",
    "audit": "an audit reads every user again",
}


@dataclass(frozen=True, slots=True)
class _NextSteps:
    """The lines that say what is left to do, each naming the command that does it."""

    summary: RunSummary
    manifest: str
    again: Sequence[str]
    remembers: bool

    def command(self, *extra: str) -> str:
        """The run's own command (or ``zoom-batch run MANIFEST``) with ``extra``, quoted."""
        summary = self.summary
        words = list(self.again) or [
            _COMMANDS.get(summary.job, summary.job),
            self.manifest or "MANIFEST",
        ]
        return shlex.join(["zoom-batch", *words, *extra])

    def retry(self) -> str | None:
        """The command that runs only the rows the report left undone; None with no report."""
        report = self.summary.report_path
        return self.command("--retry-failed", report) if report else None

    def resume(self) -> str:
        """How to finish the rows the run did not get to, without sending the others again."""
        summary = self.summary
        if summary.job == "upload" and self.remembers:
            return "run the same command again to resume (finished rows are skipped)"
        if summary.job != "upload":
            why = _NOT_REMEMBERED.get(summary.job, "this job is not remembered")
        elif "--no-state" in self.again:
            why = "this run kept no state: the same command would send every row again"
        else:
            why = "--force sends every row again"
        retry = self.retry()
        if retry is None:
            return f"run it again with --retry-failed and this run's report ({why})"
        return f"run the rows left ({why}): {retry}"

    def lines(self) -> list[str]:
        summary = self.summary
        counts = summary.counts
        failed = counts.get(Status.FAILED, 0)
        invalid = counts.get(Status.INVALID, 0)
        deferred = counts.get(Status.DEFERRED, 0)
        not_attempted = counts.get(Status.NOT_ATTEMPTED, 0)
        steps: list[str] = []

        if summary.dry_run:
            valid, skipped = counts.get(Status.VALID, 0), counts.get(Status.SKIPPED, 0)
            line = "dry run: " + forecast(valid, summary.rate, summary.plan, skipped=skipped)
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
            retry = self.retry()
            steps.append(
                f"{what} — fix them, then: {retry}"
                if retry
                else f"{what} — fix them, then run the same command again"
            )

        resume = self.resume()
        if deferred:
            until = f" until {_utc_minute(summary.resumes_at)}" if summary.resumes_at else ""
            after = "after then" if summary.resumes_at else "after 00:00 UTC"
            if summary.job == "upload" and self.remembers:
                then = f"run the same command {after}"
            else:
                then = f"{after}, {resume}"
            steps.append(f"{plural(deferred, 'row')} deferred: daily quota spent{until} — {then}")

        if summary.stopped:
            # What stopped the run comes first: it is what the operator must fix.
            steps.insert(0, f"stopped: {summary.stopped}")
            if not_attempted:
                steps.append(
                    f"{plural(not_attempted, 'row')} not attempted — fix that, then {resume}"
                )
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
