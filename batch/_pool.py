"""The worker pool: rows in, one result per row out, in bounded memory; it knows no pictures.

A producer streams rows (read in batches off the event loop) into a bounded backlog; a
dispatcher starts each row's :meth:`Job.process` as a task, in manifest order, as long as the
rows in progress stay within an :class:`~batch._window.InflightWindow` (which follows the rows'
service times, up to ``workers``); each finished row goes to the sink. Every row ends as
exactly one result, whatever happens:

* a row's failure is data, never an exception that stops the others (a job that raises anyway
  — a bug — gets the row reported as an internal error, and the run goes on);
* :meth:`RunControl.halt` (a job saw the daily quota spent), :meth:`RunControl.fail`
  (something the run needs cannot be used: the credentials, the state store, the report) and
  :meth:`WorkerPool.stop` (Ctrl-C) stop new work at once; the rows not started are reported
  with the stop's status and message, and the producer keeps reading only to report them;
* a second :meth:`~WorkerPool.stop`, or ``grace`` seconds after the first, cancels the rows in
  flight, each reported as interrupted.

As aiometer's ``run_on_each`` takes the work as a callable, the pool takes a job; unlike it,
one row's failure never cancels the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

from ._exceptions import SetupError, one_line
from ._models import ManifestRow, RowResult, Status
from ._window import InflightWindow

__all__ = ["GRACE_SECONDS", "Job", "RunControl", "Stopped", "WorkerPool"]

#: Rows read from the manifest per trip to the reader thread.
READ_BATCH = 256
#: Seconds the rows in flight may take to finish after a first Ctrl-C.
GRACE_SECONDS = 10.0


class Stopped(Exception):
    """Raised inside a row when the run stops before that row's request is sent."""


class Job(Protocol):
    """One kind of work done per row (upload, remove, ...): what the pool calls."""

    async def process(self, row: ManifestRow) -> RowResult:
        """Do the row's work and say how it ended; never raises for the row's own failure.

        Called for the rows in manifest order; whatever depends on that order (refusing a
        repeated user) must happen before the first ``await``.
        """
        ...

    def unfinished(self, row: ManifestRow, status: Status, message: str) -> RowResult:
        """The result of a row the run will not finish (stopped, or a bug in the job)."""
        ...

    def interrupted(self, row: ManifestRow) -> RowResult:
        """The result of a row cancelled while its request may have been on its way."""
        ...

    def close(self) -> None: ...


class RunControl:
    """The run's stop state, shared by the pool and the jobs' senders."""

    def __init__(self) -> None:
        self.status: Status | None = None  #: the status rows not started get, once stopping
        self.message = ""
        self.interrupted = False  #: stopped by the operator, not by the run itself
        self.resumes_at: datetime | None = None  #: when the daily quota returns, if it ran out
        #: Why the run stopped when something it needs cannot be used (the CLI exits 2).
        self.failure: str | None = None
        self._stopped = asyncio.Event()
        self._waiting: set[asyncio.Task[object]] = set()

    @property
    def stopping(self) -> bool:
        return self.status is not None

    def halt(self, status: Status, message: str) -> None:
        """Stop starting work; rows not started end as ``status`` with ``message``."""
        if self.status is None:
            self.status = status
            self.message = message
            self._stopped.set()
            # Rows still waiting for a send slot have sent nothing: release them now.
            for task in list(self._waiting):
                task.cancel()

    def fail(self, reason: str) -> None:
        """Stop because ``reason`` (one line) makes the run unable to go on; the first wins."""
        if self.failure is None:
            self.failure = reason
        self.halt(Status.NOT_ATTEMPTED, f"not sent: the run stopped — {reason}")

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake as soon as the run stops."""
        if seconds <= 0 or self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    @contextlib.contextmanager
    def releasable(self) -> Iterator[None]:
        """A wait that :meth:`halt` cuts short: the current task is cancelled, then
        :class:`Stopped` raised in it (a cancellation from elsewhere passes through)."""
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if self.stopping and task.uncancel() == 0:
                raise Stopped from None
            raise
        finally:
            self._waiting.discard(task)

    def note(self, extra: str = "") -> str:
        """The stop's message, with ``extra`` in brackets when there is one."""
        return self.message + (f" ({extra})" if extra else "")


class WorkerPool:
    """Runs a :class:`Job` over rows, at most ``workers`` in progress; see the module doc."""

    def __init__(
        self,
        job: Job,
        *,
        workers: int,
        control: RunControl,
        sink: Callable[[RowResult], None],
        grace: float = GRACE_SECONDS,
        window: InflightWindow | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._job = job
        self._control = control
        self._sink = sink
        self._grace = grace
        #: Without a window, ``workers`` rows are in progress whenever there are rows.
        self.window = window or InflightWindow(cap=workers, rate=lambda: math.inf)
        self._inflight: set[asyncio.Task[RowResult]] = set()
        self._room = asyncio.Event()
        self._abort_handle: asyncio.TimerHandle | None = None

    def stop(self, *, reason: str = "interrupted") -> None:
        """Stop taking rows (first call); cancel the rows in flight (second call, or after
        the grace period)."""
        if not self._control.stopping:
            self._control.interrupted = True
            self._control.halt(Status.NOT_ATTEMPTED, f"not sent: the run was {reason}")
            loop = asyncio.get_running_loop()
            self._abort_handle = loop.call_later(self._grace, self._abort)
        else:
            self._abort()
        self._room.set()

    def _abort(self) -> None:
        for task in list(self._inflight):
            task.cancel()

    async def run(self, rows: Iterator[ManifestRow]) -> None:
        """Process every row; returns when each has been handed to the sink once."""
        backlog: deque[ManifestRow] = deque()
        try:
            while True:
                if not backlog:
                    # Reading and parsing the manifest is blocking I/O: a thread, in batches.
                    try:
                        backlog.extend(await asyncio.to_thread(_read_batch, rows))
                    except SetupError as exc:  # the source itself was lost (a directory)
                        self._control.fail(one_line(str(exc)))
                        rows = iter(())
                    if not backlog:
                        break
                while backlog:
                    if self._control.stopping:
                        # Let the rows in flight finish first, so the rows reported from here
                        # on are written at once instead of piling up behind them.
                        await self._settle()
                        self._sink(self._left(backlog.popleft()))
                        continue
                    await self._wait_for_room()
                    if self._control.stopping:
                        continue
                    self._start(backlog.popleft())
            await self._settle()
        finally:
            # Cancelled (an abort of the whole run): every row still gets its result.
            for task in list(self._inflight):
                task.cancel()
            if self._inflight:
                await asyncio.wait(set(self._inflight))
            if self._abort_handle is not None:
                self._abort_handle.cancel()
            for row in itertools.chain(backlog, _readable(rows)):
                self._sink(self._left(row))

    async def _wait_for_room(self) -> None:
        window = self.window
        while len(self._inflight) >= window.limit and not self._control.stopping:
            self._room.clear()
            await self._room.wait()

    async def _settle(self) -> None:
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    def _start(self, row: ManifestRow) -> None:
        # Tasks run in the order they are created: each row's first steps, up to its first
        # await, run in manifest order (what Job.process relies on).
        task = asyncio.create_task(self._job.process(row))
        self._inflight.add(task)
        task.add_done_callback(lambda done: self._finished(row, done))

    def _finished(self, row: ManifestRow, task: asyncio.Task[RowResult]) -> None:
        self._inflight.discard(task)
        self._room.set()
        if task.cancelled():
            result = self._job.interrupted(row)
        elif (exc := task.exception()) is not None:
            # A bug: the row still gets its line, the run goes on.
            message = f"internal error: {type(exc).__name__}: {exc} — please report it"
            result = self._job.unfinished(row, Status.FAILED, one_line(message))
        else:
            result = task.result()
        self._sink(result)

    def _left(self, row: ManifestRow) -> RowResult:
        control = self._control
        return self._job.unfinished(row, control.status or Status.NOT_ATTEMPTED, control.message)


def _readable(rows: Iterator[ManifestRow]) -> Iterator[ManifestRow]:
    """``rows`` until they end or their source fails (then the run has already stopped)."""
    try:
        yield from rows
    except SetupError:
        return


def _read_batch(rows: Iterator[ManifestRow]) -> list[ManifestRow]:
    return list(itertools.islice(rows, READ_BATCH))
