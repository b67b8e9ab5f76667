"""The built-in Zoom simulator answers as ZOOM_API.md says Zoom does, and counts exactly."""

from __future__ import annotations

import asyncio
import hashlib
import io
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

from batch._exceptions import ConfigError
from batch.simulator import (
    MAX_PICTURE_BYTES,
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


async def upload(
    session: aiohttp.ClientSession,
    sim: Simulator,
    token: str,
    user: str = "ann@example.com",
    data: bytes = JPEG,
    **part: Any,
) -> tuple[int, dict[str, str], bytes]:
    url = URL(f"{sim.api_url}/users/{quote(user, safe='')}/picture", encoded=True)
    async with session.post(
        url, data=picture_body(data, **part), headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, dict(resp.headers), await resp.read()


def outcomes_add_up(stats: SimulatorStats) -> bool:
    outcomes = (
        stats.uploads
        + stats.rate_limited
        + stats.daily_limited
        + stats.server_errors
        + stats.dropped
        + stats.unauthorized
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
    assert body["scope"] == "user:write:admin"
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


async def test_exactly_two_megabytes_is_accepted(
    start_sim: StartSim, session: aiohttp.ClientSession
) -> None:
    sim = await start_sim()
    token = await get_token(session, sim)
    # Bytes after a JPEG's end marker are ignored by decoders: a valid file of exactly 2 MB.
    data = JPEG + b"\0" * (MAX_PICTURE_BYTES - len(JPEG))
    assert (await upload(session, sim, token, data=data))[0] == 201
    assert sim.received["ann@example.com"].size == MAX_PICTURE_BYTES


@pytest.mark.parametrize(
    ("data", "part", "message"),
    [
        (JPEG, {"filename": None}, ""),
        (b"", {}, "File is empty"),
        (JPEG, {"field": "file"}, "File is empty"),
        (
            JPEG + b"\0" * (MAX_PICTURE_BYTES + 1 - len(JPEG)),
            {},
            "File size cannot exceed 2M",
        ),
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
        "over-2MB",
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
