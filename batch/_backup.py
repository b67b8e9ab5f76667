"""``run --backup DIR``: keep each user's picture before the run replaces it, to undo the run.

The folder holds ``backup.csv`` (user, file, had_picture, sha256, backed_up_at) — itself a
manifest ``zoom-batch undo DIR`` runs — and ``pictures/<user>.<ext>``. Per row, just before
its upload: ``GET /users/{userId}`` on the **Light** budget (a pacer of its own at the plan's
Light rate, so backing up does not slow the Medium uploads), then the ``pic_url`` through the
one :class:`~batch._fetch.Fetcher` under :func:`~batch._fetch.zoom_picture_policy` (the bearer
token only to the API's own host). The **first** backup of a user wins: a user already in
``backup.csv`` is not backed up again, so a resumed run never backs up its own upload. The
picture and the CSV line are on disk (fsync) before the upload starts; a backup that fails
fails the row, which is then not uploaded.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._clock import now_iso
from ._exceptions import AccessRefused, InvalidRow, PermanentError, TransientError
from ._retry import Tries
from ._scopes import READ_USER
from ._state import user_key

if TYPE_CHECKING:
    from ._auth import Token
    from ._client import ZoomClient
    from ._fetch import Fetcher
    from ._sender import Sender

__all__ = ["BACKUP_CSV", "FIELDS", "LIGHT_RATE", "Backup", "BackupFolder", "check_read_scope"]

BACKUP_CSV = "backup.csv"
FIELDS = ("user", "file", "had_picture", "sha256", "backed_up_at")
#: The Light rate-limit label, requests per second for the whole account (ZOOM_API.md).
LIGHT_RATE = {"free": 4.0, "pro": 30.0, "business": 80.0}

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


def safe_name(user: str) -> str:
    """A file name for a user's picture: the user itself when it is plain, else a tidied form
    with a short hash (so two users never share one)."""
    key = user_key(user)
    tidy = _UNSAFE.sub("_", key).lstrip(".") or "user"
    if tidy == key:
        return key
    import hashlib

    return f"{tidy[:80]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def sniff_extension(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"GIF8"):
        return "gif"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    return "bin"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible everywhere (Windows): the file itself is synced
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BackupFolder:
    """``DIR/backup.csv`` and ``DIR/pictures/``: which users are kept, and keeping one more."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._kept: set[str] = set()
        self._csv = csv_path = folder / BACKUP_CSV
        try:
            (folder / "pictures").mkdir(parents=True, exist_ok=True)
            if csv_path.exists():
                with csv_path.open(encoding="utf-8-sig", newline="") as handle:
                    self._kept = {user_key(r.get("user") or "") for r in csv.DictReader(handle)}
            if not csv_path.exists() or csv_path.stat().st_size == 0:
                self._append(FIELDS)
                _fsync_dir(folder)
        except OSError as exc:
            from ._exceptions import ConfigError

            raise ConfigError(f"--backup: cannot use {folder} ({exc.strerror or exc})") from None

    def has(self, user: str) -> bool:
        return user_key(user) in self._kept

    def keep(self, user: str, data: bytes | None) -> None:
        """Write the user's picture (None: the user had none) and its line, both synced."""
        import hashlib

        with self._lock:
            key = user_key(user)
            if key in self._kept:
                return
            file, digest = "", ""
            if data is not None:
                name = f"{safe_name(user)}.{sniff_extension(data)}"
                target = self.folder / "pictures" / name
                tmp = target.with_name(f".{name}.tmp")
                with tmp.open("wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
                _fsync_dir(target.parent)
                file, digest = f"pictures/{name}", hashlib.sha256(data).hexdigest()
            had = "yes" if data is not None else "no"
            self._append((user, file, had, digest, now_iso()))
            self._kept.add(key)

    def _append(self, cells: tuple[str, ...]) -> None:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(cells)
        # Opened per line: a few a second at most (the Light pace), and nothing left open.
        with self._csv.open("a", encoding="utf-8", newline="") as handle:
            handle.write(out.getvalue())
            handle.flush()
            os.fsync(handle.fileno())


def check_read_scope(token: Token) -> None:
    """Refuse a token whose ``scope`` lacks READ_USER (a ready token has no such field)."""
    if token.scopes is not None and not READ_USER.met_by(token.scopes):
        raise AccessRefused(
            f"the Zoom app lacks the scope {READ_USER.words()}: add it on the app's Scopes"
            " page in the Zoom App Marketplace (reading users' pictures needs it)"
        )


async def read_user(sender: Sender, user: str) -> dict[str, Any]:
    """``GET /users/{userId}`` through ``sender`` (paced, retried), its scope checked first."""
    found: dict[str, Any] = {}

    async def request(client: ZoomClient, token: Token) -> None:
        check_read_scope(token)
        found.update(await client.get_user(user, token))

    await sender.send(request, Tries(started=time.monotonic()))
    return found


class Backup:
    """The ``before_send`` of an upload with ``--backup``: see the module docstring."""

    def __init__(self, folder: BackupFolder, light: Sender, fetcher: Fetcher) -> None:
        self.folder, self.light, self.fetcher = folder, light, fetcher

    async def __call__(self, user: str) -> None:
        if self.folder.has(user):
            return  # the first backup wins: this may be a resumed run's own upload
        try:
            data = await self._current(user)
            await asyncio.to_thread(self.folder.keep, user, data)
        except OSError as exc:
            raise PermanentError(
                f"not uploaded: cannot write the backup in {self.folder.folder}"
                f" ({exc.strerror or exc})"
            ) from None
        except (InvalidRow, PermanentError, TransientError) as exc:
            words = exc.message if isinstance(exc, PermanentError | TransientError) else str(exc)
            raise PermanentError(
                f"not uploaded: the current picture could not be backed up — {words}",
                http_status=getattr(exc, "http_status", None),
                zoom_code=getattr(exc, "zoom_code", None),
            ) from None

    async def _current(self, user: str) -> bytes | None:
        """The user's picture now, or None when they have none."""
        from ._fetch import zoom_picture_policy

        found = await read_user(self.light, user)
        url = str(found.get("pic_url") or "").strip()
        if not url:
            return None
        client = self.light.client
        token = await client.token()
        policy = zoom_picture_policy(api_host=client.api_host(token), token=token.value)
        download = await self.fetcher.fetch(url, policy)
        try:
            return bytes(download.data)
        finally:
            download.release()
