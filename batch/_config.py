"""Run configuration: one frozen object, built once from flags, environment, file and defaults.

Precedence, highest first: command-line flag > environment variable > config file > built-in
default. Values are validated here, once, with messages that name the bad key; the rest of the
package trusts a :class:`Config` it is handed and never reads the environment itself.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._pacing import DEFAULT_POLICY, PacingPolicy
from ._retry import DEFAULT_RETRY, RetryPolicy
from ._settings import CROPS, DELIMITER_WORDS, DELIMITERS, MEDIUM_RATE, PARSERS, PLAN_ALIASES

__all__ = ["MEDIUM_RATE", "PLAN_ALIASES", "PLAN_NAMES", "Config", "build_config", "did_you_mean"]
from .photos import (
    DEFAULT_FIT_MAX_EDGE,
    MIN_FIT_MAX_EDGE,
    check_allow_hosts,
    check_photo_headers,
    host_rules,
)

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"

PLAN_NAMES = {"free": "Free", "pro": "Pro", "business": "Business"}
#: Zoom answers one account at 60 requests/s at most: more in flight only piles up 429s.
MAX_CONCURRENCY = 1000
#: A pace above this is a typo, not an account's limit.
MAX_RATE = 100_000.0

#: Environment variables read, and the config key each one sets.
ENVIRONMENT = {
    "ZOOM_ACCOUNT_ID": "account_id",
    "ZOOM_CLIENT_ID": "client_id",
    "ZOOM_CLIENT_SECRET": "client_secret",
    "ZOOM_ACCESS_TOKEN": "access_token",
    "ZOOM_API_URL": "api_url",
    "ZOOM_OAUTH_URL": "oauth_url",
    "ZOOM_PLAN": "plan",
    "ZOOM_BATCH_LDAP_BIND_DN": "ldap_bind_dn",
    "ZOOM_BATCH_LDAP_PASSWORD": "ldap_password",
}


class _Invalid(ConfigError):
    """A field of :class:`Config` with a bad value; ``build_config`` names where it came from."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything a run needs to know; checked when built (a bad value raises ConfigError).

    From the command line, :func:`build_config` merges flags, environment and a config file
    into one. From Python, ``Config(plan="business", client_id=..., ...)``; the pacing and
    retry policies are objects of their own (``pacing=PacingPolicy(...)``,
    ``retry=RetryPolicy(max_attempts=3)``), as httpx takes ``limits=Limits(...)``.
    """

    # Where Zoom is.
    api_url: str = DEFAULT_API_URL
    #: True when api_url was set by the operator; otherwise the token's ``api_url`` wins.
    api_url_explicit: bool = False
    oauth_url: str = DEFAULT_OAUTH_URL
    # Server-to-Server OAuth credentials, or a static token. Never printed.
    account_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    # Pace and pool.
    plan: str = "pro"
    rate: float | None = None  #: the pace ceiling in requests/s; None = the plan's Medium limit
    concurrency: int | None = None  #: the most rows in progress; None = from the rate
    memory_budget_mb: int = 256  #: photo bytes the rows in progress may hold in memory, MB
    pacing: PacingPolicy = DEFAULT_POLICY
    retry: RetryPolicy = DEFAULT_RETRY
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    wait_for_quota: bool = False
    # What to send.
    force: bool = False
    fit: bool = False
    fit_max_edge: int = DEFAULT_FIT_MAX_EDGE
    crop: str = "none"  #: with --fit: ``none``, ``center`` or ``face`` (a square around the face)
    root: Path | None = None
    dry_run: bool = False
    # How to read the manifest (None: found from the file).
    delimiter: str | None = None  #: a CSV's field separator: one of DELIMITERS' values
    sheet: str | None = None  #: a workbook's sheet; None = the first
    user_column: str | None = None  #: the header naming the user column, beyond the aliases
    file_column: str | None = None  #: the header naming the file column, beyond the aliases
    # Photos at URLs.
    allow_hosts: tuple[str, ...] = ()  #: hosts photo URLs may come from (``*.domain`` too)
    #: Headers an HR system needs, per host: ``{host: {header: value}}``. Never printed.
    photo_headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    # Users and photos from a directory (an ldap:// or ldaps:// manifest argument).
    ldap_filter: str | None = None  #: the search filter; None = people with a photo
    ldap_user_attr: str | None = None  #: the attribute holding the Zoom user; None = mail
    ldap_photo_attrs: tuple[str, ...] | None = None  #: None = thumbnailPhoto, jpegPhoto
    ldap_ca_file: Path | None = None  #: PEM CAs for ldaps:// and StartTLS; None = the system's
    ldap_bind_dn: str | None = field(default=None, repr=False)  #: None = anonymous. Never printed.
    ldap_password: str | None = field(default=None, repr=False)  #: Never printed.
    # Where results go.
    report: Path | None = None
    html: Path | None = None
    state: Path | None = None
    no_state: bool = False
    retry_failed: Path | None = None
    keep_reports: int | None = None  #: keep the reports of the last N runs in their folder
    backup: Path | None = None  #: run --backup DIR: keep each user's picture before replacing it
    check_users: bool = False  #: run --check-users: refuse rows whose user is not in the account

    def __post_init__(self) -> None:
        for key in CREDENTIALS:
            object.__setattr__(self, key, _credential(key, getattr(self, key)))
        if self.client_id is not None and ":" in self.client_id:
            raise _Invalid(
                "client_id",
                "cannot hold ':' (HTTP Basic authentication, which Zoom's OAuth server takes the"
                " client ID in, ends it at the first ':') — copy the Client ID again from the"
                " app's page",
            )
        plan = str(self.plan).strip().lower()
        plan = PLAN_ALIASES.get(plan, plan)
        if plan not in MEDIUM_RATE:
            raise _Invalid("plan", f"expected one of free, pro, business; got {self.plan!r}")
        object.__setattr__(self, "plan", plan)
        if self.rate is not None:
            _number("rate", self.rate)
            if self.rate > MAX_RATE:
                raise _Invalid("rate", f"{self.rate:g} requests/s is not a sensible pace")
        if self.concurrency is not None:
            _whole("concurrency", self.concurrency)
            if self.concurrency > MAX_CONCURRENCY:
                raise _Invalid(
                    "concurrency", f"must be at most {MAX_CONCURRENCY:,}, got {self.concurrency}"
                )
        _whole("memory_budget_mb", self.memory_budget_mb)
        object.__setattr__(self, "allow_hosts", check_allow_hosts(self.allow_hosts))
        headers = check_photo_headers(self.photo_headers)
        rules = host_rules(self.allow_hosts)
        for host in headers:
            if not rules.allows(host):
                raise _Invalid(
                    "photo_headers",
                    f"{host} is not an allowed host, so its headers would never be sent"
                    f" — add it to allow_hosts (--allow-host {host})",
                )
        object.__setattr__(self, "photo_headers", headers)
        if self.keep_reports is not None:
            _whole("keep_reports", self.keep_reports)
        if self.crop not in CROPS:
            raise _Invalid("crop", f"expected one of {', '.join(CROPS)}; got {self.crop!r}")
        if self.crop != "none" and not self.fit:
            raise _Invalid("crop", "crops only what --fit converts — add --fit")
        if self.delimiter is not None and self.delimiter not in DELIMITERS.values():
            raise _Invalid(
                "delimiter", f"expected one of {DELIMITER_WORDS}; got {self.delimiter!r}"
            )
        _number("connect_timeout", self.connect_timeout)
        _number("request_timeout", self.request_timeout)
        _whole("fit_max_edge", self.fit_max_edge)
        if self.fit_max_edge < MIN_FIT_MAX_EDGE:
            raise _Invalid(
                "fit_max_edge",
                f"must be at least {MIN_FIT_MAX_EDGE} pixels, got {self.fit_max_edge}",
            )
        for key in ("api_url", "oauth_url"):
            if not re.match(r"^https?://[^/\s]+", getattr(self, key)):
                raise _Invalid(key, f"expected an http(s) URL, got {getattr(self, key)!r}")
        if not isinstance(self.pacing, PacingPolicy):
            raise _Invalid("pacing", "expected a PacingPolicy")
        if not isinstance(self.retry, RetryPolicy):
            raise _Invalid("retry", "expected a RetryPolicy")

    @property
    def ceiling(self) -> float:
        """The pace ceiling in requests per second."""
        return self.rate if self.rate is not None else MEDIUM_RATE[self.plan]

    @property
    def workers(self) -> int:
        """The most rows in progress: ``--concurrency``, else room for 6 s answers at full pace.

        Below it the window (``_window.py``) follows the answer times actually seen.
        """
        if self.concurrency is not None:
            return self.concurrency
        return max(16, min(MAX_CONCURRENCY, math.ceil(self.ceiling * 6)))

    @property
    def memory_budget(self) -> int:
        return self.memory_budget_mb * 1000 * 1000  # in bytes

    @property
    def has_oauth(self) -> bool:
        return bool(self.account_id and self.client_id and self.client_secret)

    @property
    def max_attempts(self) -> int:
        return self.retry.max_attempts

    @property
    def max_retry_time(self) -> float:
        return self.retry.max_retry_time


#: The credentials: each one travels in an HTTP header (Basic or Bearer authorization).
CREDENTIALS = ("account_id", "client_id", "client_secret", "access_token")
# What a header value cannot carry, and what Zoom's ids, secrets and tokens never hold:
# anything but printable ASCII (spaces and control characters included).
_NOT_IN_A_CREDENTIAL = re.compile(r"[^\x21-\x7e]")
_NAMED = {"\n": "a line break", "\r": "a line break", "\t": "a tab", " ": "a space"}


def _credential(key: str, value: object) -> str | None:
    """``value`` without the spaces and line breaks around it (``$(cat token.txt)`` keeps the
    file's last line break), None when that leaves nothing; raises _Invalid for what an
    HTTP header cannot carry. Messages never show the value: it may be a secret."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(key, f"expected text, got {type(value).__name__}")
    text = value.strip()
    bad = _NOT_IN_A_CREDENTIAL.search(text)
    if bad is not None:
        char = bad.group()
        if char in _NAMED:
            what = _NAMED[char]
        elif char.isascii():
            what = f"the control character U+{ord(char):04X}"
        else:
            what = f"the non-ASCII character U+{ord(char):04X}"
        raise _Invalid(
            key,
            f"holds {what} at character {bad.start() + 1} — Zoom credentials are one word of"
            " letters, digits and punctuation; copy it again",
        )
    return text or None


def _number(key: str, value: object) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise _Invalid(key, f"must be a positive number, got {value!r}")


def _whole(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(key, f"expected a whole number, got {value!r}")
    if value <= 0:
        raise _Invalid(key, f"must be at least 1, got {value!r}")


#: Every setting a config file, a flag or ``build_config`` may name.
SETTINGS = frozenset(PARSERS)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` — did you mean 'fit_max_edge'?`` for a misspelt key, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return f" — did you mean {close[0]!r}?" if close else ""


def build_config(
    flags: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    file_settings: Mapping[str, Any] | None = None,
    file_name: str = "config",
) -> Config:
    """Merge flags > environment > file > defaults into a validated :class:`Config`.

    ``flags`` holds only the options the operator gave (None values are ignored).
    """
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in (file_settings or {}).items():
        if key in PARSERS and value is not None:
            merged[key], sources[key] = value, f"{file_name}: {key}"
    for variable, key in ENVIRONMENT.items():
        value = environ.get(variable)
        if value is not None and value.strip():
            merged[key], sources[key] = value, variable
    for key, value in flags.items():
        if key not in PARSERS:
            raise ConfigError(f"unknown setting {key!r}{did_you_mean(key, PARSERS)}")
        if value is not None:
            merged[key], sources[key] = value, "--" + key.replace("_", "-")
    values: dict[str, Any] = {}
    for key, value in merged.items():
        values[key] = PARSERS[key](sources[key], value)
    values = {k: v for k, v in values.items() if v is not None}
    values["api_url_explicit"] = "api_url" in values
    retry = {k: values.pop(k) for k in ("max_attempts", "max_retry_time") if k in values}
    try:
        if retry:
            values["retry"] = RetryPolicy(**retry)
        return Config(**values)
    except _Invalid as exc:
        raise ConfigError(f"{sources.get(exc.key, exc.key)}: {exc.problem}") from None
    except ConfigError as exc:  # the retry policy's, which names its own field
        key, _, problem = str(exc).partition(": ")
        raise ConfigError(f"{sources.get(key, key)}: {problem}") from None
