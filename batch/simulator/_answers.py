"""Zoom's answers as the simulator gives them: the fixed error bodies, the 429s, tracking ids."""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Final

from aiohttp import hdrs, web

from .._clock import iso_utc, next_midnight_utc
from ._tokens import ScopeRule

TRACKING_HEADER: Final = "x-zm-trackingid"
# Zoom's shape, e.g. "v=2.0;clid=us06;rid=WEB_" + 32 hex digits.
_TRACKING_PREFIX: Final = "v=2.0;clid=sim;rid=WEB_"

_MSG_QPS: Final = (
    "You have reached the maximum per-second rate limit for this API. Try again later."
)
_MSG_DAILY: Final = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
_MSG_EMPTY: Final = "File is empty"
_MSG_TOO_BIG: Final = "File size cannot exceed 2M"
_MSG_NOT_IMAGE: Final = "Only jpg/jpeg, gif or png image file can be uploaded."
_MSG_SCOPES: Final = "Invalid access token, does not contain scopes"


def error_body(code: int, message: str) -> bytes:
    # Zoom's compact JSON; the fixed ones are built once, below.
    return json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()


BODY_TOKEN: Final = error_body(124, "Invalid access token.")
BODY_QPS: Final = error_body(429, _MSG_QPS)
BODY_DAILY: Final = error_body(429, _MSG_DAILY)
BODY_CONCURRENT: Final = error_body(429, "Too many concurrent requests.")
BODY_CLASSIC_SCOPES: Final = error_body(4700, _MSG_SCOPES + ".")
BODY_NO_FILENAME: Final = error_body(120, "")
BODY_EMPTY: Final = error_body(120, _MSG_EMPTY)
BODY_TOO_BIG: Final = error_body(120, _MSG_TOO_BIG)
BODY_NOT_IMAGE: Final = error_body(120, _MSG_NOT_IMAGE)
BODY_BAD_TOKEN: Final = error_body(300, "The next page token is invalid or expired.")
# Injected faults look like what a client really meets: Zoom's JSON for a 500, a gateway's
# HTML for a 502 or 503, so clients are made to parse error bodies defensively.
FAULTS: Final[tuple[tuple[int, bytes, str], ...]] = (
    (500, error_body(500, "Internal server error."), "application/json"),
    (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"),
)


def json_answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def scope_refusal(code: int, status: int, rule: ScopeRule, user: str) -> web.Response:
    """A token lacking the call's scope: 4711 naming the scopes it needed, or 4700 (classic)."""
    if code == 4700:
        return json_answer(status, BODY_CLASSIC_SCOPES)
    body = error_body(4711, f"{_MSG_SCOPES}:{rule.missing(user)}.")
    return json_answer(status, body)


def qps_refusal(
    rate: float, *, type_header: bool, retry_after: str | None, category: str = "Medium"
) -> web.Response:
    """The per-second 429, with the headers the options ask for."""
    headers = {"X-RateLimit-Category": category}
    if type_header:
        headers["X-RateLimit-Type"] = "QPS"
    headers["X-RateLimit-Limit"] = _format_rate(rate)
    headers["X-RateLimit-Remaining"] = "0"
    if retry_after is not None:
        headers[hdrs.RETRY_AFTER] = retry_after
    return json_answer(429, BODY_QPS, headers)


def daily_refusal(daily: int, now: datetime) -> web.Response:
    """The daily-quota 429; its ``Retry-After`` is the next UTC midnight."""
    return json_answer(
        429,
        BODY_DAILY,
        {
            "X-RateLimit-Category": "Medium",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(daily),
            "X-RateLimit-Remaining": "0",
            # Zoom sends a date here, not seconds.
            hdrs.RETRY_AFTER: iso_utc(next_midnight_utc(now)),
        },
    )


def _format_rate(rate: float) -> str:
    return str(int(rate)) if rate == int(rate) else f"{rate:g}"


class TrackingIds:
    """Unique ``x-zm-trackingid`` values: a seeded random part, then a serial number."""

    __slots__ = ("_rng", "_serial")

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._serial = 0  # makes tracking ids unique whatever the random part draws

    def next(self) -> str:
        self._serial += 1
        return f"{_TRACKING_PREFIX}{self._rng.getrandbits(64):016x}{self._serial:016x}"


def user_not_found(user: str) -> web.Response:
    """404/1001: ``user`` is not in the user directory."""
    return json_answer(404, error_body(1001, f"User does not exist: {user}."))
