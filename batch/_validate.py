"""Row validation before any request: the user, duplicates, the file, the image.

Everything here raises :class:`InvalidRow` with a message an HR person can act on. Image checks
are cached per unchanged file (same inode, size and mtime), so a photo used by many rows is read
and decoded once per run; the cache is bounded, so memory stays flat on any manifest.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import sqlite3
import stat
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import aiofiles
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

from ._exceptions import InvalidRow
from ._models import ManifestRow, PreparedImage
from ._state import user_key
from .photos import check_file, not_found, prepare_image

#: Zoom user IDs are short URL-safe strings such as ``KDcuGIm1QgePTO8WbOqwIQ``.
_USER_ID = re.compile(r"[A-Za-z0-9_-]{6,64}")
#: Files up to this size are checked and hashed on the event loop; larger ones in a thread
#: (measured: inline is faster below ~200 KB, a thread above ~400 KB).
_INLINE_LIMIT = 256 * 1024
IMAGE_CACHE_SIZE = 4096


async def _read(path: Path, size: int) -> bytes:
    """A file's bytes: read on the loop when small, else off it."""
    # 10,000 photos of 1-3 KB (bench/skip_unchanged.py): aiofiles' three thread hops (open,
    # read, close) cost ~0.6 ms of CPU per file, a plain read ~0.03 ms.
    if size <= _INLINE_LIMIT:
        return path.read_bytes()  # noqa: ASYNC240 - deliberate, see above
    async with aiofiles.open(path, "rb") as handle:
        return await handle.read()


def _unreadable(shown: str, exc: OSError) -> str:
    return f"cannot read {shown}: {exc.strerror or exc} — check the file and try again"


@functools.lru_cache(maxsize=1024)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """The domain's normalized and IDNA ASCII forms if email-validator accepts it, else None."""
    try:
        found = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return found.domain, found.ascii_domain


def _plain_valid_email(user: str) -> bool:
    """True if ``validate_email(user)`` accepts it, known cheaply; False means: ask it.

    email-validator accepts an unquoted ASCII local part (its own ``DOT_ATOM_TEXT``) as it is,
    so the rest of its verdict is the domain's, checked once per domain here (a run's users
    share a few), and the three lengths it checks. Validating every address in full was ~40%
    of a dry run's time per row (bench/scale.py, 10,000 rows).
    """
    local, _, domain = user.rpartition("@")
    if not DOT_ATOM_TEXT.match(local):
        return False
    forms = _checked_domain(domain)
    if forms is None:
        return False
    return all(len(f"{local}@{d}".encode()) <= EMAIL_MAX_LENGTH for d in (domain, *forms))


def check_user(raw: str) -> str:
    """The user as it will be sent: trimmed; an email, a Zoom user ID, or ``me``."""
    user = raw.strip()
    if not user:
        raise InvalidRow("no user on this row — add the person's email address")
    if user.lower() == "me":
        return "me"
    if "@" in user:
        if _plain_valid_email(user):
            return user
        try:
            validate_email(user, check_deliverability=False)
        except EmailNotValidError as exc:
            reason = str(exc).rstrip(".")
            raise InvalidRow(
                f"'{user}' is not a valid email address: {reason} — fix the user cell"
            ) from None
        return user
    if _USER_ID.fullmatch(user):
        return user
    raise InvalidRow(
        f"'{user}' is not an email address, a Zoom user ID or 'me' — fix the user cell"
    )


class SeenUsers:
    """Which users earlier rows named, to refuse duplicates, in flat memory.

    A private temporary SQLite database (filename ``""``: on disk, deleted on close) with a
    small page cache, rather than a dict: 100,000 emails in a dict cost ~15 MB, here ~2 MB.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA cache_size = -2048")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def first_row(self, key: str, row: int) -> int | None:
        """Remember ``key`` at ``row``; return the earlier row that named it, if any."""
        cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, row))
        if cursor.rowcount:
            return None
        found = self._db.execute("SELECT row FROM seen WHERE key = ?", (key,)).fetchone()
        return int(found[0])

    def close(self) -> None:
        self._db.close()


@dataclass(frozen=True, slots=True)
class _Identity:
    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    fit: bool


class RowChecker:
    """Validates rows in manifest order (call :meth:`check_user_of` before any await)."""

    def __init__(self, *, fit: bool, fit_max_edge: int, root: Path | None) -> None:
        self._fit = fit
        self._max_edge = fit_max_edge
        self._root = root.resolve() if root is not None else None
        self._seen = SeenUsers()
        self._cache: OrderedDict[_Identity, PreparedImage | InvalidRow] = OrderedDict()
        self.decoded = 0  #: images decoded (cache misses), for tests and benchmarks

    def close(self) -> None:
        self._seen.close()

    def check_user_of(self, row: ManifestRow) -> str:
        """The row's user, refusing a bad one and every repeat of an earlier row's user."""
        user = check_user(row.user)
        first = self._seen.first_row(user_key(user), row.row)
        if first is not None:
            raise InvalidRow(
                f"duplicate of row {first} (same user) — only the first row for a user is used;"
                " remove this row or fix its user"
            )
        return user

    def _path_of(self, row: ManifestRow) -> Path:
        if row.path is None:
            raise InvalidRow("no file on this row — add the photo's file name")
        if self._root is not None:
            try:
                real = row.path.resolve()
            except (OSError, RuntimeError):
                real = row.path
            if not real.is_relative_to(self._root):
                raise InvalidRow(
                    f"file {row.file} is outside the allowed folder {self._root} (--root)"
                    " — move the photo into that folder or fix the path"
                )
        return row.path

    async def inspect(self, row: ManifestRow) -> PreparedImage:
        """Check the row's file; the result may carry no bytes (``data == b""``) if cached."""
        path = self._path_of(row)
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode):
            identity = _Identity(
                str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, self._fit
            )
            cached = self._cache.get(identity)
            if cached is not None:
                self._cache.move_to_end(identity)
                if isinstance(cached, InvalidRow):
                    raise InvalidRow(str(cached))
                return cached
        else:
            identity = None
        try:
            image = await self._load(path, row.file)
        except InvalidRow as exc:
            self._remember(identity, exc)
            raise
        self._remember(identity, replace(image, data=b"", data_size=image.size))
        return image

    def _remember(self, identity: _Identity | None, value: PreparedImage | InvalidRow) -> None:
        if identity is None:
            return
        self._cache[identity] = value
        if len(self._cache) > IMAGE_CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _load(self, path: Path, shown: str) -> PreparedImage:
        size = check_file(path, shown=shown, fit=self._fit)
        try:
            data = await _read(path, size)
        except FileNotFoundError:
            raise InvalidRow(not_found(shown)) from None
        except OSError as exc:
            raise InvalidRow(_unreadable(shown, exc)) from None
        self.decoded += 1
        if len(data) <= _INLINE_LIMIT and not self._fit:
            # A small photo checks in ~0.1 ms; a thread hop would cost as much again.
            return prepare_image(data, filename=path.name)
        # Checking, re-encoding and hashing a large file is CPU work: keep it off the loop.
        return await asyncio.to_thread(
            prepare_image, data, filename=path.name, fit=self._fit, max_edge=self._max_edge
        )

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        """Size and sha256 of the row's file as it is now, unchecked; None if unreadable."""
        try:
            path = self._path_of(row)
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                return None  # reading a named pipe would block the loop: the checks refuse it
            data = await _read(path, info.st_size)
        except (OSError, InvalidRow):
            return None
        if len(data) <= _INLINE_LIMIT:
            return len(data), hashlib.sha256(data).hexdigest()
        return len(data), await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())

    async def load(self, row: ManifestRow, meta: PreparedImage) -> PreparedImage:
        """The bytes to send for a row whose :meth:`inspect` returned ``meta``."""
        if meta.data:
            return meta
        if meta.fitted:
            return await self._load(self._path_of(row), row.file)
        try:
            data = await _read(self._path_of(row), meta.size)
        except OSError as exc:
            raise InvalidRow(_unreadable(row.file, exc)) from None
        digest = (
            hashlib.sha256(data).hexdigest()
            if len(data) <= _INLINE_LIMIT
            else await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        )
        if digest != meta.sha256:  # changed under us since it was checked: check it again
            return await self._load(self._path_of(row), row.file)
        return replace(meta, data=data)
