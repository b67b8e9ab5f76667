"""The parts of a run that read the account: ``--backup``, ``--check-users`` and ``audit``.

The runner calls :func:`prepare` once connected (``audit`` and ``--check-users`` list the
account's users first: ``GET /users`` for each status, every page, Medium-paced), then
:func:`attach` (an upload's backup and user check) or :func:`audit_job` when it makes the job.
The users listed go into a temporary SQLite database (:class:`AccountUsers`), not a dict: an
account may have 100,000 users.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._backup import LIGHT_RATE, Backup, BackupFolder
from ._exceptions import AccessRefused, InvalidRow
from ._models import ManifestRow
from ._pacing import Pacer
from ._pool import RunControl
from ._retry import Tries
from ._scopes import LIST_USERS
from ._state import user_key
from .jobs.audit import AUDIT_COLUMNS, AuditJob
from .manifest import Manifest

if TYPE_CHECKING:
    import aiohttp

    from ._auth import Token
    from ._client import ZoomClient
    from ._config import Config
    from ._sender import Sender
    from .jobs import JobContext, UploadJob

__all__ = ["STATUSES", "AccountUsers", "AuditManifest", "attach", "audit_job", "prepare"]

#: Every status ``GET /users`` filters by: a listing asks for each.
STATUSES = ("active", "inactive", "pending")
PAGE_SIZE = 300


class AccountUsers:
    """The account's users by key (email lowercased): status, and whether the manifest has
    them. A private temporary SQLite database (deleted on close) with a small page cache;
    the pool reads the manifest in a thread, so every use holds one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        for pragma in ("cache_size = -2048", "journal_mode = OFF", "synchronous = OFF"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(
            "CREATE TABLE users (key TEXT PRIMARY KEY, email TEXT, status TEXT,"
            " listed INTEGER DEFAULT 0) WITHOUT ROWID"
        )
        self.total = 0

    def _query(self, sql: str, *args: str) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def add(self, email: str, status: str) -> None:
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO users (key, email, status) VALUES (?, ?, ?)",
                (user_key(email), email, status),
            )
            self.total += cursor.rowcount

    def status(self, user: str) -> str | None:
        """The user's status in Zoom (active, inactive, pending), None when not a user."""
        found = self._query("SELECT status FROM users WHERE key = ?", user_key(user))
        return str(found[0][0]) if found else None

    def mark(self, user: str) -> None:
        """The manifest names ``user``: it is not listed again among the Zoom-only users."""
        self._query("UPDATE users SET listed = 1 WHERE key = ?", user_key(user))

    def unmarked(self) -> int:
        return int(self._query("SELECT count(*) FROM users WHERE listed = 0")[0][0])

    def outside(self) -> Iterator[tuple[str, str]]:
        """(email, status) of the users the manifest does not name, by email, in batches."""
        after = ""
        while True:
            batch = self._query(
                "SELECT key, email, status FROM users WHERE listed = 0 AND key > ?"
                " ORDER BY key LIMIT 500",
                after,
            )
            if not batch:
                return
            for key, email, status in batch:
                after = key
                yield email, status

    def close(self) -> None:
        with self._lock:
            self._db.close()


def check_scope(token: Token, need: Any, why: str) -> None:
    """Refuse a token whose ``scope`` field lacks ``need`` (a ready token has none)."""
    if token.scopes is not None and not need.met_by(token.scopes):
        raise AccessRefused(
            f"the Zoom app lacks the scope {need.words()}: add it on the app's Scopes page in"
            f" the Zoom App Marketplace ({why})"
        )


async def list_account(client: ZoomClient, config: Config) -> AccountUsers:
    """Every user of the account, each status, every page: one Medium request per page."""
    from ._sender import Sender

    sender = Sender(
        client, Pacer(config.ceiling, policy=config.pacing), RunControl(), retry=config.retry
    )
    account = AccountUsers()
    try:
        for status in STATUSES:
            following: str | None = None
            while True:
                users, following = await _page(sender, status, following)
                for item in users:
                    email = str(item.get("email") or "").strip()
                    if email:
                        account.add(email, str(item.get("status") or status))
                if not following:
                    break
    except BaseException:
        account.close()
        raise
    return account


async def _page(
    sender: Sender, status: str, following: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the account's users of one status, paced and retried."""
    page: list[tuple[list[dict[str, Any]], str | None]] = []

    async def request(client: ZoomClient, token: Token) -> None:
        check_scope(token, LIST_USERS, "listing the account's users needs it")
        found = await client.list_users(
            token, status=status, page_size=PAGE_SIZE, next_page_token=following
        )
        page.append(found)

    await sender.send(request, Tries(started=time.monotonic()))
    return page[-1]


@dataclass(frozen=True)
class AuditManifest(Manifest):
    """The audit's rows: the manifest's, then the account's users the manifest does not name,
    each with its findings as the first extras (:data:`AUDIT_COLUMNS`)."""

    source: Manifest | None = field(default=None, compare=False)
    account: AccountUsers | None = field(default=None, compare=False)

    def rows(self) -> Iterator[ManifestRow]:
        assert self.source is not None and self.account is not None
        account, blanks = self.account, ("",) * len(self.source.extra_columns)
        number = 0
        for row in self.source.rows():
            number = row.row
            status = account.status(row.user.strip())
            found = ("yes", "yes", status or "", "") if status else ("no", "yes", "", "no")
            yield dataclasses.replace(row, extras=(*found, *row.extras))
        for email, status in account.outside():
            number += 1
            extras = ("yes", "no", status, "", *blanks)
            yield ManifestRow(number, 0, email, "", None, extras)


async def prepare(
    job: str, config: Config, manifest: Manifest, client: ZoomClient
) -> tuple[Manifest, AccountUsers]:
    """List the account's users; for ``audit``, the manifest of its rows."""
    account = await list_account(client, config)
    if job != "audit":
        return manifest, account
    for row in manifest.rows():
        account.mark(row.user.strip())
    audit = AuditManifest(
        path=manifest.path,
        format=manifest.format,
        total=manifest.total + account.unmarked(),
        columns=manifest.columns,
        extra_columns=(*AUDIT_COLUMNS, *manifest.extra_columns),
        options=manifest.options,
        source=manifest,
        account=account,
    )
    return audit, account


def light_sender(config: Config, context: JobContext) -> Sender:
    """A sender of its own for Light calls, at the plan's Light rate: apart from the Medium
    pace, so reading users does not slow the uploads."""
    from ._sender import Sender

    assert context.sender is not None
    pacer = Pacer(LIGHT_RATE[config.plan], policy=config.pacing)
    return Sender(context.sender.client, pacer, context.control, retry=config.retry)


def audit_job(config: Config, context: JobContext, account: AccountUsers | None) -> AuditJob:
    light = None if context.sender is None or account is None else light_sender(config, context)
    return AuditJob(context, light)


def attach(
    job: UploadJob,
    config: Config,
    context: JobContext,
    session: aiohttp.ClientSession | None,
    account: AccountUsers | None,
) -> None:
    """Give an upload job its ``--backup`` and ``--check-users`` steps, as configured."""
    if account is not None:
        job.check_user = _UserGate(account)
    if config.backup is not None and context.sender is not None and session is not None:
        from ._fetch import Fetcher

        control = context.control
        fetcher = Fetcher(
            session, budget=context.budget, sleep=control.sleep, cancelled=lambda: control.stopping
        )
        folder = BackupFolder(config.backup)
        job.before_send = Backup(folder, light_sender(config, context), fetcher)


class _UserGate:
    """``--check-users``: a user not in the account is refused before anything is sent."""

    def __init__(self, account: AccountUsers) -> None:
        self._account = account

    async def __call__(self, row: ManifestRow, user: str) -> str:
        status = self._account.status(user)
        if status is None:
            raise InvalidRow("not a user of this Zoom account (--check-users)")
        return "" if status == "active" else f" (note: the user is {status} in Zoom)"
