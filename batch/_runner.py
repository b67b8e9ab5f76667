"""One run from start to end: check, connect, upload, report. The library's main entry point.

:func:`run_manifest` does the set-up a run needs in the order that fails fastest — config and
manifest, credentials, state lock, a first token — before it creates the report, so a run that
cannot start leaves nothing behind and raises a :class:`SetupError`. Once rows are being
processed, every row ends in the report whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from ._auth import OAuthTokens, StaticToken, TokenSource
from ._client import ZoomClient
from ._config import Config
from ._exceptions import CredentialsError
from ._models import RunSummary
from ._pool import BatchRun
from ._report import (
    RETRY_STATUSES,
    ReportWriter,
    default_report_path,
    read_report,
    summary_path,
    write_summary,
)
from ._state import StateStore, default_state_path, user_key
from .manifest import Manifest, open_manifest
from .ui import RunObserver

if TYPE_CHECKING:
    from .simulator import SimulatorOptions


def _missing_credentials(config: Config) -> CredentialsError:
    names = {
        "ZOOM_ACCOUNT_ID": config.account_id,
        "ZOOM_CLIENT_ID": config.client_id,
        "ZOOM_CLIENT_SECRET": config.client_secret,
    }
    missing = ", ".join(name for name, value in names.items() if not value)
    return CredentialsError(
        f"missing Zoom credentials: set {missing} (a Server-to-Server OAuth app with scope"
        " user:write:admin), or ZOOM_ACCESS_TOKEN; or try --simulate"
    )


def _done_before(path: Path) -> frozenset[str]:
    """Users a previous report shows as uploaded or skipped (``--retry-failed``)."""
    done = set()
    for row in read_report(path):
        user = row.get("user", "").strip()
        if user and row.get("status", "") not in RETRY_STATUSES:
            done.add(user_key(user))
    return frozenset(done)


@contextlib.asynccontextmanager
async def _simulated(config: Config, options: SimulatorOptions | None) -> AsyncIterator[Config]:
    """Start the simulator in-process (when asked) and point the config at it."""
    if options is None:
        yield config
        return
    from .simulator import Simulator  # only here: a real run never loads the simulator

    async with Simulator(options) as simulator:
        yield replace(
            config,
            api_url=simulator.api_url,
            api_url_explicit=True,
            oauth_url=simulator.oauth_url,
            account_id=options.account_id,
            client_id=options.client_id,
            client_secret=options.client_secret,
            access_token=None,
        )


async def run_manifest(
    config: Config,
    manifest_path: Path,
    *,
    manifest_format: str | None = None,
    observer: RunObserver,
    simulator: SimulatorOptions | None = None,
    on_start: Callable[[BatchRun], None] | None = None,
    on_token_renewed: Callable[[], None] | None = None,
) -> RunSummary:
    """Run one manifest and return its summary. Raises :class:`SetupError` before any row."""
    manifest = open_manifest(manifest_path, format=manifest_format)
    done_before = _done_before(config.retry_failed) if config.retry_failed else None
    if config.dry_run:
        return await _execute(config, manifest, observer, done_before, None, None, on_start)
    async with _simulated(config, simulator) as config:
        if not config.access_token and not config.has_oauth:
            raise _missing_credentials(config)
        timeout = aiohttp.ClientTimeout(
            total=config.request_timeout, sock_connect=config.connect_timeout
        )
        connector = aiohttp.TCPConnector(limit=config.workers + 4)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
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
                    on_renewed=on_token_renewed or observer.token_renewed,
                )
            client = ZoomClient(
                session, tokens, api_url=config.api_url, api_url_explicit=config.api_url_explicit
            )
            state = _open_state(config)
            try:
                # A first token now: bad credentials stop the run before the report exists.
                await client.token()
                return await _execute(
                    config, manifest, observer, done_before, client, state, on_start
                )
            finally:
                if state is not None:
                    state.close()


def _open_state(config: Config) -> StateStore | None:
    if config.no_state:
        return None
    account = config.account_id or "access-token"
    path = config.state or default_state_path(account)
    return StateStore.open(path, account_id=account, run_id=uuid.uuid4().hex[:12])


async def _execute(
    config: Config,
    manifest: Manifest,
    observer: RunObserver,
    done_before: frozenset[str] | None,
    client: ZoomClient | None,
    state: StateStore | None,
    on_start: Callable[[BatchRun], None] | None,
) -> RunSummary:
    report_path = config.report or default_report_path()
    report = ReportWriter(report_path)
    run = BatchRun(
        config,
        manifest,
        report,
        observer=observer,
        client=client,
        state=state,
        done_before=done_before,
        retry_source=str(config.retry_failed or ""),
    )
    if on_start is not None:
        on_start(run)
    try:
        summary = await run.run()
    except BaseException:
        report.abandon()
        raise
    report.close()
    summary.report_path = str(report.path)
    summary.summary_path = str(summary_path(report.path))
    summary.exit_code = 0 if summary.problems == 0 else 1
    if config.html is not None:
        from ._html import write_contact_sheet

        try:
            config.html.parent.mkdir(parents=True, exist_ok=True)  # as the report's folder is
            # Thumbnails are CPU work (a few ms each): keep the loop free for signals.
            await asyncio.to_thread(
                write_contact_sheet,
                config.html,
                report.path,
                resolve=manifest.resolve,
                title=f"zoom-batch · {manifest.path.name}",
                counts={status.value: n for status, n in summary.counts.items()},
            )
        except OSError as exc:
            # Every row is done and reported: a missing contact sheet is worth a warning,
            # not a failed run.
            summary.warnings.append(f"--html: cannot write {config.html} ({exc.strerror or exc})")
        else:
            summary.html_path = str(config.html)
    write_summary(summary_path(report.path), summary)
    observer.run_finished(summary)
    return summary
