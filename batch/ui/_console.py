"""What the operator sees while a run goes: a live display on a terminal, plain lines otherwise.

rich is imported only when the display is live (see :mod:`batch.ui._live`): cron, CI, pipes and
``--quiet`` runs never load it, and :class:`_Speed` keeps their speed estimate without it.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from math import ceil
from typing import TYPE_CHECKING, TextIO

from .._models import RowResult, RunSummary, Status
from .._words import plural
from ._events import NullObserver
from ._wording import closing_text, counts_line, format_duration, holding_text, pace

if TYPE_CHECKING:
    from ._live import LiveDisplay

__all__ = ["ConsoleProgress"]


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


class ConsoleProgress(NullObserver):
    """Shows a run's progress to the operator: live on a terminal, sparse plain lines otherwise.

    ``stream`` defaults to ``sys.stderr``. ``plain=None`` decides from it: a live display on a
    terminal that can redraw, plain lines (no ANSI codes) for cron, CI and pipes. ``quiet``
    shows only the closing text. Plain lines come at most one per ``interval`` seconds.
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

    # RunObserver; token_renewed is NullObserver's: renewing the token is routine, not news.

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        self._target = None if dry_run else rate
        self._last_line = self._clock()
        self._speed.reset(total)
        if self._display is not None:
            self._display.begin(total)
        elif not self._quiet:
            what = "dry run: checking" if dry_run else "run started:"
            at = "" if dry_run else f" at {pace(rate)}"
            self._write(f"{what} {plural(total, 'row')}{at}")

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
            counts = counts_line(self._counts)
            self._write(f"progress {self._status_line()}" + (f" · {counts}" if counts else ""))

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        self._target = rate
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
            parts.append(pace(speed) + (f" of {pace(self._target)}" if self._target else ""))
        eta = self._speed.seconds_left
        if eta is not None:
            parts.append(f"eta {format_duration(eta, compact=True)}")
        return " · ".join(parts)

    def _extra_lines(self) -> Iterable[tuple[str, str]]:
        """The live display's lines under the bar: (text, rich style)."""
        yield counts_line(self._counts), ""
        holding = self._holding
        if holding:
            yield holding, "yellow"

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
