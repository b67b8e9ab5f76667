"""Access tokens: Server-to-Server OAuth (account credentials), or a static token.

One :class:`TokenSource` serves every worker of a run. A token is fetched once however many
workers ask at the same moment (a single-flight lock) and renewed shortly before it expires:
``min(60 s, 10% of its lifetime)`` early, never more often than once a second; an
``expires_in`` that is missing, zero, negative or not a number means "renew on the first
refusal" (DECISIONS.md).

A refusal (401, code 124) is answered by :meth:`TokenSource.renew`:

* a request sent with an **older** token than the current one: send it again with the current
  one (a new token may invalidate older ones beyond Zoom's "token index tolerance");
* the current token, which has worked or came from a scheduled renewal: renew it once, for all
  the requests refused with it;
* the current token, fetched to replace a refused one and refused before it ever worked: Zoom
  no longer accepts this app (deactivated, secret rotated, scopes changed) — fatal
  (:class:`~batch.AccessRefused`), the run stops.

A token whose ``scope`` field lacks what the job needs is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from ._exceptions import AccessRefused, CredentialsError, TransientError
from ._http import Answer, exchange
from ._retry import TOKEN_RETRY, RetryPolicy, Tries, send_with_retries
from ._scopes import ScopeNeed

#: Renew at most this long before the token's stated expiry (and at most 10% of its lifetime).
RENEW_EARLY = 60.0
RENEW_SHARE = 0.1
#: Scheduled renewals never come closer together than this, however short the tokens.
MIN_RENEW_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    renew_at: float  #: on the source's clock: shortly before the stated expiry (inf: never)
    api_url: str | None = None
    #: The token answer's ``scope`` field, split; None when there was none (a static token).
    scopes: frozenset[str] | None = None

    def __repr__(self) -> str:  # never show the secret, even in a debugger or a traceback
        return f"Token(renew_at={self.renew_at:.0f}, api_url={self.api_url!r})"


class TokenSource:
    """Base for the two kinds of token; the client calls :meth:`get`, :meth:`renew` and
    :meth:`worked`."""

    renewals = 0

    async def get(self) -> Token:
        raise NotImplementedError

    async def renew(self, refused: Token) -> Token:
        """The token to send with after ``refused`` was turned down (see the module doc);
        raises :class:`~batch.AccessRefused` when Zoom no longer accepts the app."""
        raise NotImplementedError

    def worked(self, token: Token) -> None:
        """Zoom accepted ``token`` for a request (it answered something other than a refusal)."""


class StaticToken(TokenSource):
    """A token handed in by the operator (``ZOOM_ACCESS_TOKEN``); it cannot be renewed."""

    def __init__(self, value: str) -> None:
        self._token = Token(value, math.inf)

    async def get(self) -> Token:
        return self._token

    async def renew(self, refused: Token) -> Token:
        raise AccessRefused(
            "Zoom refused the access token in ZOOM_ACCESS_TOKEN (invalid or expired)"
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
        need: ScopeNeed | None = None,
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
        self._need = need
        #: The current token replaced a refused one, and has not worked yet.
        self._unproven = False
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
            current = self._token
            if current is not None and current.value != refused.value:
                return current  # an older token: send again with the current one
            if self._unproven:
                raise AccessRefused(
                    "Zoom refuses the access token it has just issued: the app was deactivated,"
                    " its client secret changed or its scopes changed — check the app in the"
                    " Zoom App Marketplace, and ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
                    http_status=401,
                    zoom_code=124,
                )
            token = await self._fetch()
            self._unproven = True
            return token

    def worked(self, token: Token) -> None:
        if self._token is not None and token.value == self._token.value:
            self._unproven = False

    async def _fetch(self) -> Token:
        first = self._token is None
        try:
            token = await send_with_retries(
                self._request,
                policy=self._retry,
                tries=Tries(started=self._clock()),
                clock=self._clock,
            )
            self._check_scopes(token)
        except TransientError as exc:
            message = f"cannot get an access token from {self._url}: {exc}"
            if first:
                raise CredentialsError(message) from None
            raise AccessRefused(message) from None
        except CredentialsError as exc:
            if first:
                raise  # the run cannot start
            raise AccessRefused(str(exc)) from None  # the run must stop
        self._token = token
        self._unproven = False
        if not first:
            self.renewals += 1
            if self._on_renewed is not None:
                self._on_renewed()
        return token

    def _check_scopes(self, token: Token) -> None:
        need = self._need
        if need is None or token.scopes is None or need.met_by(token.scopes):
            return
        held = " ".join(sorted(token.scopes)) or "none"
        raise CredentialsError(
            f"the Zoom app lacks the scope {need.words()}: add it on the app's Scopes page"
            f" in the Zoom App Marketplace, then run again (the token's scopes: {held})"
        )

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
            raise CredentialsError(
                f"Zoom refused the credentials (HTTP {status}{': ' + reason if reason else ''})"
                " — check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
            )
        now = self._clock()
        api_url = body.get("api_url")
        scope = body.get("scope")
        return Token(
            _header_safe(str(body["access_token"])),
            self._renew_at(body.get("expires_in"), now),
            str(api_url).rstrip("/") if api_url else None,
            frozenset(scope.split()) if isinstance(scope, str) else None,
        )

    def _renew_at(self, expires_in: object, now: float) -> float:
        """When to renew a token fetched ``now`` that lives ``expires_in`` seconds."""
        try:
            lifetime = float(expires_in)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            lifetime = math.nan
        if not (math.isfinite(lifetime) and lifetime > 0):
            return math.inf  # no usable lifetime: renew when Zoom refuses it
        early = min(RENEW_EARLY, lifetime * RENEW_SHARE)
        return max(now + lifetime - early, now + MIN_RENEW_INTERVAL)


def _header_safe(value: str) -> str:
    """The token as it can go in a header; a token with a line break in it is refused."""
    value = value.strip()
    if not value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise CredentialsError(
            "Zoom's OAuth server sent an access token that cannot be sent back"
            " (it holds spaces or control characters)"
        )
    return value
