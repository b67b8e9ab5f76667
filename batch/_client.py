"""The Zoom API client: one method per call, and the one place Zoom's answers become our errors.

:func:`classify` turns an API answer into success or one of the :mod:`batch._exceptions` types;
the network's own failures were translated already, by ``_http.exchange``. Nothing else in the
package looks at the API's status codes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import aiohttp.payload
from yarl import URL

from ._auth import Token, TokenSource
from ._clock import next_midnight_utc
from ._exceptions import (
    AccessRefused,
    ApiError,
    DailyLimitReached,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
)
from ._http import Answer, exchange
from ._models import PreparedImage
from ._scopes import DELETE_PICTURE, LIST_USERS, READ_USER, UPLOAD_PICTURE, ScopeNeed
from ._window import READ_BUFFER

#: Bodies above this go as a stream (aiohttp's ``payload.TOO_LARGE_BYTES_BODY`` is 1 MiB).
_STREAM_ABOVE = 1024 * 1024
#: Bytes read from disk at a time for a streamed picture: what one request holds in memory.
_CHUNK = READ_BUFFER

#: Zoom's error codes and what they mean for an HR reader (ZOOM_API.md).
_PLAIN_WORDS = {
    120: "Zoom refused the picture file",
    200: "only an account admin can change this user's picture",
    300: "Zoom refused the picture: invalid or explicit content",
    1001: "no such user in this Zoom account",
    1010: "the user does not belong to this Zoom account",
}

#: A ``Retry-After`` further away than this is a daily limit, whatever the headers say.
DAILY_AFTER = 15 * 60.0
#: Zoom's codes for a token without the scopes a call needs: 4700 (classic apps), 4711
#: (granular ones: "Invalid access token, does not contain scopes:[…]").
_SCOPE_CODES = (4700, 4711)
_WEEK = 7 * 86400.0


def user_path(user: str) -> str:
    """The user as one percent-encoded path segment (``+``, ``/``, ``%`` and non-ASCII too)."""
    return quote(user, safe="@")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds, ISO-8601 or HTTP-date.

    Returns None for a missing or unreadable value (``inf``, ``1e400`` and ``nan`` are not
    readable waits); never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    now = now or datetime.now(UTC)
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    when = parse_when(text)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


def parse_when(text: str) -> datetime | None:
    """An absolute time from ISO-8601 or an HTTP-date, in UTC; None when unreadable."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _zoom_error(body: bytes) -> tuple[int | None, str]:
    try:
        data = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = data.get("code")
        message = data.get("message")
        return (code if isinstance(code, int) else None), str(message or "").strip()
    text = re.sub(r"<[^>]+>|\s+", " ", body.decode("utf-8", "replace")).strip()
    return None, text[:200]


def _describe(status: int, code: int | None, message: str) -> str:
    words = _PLAIN_WORDS.get(code or -1)
    if words and message:
        return f"{words}: {message}"
    if words:
        return words
    return message or f"Zoom answered HTTP {status}"


def classify(
    answer: Answer, *, scope: ScopeNeed | None = None, now: datetime | None = None
) -> None:
    """Return on success (201, or any 2xx); raise the error this answer means otherwise.

    ``scope`` is what the call needs, named when Zoom says the token lacks it. The error
    carries the answer's ``x-zm-trackingid``.
    """
    status = answer.status
    if 200 <= status < 300:
        return
    headers = {k.lower(): v for k, v in answer.headers.items()}
    error = _error(status, answer.body, headers, scope, now)
    error.tracking_id = headers.get("x-zm-trackingid") or None
    raise error


def _error(
    status: int,
    body: bytes,
    headers: dict[str, str],
    scope: ScopeNeed | None,
    now: datetime | None,
) -> ApiError:
    code, message = _zoom_error(body)
    if status == 429:
        return _rate_limit(code, message, headers, now)
    if code in _SCOPE_CODES:
        # 4711's HTTP status is unconfirmed (400 or 401), 4700's 401 or 403: the code decides,
        # whatever the status. Every later row would be refused the same: the run stops.
        needed = f"lacks the scope {scope.words()}" if scope else "lacks a scope this call needs"
        return AccessRefused(
            f"Zoom refuses the app's token: it {needed} (code {code}"
            + (f": {message}" if message else "")
            + ") — add it on the app's Scopes page in the Zoom App Marketplace",
            http_status=status,
            zoom_code=code,
        )
    if status == 401 and code in (124, None):
        return TokenExpired(message or "invalid access token", http_status=401, zoom_code=code)
    if status >= 500 or status == 408:
        return TransientError(
            f"Zoom answered HTTP {status}" + (f": {message}" if message else ""),
            http_status=status,
            zoom_code=code,
            retry_after=parse_retry_after(headers.get("retry-after"), now=now),
        )
    if status == 401:
        return AccessRefused(
            _describe(status, code, message) + " — check the app's credentials",
            http_status=status,
            zoom_code=code,
        )
    if status == 400 and code == 120 and not message:
        message = "the upload had no file name (the request was malformed)"
    return PermanentError(_describe(status, code, message), http_status=status, zoom_code=code)


def _rate_limit(
    code: int | None, message: str, headers: dict[str, str], now: datetime | None
) -> ApiError:
    """What a 429 means: a daily limit, the account's per-second budget, or one user's
    concurrency."""
    kind = headers.get("x-ratelimit-type", "").lower()
    value = headers.get("retry-after")
    seconds = parse_retry_after(value, now=now)
    # A Retry-After hours away is a daily limit even without X-RateLimit-Type (per-user daily
    # limits come that way): never let a per-second hold last that long.
    far = seconds is not None and seconds > DAILY_AFTER
    if "daily" in kind or "daily" in message.lower() or far:
        if seconds is None:
            resets = next_midnight_utc(now)
        else:  # a week at most: timedelta overflows long before 1e300 seconds
            resets = (now or datetime.now(UTC)) + timedelta(seconds=min(seconds, _WEEK))
        return DailyLimitReached(
            f"daily rate limit reached: {message or 'Zoom refused more requests today'}",
            resets_at=resets,
        )
    if "concurrent" in message.lower():
        # "Too many concurrent requests": about calls on one user, not the account's budget,
        # so the pacer is left alone and the row backs off on its own.
        return TransientError(
            f"Zoom refused a call for this user: {message}",
            http_status=429,
            zoom_code=code,
            retry_after=seconds,
        )
    return RateLimited(
        message or "per-second rate limit", http_status=429, zoom_code=code, retry_after=seconds
    )


class StreamedPicture(aiohttp.payload.Payload):
    """A picture's bytes sent from disk as they are read: its head from memory, then the file.

    Memory per request is one read buffer, however large the photo. The bytes read are hashed
    on the way; should the file have changed since it was checked, the request is cut short
    before its end (Zoom never gets a complete part) and the attempt fails like a network fault.
    """

    def __init__(self, image: PreparedImage) -> None:
        super().__init__(image, content_type=image.content_type)
        self._image = image
        self._size = image.size

    async def write(self, writer: Any) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: Any, content_length: int | None) -> None:
        image = self._image
        assert image.path is not None
        digest = hashlib.sha256(image.data)
        await writer.write(image.data)
        left = image.streamed
        handle = await asyncio.to_thread(open, image.path, "rb")
        try:
            await asyncio.to_thread(handle.seek, image.source_offset or 0)
            while left > 0:
                chunk = await asyncio.to_thread(_read_hashed, handle, min(left, _CHUNK), digest)
                if not chunk:
                    break
                left -= len(chunk)
                await writer.write(chunk)
        finally:
            handle.close()
        if left or digest.hexdigest() != image.sha256:
            raise OSError(f"{image.path.name} changed on disk while it was being sent")

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a picture is not text")


def _read_hashed(handle: Any, n: int, digest: Any) -> bytes:
    chunk: bytes = handle.read(n)
    digest.update(chunk)
    return chunk


class ZoomClient:
    """Sends one upload with the run's shared session (which carries the timeouts) and tokens."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenSource,
        *,
        api_url: str,
        api_url_explicit: bool = True,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._api_url = api_url.rstrip("/")
        self._api_url_explicit = api_url_explicit
        self.requests = 0  #: API requests sent (token requests not counted)

    def _base(self, token: Token) -> str:
        # Zoom's token answer names the API host for the account (e.g. https://api.zoom.us);
        # use it unless the operator chose one.
        if token.api_url and not self._api_url_explicit:
            return token.api_url + "/v2"
        return self._api_url

    async def token(self) -> Token:
        return await self._tokens.get()

    async def renew(self, refused: Token) -> Token:
        return await self._tokens.renew(refused)

    async def upload_picture(self, user: str, image: PreparedImage, token: Token) -> None:
        """Send one picture (``pic_file``, multipart). Returns on 201; raises an ApiError."""
        data: Any
        if image.path is not None:
            data = StreamedPicture(image)
        elif len(image.data) > _STREAM_ABOVE:
            # aiohttp warns that a raw-bytes body over 1 MiB may stall the loop; a stream does not.
            data = io.BytesIO(image.data)
        else:
            data = image.data
        form = aiohttp.FormData()
        form.add_field("pic_file", data, filename=image.filename, content_type=image.content_type)
        path = f"/users/{user_path(user)}/picture"
        await self._call("POST", path, token, UPLOAD_PICTURE, data=form)

    async def delete_picture(self, user: str, token: Token) -> None:
        """Remove a user's picture. Returns on 204 (any 2xx); raises an ApiError."""
        await self._call("DELETE", f"/users/{user_path(user)}/picture", token, DELETE_PICTURE)

    async def get_user(self, user: str, token: Token) -> dict[str, Any]:
        """``GET /users/{userId}`` (a Light call): the user's ``email``, ``status``, ``pic_url``
        (empty or absent without a picture)... Raises an ApiError (404/1001: no such user)."""
        answer = await self._call("GET", f"/users/{user_path(user)}", token, READ_USER)
        return _json_object(answer, "the user")

    async def list_users(
        self,
        token: Token,
        *,
        status: str = "active",
        page_size: int = 300,
        next_page_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``GET /users`` (a Medium call): its users, and the next page's token
        (None after the last page)."""
        query = {"status": status, "page_size": str(page_size)}
        if next_page_token:
            query["next_page_token"] = next_page_token
        answer = await self._call("GET", "/users", token, LIST_USERS, params=query)
        page = _json_object(answer, "the list of users")
        users = page.get("users") or []
        if not isinstance(users, list):
            raise TransientError("Zoom's list of users was not a list", http_status=answer.status)
        following = page.get("next_page_token")
        return [u for u in users if isinstance(u, dict)], (str(following) if following else None)

    def api_host(self, token: Token) -> str:
        """The host the API calls go to with ``token`` (a ``pic_url`` there gets the token)."""
        from ._fetch_policy import host_of

        return host_of(URL(self._base(token)))

    async def _call(
        self, method: str, path: str, token: Token, scope: ScopeNeed, **options: Any
    ) -> Answer:
        url = URL(self._base(token) + path, encoded=True)
        headers = {"Authorization": f"Bearer {token.value}"}
        self.requests += 1
        answer = await exchange(
            self._session, method, url, headers=headers, allow_redirects=False, **options
        )
        try:
            classify(answer, scope=scope)
        except (TokenExpired, AccessRefused):
            raise
        except ApiError:
            self._tokens.worked(token)  # any other answer means Zoom took the token
            raise
        self._tokens.worked(token)
        return answer


def _json_object(answer: Answer, what: str) -> dict[str, Any]:
    """An answer's JSON object; anything else is a fault on Zoom's side, worth a retry."""
    try:
        data = json.loads(answer.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise TransientError(f"Zoom's answer for {what} was not JSON", http_status=answer.status)
    return data


__all__ = [
    "Answer",
    "ApiError",
    "ZoomClient",
    "classify",
    "parse_retry_after",
    "user_path",
]
