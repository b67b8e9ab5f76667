"""The simulator's user endpoints through the real client: GET /users/{userId} (Light, with a
pic_url it serves), GET /users (Medium, pages, statuses), their scopes and their budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from batch import Simulator, SimulatorOptions
from batch._arguments import build_parser
from batch._auth import StaticToken, Token
from batch._client import ZoomClient
from batch._exceptions import AccessRefused, PermanentError, RateLimited
from batch._simulate import simulator_options
from batch.simulator import load_pictures, load_user_statuses, load_users_file

from .conftest import make_jpeg
from .test_simulator import get_token


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def connect(
    session: aiohttp.ClientSession, **options: Any
) -> tuple[Simulator, ZoomClient, Token]:
    options.setdefault("rate_limit", 0)
    sim = Simulator(SimulatorOptions(**options))
    await sim.start()
    value = await get_token(session, sim)
    client = ZoomClient(session, StaticToken(value), api_url=sim.api_url)
    return sim, client, await client.token()


async def test_get_user_gives_a_pic_url_the_simulator_serves(
    session: aiohttp.ClientSession,
) -> None:
    picture = make_jpeg(7)
    sim, client, token = await connect(
        session,
        users=frozenset({"ann@example.com", "bob@example.com"}),
        pictures={"Ann@Example.com": picture},
        user_statuses={"bob@example.com": "pending"},
    )
    try:
        ann = await client.get_user("ann@example.com", token)
        assert ann["email"] == "ann@example.com" and ann["status"] == "active"
        async with session.get(ann["pic_url"]) as resp:
            assert resp.status == 200 and await resp.read() == picture
        bob = await client.get_user("bob@example.com", token)
        assert (bob["status"], bob["pic_url"]) == ("pending", "")
        assert (await client.get_user(ann["id"], token))["email"] == "ann@example.com"
        with pytest.raises(PermanentError, match="no such user in this Zoom account"):
            await client.get_user("eve@example.com", token)
        assert sim.stats.user_reads == 3 and sim.stats.picture_requests == 0
        await client.delete_picture("ann@example.com", token)
        assert (await client.get_user("ann@example.com", token))["pic_url"] == ""
        async with session.get(ann["pic_url"]) as resp:
            assert resp.status == 404  # the picture is gone
    finally:
        await sim.stop()


async def test_list_users_pages_by_status(session: aiohttp.ClientSession) -> None:
    people = [f"u{i:03d}@example.com" for i in range(7)]
    sim, client, token = await connect(
        session, users=frozenset(people), user_statuses={people[6]: "inactive"}
    )
    try:
        first, following = await client.list_users(token, status="active", page_size=4)
        assert [u["email"] for u in first] == people[:4] and following
        rest, last = await client.list_users(
            token, status="active", page_size=4, next_page_token=following
        )
        assert [u["email"] for u in rest] == people[4:6] and last is None
        inactive, _ = await client.list_users(token, status="inactive")
        assert [(u["email"], u["status"]) for u in inactive] == [(people[6], "inactive")]
        assert (await client.list_users(token, status="pending")) == ([], None)
        big, _ = await client.list_users(token, page_size=1000)  # at most 300 a page
        assert len(big) == 6
        assert sim.stats.user_lists == 5 == sim.stats.picture_requests  # Medium calls
    finally:
        await sim.stop()


async def test_the_light_budget_is_apart_from_medium(session: aiohttp.ClientSession) -> None:
    sim, client, token = await connect(session, light_rate_limit=2, rate_limit=1)
    try:
        await client.get_user("a@example.com", token)
        await client.get_user("b@example.com", token)
        with pytest.raises(RateLimited):
            await client.get_user("c@example.com", token)
        assert sim.stats.light_rate_limited == 1
        await client.list_users(token)  # the Medium budget was not touched
        assert sim.stats.rate_limited == 0
    finally:
        await sim.stop()


async def test_user_endpoints_enforce_their_scopes(session: aiohttp.ClientSession) -> None:
    sim, client, token = await connect(session, scopes="user:write:profile_picture:admin")
    try:
        with pytest.raises(AccessRefused, match="user:read:user:admin"):
            await client.get_user("a@example.com", token)
        with pytest.raises(AccessRefused, match="user:read:list_users:admin"):
            await client.list_users(token)
    finally:
        await sim.stop()


def test_users_file_statuses_and_pictures_folder(tmp_path: Path) -> None:
    users = tmp_path / "simulator-users.txt"
    users.write_text(
        "ann@example.com\nbob@example.com pending  # new hire\ncy@example.com inactive\n"
    )
    folder = tmp_path / "start"
    folder.mkdir()
    (folder / "ann@example.com.jpg").write_bytes(b"\xff\xd8\xffjpeg")
    assert load_users_file(users) == {"ann@example.com", "bob@example.com", "cy@example.com"}
    assert load_user_statuses(users) == {"bob@example.com": "pending", "cy@example.com": "inactive"}
    assert load_pictures(folder) == {"ann@example.com": b"\xff\xd8\xffjpeg"}
    args = build_parser().parse_args(
        [
            "run",
            "m.csv",
            "--simulate",
            "--sim-users",
            str(users),
            "--sim-pictures",
            str(folder),
            "--sim-light-rate-limit",
            "5",
        ]
    )
    options = simulator_options(args, {}, None)
    assert options.light_rate_limit == 5
    assert options.user_statuses == {"bob@example.com": "pending", "cy@example.com": "inactive"}
    assert options.pictures == {"ann@example.com": b"\xff\xd8\xffjpeg"}
