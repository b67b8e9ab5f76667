"""The state store: per account, the digest of the picture last uploaded for each user.

A nightly import of thousands of users sends only the pictures that changed, and a run killed
with ``kill -9`` resumes by running the same command again. One SQLite file per Zoom account
(stdlib ``sqlite3``, WAL), used by one run at a time: an OS advisory lock on the sidecar file
``<path>.lock`` is held for the store's lifetime, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ._clock import now_iso
from ._exceptions import StateError
from ._state_lock import StoreLock

__all__ = ["SCHEMA_VERSION", "StateStore", "UploadRecord", "default_state_path", "user_key"]

#: Version of the tables below; a file with a higher one was written by a newer zoom-batch.
SCHEMA_VERSION = 2

_APP_DIR = "zoom-batch"
_SUFFIX = ".sqlite3"
# Only an external reader (the sqlite3 shell, a backup) can hold the database: we hold the lock.
_BUSY_TIMEOUT_MS = 2000
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_UNSAFE_CHARS_RE = re.compile(r"[^A-Za-z0-9_-]+")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    # The primary key is the index every lookup uses.
    "CREATE TABLE uploads ("
    " user_key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, uploaded_at TEXT NOT NULL,"
    " run_id TEXT NOT NULL"
    ") WITHOUT ROWID",
)
#: Schema 2 (one migration for all that came with it): what a photo URL's server said of it
#: (ETag, Last-Modified) and what its download became; and the users whose picture a run
#: removed (``zoom-batch remove``, ``undo``).
_SCHEMA_2 = (
    "CREATE TABLE url_validators ("
    " url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, sha256 TEXT NOT NULL,"
    " size INTEGER NOT NULL, source_sha256 TEXT NOT NULL, prepared TEXT NOT NULL,"
    " checked_at TEXT NOT NULL"
    ") WITHOUT ROWID",
    "CREATE TABLE removals ("
    " user_key TEXT PRIMARY KEY, removed_at TEXT NOT NULL, run_id TEXT NOT NULL"
    ") WITHOUT ROWID",
)
#: The columns the statements below read and write (a look-alike table must not pass for ours).
_TABLE_COLUMNS = {
    "meta": {"key", "value"},
    "uploads": {"user_key", "sha256", "uploaded_at", "run_id"},
    "url_validators": {
        "url",
        "etag",
        "last_modified",
        "sha256",
        "size",
        "source_sha256",
        "prepared",
        "checked_at",
    },
    "removals": {"user_key", "removed_at", "run_id"},
}
# Constant SQL strings, so sqlite3's statement cache prepares each one once per connection.
_SELECT_UPLOAD = "SELECT sha256, uploaded_at, run_id FROM uploads WHERE user_key = ?"
_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"
_DELETE_UPLOAD = "DELETE FROM uploads WHERE user_key = ?"
_UPSERT_REMOVAL = "INSERT OR REPLACE INTO removals (user_key, removed_at, run_id) VALUES (?, ?, ?)"
_SELECT_URL = (
    "SELECT etag, last_modified, sha256, size, source_sha256, prepared FROM url_validators"
    " WHERE url = ?"
)
_UPSERT_URL = "INSERT OR REPLACE INTO url_validators VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_UPSERT_UPLOAD = (
    "INSERT OR REPLACE INTO uploads (user_key, sha256, uploaded_at, run_id) VALUES (?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """The last successful upload for one user."""

    sha256: str  #: hex digest of the bytes sent
    uploaded_at: str  #: ISO-8601 UTC, seconds precision, e.g. ``2026-11-27T02:00:00Z``
    run_id: str  #: the run that sent them


def default_state_path(
    account_id: str,
    *,
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
) -> Path:
    """The per-account state file in the user's state folder.

    ``$XDG_STATE_HOME/zoom-batch/<account>.sqlite3`` (else ``~/.local/state/zoom-batch/``);
    on macOS ``~/Library/Application Support/zoom-batch/``; on Windows
    ``%LOCALAPPDATA%\\zoom-batch\\``. ``environ`` and ``platform`` default to
    ``os.environ`` and ``sys.platform``.
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if plat == "win32":
        local = env.get("LOCALAPPDATA", "")
        base = Path(local) if local else Path.home() / "AppData" / "Local"
    elif plat == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        # XDG Base Directory spec: a relative value is invalid and must be ignored.
        xdg = env.get("XDG_STATE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / _APP_DIR / (_safe_file_stem(account_id) + _SUFFIX)


def _safe_file_stem(account_id: str) -> str:
    """``account_id`` itself when it is a safe file name, else its readable part and a hash."""
    if not account_id.strip():
        raise ValueError("account_id is empty")
    if _SAFE_NAME_RE.fullmatch(account_id) and account_id.upper() not in _WINDOWS_RESERVED:
        return account_id
    readable = _UNSAFE_CHARS_RE.sub("_", account_id).strip("_-")[:40] or "account"
    digest = hashlib.sha256(account_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{readable}-{digest}"


def user_key(user: str) -> str:
    """The key a user is stored under: trimmed; emails lowercased; user IDs kept as they are.

    Zoom treats email addresses case-insensitively but user IDs are case-sensitive.
    """
    key = user.strip()
    if not key:
        raise ValueError("user is empty")
    return key.lower() if "@" in key else key


class StateStore:
    """One account's upload history, held by one run at a time. Open with :meth:`open`."""

    path: Path
    account_id: str
    run_id: str

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: StoreLock, *, account_id: str, run_id: str
    ) -> None:
        self.path = path
        self.account_id = account_id
        self.run_id = run_id
        self._conn: sqlite3.Connection | None = conn
        self._lock = lock

    @classmethod
    def open(cls, path: Path, *, account_id: str, run_id: str) -> StateStore:
        """Lock and open the store at ``path``, creating folders and tables when new.

        Raises :class:`StateError` with a one-line message naming ``path`` when another run
        holds the store, the file is not a zoom-batch state file (or is damaged), it belongs
        to another account, or a newer zoom-batch wrote it.
        """
        if not account_id:
            raise ValueError("account_id is empty")
        path = Path(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the folder for {path}: {exc.strerror}") from exc
        # Lock before reading the database, so a second run never touches it.
        lock = StoreLock.acquire(path, run_id=run_id)
        conn: sqlite3.Connection | None = None
        try:
            try:
                conn = _connect(path)
                _prepare(conn, path, account_id=account_id)
            # OperationalError (locked, read-only, disk full, I/O) is a subclass of DatabaseError:
            # the rest (not a database, malformed) mean the file itself is wrong.
            except sqlite3.OperationalError as exc:
                raise StateError(f"cannot use {path}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                raise _not_ours(path, str(exc)) from exc
            return cls(path, conn, lock, account_id=account_id, run_id=run_id)
        except BaseException:
            if conn is not None:
                conn.close()
            lock.release()
            raise

    @classmethod
    def peek(cls, path: Path, *, account_id: str | None = None) -> StateStore | None:
        """Open the store at ``path`` read-only and without the lock, for a forecast (a dry run,
        ``validate``): None when there is no such file. Writing to it raises StateError.

        ``account_id`` None accepts a store of any account (a dry run may have no credentials).
        Raises StateError as :meth:`open` does, and when a run holds the store.
        """
        path = Path(path)
        if not path.is_file():
            return None
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=0.5, isolation_level=None
            )
            tables = {n for (n,) in conn.execute(_TABLES)}
            _check_ours(conn, path, tables, account_id=account_id)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.OperationalError):
                if "locked" in str(exc):
                    raise StateError(f"{path} is in use by a zoom-batch run") from exc
                raise StateError(f"cannot read {path}: {exc}") from exc
            if isinstance(exc, sqlite3.DatabaseError):
                raise _not_ours(path, str(exc)) from exc
            raise
        return cls(path, conn, StoreLock.none(), account_id=account_id or "", run_id="")

    def last_upload(self, user: str) -> UploadRecord | None:
        """The last successful upload recorded for ``user``, or None."""
        try:
            row = self._connection().execute(_SELECT_UPLOAD, (user_key(user),)).fetchone()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read {self.path}: {exc}") from exc
        return None if row is None else UploadRecord(row[0], row[1], row[2])

    def record_upload(self, user: str, sha256: str, *, uploaded_at: str | None = None) -> None:
        """Record that ``sha256`` was uploaded for ``user`` by this run; committed at once.

        ``uploaded_at`` defaults to now (UTC, ``YYYY-MM-DDTHH:MM:SSZ``).
        """
        if not _SHA256_RE.fullmatch(sha256):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
        if uploaded_at is None:
            uploaded_at = now_iso()
        elif not _TIMESTAMP_RE.fullmatch(uploaded_at):
            raise ValueError(f"uploaded_at must be like 2026-11-27T02:00:00Z, got {uploaded_at!r}")
        # Autocommit: this statement is its own transaction. In WAL mode with synchronous=NORMAL
        # the commit is written to the -wal file (the OS's page cache) before execute() returns,
        # so it survives the process being killed; only a power loss or OS crash can lose the
        # last commits, and never corrupts the file (fsync happens at checkpoints).
        try:
            self._connection().execute(
                _UPSERT_UPLOAD, (user_key(user), sha256, uploaded_at, self.run_id)
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}") from exc

    def forget_upload(self, user: str) -> None:
        """Forget ``user``'s last upload and remember that this run removed the user's
        picture; committed at once."""
        key = user_key(user)
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_DELETE_UPLOAD, (key,))
            conn.execute(_UPSERT_REMOVAL, (key, now_iso(), self.run_id))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._connection().execute("ROLLBACK")
            raise StateError(f"cannot write {self.path}: {exc}") from exc

    def removed_at(self, user: str) -> str | None:
        """When a run last removed ``user``'s picture (ISO-8601 UTC), if one did."""
        row = self._read("SELECT removed_at FROM removals WHERE user_key = ?", user_key(user))
        return None if row is None else str(row[0])

    def url_record(self, url: str) -> tuple[str | None, str | None, str, int, str, str] | None:
        """What was said of a photo URL last time: (etag, last_modified, sha256, size,
        source_sha256, prepared), or None."""
        row = self._read(_SELECT_URL, url)
        return None if row is None else (row[0], row[1], row[2], int(row[3]), row[4], row[5])

    def record_url(
        self,
        url: str,
        record: tuple[str | None, str | None, str, int, str, str],
    ) -> None:
        """Remember :meth:`url_record`'s fields for ``url``; committed at once."""
        try:
            self._connection().execute(_UPSERT_URL, (url, *record, now_iso()))
        except sqlite3.Error as exc:
            raise StateError(f"cannot write {self.path}: {exc}") from exc

    def _read(self, sql: str, key: str) -> tuple[Any, ...] | None:
        try:
            row: tuple[Any, ...] | None = self._connection().execute(sql, (key,)).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a schema-1 store opened read-only (a forecast)
                return None
            raise StateError(f"cannot read {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StateError(f"cannot read {self.path}: {exc}") from exc
        return row

    def close(self) -> None:
        """Close the database and release the lock. Safe to call twice."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            finally:
                self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._conn is not None else "closed"
        return f"<StateStore {str(self.path)!r} account={self.account_id!r} {state}>"

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"{self.path} is closed")
        return self._conn


def _not_ours(path: Path, reason: str) -> StateError:
    return StateError(
        f"{path} is not a zoom-batch state file ({reason}) — move it away or pass --state"
    )


def _connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` (creating it owner-only when missing) in autocommit mode."""
    if not path.exists():
        # SQLite gives the -wal file the database's permissions: keep the emails private.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    elif path.is_file():
        # Refuse other files before SQLite opens them: it may write to a foreign database.
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
        if head and head != _SQLITE_MAGIC:
            raise _not_ours(path, "file is not a database")
    else:
        raise _not_ours(path, "it is not a regular file")
    # isolation_level=None: no implicit transactions, each write commits at once.
    return sqlite3.connect(
        path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, cached_statements=16
    )


def _prepare(conn: sqlite3.Connection, path: Path, *, account_id: str) -> None:
    """Check a file is ours, for this account and schema; or create the tables in a new one.

    sqlite3 errors propagate: the caller translates them.
    """
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    # Our own lock already makes the store single-run. Set before the first read, EXCLUSIVE
    # keeps SQLite's locks for the connection's life and its WAL index in process memory (no
    # -shm file): last_upload 9 -> 5.5 us, record_upload 38 -> 29 us here, WAL safe on network
    # folders, and a second line of defence against a concurrent writer. External readers
    # (the sqlite3 shell) wait until the run ends.
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    tables = {n for (n,) in conn.execute(_TABLES)}
    if not tables:
        _set_pragmas(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in (*_SCHEMA, *_SCHEMA_2):
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("account_id", account_id),
                    ("created_at", now_iso()),
                ],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return

    version = _check_ours(conn, path, tables, account_id=account_id)
    _set_pragmas(conn)
    if version < 2:  # schema 1 (zoom-batch 0.1) upgrades in place, in one transaction
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA_2:
                conn.execute(statement)
            conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _check_ours(
    conn: sqlite3.Connection, path: Path, tables: set[str], *, account_id: str | None
) -> int:
    """The schema version of the store; raises StateError unless the file is a zoom-batch
    store this version reads, of ``account_id`` (any account when None), undamaged. Reads
    only: a foreign or newer file must be left exactly as it was."""
    if "meta" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise _not_ours(path, f"it holds other tables: {shown}")
    if "uploads" not in tables:
        raise _not_ours(path, "its tables are not the ones zoom-batch writes")
    for table, wanted in _TABLE_COLUMNS.items():
        if table not in tables:  # meta and uploads are there: schema 1 has no others
            continue
        have = {column for (_, column, *_) in conn.execute(f"PRAGMA table_info({table})")}
        if missing := sorted(wanted - have):
            raise _not_ours(path, f"its {table} table has no column {', '.join(missing)}")
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    version_text = meta.get("schema_version", "")
    if not version_text.isdigit() or "account_id" not in meta or "uploads" not in tables:
        raise _not_ours(path, "its tables are not the ones zoom-batch writes")
    version = int(version_text)
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path} was written by a newer zoom-batch (state schema {version}; this one reads "
            f"up to {SCHEMA_VERSION}) — upgrade zoom-batch or pass --state"
        )
    if account_id is not None and meta["account_id"] != account_id:
        raise StateError(
            f"{path} belongs to Zoom account {meta['account_id']}, not {account_id} "
            "— pass --state to use another file"
        )
    # Finds damage before a run relies on the file; opening a 10,000-row store takes ~4 ms.
    problems = [msg for (msg,) in conn.execute("PRAGMA quick_check(1)")]
    if problems != ["ok"]:
        # quick_check's report spans lines; the CLI's message must stay one line.
        raise _not_ours(path, f"damaged: {' '.join(problems[0].split())}")
    if version >= 2 and not {"url_validators", "removals"} <= tables:
        raise _not_ours(path, "its tables are not the ones zoom-batch writes")
    return version


def _set_pragmas(conn: sqlite3.Connection) -> None:
    # WAL: readers never block the writer and a commit appends to the log instead of rewriting
    # pages. Where WAL is unavailable SQLite keeps its rollback journal: slower, just as safe.
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode fsyncs only at checkpoints: durable against a process crash (kill -9),
    # may lose the last commits on power loss, never corrupts.
    conn.execute("PRAGMA synchronous = NORMAL")
