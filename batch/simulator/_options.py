"""How a simulated account behaves: :class:`SimulatorOptions`, checked on creation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .._exceptions import ConfigError
from ._tokens import GRANULAR_SCOPES, check_scopes

#: The default of ``max_picture_bytes``: Zoom's "2M" read pessimistically (ZOOM_API.md: a file
#: between 2,000,000 and 2,097,152 bytes may be refused), so the simulator refuses it.
MAX_PICTURE_BYTES: Final = 2_000_000
#: The default ``scope`` of issued tokens: a 2024+ app's granular scopes, all zoom-batch needs.
_SCOPE: Final = GRANULAR_SCOPES
#: Allowed HTTP statuses per scope-refusal code, the first one the default (ZOOM_API.md).
_SCOPE_STATUSES: Final = {4711: (400, 401), 4700: (401, 403)}


@dataclass(frozen=True, kw_only=True)
class SimulatorOptions:
    """How the simulated account behaves. Checked on creation; ConfigError names the bad option."""

    account_id: str = "sim-account"
    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"
    #: The user directory (emails, Zoom user IDs); None means every user exists. Emails match
    #: case-insensitively, IDs exactly; ``me`` always exists.
    users: frozenset[str] | None = None
    #: Users' statuses (``active``, ``inactive``, ``pending``) by email; others are active.
    user_statuses: Mapping[str, str] | None = None
    #: The pictures users start with, by email (``--sim-pictures DIR``: its ``<user>.<ext>``).
    pictures: Mapping[str, bytes] | None = None
    #: Medium label, requests/s for the whole account; 0 means unlimited.
    rate_limit: float = 20.0
    #: Light label (``GET /users/{userId}``), requests/s, a budget of its own; 0: unlimited.
    light_rate_limit: float = 30.0
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
            "light_rate_limit",
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
        for user, status in (self.user_statuses or {}).items():
            if status not in ("active", "inactive", "pending"):
                raise ConfigError(
                    f"simulator option user_statuses: {user}: expected active, inactive or"
                    f" pending, got {status!r}"
                )
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


def load_users_file(path: Path) -> frozenset[str]:
    """Read a user directory: one email or user ID a line; blanks and ``#`` comments skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from exc
    # A line may name the user's status after it (``ann@example.com pending``).
    users = (line.split("#", 1)[0].split()[:1] for line in text.splitlines())
    return frozenset(words[0] for words in users if words)
