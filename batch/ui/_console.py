"""What the operator sees while a run goes: a live display on a terminal, plain lines otherwise.

rich is imported only when the display is live (see :mod:`batch.ui._live`): cron, CI, pipes and
``--quiet`` runs never load it, and :class:`_Speed` keeps their speed estimate without it.
The pace shown is that of the rows sent, and the time left counts only the rows likely to need
sending: a resume that skips thousands of unchanged rows in a second must not claim 159/s.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from math import ceil
from typing import TYPE_CHECKING, TextIO

from .._models import RowResult, RunSummary, Status
from .._words import plural
from ._closing import ProblemRows, Slowdown, closing_text
from ._events import RATE_LIMITED, NullObserver
from ._wording import counts_line, format_duration, holding_text, pace

if TYPE_CHECKING:
    from ._live import LiveDisplay

__all__ = ["ConsoleProgress"]

#: Statuses that say a request went out even when the result counts no attempt.
_SENT = frozenset({Status.UPLOADED, Status.REMOVED, Status.RESTORED})


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


class _Share:
    """The share of finished rows that needed a request, weighted to the last ~100 rows.

    An exponentially weighted mean over rows (each row weighs 1 % less than the next; the
    weights' sum normalises it, so the first rows give their plain mean) rather than the share
    since the start: a resume skips the rows done before, which come first, then sends the
    rest. After 5,000 skips and 100 uploads the share since the start is 2 % (a time left ten
    times too short); this one says 63 %, and 95 % after 300 uploads. Over rows, not seconds,
    because skipped rows finish by the thousand per second.
    """

    DECAY = 0.99  #: a row's weight against the next one's: the last ~100 rows count most

    def __init__(self) -> None:
        self._sent = 0.0
        self._rows = 0.0

    def reset(self) -> None:
        self._sent = self._rows = 0.0

    def add(self, sent: bool) -> None:
        self._sent = self._sent * self.DECAY + (1.0 if sent else 0.0)
        self._rows = self._rows * self.DECAY + 1.0

    @property
    def value(self) -> float | None:
        """The share, 0 to 1; None until a row has finished."""
        return self._sent / self._rows if self._rows else None


class ConsoleProgress(NullObserver):
    """Shows a run's progress to the operator: live on a terminal, sparse plain lines otherwise.

    ``stream`` defaults to ``sys.stderr``. ``plain=None`` decides from it: a live display on a
    terminal that can redraw, plain lines (no ANSI codes) for cron, CI and pipes. ``quiet``
    shows only the closing text. Plain lines come at most one per ``interval`` seconds.
    ``manifest`` is the manifest path as given. ``again`` is the command that repeats the run,
    as ``zoom-batch``'s arguments (unquoted words: the subcommand, the manifest, every option
    that shapes the run, and none of ``--retry-failed``, ``--report``, ``--html``, ``--force``,
    ``--dry-run``, ``--quiet``, ``--log-*``): every command the closing text suggests is built
    from it. ``remembers`` is False when the same command would send every row again
    (``--no-state``, ``--force``): the closing text then suggests ``--retry-failed`` to finish.
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
        again: Sequence[str] = (),
        remembers: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must be 0 or more seconds, got {interval!r}")
        if isinstance(again, str):  # a string is a sequence of words of one letter each
            raise TypeError("again: expected the command's words, got a string")
        # Looked up now, not at import: sys.stderr may have been replaced since (tests, rich).
        self._stream = stream = stream or sys.stderr
        self._quiet = quiet
        self._interval = interval
        self._manifest = manifest
        self._again = tuple(again)
        self._remembers = remembers
        self._clock = clock
        self._counts: Counter[Status] = Counter()
        self._dry_run = False
        self._target: float | None = None  #: the pace now: the run's, then the pacer's cuts
        self._holding: str | None = None
        self._last_line = clock()
        self._closed = False

        self._speed = _Speed(clock)  # every row: done/total, and the pace of a dry run
        self._sent = _Speed(clock)  # rows that sent a request: the pace of a run
        self._share = _Share()
        self._problems = ProblemRows()
        # What the closing text says of a slow run.
        self._aim = 0.0  #: the pace the run aimed at
        self._started = clock()
        self._last_sent: float | None = None
        self._cuts = 0
        self._lowest: float | None = None

        if plain is None:
            # A dumb terminal cannot redraw in place: plain lines serve it better.
            plain = quiet or not (stream.isatty() and _live_terminal(stream))
        self._display: LiveDisplay | None = None
        if not (quiet or plain):
            from ._live import LiveDisplay

            self._display = LiveDisplay(
                stream, status=self._status_line, extra=self._extra_lines, clock=clock
            )

    # RunObserver; token_renewed is NullObserver's: renewing the token is routine, not news.

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        self._dry_run = dry_run
        self._target = None if dry_run else rate
        self._aim = 0.0 if dry_run else rate
        self._started = self._last_line = self._clock()
        self._speed.reset(total)
        self._sent.reset(total)
        self._share.reset()
        if not total:
            return  # nothing to show: the closing text says there was nothing to do
        if self._display is not None:
            self._display.begin(total)
        elif not self._quiet:
            what = "dry run: checking" if dry_run else "run started:"
            at = "" if dry_run else f" at {pace(rate)}"
            self._write(f"{what} {plural(total, 'row')}{at}")

    def row_finished(self, result: RowResult) -> None:
        self._counts[result.status] += 1
        self._speed.advance()
        sent = result.attempts > 0 or result.status in _SENT
        if sent:
            self._sent.advance()
            self._last_sent = self._clock()
        self._share.add(sent)
        self._problems.add(result)
        if self._display is not None:
            self._display.step()
            return
        if self._quiet:
            return
        now = self._clock()
        if now - self._last_line >= self._interval:
            self._last_line = now
            counts = counts_line(self._counts)
            self._write(f"progress {self._status_line()}" + (f" · {counts}" if counts else ""))

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self._target = rate
        if reason == RATE_LIMITED:  # not a wait for the daily quota
            self._cuts += 1
            self._lowest = rate if self._lowest is None else min(self._lowest, rate)
        self._holding = holding_text(seconds, reason, rate)
        if self._display is not None:
            self._display.refresh()  # show the hold now, not at the next tick
        elif not self._quiet:
            self._write(self._holding)

    def backoff_ended(self, *, rate: float) -> None:
        self._target = rate
        self._holding = None

    def run_finished(self, summary: RunSummary) -> None:
        self.close()
        text = closing_text(
            summary,
            manifest=self._manifest,
            again=self._again,
            remembers=self._remembers,
            problems=self._problems,
            slowdown=self._slowdown(),
        )
        self._write(text)

    def close(self) -> None:
        """Stop the live display and give the cursor back; safe to call more than once."""
        if not self._closed:
            self._closed = True
            if self._display is not None:
                self._display.stop()

    # rendering

    def _status_line(self) -> str:
        """``1,200/8,000 (15%) · 18.7/s of 19.4/s · eta 5m52s``; unknown parts are left out.

        A run's pace is that of the rows sent; a dry run's, that of the rows checked.
        """
        done, total = self._speed.done, self._speed.total
        parts = [f"{done:,}/{total:,} ({done * 100 // total}%)" if total else f"{done:,}"]
        if self._dry_run:
            speed, eta = self._speed.per_second, self._speed.seconds_left
        else:
            speed, eta = self._sent.per_second, self._seconds_left()
        if speed is not None:
            parts.append(pace(speed) + (f" of {pace(self._target)}" if self._target else ""))
        if eta is not None:
            parts.append(f"eta {format_duration(eta, compact=True)}")
        return " · ".join(parts)

    def _seconds_left(self) -> float | None:
        """The rows left times the share of them likely to be sent, at the pace of sending.

        Never less than the rows left at the pace of all rows: when something else than the
        pace holds rows back (checking photos), that pace is the one that tells.
        """
        rows, sent_pace, share = self._speed, self._sent.per_second, self._share.value
        if rows.finished or not rows.total or not sent_pace or share is None:
            return None
        left = rows.total - rows.done
        seconds = left * share / sent_pace
        every_pace = rows.per_second
        if every_pace:
            seconds = max(seconds, left / every_pace)
        return float(ceil(seconds))

    def _slowdown(self) -> Slowdown | None:
        """What 429s did to the pace, when they cut it; None otherwise."""
        if not self._cuts or self._lowest is None or self._last_sent is None:
            return None
        span = self._last_sent - self._started
        achieved = self._sent.done / span if span > 0 else float("inf")
        return Slowdown(cuts=self._cuts, lowest=self._lowest, target=self._aim, achieved=achieved)

    def _extra_lines(self) -> Iterable[tuple[str, str]]:
        """The live display's lines under the bar: (text, rich style)."""
        yield counts_line(self._counts), ""
        holding = self._holding
        if holding:
            yield holding, "yellow"

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
