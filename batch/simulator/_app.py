"""The built-in Zoom simulator: the endpoints zoom-batch uses, faithful to ZOOM_API.md.

It serves ``POST /oauth/token`` (Server-to-Server OAuth), ``POST /v2/users/{userId}/picture``
and ``DELETE /v2/users/{userId}/picture`` with Zoom's answers, Medium-label rate limits, an
optional daily quota, a user directory and injected faults, and, on request, Zoom's rougher
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
import base64
import binascii
import hashlib
import io
import json
import logging
import math
import random
import re
import secrets
import time
from array import array
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, NamedTuple
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, ClientError, hdrs, web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from PIL import Image

from .._clock import iso_utc, next_midnight_utc, utc_now
from .._exceptions import ConfigError
from ._tokens import (
    GRANULAR_SCOPES,
    REMOVE_PICTURE,
    UPLOAD_PICTURE,
    ScopeRule,
    TokenBook,
    check_scopes,
)

_log = logging.getLogger(__name__)

#: The default of ``max_picture_bytes``: Zoom's "2M" read pessimistically (ZOOM_API.md: a file
#: between 2,000,000 and 2,097,152 bytes may be refused), so the simulator refuses it.
MAX_PICTURE_BYTES: Final = 2_000_000
# Larger pictures are hashed and decoded in a worker thread so the event loop keeps serving.
# Measured with client and simulator in one process (noise JPEGs): inline is faster up to
# ~200 KB (57 KB: 580/s inline vs 500/s threaded), the thread from ~400 KB (78/s vs 133/s).
_THREAD_DECODE_BYTES: Final = 256 * 1024
_READ_CHUNK: Final = 64 * 1024
_VERDICTS_KEPT: Final = 4096
_REFUSALS_KEPT: Final = 256
#: The default ``scope`` of issued tokens: a 2024+ app's granular scopes, all zoom-batch needs.
_SCOPE: Final = GRANULAR_SCOPES
_TRACKING_HEADER: Final = "x-zm-trackingid"
# Zoom's shape, e.g. "v=2.0;clid=us06;rid=WEB_" + 32 hex digits.
_TRACKING_PREFIX: Final = "v=2.0;clid=sim;rid=WEB_"
#: Allowed HTTP statuses per scope-refusal code, the first one the default (ZOOM_API.md).
_SCOPE_STATUSES: Final = {4711: (400, 401), 4700: (401, 403)}
_GRANT_TYPE: Final = "account_credentials"
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"

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


@dataclass(frozen=True, kw_only=True)
class SimulatorOptions:
    """How the simulated account behaves. Checked on creation; ConfigError names the bad option."""

    account_id: str = "sim-account"
    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"
    #: The user directory (emails, Zoom user IDs); None means every user exists. Emails match
    #: case-insensitively, IDs exactly; ``me`` always exists.
    users: frozenset[str] | None = None
    #: Medium label, requests/s for the whole account; 0 means unlimited.
    rate_limit: float = 20.0
    #: Uploads accepted per UTC day; None means no daily limit.
    daily_limit: int | None = None
    #: Share of picture requests answered with a 500, 502 or 503.
    fail_rate: float = 0.0
    #: Share of picture requests whose connection is closed with no answer.
    drop_rate: float = 0.0
    #: Mean latency added to each picture request (uploads and removals alike): the network
    #: round trip, milliseconds.
    latency_ms: float = 0.0
    #: Uniform +/- jitter around ``latency_ms``, milliseconds.
    latency_jitter_ms: float = 0.0
    #: The client's uplink in megabits/s, one link shared by every request in flight; 0 means
    #: infinite. An upload is answered no sooner than its body could have crossed it.
    uplink_mbps: float = 0.0
    #: Zoom's processing of an uploaded picture (its content check; Zoom takes 1-3 s), counted
    #: from the body's arrival; removals have none. Milliseconds.
    processing_ms: float = 0.0
    #: Uniform +/- jitter around ``processing_ms``, milliseconds.
    processing_jitter_ms: float = 0.0
    #: ``expires_in`` of issued tokens, seconds.
    token_ttl: int = 3600
    #: Seed for fault injection, latency jitter and tracking ids, for reproducible runs.
    seed: int | None = None
    #: The space-separated ``scope`` of issued tokens; the picture calls check it. Uploading
    #: needs ``user:write:profile_picture:admin`` (or the older ``user:write:admin``), removing
    #: ``user:delete:profile_picture:admin`` (or ``user:write:admin``); for ``me`` their
    #: user-level forms do too (``user:write:profile_picture``, ``user:write``, ...).
    scopes: str = _SCOPE
    #: Zoom's code for a token lacking a scope: 4711 (granular apps, "...does not contain
    #: scopes:[user:write:profile_picture:admin].") or 4700 (classic apps, no list).
    scope_error: int = 4711
    #: HTTP status of that refusal; None is the code's usual one: 400 for 4711 (else 401), 401
    #: for 4700 (else 403). Zoom has not confirmed 4711's.
    scope_status: int | None = None
    #: None: every unexpired token stays valid. N: issuing a token invalidates all but the
    #: newest N + 1 (0: only the newest is valid).
    token_tolerance: int | None = None
    #: After this many successful picture calls (201 or 204) every token is refused with
    #: 401/124, new ones too, while tokens are still issued: the app was deactivated. Calls
    #: already admitted finish normally. None: never.
    refuse_after: int | None = None
    #: More picture calls than this in flight for one user get 429 "Too many concurrent
    #: requests." (no X-RateLimit-Type, no Retry-After). None: no such limit.
    user_concurrency: int | None = None
    #: Sent verbatim as ``Retry-After`` on every per-second 429 ("86400", "inf", a date...).
    qps_retry_after: str | None = None
    #: Whether per-second 429s carry ``X-RateLimit-Type: QPS`` (Zoom's headers are not always
    #: all present).
    qps_type_header: bool = True
    #: Larger pictures get 400/120 "File size cannot exceed 2M".
    max_picture_bytes: int = MAX_PICTURE_BYTES

    def __post_init__(self) -> None:
        for name in ("account_id", "client_id", "client_secret"):
            if not getattr(self, name):
                raise ConfigError(f"simulator option {name} must not be empty")
        for name in (
            "rate_limit",
            "latency_ms",
            "latency_jitter_ms",
            "uplink_mbps",
            "processing_ms",
            "processing_jitter_ms",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"simulator option {name} must be >= 0, got {value!r}")
        for name in ("fail_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"simulator option {name} must be between 0 and 1, got {value!r}")
        if self.fail_rate + self.drop_rate > 1.0:
            raise ConfigError("simulator options fail_rate + drop_rate must not exceed 1")
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ConfigError(f"simulator option daily_limit must be >= 0, got {self.daily_limit}")
        if self.token_ttl < 1:
            raise ConfigError(f"simulator option token_ttl must be >= 1, got {self.token_ttl}")
        self._check_scope_options()
        for name, least in (
            ("token_tolerance", 0),
            ("refuse_after", 0),
            ("user_concurrency", 1),
            ("max_picture_bytes", 1),
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < least):
                raise ConfigError(f"simulator option {name} must be >= {least}, got {value!r}")
        retry_after = self.qps_retry_after
        if retry_after is not None and (
            not isinstance(retry_after, str)
            or not retry_after.strip()
            or not (retry_after.isascii() and retry_after.isprintable())
        ):
            raise ConfigError(
                f"simulator option qps_retry_after must be a header value, got {retry_after!r}"
            )
        if not isinstance(self.qps_type_header, bool):
            raise ConfigError(
                f"simulator option qps_type_header must be true or false,"
                f" got {self.qps_type_header!r}"
            )

    def _check_scope_options(self) -> None:
        check_scopes("scopes", self.scopes)
        statuses = _SCOPE_STATUSES.get(self.scope_error)
        if statuses is None:
            raise ConfigError(
                f"simulator option scope_error must be 4711 or 4700, got {self.scope_error!r}"
            )
        if self.scope_status is not None and self.scope_status not in statuses:
            allowed = " or ".join(map(str, statuses))
            raise ConfigError(
                f"simulator option scope_status must be {allowed} with scope_error"
                f" {self.scope_error}, got {self.scope_status!r}"
            )

    @property
    def scope_refusal_status(self) -> int:
        """The HTTP status of a scope refusal: ``scope_status`` or the code's usual one."""
        if self.scope_status is not None:
            return self.scope_status
        return _SCOPE_STATUSES[self.scope_error][0]


@dataclass(slots=True)
class ReceivedPicture:
    """The last upload accepted for one user."""

    sha256: str  #: hex digest of the exact bytes received
    size: int
    content_type: str  #: the part's Content-Type as sent ("" when absent)
    filename: str
    count: int  #: accepted uploads for this user so far
    received_at: float  #: ``time.monotonic()`` when it arrived, comparable with ``arrivals``


class Refusal(NamedTuple):
    """A picture call answered with an error status, as the client saw it."""

    status: int
    user: str  #: as addressed, decoded
    tracking_id: str  #: the answer's ``x-zm-trackingid``


@dataclass(slots=True)
class SimulatorStats:
    """Exact counters. The picture outcome counters add up to ``picture_requests``.

    The outcome counters are ``uploads``, ``removals``, ``unauthorized``, ``scope_refused``,
    ``server_errors``, ``dropped``, ``concurrency_limited``, ``rate_limited``,
    ``daily_limited``, ``not_found``, ``bad_requests`` and ``aborted``: one per request.
    """

    token_requests: int = 0  #: all token requests, refused ones included
    token_refused: int = 0  #: token requests answered 400 or 401
    picture_requests: int = 0  #: all picture requests, refused ones included
    uploads: int = 0  #: 201
    removals: int = 0  #: 204, pictures removed
    rate_limited: int = 0  #: 429, per-second limit
    daily_limited: int = 0  #: 429, daily limit
    concurrency_limited: int = 0  #: 429, too many calls in flight for one user
    server_errors: int = 0  #: injected 5xx
    dropped: int = 0  #: injected dropped connections
    unauthorized: int = 0  #: 401/124 on picture requests (unknown, expired, superseded, revoked)
    scope_refused: int = 0  #: 4711 or 4700: the token lacks the call's scope
    bad_requests: int = 0  #: 400
    not_found: int = 0  #: 404
    aborted: int = 0  #: the client went away while its body was being read
    #: The most picture requests in progress at once, from arrival until the answer is ready
    #: (refused ones included). Not an outcome counter.
    peak_in_flight: int = 0
    #: ``time.monotonic()`` arrival time of every picture request, in arrival order.
    arrivals: array[float] = field(default_factory=lambda: array("d"))
    #: Parallel to ``arrivals``: 1 when that request was accepted (passed admission).
    accepted: array[int] = field(default_factory=lambda: array("B"))
    #: The ``x-zm-trackingid`` of the latest picture answer ("" before the first).
    last_tracking_id: str = ""
    #: The latest picture answers with a status of 400 or more, oldest first (bounded).
    refusals: deque[Refusal] = field(default_factory=lambda: deque(maxlen=_REFUSALS_KEPT))


def load_users_file(path: Path) -> frozenset[str]:
    """Read a user directory: one email or user ID a line; blanks and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from exc
    users = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(user for user in users if user)


def max_in_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most of ``times`` that fall within any span shorter than ``window`` (sliding)."""
    ordered = sorted(times)  # already sorted in practice: timsort makes that O(n)
    best = 0
    start = 0
    for end, now in enumerate(ordered):
        while now - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class _SlidingWindowLimit:
    """At most ``capacity`` admissions in any ``window`` seconds.

    Sliding-window log, as described in Figma's "An alternative approach to rate limiting"
    (2017): keep the admitted timestamps; refuse when the last window already holds capacity.
    A fractional rate r admits ceil(r) requests per ceil(r)/r seconds (e.g. 2.5/s: 3 per 1.2 s).
    """

    __slots__ = ("_log", "capacity", "rate", "window")

    def __init__(self, rate: float) -> None:
        self._log: deque[float] = deque()
        self.rate = 0.0
        self.capacity = 0
        self.window = 1.0
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        if rate > 0:
            self.capacity = max(1, math.ceil(rate))
            self.window = self.capacity / rate

    def full(self, now: float) -> bool:
        """Whether the last window already holds ``capacity`` admissions (forgets older ones)."""
        if self.rate <= 0:
            return False
        stamps = self._log
        horizon = now - self.window
        while stamps and stamps[0] <= horizon:
            stamps.popleft()
        return len(stamps) >= self.capacity

    def add(self, now: float) -> None:
        if self.rate > 0:
            self._log.append(now)


class _Uplink:
    """The client's uplink: one link of ``mbps`` megabits/s that every request body shares.

    Model: a single shared link, kept as a virtual "link free at" time. A body of n bytes that
    starts at t finishes at max(t, free_at) + 8n / (mbps * 1e6), which becomes the new
    free_at: the bodies in flight cross one after another (FIFO). The link is busy for the
    total bytes in flight divided by the bandwidth whatever the order, so a burst drains when
    it would under TCP's fair share between connections and the last body of a burst arrives
    at the same time; only the order differs (under fair share, equal bodies sent together all
    finish near the end), which makes the mean answer a little shorter than fair share would.
    """

    __slots__ = ("_free_at", "_seconds_per_byte")

    def __init__(self, mbps: float) -> None:
        self._seconds_per_byte = 8.0 / (mbps * 1e6)
        self._free_at = -math.inf

    def cross(self, start: float, size: int) -> float:
        """When a body of ``size`` bytes, sent from ``start``, has wholly arrived."""
        done = max(start, self._free_at) + size * self._seconds_per_byte
        self._free_at = done
        return done


class _UserDirectory:
    """Who exists: emails compared case-insensitively, Zoom user IDs exactly."""

    __slots__ = ("_emails", "_ids")

    def __init__(self, users: Iterable[str]) -> None:
        self._emails = {user.lower() for user in users if "@" in user}
        self._ids = {user for user in users if "@" not in user}

    def __contains__(self, user: str) -> bool:
        if "@" in user:
            return user.lower() in self._emails
        return user == "me" or user in self._ids


def _error_body(code: int, message: str) -> bytes:
    # Zoom's compact JSON; the fixed ones are built once, below.
    return json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()


_BODY_TOKEN: Final = _error_body(124, "Invalid access token.")
_BODY_QPS: Final = _error_body(429, _MSG_QPS)
_BODY_DAILY: Final = _error_body(429, _MSG_DAILY)
_BODY_CONCURRENT: Final = _error_body(429, "Too many concurrent requests.")
_BODY_CLASSIC_SCOPES: Final = _error_body(4700, _MSG_SCOPES + ".")
_BODY_NO_FILENAME: Final = _error_body(120, "")
_BODY_EMPTY: Final = _error_body(120, _MSG_EMPTY)
_BODY_TOO_BIG: Final = _error_body(120, _MSG_TOO_BIG)
_BODY_NOT_IMAGE: Final = _error_body(120, _MSG_NOT_IMAGE)
# Injected faults look like what a client really meets: Zoom's JSON for a 500, a gateway's
# HTML for a 502 or 503, so clients are made to parse error bodies defensively.
_FAULTS: Final[tuple[tuple[int, bytes, str], ...]] = (
    (500, _error_body(500, "Internal server error."), "application/json"),
    (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (503, b"<html><body><h1>503 Service Unavailable</h1></body></html>", "text/html"),
)


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _oauth_error(status: int, reason: str, error: str) -> web.Response:
    return web.json_response({"reason": reason, "error": error}, status=status)


def _image_problem(data: bytes) -> bytes | None:
    """The 400 body for bytes that are not a whole JPEG or PNG, else None."""
    if not (data.startswith(_JPEG_MAGIC) or data.startswith(_PNG_MAGIC)):
        return _BODY_NOT_IMAGE
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as image:
            is_png = image.format == "PNG"
            if is_png:
                # Checks every chunk's CRC and the final IEND: load() alone accepts a PNG cut
                # short by a few dozen bytes. verify() leaves the image unusable, so reopen.
                image.verify()
            else:
                # Decode at 1/8 scale: still reads every entropy-coded segment, so truncation
                # and corruption are caught, ~1.4-1.9x faster than a full decode (measured).
                image.draft("RGB", (1, 1))
                image.load()
        if is_png:
            with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
                image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return _BODY_NOT_IMAGE
    return None


def _basic_credentials(header: str) -> bytes | None:
    """The decoded ``id:secret`` of a Basic Authorization header, or None."""
    # By hand: aiohttp 3.14 deprecates BasicAuth and offers only an encoder in its place.
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if b":" in decoded else None


# The Content-Disposition every client sends. aiohttp's parser rebuilds an escaped character
# class on each call (~55 us with aiohttp 3.14, and BodyPartReader.name and .filename parse
# again each); this plain form is read directly and anything else goes to that parser.
_PLAIN_DISPOSITION: Final = re.compile(
    r'form-data; ?name="([^"\\/][^"\\]*)"(?:; ?filename="([^"\\/][^"\\]*|)")?', re.IGNORECASE
)


def _part_names(header: str | None) -> tuple[str | None, str | None]:
    """The ``name`` and ``filename`` of a part's Content-Disposition (None when absent)."""
    if header is not None and (match := _PLAIN_DISPOSITION.fullmatch(header)):
        return match[1], match[2]
    _, params = parse_content_disposition(header)
    return content_disposition_filename(params, "name"), content_disposition_filename(params)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _format_rate(rate: float) -> str:
    return str(int(rate)) if rate == int(rate) else f"{rate:g}"


class _Drop(Exception):
    """Internal: answer by closing the connection."""


#: A handled picture call: its answer, and ``time.monotonic()`` before which it is not sent
#: (0: at once). The round-trip latency comes on top.
_Handled = tuple[web.Response, float]


def _draw(rng: random.Random, mean_ms: float, jitter_ms: float) -> float:
    """Seconds: ``mean_ms`` +/- a uniform ``jitter_ms``, never below zero."""
    if not mean_ms and not jitter_ms:
        return 0.0
    ms = mean_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
    return max(0.0, ms) / 1000.0


class Simulator:
    """A simulated Zoom account: an aiohttp application plus what it has seen.

    Start it with ``async with Simulator(options) as sim`` (127.0.0.1, a free port) or
    ``await sim.start(host, port)``. ``utc_now`` is for tests of the daily reset.
    """

    def __init__(
        self,
        options: SimulatorOptions = SimulatorOptions(),
        *,
        utc_now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.options = options
        self.stats = SimulatorStats()
        #: Last accepted upload per user, keyed by the user as addressed (emails lowercased).
        self.received: dict[str, ReceivedPicture] = {}
        self._utc_now = utc_now
        self._users = None if options.users is None else _UserDirectory(options.users)
        self._limit = _SlidingWindowLimit(options.rate_limit)
        self._tokens = TokenBook(options.token_tolerance)
        self._scope_text = " ".join(options.scopes.split())
        self._scopes = check_scopes("scopes", options.scopes)
        self._scope_status = options.scope_refusal_status
        self._verdicts: dict[str, bytes | None] = {}  # sha256 -> _image_problem's answer
        self._credentials = f"{options.client_id}:{options.client_secret}".encode()
        self._fault_rng = random.Random(options.seed)
        self._latency_rng = random.Random(None if options.seed is None else options.seed + 1)
        self._tracking_rng = random.Random(None if options.seed is None else options.seed + 2)
        self._processing_rng = random.Random(None if options.seed is None else options.seed + 3)
        self._uplink = _Uplink(options.uplink_mbps) if options.uplink_mbps else None
        self._handling = 0  # picture requests between arrival and answer, for peak_in_flight
        self._tracking_serial = 0  # makes tracking ids unique whatever the random part draws
        self._successes = 0  # 201s and 204s, for refuse_after
        self._refuse_at = math.inf if options.refuse_after is None else options.refuse_after
        self._in_flight: dict[str, int] = {}  # user key -> admitted calls not yet answered
        self._day: date | None = None
        self._daily_used = 0
        self._daily_pending = 0  # admitted uploads still being read: keeps the quota exact
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self.app = web.Application()
        self.app.router.add_post("/oauth/token", self._token)
        self.app.router.add_post("/v2/users/{user_id}/picture", self._picture)
        self.app.router.add_delete("/v2/users/{user_id}/picture", self._remove_picture)
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
            times = self._accepted_arrivals()
        return max_in_window(times, window)

    def _accepted_arrivals(self) -> list[float]:
        stats = self.stats
        return [t for t, ok in zip(stats.arrivals, stats.accepted, strict=True) if ok]

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
        stats = self.stats
        counters = {
            item.name: getattr(stats, item.name)
            for item in fields(stats)
            if isinstance(getattr(stats, item.name), int)
        }
        accepted = self._accepted_arrivals()
        return {
            **counters,
            "in_flight": self._handling,
            "responses_429": stats.rate_limited + stats.daily_limited + stats.concurrency_limited,
            "max_in_window": max_in_window(stats.arrivals),
            "max_in_window_accepted": max_in_window(accepted),
            "accepted_arrivals": {
                "count": len(accepted),
                "first": accepted[0] if accepted else None,
                "last": accepted[-1] if accepted else None,
            },
            "clock": time.monotonic(),
        }

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
        params = dict(request.query)
        if request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            for key in ("grant_type", "account_id"):
                value = form.get(key)
                if key not in params and isinstance(value, str):
                    params[key] = value
        response = self._token_refusal(request, params)
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

    def _token_refusal(self, request: web.Request, params: dict[str, str]) -> web.Response | None:
        given = _basic_credentials(request.headers.get(hdrs.AUTHORIZATION, ""))
        if given is None or not secrets.compare_digest(given, self._credentials):
            return _oauth_error(401, "Invalid client_id or client_secret", "invalid_client")
        if params.get("grant_type") != _GRANT_TYPE:
            return _oauth_error(400, "unsupported grant type", "unsupported_grant_type")
        if params.get("account_id") != self.options.account_id:
            return _oauth_error(400, "Invalid account_id", "invalid_request")
        return None

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
        delay = self._draw_latency()
        # The body crosses the client's uplink whatever the answer, so every upload with a
        # declared length takes its share of the link from its arrival; a chunked body is
        # charged once read (see _receive).
        body_done = arrived
        if self._uplink is not None and request.method == hdrs.METH_POST:
            size = request.content_length
            if size:
                body_done = self._uplink.cross(arrived, size)
        # The raw segment keeps an encoded "/" apart from the path separators.
        user = unquote(request.rel_url.raw_parts[-2])
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
        self._tracking_serial += 1
        tracking_id = (
            f"{_TRACKING_PREFIX}{self._tracking_rng.getrandbits(64):016x}"
            f"{self._tracking_serial:016x}"
        )
        response.headers[_TRACKING_HEADER] = tracking_id
        stats = self.stats
        stats.last_tracking_id = tracking_id
        if response.status >= 400:
            stats.refusals.append(Refusal(response.status, user, tracking_id))

    def _draw_latency(self) -> float:
        opts = self.options
        return _draw(self._latency_rng, opts.latency_ms, opts.latency_jitter_ms)

    def _draw_processing(self) -> float:
        opts = self.options
        return _draw(self._processing_rng, opts.processing_ms, opts.processing_jitter_ms)

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
            return _json(401, _BODY_TOKEN), None
        if not rule.allows(held.scopes, user):
            stats.accepted.append(0)
            stats.scope_refused += 1
            return self._refuse_scope(rule, user), None
        opts = self.options
        if opts.fail_rate or opts.drop_rate:
            draw = self._fault_rng.random()
            if draw < opts.drop_rate:
                stats.accepted.append(0)
                raise _Drop
            if draw < opts.drop_rate + opts.fail_rate:
                stats.accepted.append(0)
                stats.server_errors += 1
                status, body, content_type = self._fault_rng.choice(_FAULTS)
                return web.Response(status=status, body=body, content_type=content_type), None
        slot = None
        if opts.user_concurrency is not None:
            slot = user.lower() if "@" in user else user
            busy = self._in_flight.get(slot, 0)
            if busy >= opts.user_concurrency:
                stats.accepted.append(0)
                stats.concurrency_limited += 1
                return _json(429, _BODY_CONCURRENT), None
            self._in_flight[slot] = busy + 1
        if self._limit.full(arrived):
            stats.accepted.append(0)
            stats.rate_limited += 1
            return self._refuse_qps(), slot
        daily = opts.daily_limit
        if daily is not None:
            now = self._utc_now()
            if now.date() != self._day:
                self._day = now.date()
                self._daily_used = 0
            if self._daily_used + self._daily_pending >= daily:
                stats.accepted.append(0)
                stats.daily_limited += 1
                return self._refuse_daily(daily, now), slot
            self._daily_pending += 1
        self._limit.add(arrived)
        stats.accepted.append(1)
        return None, slot

    def _refuse_scope(self, rule: ScopeRule, user: str) -> web.Response:
        if self.options.scope_error == 4700:
            return _json(self._scope_status, _BODY_CLASSIC_SCOPES)
        body = _error_body(4711, f"{_MSG_SCOPES}:{rule.missing(user)}.")
        return _json(self._scope_status, body)

    def _refuse_qps(self) -> web.Response:
        opts = self.options
        headers = {"X-RateLimit-Category": "Medium"}
        if opts.qps_type_header:
            headers["X-RateLimit-Type"] = "QPS"
        headers["X-RateLimit-Limit"] = _format_rate(self._limit.rate)
        headers["X-RateLimit-Remaining"] = "0"
        if opts.qps_retry_after is not None:
            headers[hdrs.RETRY_AFTER] = opts.qps_retry_after
        return _json(429, _BODY_QPS, headers)

    @staticmethod
    def _refuse_daily(daily: int, now: datetime) -> web.Response:
        return _json(
            429,
            _BODY_DAILY,
            {
                "X-RateLimit-Category": "Medium",
                "X-RateLimit-Type": "Daily-limit",
                "X-RateLimit-Limit": str(daily),
                "X-RateLimit-Remaining": "0",
                # Zoom sends a date here, not seconds.
                hdrs.RETRY_AFTER: iso_utc(next_midnight_utc(now)),
            },
        )

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
                return _json(404, _error_body(1001, f"User does not exist: {user}.")), 0.0
            try:
                part = await self._read_picture(request)
            except (ConnectionError, ClientError, asyncio.IncompleteReadError):
                stats.aborted += 1
                return web.Response(status=400), 0.0  # never reaches the client
            read = time.monotonic()
            if isinstance(part, bytes):
                stats.bad_requests += 1
                return _json(400, part), body_done
            data, filename, content_type = part
            if self._uplink is not None and request.content_length is None:
                body_done = self._uplink.cross(arrived, len(data))  # chunked: charged now
            large = len(data) > _THREAD_DECODE_BYTES
            digest = await asyncio.to_thread(_sha256, data) if large else _sha256(data)
            problem = await self._check_image(data, digest, large)
            if problem is not None:
                stats.bad_requests += 1
                return _json(400, problem), body_done
            uploaded = True
            response = self._record(request, user, data, digest, filename, content_type, arrived)
            processing = self._draw_processing()
            if processing:
                return response, max(read, body_done) + processing
            return response, body_done
        finally:
            if self.options.daily_limit is not None:
                self._daily_pending -= 1
                if uploaded:
                    self._daily_used += 1

    async def _remove(
        self, request: web.Request, user: str, arrived: float, body_done: float
    ) -> _Handled:
        """After admission: the user directory, then the picture goes (latency only)."""
        removed = False
        try:
            if self._users is not None and user not in self._users:
                self.stats.not_found += 1
                return _json(404, _error_body(1001, f"User does not exist: {user}.")), 0.0
            self.received.pop(user.lower() if "@" in user else user, None)
            self.stats.removals += 1
            self._successes += 1
            removed = True
            return web.Response(status=204), 0.0
        finally:
            if self.options.daily_limit is not None:
                self._daily_pending -= 1
                if removed:
                    self._daily_used += 1

    async def _check_image(self, data: bytes, digest: str, large: bool) -> bytes | None:
        """``_image_problem``, remembered per digest."""
        # Benchmarks send the same bytes again and again, and the decode is most of an
        # upload's cost on the simulator side (~0.1-0.25 ms for a small JPEG).
        verdicts = self._verdicts
        if digest in verdicts:
            return verdicts[digest]
        problem = await asyncio.to_thread(_image_problem, data) if large else _image_problem(data)
        if len(verdicts) >= _VERDICTS_KEPT:
            verdicts.clear()  # crude but bounded; a real run rarely repeats a picture
        verdicts[digest] = problem
        return problem

    async def _read_picture(self, request: web.Request) -> tuple[bytes, str, str] | bytes:
        """The ``pic_file`` part as (bytes, filename, content type), or a 400 body.

        Reads at most ``max_picture_bytes`` plus one chunk of the part: a larger file is
        refused without buffering the rest.
        """
        # Not request.content_type: its parser takes ~0.7 ms and misses its cache on every
        # request, as each multipart boundary is new (measured with aiohttp 3.14).
        if not request.headers.get(hdrs.CONTENT_TYPE, "").lower().startswith("multipart/"):
            return _BODY_EMPTY
        try:
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    # No pic_file part at all: Zoom's wording for this is unknown; a null
                    # file reads as an empty one.
                    return _BODY_EMPTY
                if isinstance(part, BodyPartReader):
                    name, filename = _part_names(part.headers.get(hdrs.CONTENT_DISPOSITION))
                    if name == "pic_file":
                        break
                await part.release()
            if not filename:
                return _BODY_NO_FILENAME
            buffer = bytearray()
            limit = self.options.max_picture_bytes
            while chunk := await part.read_chunk(_READ_CHUNK):
                buffer += chunk
                if len(buffer) > limit:
                    return _BODY_TOO_BIG
        except (ValueError, KeyError, AssertionError):
            # Malformed multipart (bad boundary, truncated part): nothing usable was sent.
            return _BODY_EMPTY
        if not buffer:
            return _BODY_EMPTY
        return bytes(buffer), filename, part.headers.get(hdrs.CONTENT_TYPE, "")

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
        extension = "png" if data.startswith(_PNG_MAGIC) else "jpg"
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
