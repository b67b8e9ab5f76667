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
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._config import Config, read_config_file
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

# Simulator settings: (name, type, help). Shared by `simulate` and `run --simulate` (as --sim-*).
SIM_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("rate-limit", float, "account-wide Medium limit in requests/s (default 20; 0 = none)"),
    ("daily-limit", int, "uploads accepted per UTC day (default: no daily limit)"),
    ("fail-rate", float, "share of uploads answered with a 5xx (0..1)"),
    ("drop-rate", float, "share of uploads whose connection is dropped (0..1)"),
    ("latency-ms", float, "added latency per upload, in ms"),
    ("latency-jitter-ms", float, "uniform +/- jitter around the latency, in ms"),
    ("token-ttl", int, "lifetime of issued tokens, in seconds (default 3600)"),
    ("seed", int, "random seed for fault injection"),
)


def add_simulator_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    for name, kind, text in SIM_OPTIONS:
        parser.add_argument(
            f"--{prefix}{name}", type=kind, metavar="N", help=text, dest=f"sim_{name}"
        )
    parser.add_argument(
        f"--{prefix}users",
        type=Path,
        metavar="FILE",
        dest="sim_users",
        help="the users the simulator knows, one per line (default: with run, a"
        " simulator-users.txt beside the manifest; else every user exists)",
    )


def simulator_options(
    args: argparse.Namespace, section: Mapping[str, Any], manifest: Path | None
) -> SimulatorOptions:
    # Loaded here, not at the top: a run without --simulate never needs the simulator.
    from .simulator import SimulatorOptions, load_users_file

    values: dict[str, Any] = {}
    kinds = {name.replace("-", "_"): kind for name, kind, _ in SIM_OPTIONS}
    for key, value in section.items():
        name = str(key).replace("-", "_")
        if name == "users":
            values[name] = value
            continue
        if name not in kinds:
            raise ConfigError(f"simulator: unknown setting {key!r}")
        if value is None:
            continue
        try:
            values[name] = kinds[name](value)
        except (TypeError, ValueError):
            raise ConfigError(f"simulator: {key}: expected a number, got {value!r}") from None
    for name, _, _ in SIM_OPTIONS:
        value = getattr(args, "sim_" + name, None)
        if value is not None:
            values[name.replace("-", "_")] = value
    users = getattr(args, "sim_users", None) or values.pop("users", None)
    if users is None and manifest is not None:
        beside = manifest.parent / "simulator-users.txt"
        users = beside if beside.is_file() else None
    if users is not None:
        values["users"] = load_users_file(Path(users))  # ConfigError names the file
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
        print("Press Ctrl-C to stop.", file=out, flush=True)

    gc.freeze()  # as for run: a full collection would bunch arrivals into false 429s
    try:
        asyncio.run(serve(options, args.host, args.port, ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0
