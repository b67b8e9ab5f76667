"""Access tokens: when they are renewed, and which refusal stops the run (DECISIONS.md).

A small OAuth server answers with whatever the test says, over real HTTP; the clock is fake.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from batch._auth import OAuthTokens, StaticToken
from batch._exceptions import AccessRefused, CredentialsError
from batch._scopes import UPLOAD_PICTURE


class OAuthServer:
    """Answers each token request with ``self.body`` (a dict, sent as JSON)."""

    def __init__(self) -> None:
        self.body: dict[str, Any] = {"access_token": "t", "expires_in": 3600}
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = dict(self.body)
        if body.get("access_token") == "t":
            body["access_token"] = f"token-{self.requests}"
        return web.json_response(body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def oauth() -> AsyncIterator[Callable[..., Any]]:
    server = OAuthServer()
    app = web.Application()
    app.router.add_post("/oauth/token", server.handle)
    test_server = TestServer(app)
    await test_server.start_server()
    session = aiohttp.ClientSession()
    clock = Clock()

    def tokens(**options: Any) -> tuple[OAuthTokens, OAuthServer, Clock]:
        source = OAuthTokens(
            session,
            oauth_url=str(test_server.make_url("/oauth/token")),
            account_id="acct",
            client_id="id",
            client_secret="secret",
            clock=clock,
            **options,
        )
        return source, server, clock

    yield tokens
    await session.close()
    await test_server.close()


@pytest.mark.parametrize(
    ("expires_in", "renew_after"),
    [
        (3600, 3540.0),  # an hour: 60 s early
        (300, 270.0),  # five minutes: 10% early
        (4, 3.6),
        (1, 1.0),  # never more often than once a second
        (0.5, 1.0),
        (0, math.inf),  # no usable lifetime: renew when Zoom refuses it
        (-5, math.inf),
        ("soon", math.inf),
        (None, math.inf),
        ("NaN", math.inf),
    ],
)
async def test_renewal_time(oauth: Any, expires_in: Any, renew_after: float) -> None:
    source, server, clock = oauth()
    server.body = {"access_token": "t"}
    if expires_in is not None:
        server.body["expires_in"] = expires_in
    token = await source.get()
    assert token.renew_at - clock.now == pytest.approx(renew_after)


async def test_a_token_without_a_lifetime_is_not_fetched_per_request(oauth: Any) -> None:
    source, server, clock = oauth()
    server.body = {"access_token": "t", "expires_in": 0}
    first = await source.get()
    for _ in range(5):
        clock.now += 100
        assert await source.get() == first
    assert server.requests == 1


async def test_which_refusal_renews_and_which_stops(oauth: Any) -> None:
    source, server, _ = oauth()
    first = await source.get()
    # The current token, refused: renew once however many requests were refused with it.
    second = await source.renew(first)
    assert second.value != first.value
    assert await source.renew(first) == second  # an older token: send again, no new fetch
    assert server.requests == 2
    # The token that replaced a refused one, refused before it ever worked: Zoom refuses the app.
    with pytest.raises(AccessRefused, match="refuses the access token it has just issued"):
        await source.renew(second)
    assert server.requests == 2


async def test_a_renewed_token_that_worked_may_be_renewed_again(oauth: Any) -> None:
    source, server, _ = oauth()
    first = await source.get()
    second = await source.renew(first)
    source.worked(second)
    third = await source.renew(second)  # e.g. another process's token invalidated it
    assert third.value not in (first.value, second.value)
    assert server.requests == 3


async def test_scopes_are_checked_on_every_token(oauth: Any) -> None:
    source, server, _ = oauth(need=UPLOAD_PICTURE)
    server.body = {"access_token": "t", "expires_in": 3600, "scope": "user:read:user:admin"}
    with pytest.raises(CredentialsError, match="lacks the scope user:write:profile_picture:admin"):
        await source.get()  # before the run starts: it cannot start

    source, server, _ = oauth(need=UPLOAD_PICTURE)
    server.body = {"access_token": "t", "scope": "user:write:profile_picture:admin"}
    first = await source.get()
    server.body = {"access_token": "t", "scope": "user:read:user:admin"}
    with pytest.raises(AccessRefused, match="lacks the scope"):
        await source.renew(first)  # mid-run: the run stops


@pytest.mark.parametrize("scope", ["user:write:admin", "user:write:profile_picture:master"])
async def test_classic_and_master_scopes_do(oauth: Any, scope: str) -> None:
    source, server, _ = oauth(need=UPLOAD_PICTURE)
    server.body = {"access_token": "t", "scope": f"user:read:admin {scope}"}
    assert (await source.get()).scopes == {"user:read:admin", scope}


async def test_a_token_that_cannot_go_in_a_header_is_refused(oauth: Any) -> None:
    source, server, _ = oauth()
    server.body = {"access_token": "abc\r\nX-Evil: 1", "expires_in": 3600}
    with pytest.raises(CredentialsError, match="cannot be sent back"):
        await source.get()
    server.body = {"access_token": "  abc\n", "expires_in": 3600}
    assert (await source.get()).value == "abc"  # surrounding whitespace is only trimmed


async def test_a_static_token_refused_stops_the_run_naming_it() -> None:
    source = StaticToken("abc")
    with pytest.raises(AccessRefused, match="ZOOM_ACCESS_TOKEN"):
        await source.renew(await source.get())
