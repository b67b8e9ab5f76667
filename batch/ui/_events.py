"""What the pool tells the outside world while it runs (progress display, JSON logs)."""

from __future__ import annotations

from typing import Protocol

from .._models import RowResult, RunSummary


class RunObserver(Protocol):
    """Receives a run's events. Called on the event loop; must not block."""

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None: ...

    def row_finished(self, result: RowResult) -> None: ...

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        """The pool holds back (429 seen); ``rate`` is the new pace in requests/s."""

    def backoff_ended(self, *, rate: float) -> None: ...

    def token_renewed(self) -> None: ...

    def run_finished(self, summary: RunSummary) -> None: ...
