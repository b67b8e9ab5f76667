"""Access tokens: Server-to-Server OAuth (account credentials), or a static token.

One :class:`TokenSource` serves every worker of a run. A token is fetched once however many
workers ask at the same moment (a single-flight lock), renewed shortly before it expires, and
renewed once when Zoom refuses it (401, code 124) — one renewal for many concurrent refusals.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from ._exceptions import CredentialsError, FatalError, TransientError
from ._http import Answer, exchange
from ._retry import TOKEN_RETRY, RetryPolicy, Tries, send_with_retries

#: Renew this long before the token's stated expiry, so no request carries a dying token.
RENEW_EARLY = 60.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    renew_at: float  #: on the source's clock: shortly before the stated expiry
    api_url: str | None = None

    def __repr__(self) -> str:  # never show the secret, even in a debugger or a traceback
        return f"Token(renew_at={self.renew_at:.0f}, api_url={self.api_url!r})"


class TokenSource:
    """Base for the two kinds of token; the client calls :meth:`get` and :meth:`renew`."""

    renewals = 0

    async def get(self) -> Token:
        raise NotImplementedError

    async def renew(self, refused: Token) -> Token:
        """A new token after ``refused`` was turned down (no-op if already renewed)."""
        raise NotImplementedError


class StaticToken(TokenSource):
    """A token handed in by the operator (``ZOOM_ACCESS_TOKEN``); it cannot be renewed."""

    def __init__(self, value: str) -> None:
        self._token = Token(value, float("inf"))

    async def get(self) -> Token:
        return self._token

    async def renew(self, refused: Token) -> Token:
        raise FatalError(
            "Zoom refused the access token from ZOOM_ACCESS_TOKEN (invalid or expired)"
            " — get a new one, or set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
            http_status=401,
            zoom_code=124,
        )


class OAuthTokens(TokenSource):
    """Server-to-Server OAuth: ``grant_type=account_credentials`` with HTTP Basic auth."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        oauth_url: str,
        account_id: str,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.monotonic,
        on_renewed: Callable[[], None] | None = None,
        retry: RetryPolicy = TOKEN_RETRY,
    ) -> None:
        self._session = session
        self._url = oauth_url
        self._account_id = account_id
        self._authorization = aiohttp.encode_basic_auth(client_id, client_secret)
        self._clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self._on_renewed = on_renewed
        self._retry = retry
        self.requests = 0  #: token requests sent, for tests and the summary

    async def get(self) -> Token:
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token
        async with self._lock:
            # Another worker may have fetched it while this one waited for the lock.
            token = self._token
            if token is not None and self._clock() < token.renew_at:
                return token
            return await self._fetch()

    async def renew(self, refused: Token) -> Token:
        async with self._lock:
            if self._token is not None and self._token.value != refused.value:
                return self._token  # someone renewed it already
            return await self._fetch()

    async def _fetch(self) -> Token:
        first = self._token is None
        try:
            token = await send_with_retries(
                self._request,
                policy=self._retry,
                tries=Tries(started=self._clock()),
                clock=self._clock,
            )
        except TransientError as exc:
            message = f"cannot get an access token from {self._url}: {exc}"
            if first:
                raise CredentialsError(message) from None
            raise FatalError(message) from None
        self._token = token
        if not first:
            self.renewals += 1
            if self._on_renewed is not None:
                self._on_renewed()
        return token

    async def _request(self) -> Token:
        params = {"grant_type": "account_credentials", "account_id": self._account_id}
        self.requests += 1
        answer = await exchange(
            self._session,
            "POST",
            self._url,
            server="Zoom's OAuth server",
            params=params,
            headers={"Authorization": self._authorization},
        )
        return self._token_from(answer)

    def _token_from(self, answer: Answer) -> Token:
        """The token an OAuth answer carries; raises what a refusal means."""
        status = answer.status
        if status >= 500 or status == 429:
            raise TransientError(f"HTTP {status}", http_status=status)
        try:
            body = json.loads(answer.body) if answer.body else None
        except ValueError:
            body = None
        if status != 200 or not isinstance(body, dict) or not body.get("access_token"):
            reason = ""
            if isinstance(body, dict):
                reason = str(body.get("reason") or body.get("error") or "")
            error = CredentialsError(
                f"Zoom refused the credentials (HTTP {status}{': ' + reason if reason else ''})"
                " — check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
            )
            if self._token is None:
                raise error
            raise FatalError(str(error), http_status=status)
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        api_url = body.get("api_url")
        # 60 s early for Zoom's one-hour tokens; a quarter of the lifetime for short ones.
        early = min(RENEW_EARLY, lifetime / 4)
        return Token(
            str(body["access_token"]),
            self._clock() + lifetime - early,
            str(api_url).rstrip("/") if api_url else None,
        )
