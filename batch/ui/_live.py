"""The live progress display on a terminal: rich, loaded only when a run shows it.

Imported by :class:`~batch.ui._console.ConsoleProgress` when its stream is an interactive
terminal; cron, CI, pipes and ``--quiet`` runs never load rich (~55 ms of start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TextIO

from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, Task
from rich.text import Text

#: Live redraws per second: enough for a moving spinner, few enough for a slow SSH link.
LIVE_REFRESH_PER_SECOND = 4.0


def is_interactive(stream: TextIO) -> bool:
    """True if ``stream`` is a terminal that can redraw in place (rich reads TERM and friends)."""
    return Console(file=stream).is_interactive


class _TextColumn(ProgressColumn):
    """A progress column whose text comes from a function."""

    def __init__(self, text: Callable[[], str]) -> None:
        super().__init__()
        self._text = text

    def render(self, task: Task) -> Text:
        return Text(self._text())


class LiveDisplay(Progress):
    """rich's progress bar with a status text and extra lines underneath (counts, holds)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        status: Callable[[], str],
        extra: Callable[[], Iterable[tuple[str, str]]],
        clock: Callable[[], float],
    ) -> None:
        self._extra = extra  # before super(): rich's Live renders once while being built
        super().__init__(
            SpinnerColumn(),
            BarColumn(bar_width=30),
            _TextColumn(status),
            console=Console(file=stream),  # rich reads NO_COLOR, TERM and friends itself
            get_time=clock,
            refresh_per_second=LIVE_REFRESH_PER_SECOND,
            transient=True,  # the closing text replaces the display
        )
        self._task = self.add_task("rows", total=None)

    def begin(self, total: int) -> None:
        self.reset(self._task, total=total)
        self.start()

    def step(self) -> None:
        self.advance(self._task)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for text, style in self._extra():
            yield Text(text, style=style)
