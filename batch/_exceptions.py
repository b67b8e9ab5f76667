"""The one exception tree of zoom-batch.

::

    ZoomBatchError
    ├── SetupError                 the run cannot start (CLI exit 2); message names the culprit
    │   ├── ConfigError            a bad setting: names the key or flag
    │   ├── ManifestError          unreadable or malformed manifest: names the file and line
    │   ├── CredentialsError       no usable credentials: names the variables to set
    │   │   └── MissingCredentials none given at all
    │   └── StateError             state store locked by another run, corrupt or foreign
    ├── RowError                   one row's outcome; caught by the pool, never escapes it
    │   ├── InvalidRow             caught before any request (bad user, missing file, not an image)
    │   └── ApiError               Zoom (or the network) answered badly for this row
    │       ├── TransientError     retry with backoff: 5xx, connection faults, timeouts
    │       │   └── RateLimited    per-second 429: the whole pool slows down
    │       ├── TokenExpired       401/124: renew the token once, then retry
    │       ├── PermanentError     other 4xx: report, never retry
    │       └── FatalError         stop the whole run cleanly and report what is left
    │           ├── AccessRefused       credentials or scopes no longer work: exit 2
    │           └── DailyLimitReached   daily quota spent: rows left become ``deferred``

aiohttp's exceptions are translated into these in exactly one place, ``_http.py``; Zoom's
answers in ``_client.py`` (the API) and ``_auth.py`` (the OAuth server). The retry policy
(``_retry.py``) and the pool speak only these types.
"""

from __future__ import annotations

import re
from datetime import datetime

# Control characters, and the separators str.splitlines() also breaks lines at.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# What a secret looks like in text that might quote a request or a response. The Basic pattern
# wants a long base64 run so that prose such as "Basic plan" is left alone.
_SECRETS = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
    (re.compile(r"\b(Basic\s+)[A-Za-z0-9+/]{16,}=*"), r"\1***"),
    (
        re.compile(
            r"""(?i)\b((?:access_token|refresh_token|id_token|client_secret|password)"""
            r"""["']?\s*[:=]\s*["']?)[^"'&\s,;}]+"""
        ),
        r"\1***",
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),  # user:password@ in a URL
)


def redact(text: str) -> str:
    """Mask what looks like a credential: bearer/basic auth, token values, URL passwords.

    Applied where outside text enters (every :class:`ApiError` message: a server or a proxy
    may quote the request's Authorization header back) and again on every log line.
    """
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def one_line(message: str) -> str:
    """``message`` on one line: line breaks and control characters written as ``\\n``, ``\\x01``.

    Messages quote what the operator wrote (a user, a file name, a header), and a quoted CSV
    cell may hold a line break; the report, the logs and stderr all need one line per message.
    """
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], message)


class ZoomBatchError(Exception):
    """Base class of every error zoom-batch raises on purpose."""


class SetupError(ZoomBatchError):
    """The run cannot start. The message is one line meant for the operator."""


class ConfigError(SetupError):
    """A setting is missing or has a bad value."""


class ManifestError(SetupError):
    """The manifest as a whole cannot be read."""


class CredentialsError(SetupError):
    """No usable Zoom credentials were given, or Zoom refused them."""


class MissingCredentials(CredentialsError):
    """No credentials were given at all (the CLI suggests ``--simulate``)."""


class StateError(SetupError):
    """The state store cannot be used (locked, corrupt, foreign)."""


class RowError(ZoomBatchError):
    """One row's outcome other than success. Carries a plain-words message."""


class InvalidRow(RowError):
    """The row was refused before any request was sent for it."""


class ApiError(RowError):
    """Zoom, or the way to it, answered this row's request badly."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        zoom_code: int | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.zoom_code = zoom_code
        #: Zoom's ``x-zm-trackingid`` of the answer, which Zoom support asks for.
        self.tracking_id: str | None = None
        #: False when this failure should not use up one of the row's attempts (the refusal
        #: that renewed the token; a wait for the daily quota). Read by the retry policy.
        self.counted = True


class TransientError(ApiError):
    """Worth retrying after a backoff."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        zoom_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, zoom_code=zoom_code)
        #: Seconds the server asked us to wait, when it said so.
        self.retry_after = retry_after


class RateLimited(TransientError):
    """Per-second rate limit (429, not the daily one): the pool slows down."""


class TokenExpired(ApiError):
    """The access token was refused as invalid or expired (401, code 124)."""


class PermanentError(ApiError):
    """Zoom refused this row for a reason that retrying will not change."""


class FatalError(ApiError):
    """Nothing more can succeed in this run; stop sending and report the rest."""


class AccessRefused(FatalError):
    """Zoom no longer accepts the run's credentials, or the app lacks a scope the job needs.

    Nothing else can succeed: the run stops, the rows left are ``not_attempted``, and the CLI
    exits 2 with this message (which says what to check).
    """


class DailyLimitReached(FatalError):
    """The account's daily quota for the Medium label is spent."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = 429,
        zoom_code: int | None = 429,
        resets_at: datetime | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, zoom_code=zoom_code)
        #: When the quota returns (UTC), from ``Retry-After`` or else the next midnight UTC.
        self.resets_at = resets_at
