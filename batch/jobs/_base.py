"""What every job shares: how a row's outcome becomes its result, and the run-wide reactions.

A job subclasses :class:`RowJob` and writes :meth:`RowJob.handle`, the row's own work; the
base class turns what that raises into the row's result once, for every job:

* :class:`~batch.InvalidRow` → ``invalid``; a row-level :class:`~batch.ApiError` → ``failed``;
* :class:`~batch.DailyLimitReached` → the run stops, this row and the rest ``deferred``;
* :class:`~batch.AccessRefused` → the run stops (exit 2), this row and the rest
  ``not_attempted``: Zoom did nothing for them;
* another :class:`~batch.FatalError` → the run stops, this row ``failed``, the rest
  ``not_attempted``;
* the run stopping before the row's request went → the stop's status and message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._clock import now_iso
from .._exceptions import (
    AccessRefused,
    ApiError,
    DailyLimitReached,
    FatalError,
    InvalidRow,
    StateError,
    one_line,
)
from .._models import ManifestRow, RowResult, Status
from .._pool import RunControl, Stopped
from .._retry import Tries
from .._scopes import ScopeNeed
from .._state import StateStore, user_key
from .._users import UserCheck
from .._window import ByteBudget, InflightWindow
from .._words import plural

if TYPE_CHECKING:
    from .._sender import Sender

__all__ = ["JobContext", "RowJob", "RowNotes", "row_result"]


def row_result(row: ManifestRow, status: Status, message: str, *, attempts: int = 0) -> RowResult:
    """A row's result, stamped with the time it finished."""
    return RowResult(
        row=row.row,
        user=row.user,
        file=row.file,
        status=status,
        message=message,
        attempts=attempts,
        finished_at=now_iso(),
        line=row.line,
        extras=row.extras,
        dn=row.dn,
    )


@dataclass(frozen=True, kw_only=True)
class JobContext:
    """What the runner hands a job: the run's shared parts."""

    control: RunControl
    sender: Sender | None  #: None in a dry run: nothing is sent
    state: StateStore | None  #: None with --no-state, and in a dry run
    force: bool = False  #: send even what the state store says is unchanged
    #: Users a previous report shows as done (``--retry-failed``), and that report's name.
    done_before: frozenset[str] | None = None
    retry_source: str = ""
    clock: Callable[[], float] = time.monotonic
    #: Told each sending row's service time, so the rows in progress follow latency.
    window: InflightWindow | None = None
    #: Photo bytes the rows in progress may hold in memory.
    budget: ByteBudget | None = None
    #: A dry run: nothing is sent, and ``state`` (when there is one) is read to forecast skips.
    forecast: bool = False

    @property
    def dry_run(self) -> bool:
        return self.sender is None or self.forecast


@dataclass(slots=True)
class RowNotes:
    """What a job learnt about a row before it ended, kept in its result however it ends."""

    bytes: int | None = None
    sha256: str | None = None
    original_bytes: int | None = None
    crop: str | None = None  #: how ``--crop`` cut the photo checked (``RowResult.crop``)


class RowJob:
    """Base of the jobs: the outcome-to-result rules of the module docstring, written once."""

    #: The work in progress, for "interrupted while …" ("uploading", "removing the picture").
    doing = "sending"
    #: The manifest columns (by key) this job reads; a manifest need not have the others.
    reads: frozenset[str] = frozenset({"user", "file"})
    #: The OAuth scope the job's calls need; checked on every token before anything is sent.
    scope: ScopeNeed | None = None

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.control = context.control
        self.users = UserCheck()

    def close(self) -> None:
        self.users.close()

    async def handle(self, row: ManifestRow, tries: Tries, notes: RowNotes) -> RowResult:
        """The row's own work; raise the error for anything but success."""
        raise NotImplementedError

    async def process(self, row: ManifestRow) -> RowResult:
        context = self.context
        begun = context.clock()
        tries = Tries(started=begun)
        notes = RowNotes()
        skipped = self.done_before(row)
        if skipped is not None:
            return skipped
        if row.problem is not None:  # the reader could not make a row of it (a bad YAML item)
            return row_result(row, Status.INVALID, row.problem)
        try:
            result = await self.handle(row, tries, notes)
        except InvalidRow as exc:
            result = row_result(row, Status.INVALID, one_line(str(exc)))
        except StateError as exc:  # reading it failed: nothing was sent for this row
            self.control.fail(f"the state store cannot be read: {exc}")
            result = row_result(row, Status.NOT_ATTEMPTED, self.control.message)
        except Stopped:
            note = f"after {plural(tries.sent, 'attempt')}" if tries.sent else ""
            status = self.control.status or Status.NOT_ATTEMPTED
            result = row_result(row, status, self.control.note(note), attempts=tries.sent)
        except DailyLimitReached as exc:
            resets = exc.resets_at
            self.control.resumes_at = resets
            when = f"{resets:%Y-%m-%d %H:%M} UTC" if resets else "the next day (00:00 UTC)"
            self.control.halt(
                Status.DEFERRED, f"not sent: Zoom's daily limit is spent; run again after {when}"
            )
            status = self.control.status or Status.DEFERRED  # a stop that came first wins
            result = row_result(row, status, self.control.message, attempts=tries.sent)
        except AccessRefused as exc:
            self.control.fail(exc.message)
            note = f"after {plural(tries.sent, 'attempt')}"
            result = row_result(row, Status.NOT_ATTEMPTED, self.control.note(note))
            _answer(result, exc, tries)
        except FatalError as exc:
            self.control.halt(Status.NOT_ATTEMPTED, f"not sent: the run stopped — {exc.message}")
            result = self.failed(row, exc, tries)
        except ApiError as exc:
            result = self.failed(row, exc, tries)
        if result.sha256 is None and notes.sha256 is not None:
            result.bytes, result.sha256 = notes.bytes, notes.sha256
        if result.original_bytes is None:
            result.original_bytes = notes.original_bytes
        if result.crop is None:
            result.crop = notes.crop
        took = context.clock() - begun
        result.duration_ms = round(took * 1000)
        if tries.sent and context.window is not None:
            context.window.observe(took - tries.queued - tries.paused)
        return result

    def remember(self, row: ManifestRow, result: RowResult, write: Callable[[], None]) -> None:
        """Write what the state store must remember of a row Zoom has done (``write``).

        A store that cannot be written stops the run (exit 2): the row stays as Zoom did it,
        with a warning that it was not recorded (the next run sends it again).
        """
        try:
            write()
        except StateError as exc:
            self.control.fail(f"the state store cannot be written: {exc}")
            result.message += " (warning: not recorded in the state store)"

    def failed(self, row: ManifestRow, exc: ApiError, tries: Tries) -> RowResult:
        message = f"{exc.message} ({plural(tries.sent, 'attempt')})"
        return _answer(row_result(row, Status.FAILED, message), exc, tries)

    def unfinished(self, row: ManifestRow, status: Status, message: str) -> RowResult:
        return row_result(row, status, message)

    def interrupted(self, row: ManifestRow) -> RowResult:
        return row_result(
            row,
            Status.NOT_ATTEMPTED,
            f"interrupted while {self.doing}: it may or may not have reached Zoom"
            " — run again to make sure",
        )

    def done_before(self, row: ManifestRow) -> RowResult | None:
        """The result of a row ``--retry-failed`` leaves alone, else None."""
        done = self.context.done_before
        if done is not None and row.user and user_key(row.user) in done:
            message = f"not retried: done in {self.context.retry_source}"
            return row_result(row, Status.SKIPPED, message)
        return None


def _answer(result: RowResult, exc: ApiError, tries: Tries) -> RowResult:
    """``result`` with what Zoom's last answer to the row said."""
    result.attempts = tries.sent
    result.http_status, result.zoom_code = exc.http_status, exc.zoom_code
    result.tracking_id = exc.tracking_id
    return result
