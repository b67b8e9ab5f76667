"""The Zoom API client: one upload request, and the one place Zoom's answers become our errors.

:func:`classify` turns an HTTP answer into success or one of the :mod:`batch._exceptions` types;
:meth:`ZoomClient.upload_picture` turns aiohttp's own exceptions into :class:`TransientError`.
Nothing else in the package looks at status codes or aiohttp exceptions.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import aiohttp
from yarl import URL

from ._auth import Token, TokenSource
from ._exceptions import (
    ApiError,
    DailyLimitReached,
    FatalError,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
)
from ._models import PreparedImage

#: Zoom's error codes and what they mean for an HR reader (ZOOM_API.md).
_PLAIN_WORDS = {
    120: "Zoom refused the picture file",
    200: "only an account admin can change this user's picture",
    300: "Zoom refused the picture: invalid or explicit content",
    1001: "no such user in this Zoom account",
    1010: "the user does not belong to this Zoom account",
    4700: "the app's token lacks the scope user:write:admin",
}


#: Bodies above this go as a stream (aiohttp's TOO_LARGE_BYTES_BODY is 1 MiB).
_STREAM_ABOVE = 512 * 1024


def multipart_body(image: PreparedImage) -> tuple[bytes, str]:
    """The request body, one ``pic_file`` part, and its Content-Type header.

    The same bytes ``aiohttp.FormData`` writes for this one field (the filename is
    percent-encoded in quotes, as aiohttp does), built directly: FormData's general machinery
    (a writer, a payload object and a header multidict per part) was ~10% of the client's CPU
    per upload (bench/scale.py --profile). The boundary is 32 random hex digits, as aiohttp's.
    """
    boundary = os.urandom(16).hex()
    head = (
        f"--{boundary}\r\n"
        f"Content-Type: {image.content_type}\r\n"
        f'Content-Disposition: form-data; name="pic_file"; filename="{quote(image.filename, "")}"'
        "\r\n\r\n"
    )
    body = b"".join((head.encode("ascii"), image.data, f"\r\n--{boundary}--\r\n".encode()))
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True, slots=True)
class Answer:
    """The parts of an HTTP answer that :func:`classify` reads."""

    status: int
    headers: Mapping[str, str]
    body: bytes


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


def next_midnight_utc(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


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
        self.requests = 0  #: upload requests sent

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
        """Send one picture. Returns on 201; raises an :class:`ApiError` subclass otherwise."""
        url = URL(f"{self._base(token)}/users/{user_path(user)}/picture", encoded=True)
        body, content_type = multipart_body(image)
        headers = {"Authorization": f"Bearer {token.value}", "Content-Type": content_type}
        self.requests += 1
        try:
            async with self._session.post(
                url,
                # aiohttp warns that a large raw-bytes body can stall the loop; a stream does not.
                data=io.BytesIO(body) if len(body) > _STREAM_ABOVE else body,
                headers=headers,
                allow_redirects=False,
            ) as response:
                answer = Answer(response.status, response.headers, await response.read())
        except TimeoutError:
            raise TransientError("no answer from Zoom in time (timeout)") from None
        except aiohttp.ServerDisconnectedError:
            raise TransientError("Zoom closed the connection without answering") from None
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"cannot connect to {url.host}: {exc.os_error}") from None
        except aiohttp.ClientPayloadError:
            raise TransientError("the connection broke while reading Zoom's answer") from None
        except aiohttp.ClientError as exc:
            raise TransientError(f"network error: {type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise TransientError(f"network error: {exc.strerror or exc}") from None
        classify(answer)


__all__ = [
    "Answer",
    "ApiError",
    "ZoomClient",
    "classify",
    "multipart_body",
    "parse_retry_after",
    "user_path",
]
