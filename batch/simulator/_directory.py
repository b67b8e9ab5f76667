"""The account's users as the user endpoints show them: statuses, IDs, pages, pictures held.

``GET /users/{userId}`` answers a user's ``id``, ``email``, ``status`` and ``pic_url`` (empty
without a picture); ``GET /users`` pages through the users of one status, ``page_size`` at
most 300, with an opaque ``next_page_token``. Pictures are kept by digest (a benchmark sends
the same bytes again and again: one copy each), and served at ``pic_url``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from .._exceptions import ConfigError

__all__ = [
    "MAX_PAGE_SIZE",
    "STATUSES",
    "Accounts",
    "load_pictures",
    "load_user_statuses",
    "sniff_extension",
    "user_id",
]

STATUSES: Final = ("active", "inactive", "pending")
MAX_PAGE_SIZE: Final = 300
DEFAULT_PAGE_SIZE: Final = 30
_PNG: Final = b"\x89PNG\r\n\x1a\n"


def user_key(user: str) -> str:
    """Emails compare case-insensitively, IDs exactly."""
    return user.lower() if "@" in user else user


def user_id(key: str) -> str:
    """A stable Zoom-like user ID (22 URL-safe characters) for an email."""
    digest = hashlib.sha256(key.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sniff_extension(data: bytes) -> str:
    if data.startswith(_PNG):
        return "png"
    if data.startswith(b"GIF8"):
        return "gif"
    return "jpg"


def load_user_statuses(path: Path) -> dict[str, str]:
    """Statuses from a users file: a line may name one after the user (``ann@x.com pending``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from exc
    statuses: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        status = words[1].lower()
        if status not in STATUSES or len(words) > 2:
            raise ConfigError(
                f"users file {path}, line {number}: after the user comes its status"
                f" ({', '.join(STATUSES)}), got {' '.join(words[1:])!r}"
            )
        statuses[words[0]] = status
    return statuses


def load_pictures(folder: Path) -> dict[str, bytes]:
    """The pictures users start with: ``<user>.<ext>`` files in ``folder`` (not its subfolders)."""
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        return {p.stem: p.read_bytes() for p in files}
    except OSError as exc:
        raise ConfigError(f"cannot read the pictures folder {folder}: {exc.strerror}") from None


class Accounts:
    """Who is in the account, with which status, and the picture each one holds now.

    With a user directory, the emails in it are the account's users (IDs in it exist but are
    not listed); without one every email exists, and the users listed are those with a
    status, a picture, or an upload so far.
    """

    def __init__(
        self,
        users: Iterable[str] | None,
        statuses: Mapping[str, str] | None,
        pictures: Mapping[str, bytes] | None,
    ) -> None:
        self._open = users is None
        self._statuses = {user_key(u): s for u, s in (statuses or {}).items()}
        self._listed: set[str] = {user_key(u) for u in users or () if "@" in u}
        self._ids: dict[str, str] = {}  # Zoom user ID -> key
        self._plain_ids = {u for u in users or () if "@" not in u}
        self._by_user: dict[str, str] = {}  # key -> digest of the picture held
        self._blobs: dict[str, bytes] = {}
        self._refs: dict[str, int] = {}
        self._pages: dict[str, tuple[str, int]] = {}  # next_page_token -> (status, offset)
        for key in (*self._listed, *self._statuses):
            self._know(key)
        for user, data in (pictures or {}).items():
            self.set_picture(user_key(user), data)

    def _know(self, key: str) -> None:
        if "@" in key:
            self._listed.add(key)
            self._ids[user_id(key)] = key

    def find(self, user: str) -> str | None:
        """The user's key as addressed (an email, a Zoom user ID, ``me``), None if unknown."""
        if "@" in user:
            key = user.lower()
            return key if self._open or key in self._listed else None
        if user in self._ids:
            return self._ids[user]
        if user == "me" or user in self._plain_ids or self._open:
            return user
        return None

    def status(self, key: str) -> str:
        return self._statuses.get(key, "active")

    def describe(self, key: str, base_url: str) -> dict[str, Any]:
        """``GET /users/{userId}``'s answer."""
        digest = self._by_user.get(key)
        pic_url = ""
        if digest is not None:
            ext = sniff_extension(self._blobs[digest])
            pic_url = f"{base_url}/p/{_quoted(key)}/{digest[:16]}.{ext}"
        email = key if "@" in key else f"{key}@users.invalid"
        return {
            "id": user_id(key) if "@" in key else key,
            "email": email,
            "type": 1,
            "status": self.status(key),
            "pic_url": pic_url,
        }

    # -- pictures ------------------------------------------------------------------------------

    def set_picture(self, key: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.drop_picture(key)
        self._by_user[key] = digest
        self._blobs.setdefault(digest, data)
        self._refs[digest] = self._refs.get(digest, 0) + 1
        if self._open:
            self._know(key)
        return digest

    def drop_picture(self, key: str) -> None:
        digest = self._by_user.pop(key, None)
        if digest is None:
            return
        left = self._refs[digest] - 1
        if left:
            self._refs[digest] = left
        else:
            del self._refs[digest], self._blobs[digest]

    def picture(self, key: str) -> bytes | None:
        digest = self._by_user.get(key)
        return None if digest is None else self._blobs[digest]

    def picture_at(self, key: str, name: str) -> bytes | None:
        """The bytes a ``pic_url`` names, while the user still holds that picture."""
        digest = self._by_user.get(key)
        if digest is None or not name.startswith(digest[:16] + "."):
            return None
        return self._blobs[digest]

    def pictures(self) -> dict[str, bytes]:
        """Every user's picture now, by user key."""
        return {key: self._blobs[digest] for key, digest in self._by_user.items()}

    # -- listing -------------------------------------------------------------------------------

    def page(
        self, status: str, page_size: int, token: str | None
    ) -> tuple[list[dict[str, Any]], str, int] | None:
        """One page of ``GET /users``: its items, the next token ("" at the end), the total.

        None when ``token`` is not one this listing gave (or was for another status).
        """
        offset = 0
        if token:
            found = self._pages.pop(token, None)
            if found is None or found[0] != status:
                return None
            offset = found[1]
        keys = sorted(k for k in self._listed if self.status(k) == status)
        chunk = keys[offset : offset + page_size]
        items = [{"id": user_id(k), "email": k, "type": 1, "status": status} for k in chunk]
        following = ""
        if offset + page_size < len(keys):
            following = secrets.token_urlsafe(24)
            self._pages[following] = (status, offset + page_size)
        return items, following, len(keys)


def _quoted(key: str) -> str:
    from urllib.parse import quote

    return quote(key, safe="@")
