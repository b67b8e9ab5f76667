"""The built-in Zoom simulator answers as ZOOM_API.md says Zoom does, and counts exactly."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import random
import re
import time
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from PIL import Image
from yarl import URL

from batch._cli import build_parser
from batch._config_file import read_config_file
from batch._exceptions import ConfigError
from batch._simulate import FILE_SECTIONS, answer_time, simulator_options
from batch.simulator import (
    MAX_PICTURE_BYTES,
    Refusal,
    Simulator,
    SimulatorOptions,
    SimulatorStats,
    load_users_file,
    max_in_window,
    serve,
)
from batch.simulator._app import _part_names

BASIC = {"Authorization": aiohttp.encode_basic_auth("sim-client-id", "sim-client-secret")}
StartSim = Callable[..., Awaitable[Simulator]]

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
NOT_IMAGE = "Only jpg/jpeg, gif or png image file can be uploaded."
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
GRANULAR = (
    "user:read:user:admin user:read:list_users:admin"
    " user:write:profile_picture:admin user:delete:profile_picture:admin"
)
BAD_TOKEN = b'{"code":124,"message":"Invalid access token."}'
TOO_MANY = b'{"code":429,"message":"Too many concurrent requests."}'
TRACKING_ID = re.compile(r"v=2\.0;clid=sim;rid=WEB_[0-9a-f]{32}")


def lacks(*scopes: str) -> bytes:
    """Zoom's 4711 body naming the granular scopes a call needed."""
    named = ", ".join(scopes)
    return b'{"code":4711,"message":"Invalid access token, does not contain scopes:[%s]."}' % (
        named.encode()
    )


def _image(fmt: str, size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buffer, fmt)
    return buffer.getvalue()


JPEG = _image("JPEG")
PNG = _image("PNG")
GIF = _image("GIF")


@pytest.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    started: list[Simulator] = []

    async def start(*, utc_now: Callable[[], datetime] | None = None, **options: Any) -> Simulator:
        options.setdefault("rate_limit", 0)
        opts = SimulatorOptions(**options)
        sim = Simulator(opts) if utc_now is None else Simulator(opts, utc_now=utc_now)
        await sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def get_token(session: aiohttp.ClientSession, sim: Simulator) -> str:
    async with session.post(
        sim.oauth_url,
        params={"grant_type": "account_credentials", "account_id": sim.options.account_id},
        headers={
            "Authorization": aiohttp.encode_basic_auth(
                sim.options.client_id, sim.options.client_secret
            )
        },
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    token = body["access_token"]
    assert isinstance(token, str)
    return token


def picture_body(
    data: bytes,
    *,
    field: str = "pic_file",
    filename: str | None = "face.jpg",
    content_type: str = "image/jpeg",
) -> aiohttp.MultipartWriter:
    writer = aiohttp.MultipartWriter("form-data")
    # aiohttp warns about bytes over 1 MiB in a body (ResourceWarning); BytesIO is streamed.
    body = io.BytesIO(data) if len(data) > 1024 * 1024 else data
    part = writer.append(body, {"Content-Type": content_type})
    if filename is None:
        part.set_content_disposition("form-data", name=field)
    else:
        part.set_content_disposition("form-data", name=field, filename=filename)
    return writer


def picture_url(sim: Simulator, user: str) -> URL:
    return URL(f"{sim.api_url}/users/{quote(user, safe='')}/picture", encoded=True)


async def upload(
    session: aiohttp.ClientSession,
    sim: Simulator,
    token: str,
    user: str = "ann@example.com",
    data: bytes = JPEG,
    **part: Any,
) -> tuple[int, dict[str, str], bytes]:
    async with session.post(
        picture_url(sim, user),
        data=picture_body(data, **part),
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def remove(
    session: aiohttp.ClientSession, sim: Simulator, token: str, user: str = "ann@example.com"
) -> tuple[int, dict[str, str], bytes]:
    async with session.delete(
        picture_url(sim, user), headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def outcomes_add_up(stats: SimulatorStats) -> bool:
    outcomes = (
        stats.uploads
        + stats.removals
        + stats.unauthorized
        + stats.scope_refused
        + stats.server_errors
        + stats.dropped
        + stats.concurrency_limited
        + stats.rate_limited
        + stats.daily_limited
        + stats.bad_requests
        + stats.not_found
        + stats.aborted
    )
    return outcomes == stats.picture_requests == len(stats.arrivals) == len(stats.accepted)


# -- OAuth -------------------------------------------------------------------------------------


async def test_token_with_basic_auth_and_query(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(token_ttl=1800)
    async with session.post(
        sim.oauth_url,
        params={"grant_type": "account_credentials", "account_id": "sim-account"},
        headers=BASIC,
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert body["scope"] == GRANULAR
    assert body["api_url"] == sim.base_url
    assert not body["api_url"].endswith("/v2")
    assert len(body["access_token"]) >= 32
    assert sim.stats.token_requests == 1
    assert sim.stats.token_refused == 0


async def test_token_with_form_body_and_several_valid_at_once(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    tokens = []
    for _ in range(2):
        async with session.post(
            sim.oauth_url,
            data={"grant_type": "account_credentials", "account_id": "sim-account"},
            headers=BASIC,
        ) as resp:
            assert resp.status == 200
            tokens.append((await resp.json())["access_token"])
    assert tokens[0] != tokens[1]
    for token in tokens:
        assert (await upload(session, sim, token))[0] == 201
    assert sim.stats.uploads == 2


@pytest.mark.parametrize(
    ("client_secret", "params", "status", "expected"),
    [
        (
            "wrong-secret",
            {"grant_type": "account_credentials", "account_id": "sim-account"},
            401,
            {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
        ),
        (
            "sim-client-secret",
            {"grant_type": "client_credentials", "account_id": "sim-account"},
            400,
            {"reason": "unsupported grant type", "error": "unsupported_grant_type"},
        ),
        (
            "sim-client-secret",
            {"grant_type": "account_credentials", "account_id": "other-account"},
            400,
            {"reason": "Invalid account_id", "error": "invalid_request"},
        ),
        (
            "sim-client-secret",
            {"grant_type": "account_credentials"},
            400,
            {"reason": "Invalid account_id", "error": "invalid_request"},
        ),
    ],
    ids=["bad-secret", "bad-grant-type", "bad-account", "no-account"],
)
async def test_token_refusals(
    start_sim: StartSim,
    session: aiohttp.ClientSession,
    client_secret: str,
    params: dict[str, str],
    status: int,
    expected: dict[str, str],
) -> None:
    sim = await start_sim()
    async with session.post(
        sim.oauth_url,
        params=params,
        headers={"Authorization": aiohttp.encode_basic_auth("sim-client-id", client_secret)},
    ) as resp:
        assert resp.status == status
        assert await resp.json() == expected
    assert sim.stats.token_refused == 1


async def test_token_without_authorization_is_invalid_client(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    params = {"grant_type": "account_credentials", "account_id": "sim-account"}
    async with session.post(sim.oauth_url, params=params) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "invalid_client"


async def test_expired_and_missing_tokens_get_401_code_124(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(token_ttl=1)
    token = await get_token(session, sim)
    assert (await upload(session, sim, token))[0] == 201
    await asyncio.sleep(1.05)
    status, _, body = await upload(session, sim, token)
    assert (status, body) == (401, b'{"code":124,"message":"Invalid access token."}')
    assert (await upload(session, sim, "made-up-token"))[0] == 401
    assert sim.stats.unauthorized == 2
    assert sim.stats.uploads == 1
    assert outcomes_add_up(sim.stats)


# -- scopes, and tokens that stop counting ---------------------------------------------------


@pytest.mark.parametrize(("scope_status", "status"), [(None, 400), (400, 400), (401, 401)])
async def test_a_token_without_the_upload_scope_gets_4711(
    start_sim: StartSim,
    session: aiohttp.ClientSession,
    scope_status: int | None,
    status: int,
) -> None:
    sim = await start_sim(rate_limit=1, scopes="user:read:user:admin", scope_status=scope_status)
    token = await get_token(session, sim)
    refused = await upload(session, sim, token)
    assert refused[::2] == (status, lacks("user:write:profile_picture:admin"))
    assert refused[1]["Content-Type"].startswith("application/json")
    assert (sim.stats.scope_refused, sim.stats.unauthorized) == (1, 0)
    assert list(sim.stats.accepted) == [0]

    # The scopes were the token's: a new token after the app gains the scope may upload, and
    # at once, as the refusal spent nothing of the 1/s window; the old token is still refused.
    sim.set_scopes(GRANULAR)
    fresh = await get_token(session, sim)
    assert (await upload(session, sim, fresh))[0] == 201
    assert (await upload(session, sim, token))[0] == status
    assert list(sim.stats.accepted) == [0, 1, 0]
    assert sim.stats.scope_refused == 2
    assert sim.received["ann@example.com"].count == 1
    assert outcomes_add_up(sim.stats)


async def test_removing_needs_the_delete_scope(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(scopes="user:read:user:admin user:write:profile_picture:admin")
    token = await get_token(session, sim)
    assert (await upload(session, sim, token))[0] == 201
    assert (await remove(session, sim, token))[::2] == (
        400,
        lacks("user:delete:profile_picture:admin"),
    )
    assert "ann@example.com" in sim.received
    assert (sim.stats.uploads, sim.stats.removals, sim.stats.scope_refused) == (1, 0, 1)

    # The classic scope of an app made before 2024 does both.
    classic = await start_sim(scopes="user:read:admin user:write:admin")
    token = await get_token(session, classic)
    assert (await upload(session, classic, token))[0] == 201
    assert (await remove(session, classic, token))[0] == 204
    assert classic.received == {}
    assert outcomes_add_up(sim.stats)
    assert outcomes_add_up(classic.stats)


@pytest.mark.parametrize(
    "scopes",
    ["user:write:profile_picture user:delete:profile_picture", "user:write"],
    ids=["granular", "classic"],
)
async def test_me_may_use_user_level_scopes_other_users_may_not(
    start_sim: StartSim, session: aiohttp.ClientSession, scopes: str
) -> None:
    sim = await start_sim(scopes=scopes)
    token = await get_token(session, sim)
    assert (await upload(session, sim, token, "me"))[0] == 201
    assert (await remove(session, sim, token, "me"))[0] == 204
    assert (await upload(session, sim, token))[::2] == (
        400,
        lacks("user:write:profile_picture:admin"),
    )
    assert (await remove(session, sim, token))[::2] == (
        400,
        lacks("user:delete:profile_picture:admin"),
    )
    assert (sim.stats.uploads, sim.stats.removals, sim.stats.scope_refused) == (1, 1, 2)


async def test_me_without_any_picture_scope_names_both_forms(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(scopes="user:read:user")
    token = await get_token(session, sim)
    assert (await upload(session, sim, token, "me"))[::2] == (
        400,
        lacks("user:write:profile_picture", "user:write:profile_picture:admin"),
    )
    assert (await remove(session, sim, token, "me"))[::2] == (
        400,
        lacks("user:delete:profile_picture", "user:delete:profile_picture:admin"),
    )


@pytest.mark.parametrize(("scope_status", "status"), [(None, 401), (403, 403)])
async def test_a_classic_app_gets_4700(
    start_sim: StartSim,
    session: aiohttp.ClientSession,
    scope_status: int | None,
    status: int,
) -> None:
    sim = await start_sim(scopes="user:read:admin", scope_error=4700, scope_status=scope_status)
    token = await get_token(session, sim)
    body = b'{"code":4700,"message":"Invalid access token, does not contain scopes."}'
    assert (await upload(session, sim, token))[::2] == (status, body)
    assert (await remove(session, sim, token))[::2] == (status, body)
    assert sim.stats.scope_refused == 2
    assert outcomes_add_up(sim.stats)


async def test_an_unknown_token_is_refused_before_its_scopes_are_looked_at(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(scopes="")
    token = await get_token(session, sim)
    assert (await upload(session, sim, "made-up"))[::2] == (401, BAD_TOKEN)
    assert (await upload(session, sim, token))[0] == 400
    assert (sim.stats.unauthorized, sim.stats.scope_refused) == (1, 1)


async def test_token_tolerance_0_keeps_only_the_newest_token(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(token_tolerance=0)
    first = await get_token(session, sim)
    assert (await upload(session, sim, first))[0] == 201
    second = await get_token(session, sim)
    assert (await upload(session, sim, first))[::2] == (401, BAD_TOKEN)
    assert (await upload(session, sim, second))[0] == 201
    assert (sim.stats.uploads, sim.stats.unauthorized) == (2, 1)
    assert outcomes_add_up(sim.stats)


async def test_token_tolerance_1_keeps_the_previous_token_too(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(token_tolerance=1)
    first, second = await get_token(session, sim), await get_token(session, sim)
    assert (await upload(session, sim, first))[0] == 201
    assert (await upload(session, sim, second))[0] == 201
    third = await get_token(session, sim)
    assert (await upload(session, sim, first))[::2] == (401, BAD_TOKEN)
    for token in (second, third):
        assert (await upload(session, sim, token))[0] == 201
    assert (sim.stats.uploads, sim.stats.unauthorized) == (4, 1)


async def test_refuse_after_revokes_the_app_while_tokens_are_still_issued(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(refuse_after=2)
    token = await get_token(session, sim)
    assert (await upload(session, sim, token))[0] == 201
    assert (await remove(session, sim, token))[0] == 204  # removals count too
    assert (await upload(session, sim, token))[::2] == (401, BAD_TOKEN)
    fresh = await get_token(session, sim)  # the token endpoint still answers 200
    assert (await upload(session, sim, fresh))[::2] == (401, BAD_TOKEN)
    assert (await remove(session, sim, fresh))[::2] == (401, BAD_TOKEN)
    assert (sim.stats.uploads, sim.stats.removals, sim.stats.unauthorized) == (1, 1, 3)
    assert (sim.stats.token_requests, sim.stats.token_refused) == (2, 0)
    assert outcomes_add_up(sim.stats)


async def test_refuse_after_0_refuses_from_the_start(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(refuse_after=0)
    token = await get_token(session, sim)
    assert (await upload(session, sim, token))[::2] == (401, BAD_TOKEN)


# -- the picture endpoint ------------------------------------------------------------------


async def test_upload_records_the_exact_picture(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    token = await get_token(session, sim)
    status, headers, body = await upload(
        session, sim, token, "Ann@Example.com", PNG, filename="ann.png", content_type="image/png"
    )
    assert status == 201
    assert body == b""
    assert headers["Content-Location"].startswith(sim.base_url + "/p/ann%40example.com/")
    received = sim.received["ann@example.com"]
    assert received.sha256 == hashlib.sha256(PNG).hexdigest()
    assert received.size == len(PNG)
    assert (received.content_type, received.filename, received.count) == (
        "image/png",
        "ann.png",
        1,
    )
    assert (await upload(session, sim, token, "ann@example.COM", JPEG))[0] == 201
    received = sim.received["ann@example.com"]
    assert (received.sha256, received.count) == (hashlib.sha256(JPEG).hexdigest(), 2)
    assert list(sim.received) == ["ann@example.com"]
    assert sim.stats.uploads == 2
    assert list(sim.stats.accepted) == [1, 1]


def padded(size: int) -> bytes:
    """A valid JPEG of exactly ``size`` bytes: decoders ignore bytes after the end marker."""
    return JPEG + b"\0" * (size - len(JPEG))


async def test_exactly_two_million_bytes_is_accepted_one_more_is_not(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    # Zoom's "2M" read pessimistically: 2,000,000 bytes, not 2 MiB (ZOOM_API.md).
    assert MAX_PICTURE_BYTES == 2_000_000
    sim = await start_sim()
    token = await get_token(session, sim)
    assert (await upload(session, sim, token, data=padded(2_000_000)))[0] == 201
    assert sim.received["ann@example.com"].size == 2_000_000
    too_big = b'{"code":120,"message":"File size cannot exceed 2M"}'
    for size in (2_000_001, 2 * 1024 * 1024):
        assert (await upload(session, sim, token, data=padded(size)))[::2] == (400, too_big)
    assert (sim.stats.uploads, sim.stats.bad_requests) == (1, 2)


async def test_max_picture_bytes_is_an_option(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(max_picture_bytes=2 * 1024 * 1024)
    token = await get_token(session, sim)
    assert (await upload(session, sim, token, data=padded(2 * 1024 * 1024)))[0] == 201
    assert (await upload(session, sim, token, data=padded(2 * 1024 * 1024 + 1)))[0] == 400
    small = await start_sim(max_picture_bytes=1000)
    token = await get_token(session, small)
    assert (await upload(session, small, token, data=padded(1000)))[0] == 201
    status, _, body = await upload(session, small, token, data=padded(1001))
    assert (status, body) == (400, b'{"code":120,"message":"File size cannot exceed 2M"}')


@pytest.mark.parametrize(
    ("data", "part", "message"),
    [
        (JPEG, {"filename": None}, ""),
        (b"", {}, "File is empty"),
        (JPEG, {"field": "file"}, "File is empty"),
        (padded(MAX_PICTURE_BYTES + 1), {}, "File size cannot exceed 2M"),
        (
            GIF,
            {"content_type": "image/gif"},
            NOT_IMAGE,
        ),
        (b"hello, not an image", {}, NOT_IMAGE),
        (JPEG[: len(JPEG) // 2], {}, NOT_IMAGE),
        (
            PNG[: len(PNG) - 20],
            {"content_type": "image/png"},
            NOT_IMAGE,
        ),
    ],
    ids=[
        "no-filename",
        "empty",
        "no-pic_file-part",
        "over-2M",
        "gif",
        "text",
        "truncated-jpeg",
        "truncated-png",
    ],
)
async def test_bad_files_get_400_code_120(
    start_sim: StartSim,
    session: aiohttp.ClientSession,
    data: bytes,
    part: dict[str, Any],
    message: str,
) -> None:
    sim = await start_sim()
    token = await get_token(session, sim)
    status, _, body = await upload(session, sim, token, data=data, **part)
    assert status == 400
    assert body == b'{"code":120,"message":"' + message.encode() + b'"}'
    assert sim.stats.bad_requests == 1
    assert sim.received == {}
    assert outcomes_add_up(sim.stats)


async def test_non_multipart_body_gets_400(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    token = await get_token(session, sim)
    async with session.post(
        f"{sim.api_url}/users/me/picture",
        data=JPEG,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == 120


async def test_user_directory_with_encoded_plus_slash_and_non_ascii(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(users=frozenset({"ann+tag/x@example.com", "zoë@example.com", "KdU1d"}))
    token = await get_token(session, sim)
    status, _, body = await upload(session, sim, token, "no+such/one%@example.com")
    assert status == 404
    assert body == b'{"code":1001,"message":"User does not exist: no+such/one%@example.com."}'
    assert (await upload(session, sim, token, "Ann+Tag/X@Example.com"))[0] == 201
    assert (await upload(session, sim, token, "ZOË@example.com"))[0] == 201
    assert (await upload(session, sim, token, "KdU1d"))[0] == 201
    assert (await upload(session, sim, token, "kdu1d"))[0] == 404  # user IDs are exact
    assert (await upload(session, sim, token, "me"))[0] == 201
    assert sorted(sim.received) == ["KdU1d", "ann+tag/x@example.com", "me", "zoë@example.com"]
    assert (sim.stats.not_found, sim.stats.uploads) == (2, 4)


async def test_per_second_limit_refuses_exactly_the_excess(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(rate_limit=5)
    token = await get_token(session, sim)
    results = await asyncio.gather(*(upload(session, sim, token) for _ in range(10)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] * 5 + [429] * 5
    refusal = next((headers, body) for status, headers, body in results if status == 429)
    headers, body = refusal
    assert headers["X-RateLimit-Category"] == "Medium"
    assert headers["X-RateLimit-Type"] == "QPS"
    assert headers["X-RateLimit-Limit"] == "5"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in headers
    assert body == b'{"code":429,"message":"' + QPS_MESSAGE.encode() + b'"}'
    assert (sim.stats.uploads, sim.stats.rate_limited) == (5, 5)
    assert sim.max_requests_in_window() == 10
    assert sim.max_requests_in_window(accepted_only=True) == 5

    await asyncio.sleep(1.05)
    assert (await upload(session, sim, token))[0] == 201
    sim.set_rate_limit(0)
    results = await asyncio.gather(*(upload(session, sim, token) for _ in range(10)))
    assert [status for status, _, _ in results] == [201] * 10
    assert outcomes_add_up(sim.stats)


async def test_fractional_rate_limit(start_sim: StartSim, session: aiohttp.ClientSession) -> None:
    sim = await start_sim(rate_limit=2.5)  # 3 requests per 1.2 s
    token = await get_token(session, sim)
    results = await asyncio.gather(*(upload(session, sim, token) for _ in range(5)))
    assert sorted(status for status, _, _ in results) == [201] * 3 + [429] * 2
    assert {h["X-RateLimit-Limit"] for status, h, _ in results if status == 429} == {"2.5"}
    with pytest.raises(ConfigError, match="rate limit"):
        sim.set_rate_limit(-1)


async def test_daily_limit_is_exact_and_resets_at_midnight_utc(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    clock = [datetime(2026, 11, 28, 15, 30, tzinfo=UTC)]
    sim = await start_sim(daily_limit=3, utc_now=lambda: clock[0])
    token = await get_token(session, sim)
    # Large enough to be hashed in a thread: uploads overlap while the quota is decided.
    data = JPEG + b"\0" * (300 * 1024)
    results = await asyncio.gather(*(upload(session, sim, token, data=data) for _ in range(8)))
    assert sorted(status for status, _, _ in results) == [201] * 3 + [429] * 5
    headers, body = next((h, b) for status, h, b in results if status == 429)
    assert headers["X-RateLimit-Type"] == "Daily-limit"
    assert headers["X-RateLimit-Category"] == "Medium"
    assert headers["Retry-After"] == "2026-11-29T00:00:00Z"
    assert body == b'{"code":429,"message":"' + DAILY_MESSAGE.encode() + b'"}'
    assert (sim.stats.uploads, sim.stats.daily_limited) == (3, 5)

    clock[0] += timedelta(hours=9)  # 00:30 UTC the next day
    assert (await upload(session, sim, token))[0] == 201
    assert sim.received["ann@example.com"].count == 4
    assert outcomes_add_up(sim.stats)


async def test_faults_follow_the_rates_and_the_seed(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    async def run(seed: int) -> tuple[list[int], SimulatorStats]:
        sim = await start_sim(fail_rate=0.2, drop_rate=0.1, seed=seed)
        token = await get_token(session, sim)
        seen = []
        for _ in range(300):
            try:
                seen.append((await upload(session, sim, token))[0])
            except aiohttp.ClientConnectionError:
                seen.append(0)
        return seen, sim.stats

    seen, stats = await run(seed=7)
    # Binomial(300, 0.2) and (300, 0.1): bounds at about four standard deviations.
    assert 32 <= stats.server_errors <= 88
    assert 9 <= stats.dropped <= 51
    assert seen.count(0) == stats.dropped
    assert sum(1 for status in seen if status >= 500) == stats.server_errors
    assert {status for status in seen if status >= 500} <= {500, 502, 503}
    assert stats.uploads == 300 - stats.server_errors - stats.dropped
    assert outcomes_add_up(stats)
    assert sum(stats.accepted) == stats.uploads

    again, _ = await run(seed=7)
    assert again == seen


async def test_client_leaving_mid_body_is_counted_and_spends_no_quota(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(daily_limit=1)
    token = await get_token(session, sim)
    part = b'--XX\r\nContent-Disposition: form-data; name="pic_file"; filename="a.jpg"\r\n\r\n'
    head = (
        "POST /v2/users/me/picture HTTP/1.1\r\nHost: sim\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: multipart/form-data; boundary=XX\r\n"
        f"Content-Length: {len(part) + 100_000}\r\n\r\n"
    )
    port = int(sim.base_url.rsplit(":", 1)[1])
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + part + JPEG[:100])
    await writer.drain()
    for _ in range(100):
        if sim.stats.picture_requests:
            break
        await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        if sim.stats.aborted:
            break
        await asyncio.sleep(0.01)
    assert sim.stats.aborted == 1
    assert (await upload(session, sim, token))[0] == 201
    assert outcomes_add_up(sim.stats)


async def test_latency_is_added(start_sim: StartSim, session: aiohttp.ClientSession) -> None:
    sim = await start_sim(latency_ms=80, latency_jitter_ms=10, seed=1)
    token = await get_token(session, sim)
    started = time.monotonic()
    assert (await upload(session, sim, token))[0] == 201
    assert time.monotonic() - started >= 0.07


async def timed(call: Awaitable[tuple[int, dict[str, str], bytes]]) -> tuple[int, float]:
    """The status of a call and how long its answer took, in seconds."""
    started = time.monotonic()
    status, _, _ = await call
    return status, time.monotonic() - started


def noise_jpeg(side: int) -> bytes:
    """A JPEG that does not compress: about side * side * 1.4 bytes at quality 95."""
    image = Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


async def test_processing_is_added_to_uploads_and_latency_to_every_call(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(latency_ms=50, processing_ms=300, processing_jitter_ms=20, seed=1)
    token = await get_token(session, sim)
    status, took = await timed(upload(session, sim, token))
    assert status == 201
    assert 0.33 <= took < 1.0  # 50 ms round trip + 280..320 ms of processing
    status, took = await timed(remove(session, sim, token))
    assert status == 204
    assert 0.045 <= took < 0.25  # a removal has no processing


async def test_only_a_picture_that_passed_the_checks_is_processed(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(processing_ms=500, users={"ann@example.com"})
    token = await get_token(session, sim)
    for call in (upload(session, sim, token, data=GIF), upload(session, sim, token, "bob@x.org")):
        status, took = await timed(call)
        assert status in (400, 404)
        assert took < 0.3


async def test_a_refusal_at_admission_is_answered_at_once(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    # The per-second window counts arrivals, not answers: 2 of 3 get in at once, the third's
    # 429 does not wait for the others' processing.
    sim = await start_sim(rate_limit=2, processing_ms=600)
    token = await get_token(session, sim)
    results = await asyncio.gather(*(timed(upload(session, sim, token)) for _ in range(3)))
    assert sorted(status for status, _ in results) == [201, 201, 429]
    for status, took in results:
        assert (took >= 0.59) if status == 201 else (took < 0.3)
    assert sim.max_requests_in_window(accepted_only=True) == 2


async def test_waiting_for_answers_costs_no_cpu(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(processing_ms=800, latency_ms=200)
    token = await get_token(session, sim)
    cpu, started = time.process_time(), time.monotonic()
    results = await asyncio.gather(*(upload(session, sim, token, f"u{i}") for i in range(50)))
    assert [status for status, _, _ in results] == [201] * 50
    assert time.monotonic() - started >= 1.0
    assert time.process_time() - cpu < 0.5  # client and server together; a busy wait: >= 1 s


async def test_an_upload_waits_for_its_body_over_the_shared_uplink(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    data = noise_jpeg(200)
    # A link on which one such body takes 0.3 s: two sent together share it, so the later
    # answer comes after 0.6 s, and a removal (no body) is not held back.
    mbps = len(data) * 8 / 0.3 / 1e6
    sim = await start_sim(uplink_mbps=mbps)
    token = await get_token(session, sim)
    status, took = await timed(upload(session, sim, token, data=data))
    assert (status, 0.3 <= took < 0.6) == (201, True)
    results = await asyncio.gather(
        timed(upload(session, sim, token, "a@x.org", data=data)),
        timed(upload(session, sim, token, "b@x.org", data=data)),
        timed(remove(session, sim, token, "c@x.org")),
    )
    (first, one), (second, two), (removed, three) = results
    assert (first, second, removed) == (201, 201, 204)
    assert 0.3 <= min(one, two) < 0.55
    assert 0.6 <= max(one, two) < 0.9
    assert three < 0.2


async def test_a_chunked_body_takes_its_share_of_the_uplink_too(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    data = noise_jpeg(200)
    sim = await start_sim(uplink_mbps=len(data) * 8 / 0.3 / 1e6)
    token = await get_token(session, sim)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 16_384):
            yield data[start : start + 16_384]

    writer = aiohttp.MultipartWriter("form-data")
    part = writer.append(chunks(), {"Content-Type": "image/jpeg"})  # no length: chunked
    part.set_content_disposition("form-data", name="pic_file", filename="face.jpg")
    started = time.monotonic()
    async with session.post(
        picture_url(sim, "me"), data=writer, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 201
        assert "Content-Length" not in resp.request_info.headers
    assert 0.3 <= time.monotonic() - started < 0.6


async def test_processing_starts_once_the_body_has_arrived(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    data = noise_jpeg(200)
    sim = await start_sim(uplink_mbps=len(data) * 8 / 0.3 / 1e6, processing_ms=300)
    token = await get_token(session, sim)
    status, took = await timed(upload(session, sim, token, data=data))
    assert (status, 0.6 <= took < 1.0) == (201, True)


async def test_peak_in_flight_counts_requests_from_arrival_to_answer(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(processing_ms=300)
    token = await get_token(session, sim)
    await asyncio.gather(*(upload(session, sim, token, f"u{i}") for i in range(7)))
    await upload(session, sim, token)
    assert sim.stats.peak_in_flight == 7
    assert sim.summary()["in_flight"] == 0


async def test_the_stats_route_reports_counters_and_accepted_arrivals(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(rate_limit=3, latency_ms=100)
    token = await get_token(session, sim)
    await asyncio.gather(*(upload(session, sim, token, f"u{i}") for i in range(5)))
    async with session.get(f"{sim.base_url}/_simulator/stats") as resp:
        assert resp.status == 200
        stats = await resp.json()
    arrivals = stats.pop("accepted_arrivals")
    clock = stats.pop("clock")
    assert stats == {
        "token_requests": 1,
        "token_refused": 0,
        "picture_requests": 5,
        "uploads": 3,
        "removals": 0,
        "rate_limited": 2,
        "daily_limited": 0,
        "concurrency_limited": 0,
        "server_errors": 0,
        "dropped": 0,
        "unauthorized": 0,
        "scope_refused": 0,
        "bad_requests": 0,
        "not_found": 0,
        "aborted": 0,
        "user_lists": 0,  # the user endpoints' counters (test_simulator_users.py)
        "light_requests": 0,
        "user_reads": 0,
        "light_rate_limited": 0,
        "light_refused": 0,
        "picture_downloads": 0,
        "peak_in_flight": 5,
        "in_flight": 0,
        "responses_429": 2,
        "max_in_window": 5,
        "max_in_window_accepted": 3,
    }
    accepted = [t for t, ok in zip(sim.stats.arrivals, sim.stats.accepted, strict=True) if ok]
    assert arrivals == {"count": 3, "first": accepted[0], "last": accepted[-1]}
    assert accepted[-1] <= clock <= time.monotonic()


async def test_the_reset_route_zeroes_the_stats(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    token = await get_token(session, sim)
    assert (await upload(session, sim, token))[0] == 201
    async with session.post(f"{sim.base_url}/_simulator/reset") as resp:
        assert resp.status == 204
    assert sim.stats == SimulatorStats()
    assert sim.received == {}
    summary = sim.summary()
    assert (summary["picture_requests"], summary["accepted_arrivals"]) == (
        0,
        {"count": 0, "first": None, "last": None},
    )
    # The account is untouched: the token still works, and counting starts again.
    assert (await upload(session, sim, token))[0] == 201
    assert (sim.stats.picture_requests, sim.stats.uploads) == (1, 1)
    async with session.get(f"{sim.base_url}/_simulator/reset") as resp:
        assert resp.status == 405  # it changes state: POST only


async def test_more_calls_in_flight_for_one_user_get_the_concurrency_429(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(user_concurrency=1, latency_ms=200, rate_limit=3)
    token = await get_token(session, sim)
    users = ["ann@example.com", "Ann@Example.com", "ANN@example.com", "bob@example.com"]
    results = await asyncio.gather(*(upload(session, sim, token, user) for user in users))
    assert sorted(status for status, _, _ in results) == [201, 201, 429, 429]
    assert results[3][0] == 201  # another user is not held back
    for status, headers, body in results:
        if status == 429:
            assert body == TOO_MANY
            assert "X-RateLimit-Type" not in headers
            assert "Retry-After" not in headers
    assert (sim.stats.uploads, sim.stats.concurrency_limited, sim.stats.rate_limited) == (2, 2, 0)
    # Not accepted: the 3/s window holds two uploads, so one more goes through, then a QPS 429.
    assert sum(sim.stats.accepted) == 2
    assert (await upload(session, sim, token))[0] == 201  # the slot was freed with its answer
    status, headers, _ = await upload(session, sim, token)
    assert (status, headers["X-RateLimit-Type"]) == (429, "QPS")
    assert outcomes_add_up(sim.stats)


async def test_user_concurrency_2_admits_two_at_once(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(user_concurrency=2, latency_ms=300)
    token = await get_token(session, sim)
    results = await asyncio.gather(*(upload(session, sim, token, "me") for _ in range(3)))
    assert sorted(status for status, _, _ in results) == [201, 201, 429]
    assert sim.stats.concurrency_limited == 1
    assert sim._in_flight == {}


@pytest.mark.parametrize("value", ["86400", "inf", "1e400", "2026-12-02T10:00:00Z"])
async def test_per_second_429s_may_carry_an_odd_retry_after(
    start_sim: StartSim, session: aiohttp.ClientSession, value: str
) -> None:
    sim = await start_sim(rate_limit=1, qps_retry_after=value)
    token = await get_token(session, sim)
    results = await asyncio.gather(*(upload(session, sim, token) for _ in range(2)))
    headers = next(h for status, h, _ in results if status == 429)
    assert headers["Retry-After"] == value
    assert headers["X-RateLimit-Type"] == "QPS"


async def test_per_second_429s_may_lack_the_type_header(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(rate_limit=1, qps_type_header=False)
    token = await get_token(session, sim)
    results = await asyncio.gather(*(upload(session, sim, token) for _ in range(2)))
    headers, body = next((h, b) for status, h, b in results if status == 429)
    assert "X-RateLimit-Type" not in headers
    assert "Retry-After" not in headers
    assert headers["X-RateLimit-Category"] == "Medium"
    assert body == b'{"code":429,"message":"' + QPS_MESSAGE.encode() + b'"}'
    assert sim.stats.rate_limited == 1


async def test_every_picture_answer_has_its_own_tracking_id(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim(rate_limit=2, users=frozenset({"ann@example.com"}))
    token = await get_token(session, sim)
    answers = [
        await upload(session, sim, token),  # 201
        await upload(session, sim, "made-up"),  # 401
        await upload(session, sim, token, data=b"not a picture"),  # 400
        await upload(session, sim, token),  # 429: the 2/s window is full
    ]
    await asyncio.sleep(1.05)
    answers.append(await upload(session, sim, token, "bob@example.com"))  # 404
    answers.append(await remove(session, sim, token))  # 204
    assert [status for status, _, _ in answers] == [201, 401, 400, 429, 404, 204]
    ids = [headers["x-zm-trackingid"] for _, headers, _ in answers]
    assert all(TRACKING_ID.fullmatch(tracking_id) for tracking_id in ids), ids
    assert len(set(ids)) == len(ids)
    assert sim.stats.last_tracking_id == ids[-1]
    assert list(sim.stats.refusals) == [
        Refusal(401, "ann@example.com", ids[1]),
        Refusal(400, "ann@example.com", ids[2]),
        Refusal(429, "ann@example.com", ids[3]),
        Refusal(404, "bob@example.com", ids[4]),
    ]


async def test_faults_and_scope_refusals_carry_tracking_ids_too(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    faulty = await start_sim(fail_rate=1.0, seed=3)
    token = await get_token(session, faulty)
    results = [await upload(session, faulty, token) for _ in range(6)]
    assert {status for status, _, _ in results} <= {500, 502, 503}
    ids = {headers["x-zm-trackingid"] for _, headers, _ in results}
    assert len(ids) == 6

    scopeless = await start_sim(scopes="user:read:user:admin")
    token = await get_token(session, scopeless)
    status, headers, _ = await upload(session, scopeless, token)
    assert status == 400
    assert TRACKING_ID.fullmatch(headers["x-zm-trackingid"])
    assert scopeless.stats.refusals[-1].tracking_id == headers["x-zm-trackingid"]


async def test_the_refusals_kept_are_bounded(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    for _ in range(300):
        await upload(session, sim, "made-up")
    assert sim.stats.unauthorized == 300
    assert len(sim.stats.refusals) == 256
    assert sim.stats.refusals[-1].tracking_id == sim.stats.last_tracking_id


# -- measurements, options, files, serve() ---------------------------------------------------


def test_max_requests_in_window_on_hand_made_arrivals() -> None:
    sim = Simulator()
    sim.stats.arrivals = array("d", [0.0, 0.1, 0.5, 0.99, 1.0, 1.5, 2.6])
    sim.stats.accepted = array("B", [1, 0, 1, 1, 0, 1, 1])
    assert sim.max_requests_in_window() == 4  # 0.0 .. 0.99, or 0.1 .. 1.0
    assert sim.max_requests_in_window(0.5) == 2
    assert sim.max_requests_in_window(accepted_only=True) == 3  # 0.0, 0.5, 0.99
    assert sim.max_requests_in_window(2.0, accepted_only=True) == 4  # 0.0 .. 1.5
    assert max_in_window([]) == 0
    assert max_in_window([3.0, 1.0, 2.0], 1.0) == 1  # spans of exactly 1 s are two windows


@pytest.mark.parametrize(
    "header",
    [
        'form-data; name="pic_file"; filename="a.jpg"',
        'form-data; name="pic_file"',
        'form-data; name="pic_file"; filename=""',
        'Form-Data; name="pic_file";filename="x; y.png"',
        'form-data; name="pic_file"; filename="/etc/x.jpg"',
        'form-data; name="pic_file"; filename="a\\"b.jpg"',
        'form-data; filename="a.jpg"; name="pic_file"',
        "form-data; name=\"pic_file\"; filename*=utf-8''%C3%A9.jpg",
        "form-data; name=pic_file; filename=a.jpg",
        None,
    ],
)
def test_part_names_read_like_aiohttp(header: str | None) -> None:
    _, params = parse_content_disposition(header)
    expected = (content_disposition_filename(params, "name"), content_disposition_filename(params))
    assert _part_names(header) == expected


@pytest.mark.parametrize(
    ("options", "culprit"),
    [
        ({"rate_limit": -1}, "rate_limit"),
        ({"fail_rate": 1.5}, "fail_rate"),
        ({"fail_rate": 0.6, "drop_rate": 0.6}, "drop_rate"),
        ({"daily_limit": -2}, "daily_limit"),
        ({"token_ttl": 0}, "token_ttl"),
        ({"client_secret": ""}, "client_secret"),
        ({"latency_ms": float("nan")}, "latency_ms"),
        ({"uplink_mbps": -1}, "uplink_mbps"),
        ({"uplink_mbps": float("inf")}, "uplink_mbps"),
        ({"processing_ms": -5}, "processing_ms"),
        ({"processing_jitter_ms": "lots"}, "processing_jitter_ms"),
        ({"scopes": "user:write:admin\tuser:read:admin"}, "scopes"),
        ({"scopes": None}, "scopes"),
        ({"scope_error": 4712}, "scope_error"),
        ({"scope_status": 403}, "scope_status"),
        ({"scope_status": 400, "scope_error": 4700}, "scope_status"),
        ({"token_tolerance": -1}, "token_tolerance"),
        ({"refuse_after": -1}, "refuse_after"),
        ({"user_concurrency": 0}, "user_concurrency"),
        ({"qps_retry_after": ""}, "qps_retry_after"),
        ({"qps_retry_after": "1\r\nSet-Cookie: x"}, "qps_retry_after"),
        ({"qps_retry_after": "dès demain"}, "qps_retry_after"),
        ({"qps_type_header": "false"}, "qps_type_header"),
        ({"max_picture_bytes": 0}, "max_picture_bytes"),
    ],
)
def test_bad_options_name_the_culprit(options: dict[str, Any], culprit: str) -> None:
    with pytest.raises(ConfigError, match=culprit):
        SimulatorOptions(**options)


def test_load_users_file(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text("# directory\nann@example.com\n\n  bob+x@example.com  # temp\nKdU1d\n")
    assert load_users_file(path) == frozenset({"ann@example.com", "bob+x@example.com", "KdU1d"})
    with pytest.raises(ConfigError, match=r"missing\.txt"):
        load_users_file(tmp_path / "missing.txt")


async def test_base_url_needs_a_start() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
    async with sim:
        assert sim.api_url == sim.base_url + "/v2"
        assert sim.oauth_url == sim.base_url + "/oauth/token"
        assert sim.base_url.startswith("http://127.0.0.1:")


async def test_serve_runs_until_cancelled(session: aiohttp.ClientSession) -> None:
    ready: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(serve(SimulatorOptions(), "127.0.0.1", 0, ready=ready.put_nowait))
    base_url = await asyncio.wait_for(ready.get(), 5)
    params = {"grant_type": "account_credentials", "account_id": "sim-account"}
    async with session.post(f"{base_url}/oauth/token", params=params, headers=BASIC) as resp:
        assert resp.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as fresh:
            await fresh.post(f"{base_url}/oauth/token", params=params, headers=BASIC)


def test_the_new_options_have_2026_defaults() -> None:
    options = SimulatorOptions()
    assert options.scopes == GRANULAR
    assert (options.scope_error, options.scope_status, options.scope_refusal_status) == (
        4711,
        None,
        400,
    )
    assert SimulatorOptions(scope_error=4700).scope_refusal_status == 401
    assert (options.token_tolerance, options.refuse_after, options.user_concurrency) == (
        None,
        None,
        None,
    )
    assert (options.qps_retry_after, options.qps_type_header) == (None, True)
    assert options.max_picture_bytes == MAX_PICTURE_BYTES == 2_000_000
    assert (options.uplink_mbps, options.processing_ms, options.processing_jitter_ms) == (0, 0, 0)


@pytest.mark.parametrize(
    ("options", "shown"),
    [
        ({}, ""),
        ({"latency_ms": 50, "latency_jitter_ms": 10}, "latency 50 ± 10 ms"),
        (
            {"processing_ms": 2000, "processing_jitter_ms": 667, "uplink_mbps": 1000},
            "uplink 1000 Mbit/s, processing 2000 ± 667 ms",
        ),
        ({"latency_ms": 30, "processing_ms": 1500}, "latency 30 ms, processing 1500 ms"),
    ],
)
def test_simulate_names_its_answer_times(options: dict[str, Any], shown: str) -> None:
    assert answer_time(SimulatorOptions(**options)) == shown


# -- the command line and the config file's simulator: section -------------------------------

ALL_NEW = {
    "scopes": "user:read:admin user:write:admin",
    "scope_error": 4700,
    "scope_status": 403,
    "token_tolerance": 1,
    "refuse_after": 50,
    "user_concurrency": 2,
    "qps_retry_after": "2026-12-02T10:00:00Z",
    "qps_type_header": False,
    "max_picture_bytes": 2_097_152,
    "uplink_mbps": 1000.0,
    "processing_ms": 2000.0,
    "processing_jitter_ms": 666.5,
}
FLAGS = [
    *("--scopes", "user:read:admin user:write:admin"),
    *("--scope-error", "4700", "--scope-status", "403"),
    *("--token-tolerance", "1", "--refuse-after", "50", "--user-concurrency", "2"),
    *("--qps-retry-after", "2026-12-02T10:00:00Z", "--qps-type-header", "false"),
    *("--max-picture-bytes", "2097152"),
    *("--uplink-mbps", "1000", "--processing-ms", "2000", "--processing-jitter-ms", "666.5"),
]


def chosen(options: SimulatorOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in ALL_NEW}


def test_run_takes_the_new_settings_as_sim_flags() -> None:
    flags = [flag.replace("--", "--sim-", 1) if flag.startswith("--") else flag for flag in FLAGS]
    args = build_parser().parse_args(["run", "m.csv", "--simulate", *flags])
    assert chosen(simulator_options(args, {}, None)) == ALL_NEW


def test_simulate_takes_the_new_settings_as_flags() -> None:
    args = build_parser().parse_args(["simulate", *FLAGS])
    assert chosen(simulator_options(args, {}, None)) == ALL_NEW


@pytest.mark.parametrize("word", ["true", "yes", "on", "1", "false", "no", "off", "0"])
def test_the_boolean_flag_reads_true_and_false(word: str) -> None:
    args = build_parser().parse_args(["simulate", "--qps-type-header", word])
    assert simulator_options(args, {}, None).qps_type_header is (word in {"true", "yes", "on", "1"})


def test_a_bad_boolean_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["simulate", "--qps-type-header", "maybe"])
    assert exit_info.value.code == 2
    assert "--qps-type-header: invalid boolean value: 'maybe'" in capsys.readouterr().err


def test_the_config_file_takes_the_new_settings(tmp_path: Path) -> None:
    path = tmp_path / "zoom-batch.yaml"
    path.write_text(
        "simulator:\n"
        "  scopes: user:read:admin user:write:admin\n"
        "  scope-error: 4700\n"
        "  scope_status: 403\n"
        "  token_tolerance: 1\n"
        "  refuse-after: 50\n"
        "  user_concurrency: 2\n"
        "  qps_retry_after: '2026-12-02T10:00:00Z'\n"
        "  qps_type_header: false\n"
        "  max_picture_bytes: 2097152\n"
        "  uplink_mbps: 1000\n"
        "  processing-ms: 2000\n"
        "  processing_jitter_ms: 666.5\n"
    )
    section = read_config_file(path, {}, sections=FILE_SECTIONS)["simulator"]
    args = argparse.Namespace()
    assert chosen(simulator_options(args, section, None)) == ALL_NEW
    # A flag wins over the file; a list of scopes and a number as Retry-After read as text.
    flagged = build_parser().parse_args(["simulate", "--user-concurrency", "5"])
    listed = {**section, "scopes": ["user:write:admin", "user:read:admin"]}
    options = simulator_options(flagged, {**listed, "qps_retry_after": 86400}, None)
    assert (options.user_concurrency, options.scopes, options.qps_retry_after) == (
        5,
        "user:write:admin user:read:admin",
        "86400",
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"qps_retry_after": datetime(2026, 12, 2, 10, tzinfo=UTC)}, "qps_retry_after: expected"),
        ({"qps_type_header": "maybe"}, "qps_type_header: expected true or false"),
        ({"scopes": 42.5}, "scopes: expected text"),
        ({"user_concurrency": "many"}, "user_concurrency: expected a number"),
        ({"user_concurrency": 0}, "simulator option user_concurrency must be >= 1"),
        ({"scope_error": 4710}, "simulator option scope_error must be 4711 or 4700"),
        ({"token_tolerance": -1}, "simulator option token_tolerance"),
        ({"processing_ms": "slow"}, "processing_ms: expected a number"),
        ({"uplink_mbps": -10}, "simulator option uplink_mbps must be >= 0"),
    ],
)
def test_bad_config_file_settings_name_the_setting(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        simulator_options(argparse.Namespace(), section, None)
