"""The Zoom API client: one method per call, and the one place Zoom's answers become our errors.

:func:`classify` turns an API answer into success or one of the :mod:`batch._exceptions` types;
the network's own failures were translated already, by ``_http.exchange``. Nothing else in the
package looks at the API's status codes.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from ._auth import Token, TokenSource
from ._clock import next_midnight_utc
from ._exceptions import (
    ApiError,
    DailyLimitReached,
    FatalError,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
)
from ._http import Answer, exchange
from ._models import PreparedImage

#: Bodies above this go as a stream (aiohttp's ``payload.TOO_LARGE_BYTES_BODY`` is 1 MiB).
_STREAM_ABOVE = 1024 * 1024

#: Zoom's error codes and what they mean for an HR reader (ZOOM_API.md).
_PLAIN_WORDS = {
    120: "Zoom refused the picture file",
    200: "only an account admin can change this user's picture",
    300: "Zoom refused the picture: invalid or explicit content",
    1001: "no such user in this Zoom account",
    1010: "the user does not belong to this Zoom account",
    4700: "the app's token lacks the scope user:write:admin",
}


def user_path(user: str) -> str:
    """The user as one percent-encoded path segment (``+``, ``/``, ``%`` and non-ASCII too)."""
    return quote(user, safe="@")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds, ISO-8601 or HTTP-date.

    Returns None for a missing or unreadable value; never a negative number.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    now = now or datetime.now(UTC)
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
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


def classify(answer: Answer, *, now: datetime | None = None) -> None:
    """Return on success (201, or any 2xx); raise the error this answer means otherwise."""
    status = answer.status
    if 200 <= status < 300:
        return
    code, message = _zoom_error(answer.body)
    headers = {k.lower(): v for k, v in answer.headers.items()}
    if status == 429:
        kind = headers.get("x-ratelimit-type", "").lower()
        retry_after = headers.get("retry-after")
        daily = "daily" in kind or "daily" in message.lower()
        if daily:
            resets = parse_when(retry_after) if retry_after else None
            if resets is None:
                seconds = parse_retry_after(retry_after, now=now)
                base = now or datetime.now(UTC)
                resets = (
                    base + timedelta(seconds=seconds)
                    if seconds is not None
                    else next_midnight_utc(now)
                )
            raise DailyLimitReached(
                f"daily rate limit reached: {message or 'Zoom refused more requests today'}",
                resets_at=resets,
            )
        raise RateLimited(
            message or "per-second rate limit",
            http_status=429,
            zoom_code=code,
            retry_after=parse_retry_after(retry_after, now=now),
        )
    if status == 401 and code in (124, None):
        raise TokenExpired(message or "invalid access token", http_status=401, zoom_code=code)
    if status >= 500 or status == 408:
        raise TransientError(
            f"Zoom answered HTTP {status}" + (f": {message}" if message else ""),
            http_status=status,
            zoom_code=code,
            retry_after=parse_retry_after(headers.get("retry-after"), now=now),
        )
    if status in (401, 403) and code == 4700:
        raise PermanentError(_describe(status, code, message), http_status=status, zoom_code=code)
    if status == 401:
        raise FatalError(
            _describe(status, code, message) + " — check the app's credentials",
            http_status=status,
            zoom_code=code,
        )
    if status == 400 and code == 120 and not message:
        message = "the upload had no file name (the request was malformed)"
    raise PermanentError(_describe(status, code, message), http_status=status, zoom_code=code)


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
        # aiohttp warns that a raw-bytes body over 1 MiB may stall the loop; a stream does not.
        data = io.BytesIO(image.data) if len(image.data) > _STREAM_ABOVE else image.data
        form = aiohttp.FormData()
        form.add_field("pic_file", data, filename=image.filename, content_type=image.content_type)
        await self._call("POST", f"/users/{user_path(user)}/picture", token, data=form)

    async def delete_picture(self, user: str, token: Token) -> None:
        """Remove a user's picture. Returns on 204 (any 2xx); raises an ApiError."""
        await self._call("DELETE", f"/users/{user_path(user)}/picture", token)

    async def _call(self, method: str, path: str, token: Token, **options: Any) -> None:
        url = URL(self._base(token) + path, encoded=True)
        headers = {"Authorization": f"Bearer {token.value}"}
        self.requests += 1
        answer = await exchange(
            self._session, method, url, headers=headers, allow_redirects=False, **options
        )
        classify(answer)


__all__ = [
    "Answer",
    "ApiError",
    "ZoomClient",
    "classify",
    "parse_retry_after",
    "user_path",
]
