"""The command line's side of the simulator: its flags, its config section, and ``--simulate``.

``zoom-batch run --simulate`` starts a :class:`~batch.simulator.Simulator` in-process and points
an ordinary :class:`~batch.Config` at it (:func:`simulated`); ``zoom-batch simulate`` serves
one in the foreground. The simulator itself loads only here, when asked for: a real run never
imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from ._config import Config
from ._config_file import read_config_file
from ._exceptions import ConfigError

if TYPE_CHECKING:
    from .simulator import SimulatorOptions

__all__ = [
    "FILE_SECTIONS",
    "add_simulator_options",
    "simulate_command",
    "simulated",
    "simulator_options",
]

#: Sections a config file may hold besides the run settings.
FILE_SECTIONS = ("simulator",)


def boolean(value: object) -> bool:
    """A yes/no setting: a YAML boolean, or true/false, yes/no, on/off, 1/0 as text."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError(value)


def text(value: object) -> str:
    """A text setting: text as given, a whole number as its digits, a list joined by spaces."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return " ".join(value)
    # A YAML date or float would come back reworded: the simulator sends text verbatim.
    raise TypeError(value)


class SimOption(NamedTuple):
    """One simulator setting: ``--NAME`` (``--sim-NAME`` with run), or NAME in ``simulator:``."""

    name: str
    parse: Callable[[Any], Any]  #: turns the flag's text or the file's value into the option
    metavar: str
    help: str
    expected: str = "a number"  #: for the config file's error message


_GRANULAR = "user:write:profile_picture:admin"

# Shared by `simulate` and `run --simulate` (as --sim-*), and the config file's `simulator:`.
SIM_OPTIONS: tuple[SimOption, ...] = (
    SimOption(
        "rate-limit", float, "N", "account-wide Medium limit in requests/s (default 20; 0 = none)"
    ),
    SimOption(
        "light-rate-limit",
        float,
        "N",
        "account-wide Light limit (GET /users/{userId}) in requests/s, a budget apart from"
        " Medium's (default 30; 0 = none)",
    ),
    SimOption("daily-limit", int, "N", "uploads accepted per UTC day (default: no daily limit)"),
    SimOption("fail-rate", float, "N", "share of uploads answered with a 5xx (0..1)"),
    SimOption("drop-rate", float, "N", "share of uploads whose connection is dropped (0..1)"),
    SimOption("latency-ms", float, "N", "network round trip added to every picture call, in ms"),
    SimOption("latency-jitter-ms", float, "N", "uniform +/- jitter around the latency, in ms"),
    SimOption(
        "uplink-mbps",
        float,
        "N",
        "the client's uplink in Mbit/s, shared by all requests in flight: an upload is"
        " answered no sooner than its body could have crossed it (default 0 = infinite)",
    ),
    SimOption(
        "processing-ms",
        float,
        "N",
        "Zoom's processing of each uploaded picture once its body has arrived (its content"
        " check: 1000-3000 at Zoom), in ms; removals have none (default 0)",
    ),
    SimOption(
        "processing-jitter-ms", float, "N", "uniform +/- jitter around the processing, in ms"
    ),
    SimOption("token-ttl", int, "N", "lifetime of issued tokens, in seconds (default 3600)"),
    SimOption("seed", int, "N", "random seed for fault injection"),
    SimOption(
        "scopes",
        text,
        "SCOPES",
        "scopes of issued tokens, space-separated (default: user:read:user:admin"
        f" user:read:list_users:admin {_GRANULAR} user:delete:profile_picture:admin);"
        f" uploads need the granular {_GRANULAR} or its older classic equivalent"
        " user:write:admin, removals user:delete:profile_picture:admin or user:write:admin",
        "text",
    ),
    SimOption(
        "scope-error",
        int,
        "CODE",
        "Zoom's code when a token lacks a scope: 4711 (granular apps, default) or 4700"
        " (classic apps)",
    ),
    SimOption(
        "scope-status",
        int,
        "STATUS",
        "HTTP status of that refusal: 400 (default) or 401 with 4711; 401 (default) or 403"
        " with 4700",
    ),
    SimOption(
        "token-tolerance",
        int,
        "N",
        "a new token invalidates all but the newest N+1 (0 = only the newest is valid;"
        " default: every unexpired token stays valid)",
    ),
    SimOption(
        "refuse-after",
        int,
        "N",
        "after N successful uploads or removals refuse every token with 401/124, while new"
        " tokens are still issued: the app revoked mid-run (default: never)",
    ),
    SimOption(
        "user-concurrency",
        int,
        "N",
        'picture calls in flight for one user; more get 429 "Too many concurrent'
        ' requests." (default: no limit)',
    ),
    SimOption(
        "qps-retry-after",
        text,
        "VALUE",
        "Retry-After sent verbatim on per-second 429s, e.g. 86400, inf or"
        " 2026-12-02T10:00:00Z (default: none)",
        "text (quote dates in YAML)",
    ),
    SimOption(
        "qps-type-header",
        boolean,
        "BOOL",
        "whether per-second 429s carry X-RateLimit-Type: QPS: true (default) or false",
        "true or false",
    ),
    SimOption(
        "max-picture-bytes",
        int,
        "N",
        "largest picture accepted, in bytes; larger ones get 400/120 (default 2000000)",
    ),
)


def add_simulator_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    for option in SIM_OPTIONS:
        parser.add_argument(
            f"--{prefix}{option.name}",
            type=option.parse,
            metavar=option.metavar,
            help=option.help,
            dest=f"sim_{option.name}",
        )
    parser.add_argument(
        f"--{prefix}users",
        type=Path,
        metavar="FILE",
        dest="sim_users",
        help="the users the simulator knows, one per line, each optionally followed by its"
        " status: active (default), inactive or pending (default: with run, a"
        " simulator-users.txt beside the manifest; else every user exists)",
    )
    parser.add_argument(
        f"--{prefix}pictures",
        type=Path,
        metavar="DIR",
        dest="sim_pictures",
        help="a folder of <user>.<ext> pictures (jane@example.com.jpg) the users start with",
    )


def simulator_options(
    args: argparse.Namespace, section: Mapping[str, Any], manifest: Path | None
) -> SimulatorOptions:
    # Loaded here, not at the top: a run without --simulate never needs the simulator.
    from .simulator import SimulatorOptions, load_pictures, load_user_statuses, load_users_file

    values: dict[str, Any] = {}
    known = {option.name.replace("-", "_"): option for option in SIM_OPTIONS}
    for key, value in section.items():
        name = str(key).replace("-", "_")
        if name in ("users", "pictures"):
            values[name] = value
            continue
        option = known.get(name)
        if option is None:
            raise ConfigError(f"simulator: unknown setting {key!r}")
        if value is None:
            continue
        try:
            values[name] = option.parse(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"simulator: {key}: expected {option.expected}, got {value!r}"
            ) from None
    for option in SIM_OPTIONS:
        value = getattr(args, "sim_" + option.name, None)
        if value is not None:
            values[option.name.replace("-", "_")] = value
    users = getattr(args, "sim_users", None) or values.pop("users", None)
    if users is None and manifest is not None:
        beside = manifest.parent / "simulator-users.txt"
        users = beside if beside.is_file() else None
    if users is not None:
        values["users"] = load_users_file(Path(users))  # ConfigError names the file
        values["user_statuses"] = load_user_statuses(Path(users))
    pictures = getattr(args, "sim_pictures", None) or values.pop("pictures", None)
    if pictures is not None:
        values["pictures"] = load_pictures(Path(pictures))
    return SimulatorOptions(**values)  # ConfigError names the option


@contextlib.asynccontextmanager
async def simulated(config: Config, options: SimulatorOptions | None) -> AsyncIterator[Config]:
    """Start the simulator in-process (with ``--simulate``) and point the config at it."""
    if options is None:
        yield config
        return
    from .simulator import Simulator  # only here: a real run never loads the simulator

    async with Simulator(options) as simulator:
        yield replace(
            config,
            api_url=simulator.api_url,
            api_url_explicit=True,
            oauth_url=simulator.oauth_url,
            account_id=options.account_id,
            client_id=options.client_id,
            client_secret=options.client_secret,
            access_token=None,
        )


def answer_time(options: SimulatorOptions) -> str:
    """E.g. ``latency 50 ± 10 ms, uplink 1000 Mbit/s, processing 2000 ± 667 ms``; "" if none."""

    def timed(name: str, mean: float, jitter: float) -> str:
        if not mean and not jitter:
            return ""
        return f"{name} {mean:g}" + (f" ± {jitter:g}" if jitter else "") + " ms"

    parts = (
        timed("latency", options.latency_ms, options.latency_jitter_ms),
        f"uplink {options.uplink_mbps:g} Mbit/s" if options.uplink_mbps else "",
        timed("processing", options.processing_ms, options.processing_jitter_ms),
    )
    return ", ".join(part for part in parts if part)


def simulate_command(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> int:
    section: dict[str, Any] = {}
    if args.config is not None:
        settings = read_config_file(args.config, environ, sections=FILE_SECTIONS)
        raw = settings.get("simulator") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{args.config}: simulator: expected a mapping of settings")
        section = raw
    options = simulator_options(args, section, None)
    from .simulator import serve

    def ready(url: str) -> None:
        limit = f"{options.rate_limit:g}/s" if options.rate_limit else "no limit"
        print(f"Zoom simulator listening on {url}  (Medium rate limit: {limit})", file=out)
        print(f"  --api-url {url}/v2 --oauth-url {url}/oauth/token", file=out)
        # The simulator's fixed, published test credentials (no setting changes them): the
        # operator needs them to connect, and they guard nothing but this loopback fake.
        print(
            f"  ZOOM_ACCOUNT_ID={options.account_id} ZOOM_CLIENT_ID={options.client_id}"
            f" ZOOM_CLIENT_SECRET={options.client_secret}",
            file=out,
        )
        timing = answer_time(options)
        if timing:
            print(f"  answers: {timing}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)

    gc.freeze()  # as for run: a full collection would bunch arrivals into false 429s
    try:
        asyncio.run(serve(options, args.host, args.port, ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0
