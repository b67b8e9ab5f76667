"""The Zoom client: error classification, Retry-After, and the exact shape of the request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import aiohttp
import aioresponses.core as aioresponses_core
import pytest
from aioresponses import aioresponses
from yarl import URL

from batch._auth import StaticToken
from batch._client import (
    Answer,
    ZoomClient,
    classify,
    parse_retry_after,
    user_path,
)
from batch._exceptions import (
    AccessRefused,
    DailyLimitReached,
    PermanentError,
    RateLimited,
    TokenExpired,
    TransientError,
)
from batch._models import PreparedImage
from batch._scopes import UPLOAD_PICTURE

from .conftest import make_jpeg, sha256

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def answer(status: int, body: Any = None, **headers: str) -> Answer:
    raw = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    return Answer(status, {k.replace("_", "-"): v for k, v in headers.items()}, raw)


# -- classification: status and code → transient, permanent, fatal --------------------------

PER_SECOND = {"code": 429, "message": "You have reached the maximum per-second rate limit"}
DAILY = {"code": 429, "message": "You have reached the maximum daily rate limit for this API."}


@pytest.mark.parametrize(
    ("reply", "kind", "code"),
    [
        (answer(429, PER_SECOND, X_RateLimit_Type="QPS"), RateLimited, 429),
        (answer(429, PER_SECOND), RateLimited, 429),
        (answer(429, DAILY, X_RateLimit_Type="Daily-limit"), DailyLimitReached, 429),
        (answer(429, DAILY), DailyLimitReached, 429),  # header missing: the message tells
        (
            answer(429, {"code": 429, "message": "x"}, X_RateLimit_Type="Daily-limit"),
            DailyLimitReached,
            429,
        ),
        (answer(500, b"<html>oops</html>"), TransientError, None),
        (answer(502), TransientError, None),
        (answer(503, {"code": 503, "message": "busy"}), TransientError, 503),
        (answer(504), TransientError, None),
        (answer(408), TransientError, None),
        (answer(401, {"code": 124, "message": "Invalid access token."}), TokenExpired, 124),
        (
            answer(
                401, {"code": 4700, "message": "Invalid access token, does not contain scopes."}
            ),
            AccessRefused,
            4700,
        ),
        # A missing scope fails every later row the same way: the run stops (issue 13).
        (answer(403, {"code": 4700, "message": "no scopes"}), AccessRefused, 4700),
        (answer(401, {"code": 4711, "message": "bad app"}), AccessRefused, 4711),
        # 4711's HTTP status is unconfirmed: 400 is read the same way.
        (answer(400, {"code": 4711, "message": "does not contain scopes"}), AccessRefused, 4711),
        (answer(401, {"code": 9999, "message": "app disabled"}), AccessRefused, 9999),
        # Retry-After hours away is a daily limit, whatever X-RateLimit-Type says or omits.
        (answer(429, PER_SECOND, Retry_After="2026-11-28T18:00:00Z"), DailyLimitReached, 429),
        (
            answer(429, PER_SECOND, X_RateLimit_Type="QPS", Retry_After="86400"),
            DailyLimitReached,
            429,
        ),
        (answer(429, PER_SECOND, Retry_After="60"), RateLimited, 429),
        (answer(429, PER_SECOND, Retry_After="inf"), RateLimited, 429),
        (answer(429, PER_SECOND, Retry_After="1e400"), RateLimited, 429),
        (answer(429, DAILY, Retry_After="inf"), DailyLimitReached, 429),
        # One user's concurrency, not the account's budget: the pacer is left alone.
        (
            answer(429, {"code": 429, "message": "Too many concurrent requests."}),
            TransientError,
            429,
        ),
        (answer(400, {"code": 120, "message": "File size cannot exceed 2M"}), PermanentError, 120),
        (answer(400, {"code": 120, "message": ""}), PermanentError, 120),
        (answer(400, {"code": 200, "message": "Only an admin"}), PermanentError, 200),
        (answer(400, {"code": 300, "message": "explicit content"}), PermanentError, 300),
        (
            answer(404, {"code": 1001, "message": "User does not exist: a@x.com."}),
            PermanentError,
            1001,
        ),
        (answer(404, {"code": 1010, "message": "not in account"}), PermanentError, 1010),
        (answer(400, {"code": 1010, "message": "not in account"}), PermanentError, 1010),
    ],
)
def test_classification(reply: Answer, kind: type[Exception], code: int | None) -> None:
    with pytest.raises(kind) as caught:
        classify(reply, now=NOW)
    assert type(caught.value) is kind
    assert getattr(caught.value, "zoom_code", None) == code


def test_scope_refusal_names_the_scope_the_call_needs() -> None:
    reply = answer(
        400, {"code": 4711, "message": "Invalid access token, does not contain scopes:[x]"}
    )
    with pytest.raises(AccessRefused) as caught:
        classify(reply, scope=UPLOAD_PICTURE, now=NOW)
    assert caught.value.message.startswith(
        "Zoom refuses the app's token: it lacks the scope user:write:profile_picture:admin"
        " (older apps: user:write:admin) (code 4711"
    )


def test_errors_carry_zooms_tracking_id() -> None:
    reply = answer(404, {"code": 1001, "message": "User does not exist: a@x.com."})
    reply.headers["x-zm-trackingid"] = "v=2.0;clid=us05;rid=WEB_123"  # type: ignore[index]
    with pytest.raises(PermanentError) as caught:
        classify(reply, now=NOW)
    assert caught.value.tracking_id == "v=2.0;clid=us05;rid=WEB_123"


def test_a_token_quoted_back_is_redacted() -> None:
    reply = answer(502, b"<pre>Authorization: Bearer eyJhbGciOi.secret-token</pre>")
    with pytest.raises(TransientError) as caught:
        classify(reply, now=NOW)
    assert "secret-token" not in caught.value.message
    assert "Bearer ***" in caught.value.message


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success(status: int) -> None:
    classify(answer(status), now=NOW)


def test_messages_are_plain_words() -> None:
    with pytest.raises(PermanentError) as caught:
        classify(answer(404, {"code": 1001, "message": "User does not exist: a@x.com."}))
    assert caught.value.message == (
        "no such user in this Zoom account: User does not exist: a@x.com."
    )
    with pytest.raises(PermanentError) as caught:
        classify(answer(400, {"code": 120, "message": ""}))
    assert "no file name" in caught.value.message


def test_daily_limit_reset_time() -> None:
    with pytest.raises(DailyLimitReached) as caught:
        classify(
            answer(429, DAILY, X_RateLimit_Type="Daily-limit", Retry_After="2026-11-29T00:00:00Z"),
            now=NOW,
        )
    assert caught.value.resets_at == datetime(2026, 11, 29, tzinfo=UTC)
    with pytest.raises(DailyLimitReached) as caught:
        classify(answer(429, DAILY), now=NOW)  # no Retry-After: next midnight UTC
    assert caught.value.resets_at == datetime(2026, 11, 29, tzinfo=UTC)


def test_rate_limited_carries_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        classify(answer(429, PER_SECOND, Retry_After="3"), now=NOW)
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 0.5 ", 0.5),
        ("-4", 0.0),
        ("2026-11-28T12:00:30Z", 30.0),
        ("2026-11-28T12:00:30+00:00", 30.0),
        ("2026-11-28T13:00:30+01:00", 30.0),
        ("Sat, 28 Nov 2026 12:01:00 GMT", 60.0),
        ("2026-11-28T11:00:00Z", 0.0),  # in the past
        ("soon", None),
        ("inf", None),  # not a wait anybody can keep
        ("1e400", None),
        ("nan", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize(
    ("user", "segment"),
    [
        ("jane@example.com", "jane@example.com"),
        ("jane+zoom@example.com", "jane%2Bzoom@example.com"),
        ("a/b@example.com", "a%2Fb@example.com"),
        ("100%@example.com", "100%25@example.com"),
        ("jöhn@exämple.com", "j%C3%B6hn@ex%C3%A4mple.com"),
        ("me", "me"),
    ],
)
def test_user_is_one_encoded_path_segment(user: str, segment: str) -> None:
    assert user_path(user) == segment


# -- the request shape, with aioresponses -----------------------------------------------------
#
# aioresponses 0.7.9 builds ClientResponse without the `stream_writer` argument that aiohttp
# 3.14 requires (pnuckowski/aioresponses#289). This test-only shim supplies it; the test
# below fails as soon as a release works without it, so the shim gets removed.


class _CompatResponse(aiohttp.ClientResponse):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", mock.Mock(output_size=0))
        super().__init__(*args, **kwargs)


def _aioresponses_needs_shim() -> bool:
    try:
        aioresponses_core.RequestMatch("http://x/")._build_response(URL("http://x/"))
    except TypeError as exc:
        return "stream_writer" in str(exc)
    return False


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with (
        mock.patch.object(aioresponses_core, "ClientResponse", _CompatResponse),
        aioresponses() as m,
    ):
        yield m


def test_shim_is_still_needed() -> None:
    assert _aioresponses_needs_shim(), (
        "aioresponses now works with this aiohttp: remove _CompatResponse and this test"
    )


async def test_upload_request_shape(mocked: aioresponses) -> None:
    data = make_jpeg(3)
    image = PreparedImage(
        data=data,
        filename="jane.jpg",
        content_type="image/jpeg",
        sha256=sha256(data),
        width=48,
        height=48,
    )
    url = "https://api.zoom.us/v2/users/jane%2Bzoom@example.com/picture"
    mocked.post(url, status=201, headers={"Content-Location": "x"})
    async with aiohttp.ClientSession() as session:
        client = ZoomClient(session, StaticToken("tok-123"), api_url="https://api.zoom.us/v2")
        await client.upload_picture("jane+zoom@example.com", image, await client.token())
    (method, sent_url), calls = next(iter(mocked.requests.items()))
    assert method == "POST"
    assert str(sent_url) == url
    call = calls[0]
    assert call.kwargs["headers"] == {"Authorization": "Bearer tok-123"}
    payload = call.kwargs["data"]()  # aiohttp.FormData, rendered as aiohttp sends it
    assert payload.content_type.startswith("multipart/form-data; boundary=")
    body = await payload.as_bytes()
    assert b'name="pic_file"' in body
    assert b'filename="jane.jpg"' in body
    assert b"Content-Type: image/jpeg" in body
    assert data in body
    assert client.requests == 1


async def test_delete_request_shape(mocked: aioresponses) -> None:
    url = "https://api.zoom.us/v2/users/jane%2Bzoom@example.com/picture"
    mocked.delete(url, status=204)
    async with aiohttp.ClientSession() as session:
        client = ZoomClient(session, StaticToken("tok-123"), api_url="https://api.zoom.us/v2")
        await client.delete_picture("jane+zoom@example.com", await client.token())
    (method, sent_url), calls = next(iter(mocked.requests.items()))
    assert (method, str(sent_url)) == ("DELETE", url)
    assert calls[0].kwargs["headers"] == {"Authorization": "Bearer tok-123"}
    assert "data" not in calls[0].kwargs


async def test_connection_errors_become_transient(mocked: aioresponses) -> None:
    url = "https://api.zoom.us/v2/users/a@x.com/picture"
    mocked.post(url, exception=aiohttp.ServerDisconnectedError())
    mocked.post(url, exception=aiohttp.ClientConnectionError("reset"))
    mocked.post(url, exception=TimeoutError())
    data = make_jpeg(1)
    image = PreparedImage(data, "a.jpg", "image/jpeg", sha256(data), 48, 48)
    async with aiohttp.ClientSession() as session:
        client = ZoomClient(session, StaticToken("t"), api_url="https://api.zoom.us/v2")
        token = await client.token()
        for expected in ("closed the connection", "network error", "timeout"):
            with pytest.raises(TransientError, match=expected):
                await client.upload_picture("a@x.com", image, token)
