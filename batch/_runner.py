"""One run from start to end: check, connect, do the job, report. The library's main entry point.

:func:`run_manifest` returns a :class:`RunHandle`; awaiting it does the set-up a run needs in
the order that fails fastest — config and manifest, credentials, state lock, a first token —
before it creates the report, so a run that cannot start leaves nothing behind and raises a
:class:`~batch.SetupError`. Once rows are being processed, every row ends in the report
whatever happens. :meth:`RunHandle.stop` is what a signal handler calls.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._clock import iso_utc, now_iso
from ._config import Config
from ._exceptions import ConfigError, MissingCredentials, StateError
from ._models import PROBLEM_STATUSES, RunSummary, Status
from ._outputs import contact_sheet, prune
from ._pacing import Pacer
from ._pool import RunControl, WorkerPool
from ._report import (
    ReportWriter,
    default_report_path,
    read_report,
    summary_path,
    write_summary,
)
from ._scopes import UPLOAD_PICTURE, ScopeNeed
from ._sources import Source, StateValidators, directory_photos, open_source
from ._state import StateStore, default_state_path, user_key
from ._window import ByteBudget, InflightWindow
from .jobs import AuditJob, JobContext, RemoveJob, RowJob, UndoJob, UploadJob
from .manifest import Manifest
from .photos import (
    LocalFiles,
    Previews,
    RemotePhotos,
    RoutedPhotos,
    Validators,
    photo_policy,
)
from .ui import RATE_LIMITED, NullObserver, RunObserver

if TYPE_CHECKING:
    import aiohttp

    from ._client import ZoomClient

__all__ = ["JOBS", "JobName", "RunHandle", "run_manifest"]

JobName = Literal["upload", "remove", "undo", "audit"]
#: The jobs :func:`run_manifest` can run: each one's class, and the status of a row it did.
JOBS: dict[str, tuple[type[RowJob], Status]] = {
    "upload": (UploadJob, Status.UPLOADED),
    "remove": (RemoveJob, Status.REMOVED),
    "undo": (UndoJob, Status.RESTORED),
    "audit": (AuditJob, Status.VALID),
}


def run_manifest(
    config: Config,
    manifest_path: Path | str,
    *,
    job: JobName = "upload",
    manifest_format: str | None = None,
    observer: RunObserver | None = None,
) -> RunHandle:
    """Run ``job`` over one manifest: ``summary = await run_manifest(config, path)``.

    The handle's :meth:`~RunHandle.stop` stops the run cleanly (a second call aborts the
    requests in flight). Awaiting raises :class:`~batch.SetupError` before any row is done.
    """
    if job not in JOBS:
        raise ConfigError(f"job: expected one of {', '.join(JOBS)}, got {job!r}")
    return RunHandle(config, manifest_path, job, manifest_format, observer or NullObserver())


class RunHandle:
    """A run: await it once for its :class:`~batch.RunSummary`; :meth:`stop` it meanwhile."""

    def __init__(
        self,
        config: Config,
        manifest_path: Path | str,
        job: JobName,
        manifest_format: str | None,
        observer: RunObserver,
    ) -> None:
        self._config = config
        self._manifest_path = manifest_path
        self._job = job
        self._format = manifest_format
        self._observer = observer
        self._pool: WorkerPool | None = None
        self._task: asyncio.Task[Any] | None = None
        self._stopped_early = False
        self._done_before: frozenset[str] | None = None
        self._stop_code: int | None = None  #: the exit code a stop asked for (130, 143)
        self._warnings: list[str] = []
        self._previews: Previews | None = None
        self._session: aiohttp.ClientSession | None = None  #: once connected
        self._account: Any = None  #: the account's users, listed (audit, --check-users)
        self._source: Source | None = None  #: where the rows come from, once opened

    @property
    def started(self) -> bool:
        """True once rows are being processed (a stop then reports every row)."""
        return self._pool is not None

    def stop(self, *, reason: str = "interrupted", exit_code: int | None = None) -> None:
        """Stop the run: before any row, at once (nothing was sent); else after the rows in
        flight (a second call cancels those too). ``exit_code`` (130 for Ctrl-C, 143 for
        SIGTERM) is the one the summary gives, unless the run also had to stop (2)."""
        if self._stop_code is None:
            self._stop_code = exit_code
        if self._pool is not None:
            self._pool.stop(reason=reason)
        elif not self._stopped_early:
            self._stopped_early = True
            if self._task is not None:
                self._task.cancel()  # still setting up: nothing was sent, nothing to report

    def __await__(self) -> Generator[Any, None, RunSummary]:
        return self.wait().__await__()

    async def wait(self) -> RunSummary:
        """Run to the end and return the summary (raises ``CancelledError`` when stopped
        before any row started)."""
        if self._task is not None:
            raise RuntimeError("a run can be awaited only once")
        self._task = asyncio.current_task()
        if self._stopped_early:  # stopped before it began
            raise asyncio.CancelledError
        if self._config.crop == "face":  # before any row: a missing extra is a setup error
            from .photos import require_face_detector

            require_face_detector()
        job_class = JOBS[self._job][0]
        manifest = self._source = await open_source(
            self._config,
            self._manifest_path,
            format=self._format,
            reads=job_class.reads,
        )
        if not isinstance(manifest, Manifest):  # a directory's (a password sent in the clear)
            self._warnings.extend(manifest.notes)
        try:
            return await self._connect_and_run(manifest, job_class)
        finally:
            manifest.close()  # the private snapshot the rows were read from

    async def _connect_and_run(self, manifest: Source, job_class: type[RowJob]) -> RunSummary:
        config = self._config
        self._done_before = _done_before(config.retry_failed) if config.retry_failed else None
        if config.dry_run:
            return await self._forecast(manifest)
        if (
            manifest.total == 0 and self._job != "audit"
        ):  # a quiet day: nothing to send, no credentials needed
            return await self._execute(manifest, None, None)
        if not config.access_token and not config.has_oauth:
            raise _missing_credentials(config, job_class.scope or UPLOAD_PICTURE)
        # Here, not at the top: a dry run sends nothing, and aiohttp is ~250 ms of start-up
        # (python -X importtime), a third of a `zoom-batch validate` of a few rows.
        import aiohttp

        from ._auth import OAuthTokens, StaticToken, TokenSource
        from ._client import ZoomClient

        timeout = aiohttp.ClientTimeout(
            total=config.request_timeout, sock_connect=config.connect_timeout
        )
        from ._fetch import guarded_connector

        # Every socket is checked (photo URLs may not reach private addresses); the Zoom calls
        # share the pool with the photo downloads, one of each per row at most.
        connector = guarded_connector(limit=config.workers + 8)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            self._session = session
            tokens: TokenSource
            if config.access_token:
                tokens = StaticToken(config.access_token)
            else:
                assert config.account_id and config.client_id and config.client_secret
                tokens = OAuthTokens(
                    session,
                    oauth_url=config.oauth_url,
                    account_id=config.account_id,
                    client_id=config.client_id,
                    client_secret=config.client_secret,
                    on_renewed=self._observer.token_renewed,
                    need=job_class.scope,
                )
            client = ZoomClient(
                session,
                tokens,
                api_url=config.api_url,
                api_url_explicit=config.api_url_explicit,
            )
            state = _open_state(config)
            try:
                # A first token now: bad credentials stop the run before the report exists.
                await client.token()
                if self._job == "audit" or (config.check_users and self._job == "upload"):
                    from ._lifecycle import prepare

                    if not isinstance(manifest, Manifest):
                        raise ConfigError("audit and --check-users read a manifest, not LDAP")

                    manifest, self._account = await prepare(self._job, config, manifest, client)
                return await self._execute(manifest, client, state)
            finally:
                if state is not None:
                    state.close()
                if self._account is not None:
                    self._account.close()

    async def _forecast(self, manifest: Source) -> RunSummary:
        """A dry run: nothing sent; the state store read, photo URLs downloaded to be checked."""
        state = self._peek_state()
        try:
            if not self._config.allow_hosts:
                return await self._execute(manifest, None, state)
            import aiohttp

            from ._fetch import guarded_connector

            connector = guarded_connector(limit=self._config.workers + 8)
            async with aiohttp.ClientSession(connector=connector) as session:
                self._session = session
                return await self._execute(manifest, None, state)
        finally:
            if state is not None:
                state.close()

    def _peek_state(self) -> StateStore | None:
        """The state store, read-only, for a forecast that knows which rows are unchanged."""
        config = self._config
        if config.no_state or config.force:
            return None
        path = config.state
        if path is None:
            account = config.account_id or ("access-token" if config.access_token else None)
            if account is None:  # no credentials: which account's store is not known
                return None
            path = default_state_path(account)
        try:
            return StateStore.peek(path, account_id=None if config.state else config.account_id)
        except StateError as exc:
            if "in use" not in str(exc):
                raise
            self._warnings.append(f"{exc}: this forecast does not know which photos are unchanged")
            return None

    def _make_job(self, context: JobContext) -> RowJob:
        config = self._config
        if self._job == "remove":
            return RemoveJob(context)
        if self._job == "audit":
            from ._lifecycle import audit_job

            return audit_job(config, context, self._account)
        state = context.state
        validators = None if state is None else StateValidators(state, read_only=config.dry_run)
        assert self._source is not None
        photos = directory_photos(self._source, config, context.budget, validators)
        if photos is None:
            local = LocalFiles(
                fit=config.fit,
                fit_max_edge=config.fit_max_edge,
                root=config.root,
                budget=context.budget,
                crop=config.crop,
                previews=self._previews,
            )
            photos = RoutedPhotos(local, self._remote_photos(context, validators))
        job = (UndoJob if self._job == "undo" else UploadJob)(context, photos, fit=config.fit)
        if self._job == "upload" and (config.backup or self._account) and context.sender:
            from ._lifecycle import attach

            attach(job, config, context, self._session, self._account)
        return job

    def _remote_photos(self, context: JobContext, validators: Validators | None) -> RemotePhotos:
        """Photos at URLs: fetched over the run's session under ``--allow-host``; without an
        allowed host no session is needed (every URL is refused, naming the flag)."""
        from ._fetch import Fetcher, NoFetcher

        config, control = self._config, context.control
        fetcher: Fetcher | NoFetcher = NoFetcher()
        if self._session is not None:
            fetcher = Fetcher(
                self._session,
                budget=context.budget,
                sleep=control.sleep,
                cancelled=lambda: control.stopping,
            )
        return RemotePhotos(
            fetcher,
            photo_policy(allow_hosts=config.allow_hosts, headers=config.photo_headers),
            fit=config.fit,
            fit_max_edge=config.fit_max_edge,
            validators=validators,
            crop=config.crop,
            previews=self._previews,
        )

    async def _execute(
        self, manifest: Source, client: ZoomClient | None, state: StateStore | None
    ) -> RunSummary:
        config, observer = self._config, self._observer
        report = ReportWriter(config.report or default_report_path(), manifest.extra_columns)
        control = RunControl()
        pacer = Pacer(config.ceiling, policy=config.pacing)
        target_rate = pacer.rate  # the pace aimed at: just under the ceiling
        pacer.add_listener(
            lambda seconds, rate: observer.backoff_started(
                seconds=seconds, reason=RATE_LIMITED, rate=rate
            ),
            lambda rate: observer.backoff_ended(rate=rate),
        )
        sender = None
        if client is not None:
            from ._sender import Sender

            sender = Sender(
                client,
                pacer,
                control,
                retry=config.retry,
                wait_for_quota=config.wait_for_quota,
                on_quota_wait=lambda seconds, rate: observer.backoff_started(
                    seconds=seconds,
                    reason="daily quota spent (--wait-for-quota)",
                    rate=rate,
                ),
            )
        window = InflightWindow(cap=config.workers, rate=lambda: pacer.rate)
        budget = ByteBudget(config.memory_budget)
        context = JobContext(
            window=window,
            budget=budget,
            control=control,
            sender=sender,
            state=state,
            force=config.force,
            done_before=self._done_before,
            retry_source=str(config.retry_failed or ""),
            forecast=config.dry_run,
        )
        # --crop with --html: previews of what each check cut, for the contact sheet.
        self._previews = Previews() if config.html and config.crop != "none" else None
        job = self._make_job(context)

        def finish(result: Any) -> None:
            report.add(result)
            if report.error is not None:
                control.fail(report.error)  # no row may go unreported: stop sending
            observer.row_finished(result)

        pool = WorkerPool(job, workers=config.workers, control=control, sink=finish, window=window)
        started_at, started = now_iso(), time.monotonic()
        observer.run_started(total=manifest.total, rate=target_rate, dry_run=config.dry_run)
        self._pool = pool
        try:
            await pool.run(manifest.rows())
        except BaseException:
            report.abandon()
            raise
        finally:
            job.close()
        duration = max(time.monotonic() - started, 1e-9)
        counts = dict(report.counts)
        done = counts.get(JOBS[self._job][1], 0)
        summary = RunSummary(
            counts=counts,
            started_at=started_at,
            finished_at=now_iso(),
            duration_s=round(duration, 3),
            requests_sent=client.requests if client else 0,
            uploads_per_second=round(done / duration, 3),
            dry_run=config.dry_run,
            interrupted=control.interrupted,
            resumes_at=iso_utc(control.resumes_at) if control.resumes_at else None,
            rate=round(target_rate, 3),
            plan=config.plan if config.rate is None else None,
            total=manifest.total,
            job=self._job,
            report_path=str(report.path),
            summary_path=str(summary_path(report.path)),
            warnings=list(self._warnings),
        )
        _settle(summary, control, self._stop_code)  # how the run went, for a workbook's summary
        await asyncio.to_thread(report.close, summary)  # a workbook takes ~0.4 ms a row
        if report.error is not None:
            control.fail(report.error)
        if config.html is not None and self._job in ("upload", "audit") and not report.error:
            await contact_sheet(
                config.html,
                report.path,
                manifest,
                summary,
                root=config.root,
                previews=self._previews,
            )
        if self._previews is not None:
            self._previews.close()
        if report.error is not None:
            summary.report_path = str(report.partial)
        _settle(summary, control, self._stop_code)
        try:
            write_summary(summary_path(report.path), summary)
        except OSError as exc:
            control.fail(f"cannot write the summary {summary.summary_path} ({exc.strerror or exc})")
            summary.summary_path = None
            _settle(summary, control, self._stop_code)
        if config.keep_reports is not None:
            prune(report, config, summary)
        observer.run_finished(summary)
        return summary


def _settle(summary: RunSummary, control: RunControl, stop_code: int | None) -> None:
    """The summary's stop reason and exit code, from how the run went: 2 when it had to
    stop, else the code of a signal that stopped it (130, 143), else 0 or 1."""
    summary.stopped = control.failure
    if control.failure:
        summary.exit_code = 2
    elif stop_code is not None and control.interrupted:
        summary.exit_code = stop_code
    else:
        summary.exit_code = 0 if summary.problems == 0 else 1


def _missing_credentials(config: Config, scope: ScopeNeed) -> MissingCredentials:
    names = {
        "ZOOM_ACCOUNT_ID": config.account_id,
        "ZOOM_CLIENT_ID": config.client_id,
        "ZOOM_CLIENT_SECRET": config.client_secret,
    }
    missing = ", ".join(name for name, value in names.items() if not value)
    return MissingCredentials(
        f"missing Zoom credentials: set {missing} (a Server-to-Server OAuth app with the scope"
        f" {scope.plain_words()}), or ZOOM_ACCESS_TOKEN"
    )


def _done_before(path: Path) -> frozenset[str]:
    """Users a previous report shows as done (``--retry-failed``)."""
    done = set()
    for row in read_report(path):
        user = row.get("user", "").strip()
        if user and row.get("status", "") not in PROBLEM_STATUSES:
            done.add(user_key(user))
    return frozenset(done)


def _open_state(config: Config) -> StateStore | None:
    if config.no_state:
        return None
    account = config.account_id or "access-token"
    path = config.state or default_state_path(account)
    return StateStore.open(path, account_id=account, run_id=uuid.uuid4().hex[:12])
