"""One HTTP fetcher for URLs no operator typed: photo URLs from HR systems, a user's ``pic_url``.

Every call carries a :class:`FetchPolicy`: the hosts that may be fetched, those of them that
may be on a private address, the headers for each exact host, the size cap, the words::

    check the URL (http/https, no user:password, host allowed) → GET, allow_redirects=False
      3xx       → check the next URL the same way (at most max_redirects hops), GET again
      200       → stream the body up to max_bytes (the run's ByteBudget holds its size)
      304       → unchanged (only when validators were sent)
      5xx, 429, 408, network faults → TransientError, retried by ``_retry.send_with_retries``
      other 4xx → PermanentError ("the HR system answered 404 for this photo's URL")
      refusals  → InvalidRow

The run's connector (:func:`guarded_connector`) makes every socket through
:func:`guarded_socket`, which refuses a loopback, private, link-local (the 169.254.169.254
metadata service), CGNAT, unspecified, multicast or reserved address, in IPv6 wrappings too,
unless the call's policy lets that exact host be private. The check is on the address about to
be connected to: neither DNS rebinding nor a redirect gets around it. Calls outside
:meth:`Fetcher.fetch` (the Zoom API, the OAuth server) are not checked. Headers go only to
their exact host, never over ``http://`` after an ``https://`` hop, never into a message.
Importing this module does not import aiohttp.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import socket
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidRow, PermanentError, RowError, TransientError
from ._fetch_policy import (
    DEFAULT_MAX_BYTES,
    ZOOM_DOMAINS,
    FetchPolicy,
    FetchWords,
    HostRules,
    address_kind,
    check_url,
    host_of,
    zoom_picture_policy,
)
from ._retry import MAX_HOLD, RetryPolicy, Tries, send_with_retries
from ._window import READ_BUFFER, ByteBudget
from ._words import human_size, plural

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FETCH_RETRY",
    "ZOOM_DOMAINS",
    "Download",
    "FetchPolicy",
    "FetchWords",
    "Fetcher",
    "HostRules",
    "NoFetcher",
    "address_kind",
    "check_url",
    "guarded_connector",
    "zoom_picture_policy",
]

#: A photo's download may have this many bytes (before ``--fit``).
#: A few quick tries: an HR system that is down now is down for the whole row.
FETCH_RETRY = RetryPolicy(max_attempts=4, max_retry_time=60.0, backoff=0.5, backoff_max=8.0)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(slots=True)
class _Hop:  # the request in progress in this task, as the socket factory sees it
    host: str
    private_ok: bool
    tried: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  #: (address, kind)


_HOP: contextvars.ContextVar[_Hop | None] = contextvars.ContextVar("zoom_batch_hop", default=None)
_GUARDED: weakref.WeakSet[Any] = weakref.WeakSet()


def guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """The connector's socket factory: no non-public address for a fetch not allowed one.

    aiohttp tries the next address a name resolves to when this one is refused.
    """
    family, type_, proto, _, address = addr_info
    hop = _HOP.get()
    if hop is not None:
        hop.tried += 1
        kind = address_kind(str(address[0]))
        if kind is not None and not hop.private_ok:
            hop.refused.append((str(address[0]), kind))
            raise OSError(errno.EACCES, f"refused to connect to a {kind} address")
    return socket.socket(family=family, type=type_, proto=proto)


def guarded_connector(**options: Any) -> aiohttp.TCPConnector:
    """The run's connector (``options`` as for ``aiohttp.TCPConnector``) with the address check
    on every connection: a :class:`Fetcher` works only over a session built on one."""
    import aiohttp

    connector = aiohttp.TCPConnector(socket_factory=guarded_socket, **options)
    _GUARDED.add(connector)
    return connector


@dataclass(slots=True)
class Download:
    """A body fetched (or a 304), holding its size of the run's byte budget until released."""

    url: str  #: where it came from, after redirects
    status: int  #: 200, or 304 when the validators sent still hold
    data: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    budget: ByteBudget | None = None
    held: int = 0  #: bytes held of ``budget``

    @property
    def unchanged(self) -> bool:
        return self.status == 304

    def release(self) -> None:
        """Give back what is held of the budget: the caller is done with ``data``."""
        if self.budget is not None and self.held:
            self.budget.give(self.held)
        self.held = 0


class Fetcher:
    """GETs URLs under a per-call :class:`FetchPolicy` over the run's session, which must be
    built on :func:`guarded_connector`; see the module docstring."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        retry: RetryPolicy = FETCH_RETRY,
        budget: ByteBudget | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        import aiohttp

        if session.connector not in _GUARDED:
            raise ValueError("the session's connector must come from guarded_connector()")
        self._session, self._retry, self._budget = session, retry, budget
        # Per attempt; a server that sends nothing for sock_read seconds has stalled.
        self._timeout = timeout or aiohttp.ClientTimeout(total=120, sock_connect=10, sock_read=30)
        self._clock, self._sleep, self._cancelled = clock, sleep, cancelled
        self.requests = 0  #: GET requests sent (redirect hops and retries included)

    async def fetch(
        self,
        url: str,
        policy: FetchPolicy,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Download:
        """GET ``url``; with ``etag`` or ``last_modified``, a 304 is an unchanged Download.

        Raises InvalidRow (refused), PermanentError (a 4xx) or, once the retries are spent,
        TransientError: each in the policy's words, masked.
        """
        start = check_url(url, policy, redirected=False)
        conditional = {"If-None-Match": etag, "If-Modified-Since": last_modified}
        sent = {name: value for name, value in conditional.items() if value}
        tries = Tries(started=self._clock())
        try:
            return await send_with_retries(
                lambda: self._attempt(start, policy, sent, tries),
                policy=self._retry,
                tries=tries,
                clock=self._clock,
                sleep=self._sleep,
                cancelled=self._cancelled,
            )
        except TransientError as exc:
            text = f"{exc.message} ({plural(tries.sent, 'attempt')})"
            raise TransientError(text, http_status=exc.http_status) from None

    async def _attempt(
        self, url: URL, policy: FetchPolicy, conditional: dict[str, str], tries: Tries
    ) -> Download:
        """One attempt: the request and the redirects it leads to, each hop checked again."""
        tries.sent += 1
        secure, thing = False, policy.words.thing
        for hop in range(policy.max_redirects + 1):
            if hop:
                url = check_url(str(url), policy, redirected=True)
            host = host_of(url)
            downgraded, secure = secure and url.scheme == "http", secure or url.scheme == "https"
            headers = {
                "Accept-Encoding": "identity",  # a photo does not compress: no gzip bombs
                **conditional,
                **policy.headers_for(host, downgraded=downgraded),
            }
            answer = await self._hop(url, host, policy, headers, bool(conditional))
            if isinstance(answer, Download):
                return answer
            try:
                url = url.join(type(url)(answer))
            except (ValueError, TypeError):
                raise InvalidRow(f"{thing} URL redirects to an unreadable URL") from None
        raise InvalidRow(
            f"{thing} URL redirects more than {policy.max_redirects} times"
            f" — give the {thing}'s final URL"
        )

    async def _hop(
        self, url: URL, host: str, policy: FetchPolicy, headers: dict[str, str], asked: bool
    ) -> Download | str:
        """One request: the Download, or where a redirect points."""
        import aiohttp

        hop = _Hop(host, private_ok=host in policy.private_hosts)
        token = _HOP.set(hop)
        self.requests += 1
        try:
            async with self._session.get(
                url, headers=headers, allow_redirects=False, timeout=self._timeout
            ) as response:
                status, answer = response.status, response.headers
                if status in _REDIRECTS and answer.get("Location"):
                    return answer["Location"]
                if status == 304 and asked:
                    return Download(str(url), 304, etag=answer.get("ETag"))
                if status not in (200, 203):
                    raise _refusal(status, host, policy, answer.get("Retry-After"))
                return await self._read(response, url, policy)
        except RowError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            raise _translated(exc, hop, policy) from None
        finally:
            _HOP.reset(token)

    async def _read(
        self, response: aiohttp.ClientResponse, url: URL, policy: FetchPolicy
    ) -> Download:
        """The body, streamed: refused early by its Content-Length, else once it passes the cap.

        The budget holds the Content-Length, or the cap when no length is given (until the body
        is read, then its size): what downloads hold stays within the budget, and no two of them
        ever hold part of it each while waiting for the rest.
        """
        thing, cap = policy.words.thing, policy.max_bytes
        length = response.content_length
        if length is not None and length > cap:
            size = human_size(length, beside=cap)
            raise InvalidRow(f"{thing} at URL is {size}; the limit is {human_size(cap)}")
        reserve = cap if length is None else length
        budget = self._budget
        if budget is not None:
            await budget.take(reserve)
        try:
            chunks, total = [], 0
            async for chunk in response.content.iter_chunked(READ_BUFFER):
                total += len(chunk)
                if total > cap:
                    raise InvalidRow(f"{thing} at URL is larger than {human_size(cap)}, the limit")
                chunks.append(chunk)
            data = b"".join(chunks)
        except BaseException:
            if budget is not None:
                budget.give(reserve)
            raise
        if budget is not None:
            budget.give(reserve - total)
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        return Download(str(url), 200, data, etag, modified, budget, total if budget else 0)


class NoFetcher:
    """Stands in for a :class:`Fetcher` where no host is allowed (no ``--allow-host``), so a
    run needs no HTTP session for photos: every URL is refused by the policy's check."""

    requests = 0

    async def fetch(
        self,
        url: str,
        policy: FetchPolicy,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Download:
        check_url(url, policy, redirected=False)
        raise InvalidRow(f"{policy.words.thing} URL {url} cannot be fetched here")


def _refusal(status: int, host: str, policy: FetchPolicy, retry_after: str | None) -> RowError:
    """What an answer other than 200, 304 or a redirect means for the row."""
    words = policy.words
    text = f"{words.server} answered {status} for this {words.thing}'s URL"
    if status >= 500 or status in (408, 429):
        from ._client import parse_retry_after

        seconds = parse_retry_after(retry_after)
        hold = None if seconds is None else min(seconds, MAX_HOLD)
        return TransientError(policy.mask(text), http_status=status, retry_after=hold)
    if status in (401, 403):
        text += f" ({words.auth_hint.format(host=host)})"
    elif status in _REDIRECTS:
        text += " without a Location"
    return PermanentError(policy.mask(text), http_status=status)


def _translated(exc: BaseException, hop: _Hop, policy: FetchPolicy) -> RowError:
    """aiohttp's and the socket's errors as ours, as ``_http.exchange`` translates Zoom's."""
    import aiohttp

    host, thing = hop.host, policy.words.thing
    if hop.refused and len(hop.refused) >= hop.tried:
        address, kind = hop.refused[0]
        return InvalidRow(
            policy.mask(
                f"{thing} URL host {host} is on a {kind} address ({address}), refused unless"
                f" that exact host is allowed — {policy.words.allow_hint.format(host=host)}"
            )
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return InvalidRow(policy.mask(f"{thing} URL is not valid: {exc}"))
    if isinstance(exc, TimeoutError):
        text = f"no answer from {host} in time (timeout)"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        text = f"{host} closed the connection without answering"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        what = "find the host" if isinstance(exc, aiohttp.ClientConnectorDNSError) else "connect to"
        text = f"cannot {what} {host}: {exc.os_error.strerror or exc.os_error}"
    elif isinstance(exc, aiohttp.ClientPayloadError):
        text = f"the connection to {host} broke while the {thing} was read"
    else:
        text = f"network error from {host}: {type(exc).__name__}: {exc}"
    return TransientError(policy.mask(text))
