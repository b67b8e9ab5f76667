"""The built-in Zoom simulator: the endpoints zoom-batch uses, faithful to ZOOM_API.md.

It serves ``POST /oauth/token`` (Server-to-Server OAuth), ``POST /v2/users/{userId}/picture``
and ``DELETE /v2/users/{userId}/picture`` with Zoom's answers, Medium-label rate limits, an
optional daily quota, a user directory and injected faults; ``GET /v2/users/{userId}`` (Light:
its own per-second budget) with a ``pic_url`` it serves (``GET /p/...``: the picture the user
holds, uploaded or given at the start), ``GET /v2/users`` (Medium: pages of up to 300 users of
one status, ``next_page_token``, ``total_records``), and, on request, Zoom's rougher
edges: tokens without the picture scopes, older tokens invalidated by newer ones, an app
revoked mid-run, the per-user concurrency 429, odd headers on per-second 429s. Every picture
answer carries a unique ``x-zm-trackingid``. Users run it with ``zoom-batch simulate`` or
``zoom-batch run --simulate``; the end-to-end tests and benchmarks run it in-process and assert
on its exact counters.

A picture call is admitted in this order, all before its body is read: the token (401/124:
unknown, expired, superseded, or the app revoked), its scopes (4711 or 4700), injected faults
(5xx or a dropped connection), per-user concurrency (429 "Too many concurrent requests."), the
per-second limit (429 QPS), the daily quota (429 Daily-limit). Then come the user directory
(404/1001) and the file's checks (400/120).

A picture request is *accepted* when it passed every admission step (it was answered 201, 204,
400 or 404). Requests refused at admission do not count against the per-second window, so
``max_requests_in_window(accepted_only=True)`` never exceeds an integral rate limit.

An answer takes as long as Zoom's would (ZOOM_API.md, "Latency"): ``latency_ms``, the network
round trip, on every picture call; for an upload whose body was read, also the time that body
needs over the client's uplink (``uplink_mbps``, shared by every request in flight) and, for a
picture that passed the checks, Zoom's processing (``processing_ms``, its content check). The
wait is an ``asyncio.sleep``: a thousand uploads in flight cost no CPU while they wait, and
admission (the per-second window) still happens on arrival.

Besides Zoom's endpoints it serves two of its own, never Zoom's, for benchmarks that run it in
another process: ``GET /_simulator/stats`` (:meth:`Simulator.summary` as JSON) and
``POST /_simulator/reset`` (:meth:`Simulator.reset_stats`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, unquote

from aiohttp import ClientError, hdrs, web

from .._clock import utc_now
from .._exceptions import ConfigError
from ._answers import (
    BODY_BAD_TOKEN,
    BODY_CONCURRENT,
    BODY_TOKEN,
    FAULTS,
    TRACKING_HEADER,
    TrackingIds,
    daily_refusal,
    error_body,
    json_answer,
    qps_refusal,
    scope_refusal,
    user_not_found,
)
from ._directory import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, STATUSES, Accounts, sniff_extension
from ._limits import DailyQuota, SlidingWindowLimit, UserDirectory, max_in_window
from ._oauth import token_params, token_refusal
from ._options import MAX_PICTURE_BYTES as MAX_PICTURE_BYTES
from ._options import SimulatorOptions
from ._options import load_users_file as load_users_file
from ._pictures import PNG_MAGIC, ImageChecks, part_names, read_picture
from ._stats import ReceivedPicture, Refusal, SimulatorStats, accepted_arrivals, summarize
from ._timing import Delay, Uplink
from ._tokens import (
    LIST_USERS,
    READ_USER,
    REMOVE_PICTURE,
    UPLOAD_PICTURE,
    ScopeRule,
    TokenBook,
    check_scopes,
)

_log = logging.getLogger(__name__)

_DEFAULT_OPTIONS: Final = SimulatorOptions()

# Kept importable from here: the tests check the multipart part-name parser under this name.
_part_names = part_names


class _Drop(Exception):
    """Internal: answer by closing the connection."""


#: A handled picture call: its answer, and ``time.monotonic()`` before which it is not sent
#: (0: at once). The round-trip latency comes on top.
_Handled = tuple[web.Response, float]


class Simulator:
    """A simulated Zoom account: an aiohttp application plus what it has seen.

    Start it with ``async with Simulator(options) as sim`` (127.0.0.1, a free port) or
    ``await sim.start(host, port)``. ``utc_now`` is for tests of the daily reset.
    """

    def __init__(
        self,
        options: SimulatorOptions = _DEFAULT_OPTIONS,
        *,
        utc_now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.options = options
        self.stats = SimulatorStats()
        #: Last accepted upload per user, keyed by the user as addressed (emails lowercased).
        self.received: dict[str, ReceivedPicture] = {}
        self._utc_now = utc_now
        self._users = None if options.users is None else UserDirectory(options.users)
        self._limit = SlidingWindowLimit(options.rate_limit)
        self._light_limit = SlidingWindowLimit(options.light_rate_limit)
        #: The account's users, their statuses and the pictures they hold now.
        self.accounts = Accounts(options.users, options.user_statuses, options.pictures)
        self._tokens = TokenBook(options.token_tolerance)
        self._scope_text = " ".join(options.scopes.split())
        self._scopes = check_scopes("scopes", options.scopes)
        self._scope_status = options.scope_refusal_status
        self._images = ImageChecks()
        self._credentials = f"{options.client_id}:{options.client_secret}".encode()
        self._fault_rng = random.Random(options.seed)
        seed = options.seed
        self._latency = Delay(
            options.latency_ms, options.latency_jitter_ms, None if seed is None else seed + 1
        )
        self._tracking = TrackingIds(None if seed is None else seed + 2)
        self._processing = Delay(
            options.processing_ms, options.processing_jitter_ms, None if seed is None else seed + 3
        )
        self._uplink = Uplink(options.uplink_mbps) if options.uplink_mbps else None
        self._handling = 0  # picture requests between arrival and answer, for peak_in_flight
        self._successes = 0  # 201s and 204s, for refuse_after
        self._refuse_at = math.inf if options.refuse_after is None else options.refuse_after
        self._in_flight: dict[str, int] = {}  # user key -> admitted calls not yet answered
        daily = options.daily_limit
        self._daily = None if daily is None else DailyQuota(daily)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = web.Application()
        self.app.router.add_post("/oauth/token", self._token)
        self.app.router.add_post("/v2/users/{user_id}/picture", self._picture)
        self.app.router.add_delete("/v2/users/{user_id}/picture", self._remove_picture)
        self.app.router.add_get("/v2/users/{user_id}", self._get_user)
        self.app.router.add_get("/v2/users", self._list_users)
        self.app.router.add_get("/p/{key}/{name}", self._served_picture)
        # The simulator's own routes, not Zoom's: for a benchmark running it in another process.
        self.app.router.add_get("/_simulator/stats", self._stats_route)
        self.app.router.add_post("/_simulator/reset", self._reset_route)

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port``; port 0 picks a free port. ``base_url`` is valid afterwards."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self._base_url = f"http://{shown}:{bound_port}"

    async def stop(self) -> None:
        """Stop listening and close open connections. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:54321``; valid once started."""
        if self._base_url is None:
            raise RuntimeError("the simulator has not been started")
        return self._base_url

    @property
    def api_url(self) -> str:
        return self.base_url + "/v2"

    @property
    def oauth_url(self) -> str:
        return self.base_url + "/oauth/token"

    @property
    def pictures(self) -> dict[str, bytes]:
        """The picture each user holds now, by user (emails lowercased): what Zoom shows."""
        return self.accounts.pictures()

    # -- knobs and measurements ----------------------------------------------------------------

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far: the next picture requests get 401/124."""
        self._tokens.clear()

    def set_scopes(self, scopes: str) -> None:
        """Change the app's scopes now: tokens issued from now on carry these (space-separated).

        Tokens issued earlier keep the scopes they were issued with, as at Zoom.
        """
        self._scopes = check_scopes("scopes", scopes)
        self._scope_text = " ".join(scopes.split())

    def set_rate_limit(self, per_second: float) -> None:
        """Change the per-second limit now (0 = unlimited); admissions already made still count."""
        if not math.isfinite(per_second) or per_second < 0:
            raise ConfigError(f"simulator rate limit must be >= 0, got {per_second!r}")
        self._limit.set_rate(per_second)

    def max_requests_in_window(self, window: float = 1.0, *, accepted_only: bool = False) -> int:
        """The most picture requests that arrived in any ``window`` seconds (sliding window)."""
        times: Sequence[float] = self.stats.arrivals
        if accepted_only:
            times = accepted_arrivals(self.stats)
        return max_in_window(times, window)

    def summary(self) -> dict[str, Any]:
        """The counters of :attr:`stats` and what a benchmark derives from its arrays.

        This is what ``GET /_simulator/stats`` answers: every counter of
        :class:`SimulatorStats` by its name (``peak_in_flight`` included), plus ``in_flight``
        (picture requests in progress now), ``responses_429`` (per-second, daily and
        concurrency 429s together), ``max_in_window`` and ``max_in_window_accepted`` (the
        most picture requests, and accepted ones, in any 1 s sliding window),
        ``accepted_arrivals`` (``count``, ``first`` and ``last`` arrival times of accepted
        requests, None before the first) and ``clock``, the simulator's ``time.monotonic()``
        now: arrival times are on that clock, so only their differences mean anything to
        another process.
        """
        return summarize(self.stats, self._handling)

    def reset_stats(self) -> None:
        """Zero :attr:`stats` and forget the pictures received, e.g. between benchmark runs.

        The account itself is left as it is: tokens, the per-second window, the daily quota.
        ``peak_in_flight`` starts again from the requests in progress now.
        """
        self.stats = SimulatorStats(peak_in_flight=self._handling)
        self.received.clear()

    async def _stats_route(self, request: web.Request) -> web.Response:
        """``GET /_simulator/stats``: :meth:`summary` as JSON (the simulator's own, not Zoom's)."""
        return web.json_response(self.summary())

    async def _reset_route(self, request: web.Request) -> web.Response:
        """``POST /_simulator/reset``: :meth:`reset_stats`, answered 204 (not Zoom's either)."""
        self.reset_stats()
        return web.Response(status=204)

    # -- OAuth -------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        self.stats.token_requests += 1
        params = await token_params(request)
        response = token_refusal(
            request, params, credentials=self._credentials, account_id=self.options.account_id
        )
        if response is not None:
            self.stats.token_refused += 1
            return response
        ttl = self.options.token_ttl
        token = self._tokens.issue(time.monotonic(), ttl, self._scopes)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": ttl,
                "scope": self._scope_text,
                # Zoom gives the API host without /v2.
                "api_url": self._base_url or str(request.url.origin()),
            }
        )

    # -- the picture endpoint ------------------------------------------------------------------

    async def _picture(self, request: web.Request) -> web.StreamResponse:
        """``POST /users/{userId}/picture``."""
        return await self._medium(request, UPLOAD_PICTURE, self._receive)

    async def _remove_picture(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /users/{userId}/picture``: a Medium call too, on the same budget."""
        return await self._medium(request, REMOVE_PICTURE, self._remove)

    async def _medium(
        self,
        request: web.Request,
        rule: ScopeRule,
        handle: Callable[[web.Request, str, float, float], Awaitable[_Handled]],
    ) -> web.StreamResponse:
        """A picture call: admission, then ``handle``, then its answer time; a tracking id on each.

        The answer waits for ``handle``'s "not before" time (the body over the uplink, then
        Zoom's processing), then the round-trip latency.
        """
        arrived = time.monotonic()
        stats = self.stats
        stats.picture_requests += 1
        delay = self._latency.draw()
        # The body crosses the client's uplink whatever the answer, so every upload with a
        # declared length takes its share of the link from its arrival; a chunked body is
        # charged once read (see _receive).
        body_done = arrived
        if self._uplink is not None and request.method == hdrs.METH_POST:
            size = request.content_length
            if size:
                body_done = self._uplink.cross(arrived, size)
        # The raw segment keeps an encoded "/" apart from the path separators.
        named = "user_id" in request.match_info
        user = unquote(request.rel_url.raw_parts[-2]) if named else ""
        slot: str | None = None
        self._handling += 1
        if self._handling > stats.peak_in_flight:
            stats.peak_in_flight = self._handling
        try:
            try:
                response, slot = self._admit(request, user, rule, arrived)
                if response is None:
                    response, not_before = await handle(request, user, arrived, body_done)
                    if not_before:
                        delay += max(0.0, not_before - time.monotonic())
            except _Drop:
                stats.dropped += 1
                if delay:
                    await asyncio.sleep(delay)
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=204)  # never reaches the client
            self._track(response, user)
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s picture %s -> %d", request.method, user, response.status)
            if delay:
                await asyncio.sleep(delay)
            return response
        finally:
            self._handling -= 1
            if slot is not None:
                left = self._in_flight[slot] - 1
                if left:
                    self._in_flight[slot] = left
                else:
                    del self._in_flight[slot]

    def _track(self, response: web.Response, user: str) -> None:
        """Give ``response`` its unique ``x-zm-trackingid``; remember it if it is a refusal."""
        tracking_id = self._tracking.next()
        response.headers[TRACKING_HEADER] = tracking_id
        stats = self.stats
        stats.last_tracking_id = tracking_id
        if response.status >= 400:
            stats.refusals.append(Refusal(response.status, user, tracking_id))

    def _admit(
        self, request: web.Request, user: str, rule: ScopeRule, arrived: float
    ) -> tuple[web.Response | None, str | None]:
        """All before the body is read: token, scope, faults, concurrency, per-second, daily.

        Returns the refusal (None when admitted) and the user's concurrency slot, if one was
        taken: the caller frees it once the answer is ready, whatever the answer.
        """
        stats = self.stats
        stats.arrivals.append(arrived)
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        held = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if held is None or arrived >= held.expiry or self._successes >= self._refuse_at:
            stats.accepted.append(0)
            stats.unauthorized += 1
            return json_answer(401, BODY_TOKEN), None
        opts = self.options
        if not rule.allows(held.scopes, user):
            stats.accepted.append(0)
            stats.scope_refused += 1
            return scope_refusal(opts.scope_error, self._scope_status, rule, user), None
        if opts.fail_rate or opts.drop_rate:
            draw = self._fault_rng.random()
            if draw < opts.drop_rate:
                stats.accepted.append(0)
                raise _Drop
            if draw < opts.drop_rate + opts.fail_rate:
                stats.accepted.append(0)
                stats.server_errors += 1
                status, body, content_type = self._fault_rng.choice(FAULTS)
                return web.Response(status=status, body=body, content_type=content_type), None
        slot = None
        if opts.user_concurrency is not None and user:
            slot = user.lower() if "@" in user else user
            busy = self._in_flight.get(slot, 0)
            if busy >= opts.user_concurrency:
                stats.accepted.append(0)
                stats.concurrency_limited += 1
                return json_answer(429, BODY_CONCURRENT), None
            self._in_flight[slot] = busy + 1
        if self._limit.full(arrived):
            stats.accepted.append(0)
            stats.rate_limited += 1
            refusal = qps_refusal(
                self._limit.rate,
                type_header=opts.qps_type_header,
                retry_after=opts.qps_retry_after,
            )
            return refusal, slot
        daily = self._daily
        if daily is not None:
            now = self._utc_now()
            if not daily.take(now):
                stats.accepted.append(0)
                stats.daily_limited += 1
                return daily_refusal(daily.limit, now), slot
        self._limit.add(arrived)
        stats.accepted.append(1)
        return None, slot

    async def _receive(
        self, request: web.Request, user: str, arrived: float, body_done: float
    ) -> _Handled:
        """After admission: user directory, body checks, then the upload.

        ``body_done`` is when the body has crossed the uplink. An answer given after reading
        the body is not sent before it has; a picture that passed the checks then also waits
        for Zoom's processing, which the simulator's own checks count towards.
        """
        stats = self.stats
        uploaded = False
        try:
            if self._users is not None and user not in self._users:
                stats.not_found += 1
                return user_not_found(user), 0.0
            try:
                part = await read_picture(request, self.options.max_picture_bytes)
            except (ConnectionError, ClientError, asyncio.IncompleteReadError):
                stats.aborted += 1
                return web.Response(status=400), 0.0  # never reaches the client
            read = time.monotonic()
            if isinstance(part, bytes):
                stats.bad_requests += 1
                return json_answer(400, part), body_done
            data, filename, content_type = part
            if self._uplink is not None and request.content_length is None:
                body_done = self._uplink.cross(arrived, len(data))  # chunked: charged now
            digest, problem = await self._images.check(data)
            if problem is not None:
                stats.bad_requests += 1
                return json_answer(400, problem), body_done
            uploaded = True
            response = self._record(request, user, data, digest, filename, content_type, arrived)
            processing = self._processing.draw()
            if processing:
                return response, max(read, body_done) + processing
            return response, body_done
        finally:
            if self._daily is not None:
                self._daily.settle(uploaded)

    async def _remove(
        self, request: web.Request, user: str, arrived: float, body_done: float
    ) -> _Handled:
        """After admission: the user directory, then the picture goes (latency only)."""
        removed = False
        try:
            if self._users is not None and user not in self._users:
                self.stats.not_found += 1
                return user_not_found(user), 0.0
            key = user.lower() if "@" in user else user
            self.received.pop(key, None)
            self.accounts.drop_picture(key)
            self.stats.removals += 1
            self._successes += 1
            removed = True
            return web.Response(status=204), 0.0
        finally:
            if self._daily is not None:
                self._daily.settle(removed)

    # -- the user endpoints ----------------------------------------------------------------

    async def _list_users(self, request: web.Request) -> web.StreamResponse:
        """``GET /users?status=&page_size=&next_page_token=``: a Medium call, one page."""
        return await self._medium(request, LIST_USERS, self._list)

    async def _list(
        self, request: web.Request, user: str, arrived: float, body_done: float
    ) -> _Handled:
        listed = False
        try:
            query = request.rel_url.query
            status = query.get("status", "active") or "active"
            try:
                size = int(query.get("page_size", DEFAULT_PAGE_SIZE))
            except ValueError:
                size = DEFAULT_PAGE_SIZE
            size = max(1, min(size, MAX_PAGE_SIZE))
            if status not in STATUSES:
                self.stats.bad_requests += 1
                body = error_body(300, f"Invalid field: status {status!r}.")
                return json_answer(400, body), 0.0
            page = self.accounts.page(status, size, query.get("next_page_token"))
            if page is None:
                self.stats.bad_requests += 1
                return json_answer(400, BODY_BAD_TOKEN), 0.0
            items, following, total = page
            self.stats.user_lists += 1
            listed = True
            answer = {
                "page_count": max(1, -(-total // size)),
                "page_size": size,
                "total_records": total,
                "next_page_token": following,
                "users": items,
            }
            return web.json_response(answer), 0.0
        finally:
            if self._daily is not None:
                self._daily.settle(listed)

    async def _get_user(self, request: web.Request) -> web.StreamResponse:
        """``GET /users/{userId}``: a Light call, on a per-second budget of its own."""
        stats = self.stats
        stats.light_requests += 1
        delay = self._latency.draw()
        user = unquote(request.rel_url.raw_parts[-1])
        try:
            response = self._admit_light(request, user)
        except _Drop:
            stats.light_refused += 1
            if delay:
                await asyncio.sleep(delay)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)
        if response is None:
            key = self.accounts.find(user)
            if key is None:
                response = user_not_found(user)
            else:
                stats.user_reads += 1
                base = self._base_url or str(request.url.origin())
                response = web.json_response(self.accounts.describe(key, base))
        if response.status >= 400:
            stats.light_refused += 1
        self._track(response, user)
        if delay:
            await asyncio.sleep(delay)
        return response

    def _admit_light(self, request: web.Request, user: str) -> web.Response | None:
        """Token, scope, faults, then the Light per-second window; None when admitted."""
        arrived = time.monotonic()
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        held = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if held is None or arrived >= held.expiry or self._successes >= self._refuse_at:
            return json_answer(401, BODY_TOKEN)
        opts = self.options
        if not READ_USER.allows(held.scopes, user):
            return scope_refusal(opts.scope_error, self._scope_status, READ_USER, user)
        if opts.fail_rate or opts.drop_rate:
            draw = self._fault_rng.random()
            if draw < opts.drop_rate:
                raise _Drop
            if draw < opts.drop_rate + opts.fail_rate:
                status, body, content_type = self._fault_rng.choice(FAULTS)
                return web.Response(status=status, body=body, content_type=content_type)
        limit = self._light_limit
        if limit.full(arrived):
            self.stats.light_rate_limited += 1
            return qps_refusal(
                limit.rate,
                type_header=opts.qps_type_header,
                retry_after=opts.qps_retry_after,
                category="Light",
            )
        limit.add(arrived)
        return None

    async def _served_picture(self, request: web.Request) -> web.StreamResponse:
        """``GET /p/{user}/{digest}.{ext}``: a ``pic_url``, while the user still holds it."""
        key = request.match_info["key"]
        data = self.accounts.picture_at(
            key.lower() if "@" in key else key, request.match_info["name"]
        )
        if data is None:
            return web.Response(status=404, text="no such picture")
        self.stats.picture_downloads += 1
        kind = sniff_extension(data)
        content_type = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}[kind]
        return web.Response(body=data, content_type=content_type)

    def _record(
        self,
        request: web.Request,
        user: str,
        data: bytes,
        digest: str,
        filename: str,
        content_type: str,
        arrived: float,
    ) -> web.Response:
        key = user.lower() if "@" in user else user
        self.accounts.set_picture(key, data)
        previous = self.received.get(key)
        self.received[key] = ReceivedPicture(
            sha256=digest,
            size=len(data),
            content_type=content_type,
            filename=filename,
            count=1 if previous is None else previous.count + 1,
            received_at=arrived,
        )
        self.stats.uploads += 1
        self._successes += 1
        base = self._base_url or str(request.url.origin())
        extension = "png" if data.startswith(PNG_MAGIC) else "jpg"
        location = f"{base}/p/{quote(key, safe='')}/{digest[:16]}.{extension}"
        return web.Response(status=201, headers={hdrs.CONTENT_LOCATION: location})


async def serve(
    options: SimulatorOptions,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None],
) -> None:
    """Run a simulator until cancelled (Ctrl-C); ``ready(base_url)`` is called once listening."""
    simulator = Simulator(options)
    await simulator.start(host, port)
    try:
        ready(simulator.base_url)
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
