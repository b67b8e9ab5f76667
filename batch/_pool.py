"""The worker pool: manifest rows → bounded queue → workers → ordered report.

One producer streams rows from the manifest (read in batches off the event loop) into a bounded
queue; ``concurrency`` workers take rows in manifest order, validate them, skip the unchanged
ones, and upload the rest through one shared pacer, token source and HTTP session. Every row
ends as exactly one :class:`RowResult`, whatever happens:

* a row's failure is data, never an exception that stops the others;
* a fatal error (daily quota spent, credentials revoked) or an interruption stops new sends at
  once; rows not finished become ``deferred`` or ``not_attempted``, and the producer keeps
  reading the manifest only to report the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ._client import ZoomClient, next_midnight_utc
from ._config import Config
from ._exceptions import (
    ApiError,
    DailyLimitReached,
    FatalError,
    InvalidRow,
    RateLimited,
    TokenExpired,
    TransientError,
    one_line,
)
from ._models import ManifestRow, PreparedImage, RowResult, RunSummary, Status
from ._pacing import Pacer, Ticket
from ._report import ReportWriter
from ._state import StateStore, UploadRecord, user_key
from ._validate import RowChecker
from .manifest import Manifest
from .ui import RunObserver

if TYPE_CHECKING:
    from tenacity import RetryCallState

#: Rows read from the manifest per trip to the reader thread.
READ_BATCH = 256
#: Seconds in-flight uploads may take to finish after a first Ctrl-C.
GRACE_SECONDS = 10.0


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    return f"{max(1, round(n / 1024))} KB"


class _Stopped(Exception):
    """Raised inside a row when the run stops before that row's request is sent."""


@dataclass(slots=True)
class _Attempts:
    """Per-row retry bookkeeping the tenacity policy reads."""

    sent: int = 0  #: requests sent for the row
    counted: int = 0  #: failures that use up the retry budget (429 waits do not)
    renewed: bool = False
    started: float = 0.0
    paused: float = 0.0  #: seconds spent waiting for the daily quota (--wait-for-quota)

    def elapsed(self, now: float) -> float:
        """Seconds this row has spent, not counting quota waits."""
        return now - self.started - self.paused


class BatchRun:
    """One run over one manifest. Create, then ``await run()``; :meth:`stop` from a signal."""

    def __init__(
        self,
        config: Config,
        manifest: Manifest,
        report: ReportWriter,
        *,
        observer: RunObserver,
        client: ZoomClient | None = None,
        state: StateStore | None = None,
        done_before: frozenset[str] | None = None,
        retry_source: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is None and not config.dry_run:
            raise ValueError("a client is needed unless this is a dry run")
        self._config = config
        self._manifest = manifest
        self._report = report
        self._observer = observer
        self._client = client
        self._state = state
        self._done_before = done_before
        self._retry_source = retry_source
        self._clock = clock
        self._checker = RowChecker(
            fit=config.fit, fit_max_edge=config.fit_max_edge, root=config.root
        )
        self.pacer = Pacer(config.ceiling)
        self._target_rate = self.pacer.rate  # the pace aimed at: just under the ceiling
        self.pacer.add_listener(self._on_hold, self._on_release)
        self._queue: asyncio.Queue[ManifestRow | None] = asyncio.Queue(maxsize=config.workers * 2)
        self._backlog: deque[ManifestRow] = deque()
        self._rows: Iterator[ManifestRow] | None = None
        self._inflight: set[asyncio.Task[RowResult]] = set()
        self._waiting: set[asyncio.Task[object]] = set()  #: rows waiting in the pacer
        self._stop_status: Status | None = None
        self._stop_message = ""
        self._stopped = asyncio.Event()
        self._abort_handle: asyncio.TimerHandle | None = None
        self.interrupted = False
        self.resumes_at: datetime | None = None
        self._quota_until: float | None = None

    # -- stopping -------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_status is not None

    def stop(self, *, reason: str = "interrupted") -> None:
        """Stop taking rows (first call); abort in-flight uploads (second call or after grace)."""
        if self._stop_status is None:
            self.interrupted = True
            self._halt(Status.NOT_ATTEMPTED, f"not sent: the run was {reason}")
            loop = asyncio.get_running_loop()
            self._abort_handle = loop.call_later(GRACE_SECONDS, self._abort)
        else:
            self._abort()

    def _halt(self, status: Status, message: str) -> None:
        if self._stop_status is None:
            self._stop_status = status
            self._stop_message = message
            self._stopped.set()
            # Rows still waiting for a send slot have sent nothing: release them now.
            for task in list(self._waiting):
                task.cancel()

    def _abort(self) -> None:
        for task in list(self._inflight):
            task.cancel()

    def _left(self, row: ManifestRow, *, attempts: int = 0, note: str = "") -> RowResult:
        status = self._stop_status or Status.NOT_ATTEMPTED
        message = self._stop_message + (f" ({note})" if note else "")
        return self._result(row, status, message, attempts=attempts)

    # -- pacer events -> observer ---------------------------------------------------------

    def _on_hold(self, seconds: float, rate: float) -> None:
        self._observer.backoff_started(seconds=seconds, reason="rate limited (429)", rate=rate)

    def _on_release(self, rate: float) -> None:
        self._observer.backoff_ended(rate=rate)

    # -- the run --------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        started_at, started = now_iso(), self._clock()
        self._observer.run_started(
            total=self._manifest.total, rate=self.pacer.rate, dry_run=self._config.dry_run
        )
        self._rows = self._manifest.rows()
        workers = [asyncio.create_task(self._worker()) for _ in range(self._config.workers)]
        try:
            await self._produce()
            for _ in workers:
                await self._queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            if self._abort_handle is not None:
                self._abort_handle.cancel()
            self._checker.close()
        # Anything a cancelled producer left behind still gets its row in the report.
        while not self._queue.empty():
            row = self._queue.get_nowait()
            if row is not None:
                self._finish(self._left(row))
        for row in self._drain_rows():
            self._finish(self._left(row))
        duration = max(self._clock() - started, 1e-9)
        counts = dict(self._report.counts)
        uploaded = counts.get(Status.UPLOADED, 0)
        summary = RunSummary(
            counts=counts,
            started_at=started_at,
            finished_at=now_iso(),
            duration_s=round(duration, 3),
            requests_sent=self._client.requests if self._client else 0,
            uploads_per_second=round(uploaded / duration, 3),
            dry_run=self._config.dry_run,
            interrupted=self.interrupted,
            resumes_at=self.resumes_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.resumes_at else None,
            rate=round(self._target_rate, 3),
            plan=self._config.plan if self._config.rate is None else None,
            total=self._manifest.total,
        )
        return summary

    def _drain_rows(self) -> Iterator[ManifestRow]:
        while self._backlog:
            yield self._backlog.popleft()
        if self._rows is not None:
            yield from self._rows

    def _read_batch(self) -> list[ManifestRow]:
        assert self._rows is not None
        return list(itertools.islice(self._rows, READ_BATCH))

    async def _produce(self) -> None:
        while True:
            if not self._backlog:
                # Reading and parsing the manifest is blocking I/O: do it in a thread, in batches.
                batch = await asyncio.to_thread(self._read_batch)
                if not batch:
                    return
                self._backlog.extend(batch)
            while self._backlog:
                row = self._backlog[0]
                if self.stopping:
                    # Let the rows in flight finish first, so the rows reported from here on
                    # are written at once instead of piling up behind them in the report.
                    if self._inflight:
                        await asyncio.wait(set(self._inflight))
                    self._backlog.popleft()
                    self._finish(self._left(row))
                    continue
                await self._queue.put(row)
                self._backlog.popleft()

    async def _worker(self) -> None:
        while True:
            row = await self._queue.get()
            if row is None:
                return
            if self.stopping:
                self._finish(self._left(row))
                continue
            task = asyncio.create_task(self._process(row))
            self._inflight.add(task)
            try:
                result = await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the worker itself is being cancelled
                result = self._result(
                    row,
                    Status.NOT_ATTEMPTED,
                    "interrupted while uploading: it may or may not have reached Zoom"
                    " — run again to make sure",
                )
            except Exception as exc:  # a bug: the row still gets its line, the worker goes on
                result = self._result(
                    row,
                    Status.FAILED,
                    one_line(f"internal error: {type(exc).__name__}: {exc} — please report it"),
                )
            finally:
                self._inflight.discard(task)
            self._finish(result)

    def _finish(self, result: RowResult) -> None:
        self._report.add(result)
        self._observer.row_finished(result)

    def _result(
        self, row: ManifestRow, status: Status, message: str, *, attempts: int = 0
    ) -> RowResult:
        return RowResult(
            row=row.row,
            user=row.user,
            file=row.file,
            status=status,
            message=message,
            attempts=attempts,
            finished_at=now_iso(),
            extra={"line": str(row.line)},
        )

    # -- one row --------------------------------------------------------------------------

    async def _process(self, row: ManifestRow) -> RowResult:
        begun = self._clock()
        if self._done_before is not None and row.user and user_key(row.user) in self._done_before:
            return self._result(row, Status.SKIPPED, f"not retried: done in {self._retry_source}")
        tries = _Attempts(started=begun)
        meta: PreparedImage | None = None
        try:
            # The duplicate check must run before the first await, in manifest order.
            user = self._checker.check_user_of(row)
            record = self._last_upload(user)
            skipped = await self._skip_unchanged(row, record) if record is not None else None
            if skipped is not None:
                result = skipped
            else:
                meta = await self._checker.inspect(row)
                result = await self._handle(row, user, meta, tries, record)
        except InvalidRow as exc:
            result = self._result(row, Status.INVALID, one_line(str(exc)))
        except _Stopped:
            result = self._left(row, attempts=tries.sent, note=self._last_note(tries))
        except DailyLimitReached as exc:
            resets = exc.resets_at
            self.resumes_at = resets
            when = f"{resets:%Y-%m-%d %H:%M} UTC" if resets else "the next day (00:00 UTC)"
            self._halt(
                Status.DEFERRED, f"not sent: Zoom's daily limit is spent; run again after {when}"
            )
            result = self._left(row, attempts=tries.sent)
        except FatalError as exc:
            self._halt(Status.NOT_ATTEMPTED, f"not sent: the run stopped — {exc.message}")
            result = self._failed(row, exc, tries)
        except ApiError as exc:
            result = self._failed(row, exc, tries)
        if meta is not None and result.sha256 is None:
            result.bytes, result.sha256 = meta.size, meta.sha256
        result.duration_ms = round((self._clock() - begun) * 1000)
        return result

    def _last_upload(self, user: str) -> UploadRecord | None:
        """What the state store knows of ``user``, when unchanged rows may be skipped."""
        if self._config.dry_run or self._config.force or self._state is None:
            return None
        return self._state.last_upload(user)

    async def _skip_unchanged(self, row: ManifestRow, record: UploadRecord) -> RowResult | None:
        """The row's result when its file is byte for byte the one ``record`` says was sent.

        Hashing the file is enough then: Zoom accepted these very bytes, so the image checks
        (about a third of a skipped row's CPU: bench/skip_unchanged.py) are not needed.
        """
        found = await self._checker.digest(row)
        if found is None or found[1] != record.sha256:
            return None  # changed or unreadable: the full checks say what to do
        result = self._unchanged(row, record.uploaded_at)
        result.bytes, result.sha256 = found
        return result

    def _unchanged(self, row: ManifestRow, uploaded_at: str) -> RowResult:
        when = uploaded_at.replace("T", " ").rstrip("Z")
        return self._result(row, Status.SKIPPED, f"unchanged since {when} UTC")

    def _last_note(self, tries: _Attempts) -> str:
        return f"after {_plural(tries.sent, 'attempt')}" if tries.sent else ""

    def _failed(self, row: ManifestRow, exc: ApiError, tries: _Attempts) -> RowResult:
        result = self._result(
            row,
            Status.FAILED,
            f"{exc.message} ({_plural(tries.sent, 'attempt')})",
            attempts=tries.sent,
        )
        result.http_status, result.zoom_code = exc.http_status, exc.zoom_code
        return result

    async def _handle(
        self,
        row: ManifestRow,
        user: str,
        meta: PreparedImage,
        tries: _Attempts,
        record: UploadRecord | None,
    ) -> RowResult:
        fitted = (
            f"fitted from {_human_size(meta.original_size)} to {_human_size(meta.size)}"
            if meta.original_size is not None
            else ""
        )
        if self._config.dry_run:
            result = self._result(
                row, Status.VALID, "ready to upload" + (f"; {fitted}" if fitted else "")
            )
        else:
            # The file's own hash differed; with --fit the bytes sent may still be the same.
            if record is not None and record.sha256 == meta.sha256:
                result = self._unchanged(row, record.uploaded_at)
            else:
                image = await self._checker.load(row, meta)
                await self._send(user, image, tries)
                if self._state is not None:
                    self._state.record_upload(user, image.sha256)
                result = self._result(
                    row,
                    Status.UPLOADED,
                    "uploaded" + (f"; {fitted}" if fitted else ""),
                    attempts=tries.sent,
                )
                result.http_status = 201
        result.bytes, result.sha256 = meta.size, meta.sha256
        if meta.original_size is not None:
            result.extra["original_bytes"] = str(meta.original_size)
        return result

    # -- sending, with retries ------------------------------------------------------------

    async def _gate(self, tries: _Attempts) -> Ticket:
        """Wait for a send slot; raise :class:`_Stopped` if the run stops meanwhile."""
        while True:
            if self.stopping:
                raise _Stopped
            if self._quota_until is not None:
                wait = self._quota_until - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                    tries.paused += wait
                    continue
                self._quota_until = None
            task = asyncio.current_task()
            assert task is not None
            self._waiting.add(task)
            try:
                ticket = await self.pacer.acquire()
            except asyncio.CancelledError:
                # Cancelled by _halt (the run stops) rather than from outside: not sent.
                if self.stopping and task.uncancel() == 0:
                    raise _Stopped from None
                raise
            finally:
                self._waiting.discard(task)
            if self.stopping:
                raise _Stopped
            return ticket

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake as soon as the run stops."""
        if seconds <= 0 or self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    def _stop_condition(self, tries: _Attempts) -> Callable[[RetryCallState], bool]:
        config = self._config

        def stop(state: RetryCallState) -> bool:
            if self.stopping:
                return True
            if tries.counted >= config.max_attempts:
                return True
            return tries.elapsed(self._clock()) >= config.max_retry_time

        return stop

    def _wait(self, tries: _Attempts) -> Callable[[RetryCallState], float]:
        from tenacity import wait_random_exponential

        backoff = wait_random_exponential(multiplier=0.5, max=30)
        remaining_budget = self._config.max_retry_time

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TokenExpired):
                return 0.0  # the token was renewed: go again at once
            if isinstance(exc, RateLimited) and exc.retry_after is None:
                return 0.0  # the pacer holds the whole pool; acquiring again waits for it
            if isinstance(exc, TransientError) and exc.retry_after is not None:
                left = remaining_budget - tries.elapsed(self._clock())
                return max(0.0, min(exc.retry_after, left))
            return float(backoff(state))

        return wait

    async def _send(self, user: str, image: PreparedImage, tries: _Attempts) -> None:
        """Send with retries: transient failures and expired tokens go round again."""
        try:
            try:
                await self._attempt(user, image, tries)
                return
            except (TransientError, TokenExpired) as exc:
                failed: BaseException | None = exc
            # The first attempt runs outside tenacity, whose machinery cost ~0.15 ms per row
            # even when nothing is retried (bench/ablation.py); tenacity's first attempt
            # replays its failure, so the policy (stop, wait, attempt count) is unchanged.
            # Imported here: most runs never retry, and the import is start-up time.
            from tenacity import AsyncRetrying, retry_if_exception_type

            retrying = AsyncRetrying(
                retry=retry_if_exception_type((TransientError, TokenExpired)),
                stop=self._stop_condition(tries),
                wait=self._wait(tries),
                sleep=self._sleep,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    if failed is not None:
                        replay, failed = failed, None
                        raise replay
                    await self._attempt(user, image, tries)
        except (TransientError, TokenExpired):
            if self.stopping:
                raise _Stopped from None
            raise

    async def _attempt(self, user: str, image: PreparedImage, tries: _Attempts) -> None:
        """One request for the row, through the pacer, with the pool-wide reactions to it."""
        assert self._client is not None
        client = self._client
        ticket = await self._gate(tries)
        token = await client.token()
        tries.sent += 1
        try:
            await client.upload_picture(user, image, token)
        except RateLimited as exc:
            self.pacer.on_rate_limited(ticket, exc.retry_after)
            raise
        except TokenExpired:
            self.pacer.on_success(ticket)
            if tries.renewed:
                tries.counted += 1
                raise
            tries.renewed = True
            await client.renew(token)
            raise
        except DailyLimitReached as exc:
            if not self._config.wait_for_quota:
                raise
            self._wait_for_quota(exc)
            # Retried once the quota returns; the wait is not the row's fault.
            raise TransientError(exc.message, http_status=429, zoom_code=429) from None
        except TransientError:
            tries.counted += 1
            raise
        self.pacer.on_success(ticket)

    def _wait_for_quota(self, exc: DailyLimitReached) -> None:
        resets = exc.resets_at or next_midnight_utc()
        seconds = max(1.0, (resets - datetime.now(UTC)).total_seconds())
        until = self._clock() + seconds
        if self._quota_until is None or until > self._quota_until:
            self._quota_until = until
            self._observer.backoff_started(
                seconds=seconds, reason="daily quota spent (--wait-for-quota)", rate=self.pacer.rate
            )
