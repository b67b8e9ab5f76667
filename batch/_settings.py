"""How each setting is read from text (a flag, an environment variable, a config file) and
checked: one parser per key, in :data:`PARSERS`. :mod:`._config` merges them into a Config.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from .photos import check_allow_hosts, check_photo_headers

__all__ = ["CROPS", "DELIMITERS", "DELIMITER_WORDS", "MEDIUM_RATE", "PARSERS", "PLAN_ALIASES"]

#: The Medium rate-limit label, requests per second for the whole account (ZOOM_API.md).
MEDIUM_RATE = {"free": 2.0, "pro": 20.0, "business": 60.0}
#: Zoom's other plan names, and the plan whose limits each one has (ZOOM_API.md: Business+).
PLAN_ALIASES = {
    "business+": "business",
    "enterprise": "business",
    "education": "business",
    "partner": "business",
}

#: ``--crop``: how a photo is cut to the square Zoom shows (through a circle).
CROPS = ("none", "center", "face")

#: A CSV's field separators, and the words that name them (``--delimiter tab``).
DELIMITERS = {
    ",": ",",
    ";": ";",
    "\t": "\t",
    "|": "|",
    "tab": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
}
DELIMITER_WORDS = "',', ';', tab or '|'"


# How each key is parsed from a string (flag, environment or file), and checked.
def _positive_float(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ConfigError(f"{key}: must be a positive number, got {value!r}")
    return number


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a whole number, got {value!r}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{key}: expected a whole number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{key}: must be at least 1, got {value!r}")
    return number


def _boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{key}: expected true or false, got {value!r}")


def _text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(f"{key}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    return text or None


def _url(key: str, value: Any) -> str | None:
    text = _text(key, value)
    if text is None:
        return None
    if not re.match(r"^https?://[^/\s]+", text):
        raise ConfigError(f"{key}: expected an http(s) URL, got {text!r}")
    return text.rstrip("/")


def _plan(key: str, value: Any) -> str:
    text = str(value).strip().lower()
    text = PLAN_ALIASES.get(text, text)
    if text not in MEDIUM_RATE:
        raise ConfigError(f"{key}: expected one of free, pro, business; got {value!r}")
    return text


def _delimiter(key: str, value: Any) -> str | None:
    if isinstance(value, str) and value in ("\t", "\\t"):  # a tab, or "\t" as typed
        return "\t"
    text = _text(key, value)
    if text is None:
        return None
    if text.lower() not in DELIMITERS:
        raise ConfigError(f"{key}: expected {DELIMITER_WORDS}; got {value!r}")
    return DELIMITERS[text.lower()]


def _crop(key: str, value: Any) -> str:
    text = (_text(key, value) or "").lower()
    if text not in CROPS:
        raise ConfigError(f"{key}: expected one of {', '.join(CROPS)}; got {value!r}")
    return text


def _hosts(key: str, value: Any) -> tuple[str, ...]:
    """Host names: a list (a config file, repeated flags) or one text of them."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return check_allow_hosts(value, key=key)


def _headers(key: str, value: Any) -> dict[str, dict[str, str]]:
    return check_photo_headers(value, key=key)


def _path(key: str, value: Any) -> Path | None:
    text = _text(key, value)
    return Path(text).expanduser() if text else None


def _ldap_attr(key: str, value: Any) -> str:
    from .directory import check_attribute

    return check_attribute(value, key=key)


def _ldap_attrs(key: str, value: Any) -> tuple[str, ...]:
    from .directory import check_attributes

    return check_attributes(value, key=key)


PARSERS: dict[str, Any] = {
    "api_url": _url,
    "oauth_url": _url,
    "account_id": _text,
    "client_id": _text,
    "client_secret": _text,
    "access_token": _text,
    "plan": _plan,
    "rate": _positive_float,
    "concurrency": _positive_int,
    "memory_budget_mb": _positive_int,
    "connect_timeout": _positive_float,
    "request_timeout": _positive_float,
    "max_attempts": _positive_int,
    "max_retry_time": _positive_float,
    "wait_for_quota": _boolean,
    "force": _boolean,
    "fit": _boolean,
    "fit_max_edge": _positive_int,
    "crop": _crop,
    "root": _path,
    "dry_run": _boolean,
    "report": _path,
    "html": _path,
    "state": _path,
    "no_state": _boolean,
    "retry_failed": _path,
    "keep_reports": _positive_int,
    "backup": _path,
    "check_users": _boolean,
    "delimiter": _delimiter,
    "sheet": _text,
    "user_column": _text,
    "file_column": _text,
    "allow_hosts": _hosts,
    "photo_headers": _headers,
    "ldap_filter": _text,
    "ldap_user_attr": _ldap_attr,
    "ldap_photo_attrs": _ldap_attrs,
    "ldap_ca_file": _path,
    "ldap_bind_dn": _text,
    "ldap_password": _text,
}
