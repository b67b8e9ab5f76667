"""Run configuration: one frozen object, built once from flags, environment, file and defaults.

Precedence, highest first: command-line flag > environment variable > config file > built-in
default. Values are validated here, once, with messages that name the bad key; the rest of the
package trusts a :class:`Config` it is handed and never reads the environment itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._pacing import DEFAULT_POLICY, PacingPolicy
from ._retry import DEFAULT_RETRY, RetryPolicy
from .photos import DEFAULT_FIT_MAX_EDGE, MIN_FIT_MAX_EDGE

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"

#: The Medium rate-limit label, requests per second for the whole account (ZOOM_API.md).
MEDIUM_RATE = {"free": 2.0, "pro": 20.0, "business": 60.0}
#: Zoom's other plan names, and the plan whose limits each one has (ZOOM_API.md: Business+).
PLAN_ALIASES = {
    "business+": "business",
    "enterprise": "business",
    "education": "business",
    "partner": "business",
}
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
    root: Path | None = None
    dry_run: bool = False
    # Where results go.
    report: Path | None = None
    html: Path | None = None
    state: Path | None = None
    no_state: bool = False
    retry_failed: Path | None = None

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


def _path(key: str, value: Any) -> Path | None:
    text = _text(key, value)
    return Path(text).expanduser() if text else None


_PARSERS: dict[str, Any] = {
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
    "root": _path,
    "dry_run": _boolean,
    "report": _path,
    "html": _path,
    "state": _path,
    "no_state": _boolean,
    "retry_failed": _path,
}


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _substitute(text: str, environ: Mapping[str, str]) -> str | None:
    """Replace ``${VAR}`` and ``${VAR:-default}``; None when a bare reference is unset."""
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        value = environ.get(match.group(1))
        if value:
            return value
        if match.group(2) is not None:
            return match.group(2)
        missing = True
        return ""

    result = _ENV_REFERENCE.sub(one, text)
    # A value that is only an unset reference means "not set here", so that a config file
    # can say ``client_secret: ${ZOOM_CLIENT_SECRET}`` and a dry run still needs no secret.
    return None if missing and not result.strip() else result


def read_config_file(
    path: Path, environ: Mapping[str, str], *, sections: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Read a YAML config file, substitute ``${ENV}`` references, reject unknown keys.

    ``sections`` names the keys it may hold besides the run settings (the CLI's own).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    data = _load_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).strip().replace("-", "_")
        if name not in _PARSERS and name not in sections:
            raise ConfigError(f"{path}: unknown setting {key!r}")
        result[name] = _expand(value, environ)
    return result


#: How deep a config file's values may nest. Its settings nest two or three levels (a
#: section and its keys); the bound keeps a hostile file from exhausting the stack.
MAX_DEPTH = 20
_NEST_HINT = "a config file's settings nest a few levels at most"


def _load_yaml(text: str, path: Path) -> Any:
    """The YAML document ``text`` (of the file ``path``), as ``yaml.safe_load`` reads it.

    Refused, with a ConfigError naming the file and line, when it holds an alias (``*name``)
    or nests deeper than :data:`MAX_DEPTH`. Aliases share one node however often they are
    written, so a few lines of them ("billion laughs") stand for 10**9 values once walked,
    and the settings are walked (``${ENV}`` substitution, the CLI's own sections). As the
    manifest's YAML reader does, this looks at parser events first (no tree, no recursion),
    and builds the document only from a file that passed.
    """
    import yaml  # here, not at the top: most runs have no config file, and it costs ~25 ms

    try:  # the C parser where PyYAML has it (it refuses 1,000 levels itself); else Python's
        loader: type = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - depends on how PyYAML was built
        loader = yaml.SafeLoader
    too_deep = f"nested more than {MAX_DEPTH} levels deep — {_NEST_HINT}"
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(
                    f"{path}: line {line}: *{event.anchor} is a YAML alias; write the value out"
                    " — a config file takes no aliases"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"{path}: line {line}: {too_deep}")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        if "maximum nesting depth" in problem:  # libyaml's own bound, met before ours
            problem = too_deep
        raise ConfigError(f"{path}:{where}: {problem}") from None


def _expand(value: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _substitute(value, environ)
    if isinstance(value, dict):
        return {k: _expand(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ) for v in value]
    return value


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
        if key in _PARSERS and value is not None:
            merged[key], sources[key] = value, f"{file_name}: {key}"
    for variable, key in ENVIRONMENT.items():
        value = environ.get(variable)
        if value is not None and value.strip():
            merged[key], sources[key] = value, variable
    for key, value in flags.items():
        if key not in _PARSERS:
            raise ConfigError(f"unknown setting {key!r}")
        if value is not None:
            merged[key], sources[key] = value, "--" + key.replace("_", "-")
    values: dict[str, Any] = {}
    for key, value in merged.items():
        values[key] = _PARSERS[key](sources[key], value)
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
