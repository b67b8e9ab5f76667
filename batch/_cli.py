"""The ``zoom-batch`` command: parse options, build the config, call the library, map outcomes.

Exit codes: 0 every row done (uploaded, removed, skipped; valid in a dry run); 1 at least one
row failed, invalid, deferred or not attempted; 2 the run could not start, or stopped because
the credentials, the app's scopes, the state store or the report could not be used (one line
on stderr); 130 interrupted by Ctrl-C, 143 by SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from PIL import Image

from . import __version__
from ._config import (
    MEDIUM_RATE,
    PLAN_ALIASES,
    PLAN_NAMES,
    Config,
    build_config,
    read_config_file,
)
from ._exceptions import ConfigError, MissingCredentials, SetupError, one_line
from ._simulate import (
    FILE_SECTIONS,
    add_simulator_options,
    simulate_command,
    simulated,
    simulator_options,
)
from .manifest import FORMAT_NAMES

if TYPE_CHECKING:
    from ._runner import JobName
    from .simulator import SimulatorOptions

EXIT_OK, EXIT_PROBLEMS, EXIT_SETUP = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
EXIT_INTERNAL = 70  # EX_SOFTWARE
#: Zoom's plan names; Business+ plans (enterprise, education, partner) have Business's limits.
PLAN_CHOICES = (*MEDIUM_RATE, *PLAN_ALIASES)

EXAMPLES = """\
examples:
  # try it with no Zoom account: the built-in simulator plays Zoom
  zoom-batch run samples/manifest.csv --simulate

  # check a manifest and forecast the run; sends nothing, needs no credentials
  zoom-batch validate photos.csv

  # the real thing: a Server-to-Server OAuth app with the scope
  # user:write:profile_picture:admin (older apps: user:write:admin)
  export ZOOM_ACCOUNT_ID=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=...
  zoom-batch run photos.csv --plan business --report reports/tonight.csv

  # run again only what failed last time
  zoom-batch run photos.csv --retry-failed reports/tonight.csv

  # take away the pictures of the users a manifest names (only its user column is read)
  zoom-batch remove leavers.csv --plan business
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_SETUP, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="zoom-batch",
        description="Set Zoom users' profile pictures in bulk, paced to the account's rate"
        " limit, with a per-user report.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zoom-batch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser(
        "run",
        help="upload every picture a manifest names",
        description="Upload every picture a manifest (CSV or YAML) names and write a report.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate = commands.add_parser(
        "validate",
        help="check a manifest and forecast the run; sends nothing",
        description="Check every row (users, files, images) and forecast the run."
        " Sends nothing and needs no credentials.",
    )
    remove = commands.add_parser(
        "remove",
        help="remove the picture of every user a manifest names",
        description="Remove the profile picture of every user a manifest (CSV or YAML) names"
        " and write a report. Only the user column is read.",
    )
    for sub in (run, validate, remove):
        sub.add_argument("manifest", type=Path, metavar="MANIFEST", help="CSV or YAML manifest")
        sub.add_argument("--config", type=Path, metavar="FILE", help="YAML config file")
        sub.add_argument("--format", choices=FORMAT_NAMES, help="manifest format")
        sub.add_argument("--plan", choices=PLAN_CHOICES, help="account plan")
        sub.add_argument("--rate", type=float, metavar="N", help="pace in requests/s")
        sub.add_argument("--report", type=Path, metavar="PATH", help="report CSV path")
        sub.add_argument("--quiet", action="store_true", help="print only the summary and errors")
        sub.add_argument("--log-format", choices=("text", "json"), default="text")
        sub.add_argument("--log-file", type=Path, metavar="PATH", help="write events here")
    for sub in (run, validate):
        sub.add_argument("--html", type=Path, metavar="PATH", help="also write a contact sheet")
        sub.add_argument("--fit", action="store_true", default=None, help="convert images")
        sub.add_argument("--fit-max-edge", type=int, metavar="PX", help="--fit longest edge")
        sub.add_argument("--root", type=Path, metavar="DIR", help="files must lie inside DIR")

    for sub in (run, remove):
        sub.add_argument("--api-url", metavar="URL", help="default https://api.zoom.us/v2")
        sub.add_argument("--oauth-url", metavar="URL", help="default https://zoom.us/oauth/token")
        sub.add_argument(
            "--concurrency",
            type=int,
            metavar="N",
            help="most rows in progress (default: follows latency)",
        )
        sub.add_argument(
            "--memory-budget",
            type=int,
            metavar="MB",
            dest="memory_budget_mb",
            help="photo bytes held in memory at once (256)",
        )
        sub.add_argument("--dry-run", action="store_true", default=None, help="check, send nothing")
        sub.add_argument(
            "--simulate", action="store_true", help="run against the built-in simulator"
        )
        sub.add_argument("--state", type=Path, metavar="PATH", help="state store (SQLite) path")
        sub.add_argument("--no-state", action="store_true", default=None, help="no skip, no resume")
        sub.add_argument(
            "--retry-failed", type=Path, metavar="REPORT", help="only rows that report left undone"
        )
        sub.add_argument(
            "--wait-for-quota",
            action="store_true",
            default=None,
            help="when the daily quota runs out, wait for it instead of stopping",
        )
        sub.add_argument("--max-attempts", type=int, metavar="N", help="requests per row (5)")
        sub.add_argument("--max-retry-time", type=float, metavar="S", help="seconds per row (300)")
        sub.add_argument("--connect-timeout", type=float, metavar="S", help="default 10")
        sub.add_argument("--request-timeout", type=float, metavar="S", help="default 60")
        sim_group = sub.add_argument_group("simulator settings (with --simulate)")
        add_simulator_options(sim_group, "sim-")  # type: ignore[arg-type]

    run.add_argument("--force", action="store_true", default=None, help="upload even unchanged")

    simulate = commands.add_parser(
        "simulate",
        help="serve the Zoom simulator in the foreground",
        description="Serve a local Zoom simulator (OAuth and picture upload) until Ctrl-C.",
    )
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=0, help="default: a free port")
    simulate.add_argument("--config", type=Path, metavar="FILE", help="YAML with simulator:")
    add_simulator_options(simulate, "")

    scan = commands.add_parser(
        "scan",
        help="build a manifest from a folder of photos named after users",
        description="Build a manifest from photo files named jane.doe@example.com.jpg or"
        " jane.doe.jpg (with --domain).",
    )
    scan.add_argument("folder", type=Path, metavar="DIR")
    scan.add_argument("--domain", help="domain for file names that are local parts only")
    scan.add_argument("--output", type=Path, metavar="PATH", default=Path("manifest.csv"))
    return parser


# -- run / validate ------------------------------------------------------------------------

_FLAG_KEYS = (
    "plan",
    "rate",
    "report",
    "html",
    "fit",
    "fit_max_edge",
    "root",
    "api_url",
    "oauth_url",
    "concurrency",
    "memory_budget_mb",
    "dry_run",
    "state",
    "no_state",
    "force",
    "retry_failed",
    "wait_for_quota",
    "max_attempts",
    "max_retry_time",
    "connect_timeout",
    "request_timeout",
)


def _load_settings(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[Config, dict[str, Any]]:
    file_settings: dict[str, Any] = {}
    if args.config is not None:
        file_settings = read_config_file(args.config, environ, sections=FILE_SECTIONS)
    flags = {key: getattr(args, key, None) for key in _FLAG_KEYS}
    if args.command == "validate":
        flags["dry_run"] = True
    config = build_config(
        flags, environ=environ, file_settings=file_settings, file_name=str(args.config)
    )
    return config, file_settings


def _observers(args: argparse.Namespace, err: TextIO, stack: contextlib.ExitStack) -> Any:
    from .ui import ConsoleProgress, JsonLog, Observers, TextLog

    console = ConsoleProgress(stream=err, quiet=args.quiet, manifest=str(args.manifest))
    stack.callback(console.close)
    observers: list[Any] = [console]
    if args.log_file is not None or args.log_format == "json":
        if args.log_file is not None:
            try:
                args.log_file.parent.mkdir(parents=True, exist_ok=True)  # as the report's is
                stream: TextIO = stack.enter_context(args.log_file.open("a", encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(
                    f"--log-file: cannot write {args.log_file} ({exc.strerror})"
                ) from None
        else:
            stream = sys.stdout
        observers.append(JsonLog(stream) if args.log_format == "json" else TextLog(stream))
    return Observers(*observers)


async def _execute(
    args: argparse.Namespace, config: Config, simulator: SimulatorOptions | None, err: TextIO
) -> int:
    from ._runner import run_manifest

    job: JobName = "remove" if args.command == "remove" else "upload"
    in_flight = "removals" if job == "remove" else "uploads"
    received: list[int] = []
    loop = asyncio.get_running_loop()
    with contextlib.ExitStack() as stack:
        observer = _observers(args, err, stack)
        async with simulated(config, simulator if not config.dry_run else None) as config:
            run = run_manifest(
                config, args.manifest, job=job, manifest_format=args.format, observer=observer
            )

            def on_signal(number: int) -> None:
                received.append(number)
                sigint = number == signal.SIGINT
                reason = "interrupted (Ctrl-C)" if sigint else "terminated (SIGTERM)"
                if run.started and len(received) == 1:
                    print(
                        f"\nzoom-batch: {reason}: finishing {in_flight} in flight"
                        " (press Ctrl-C again to abort them)",
                        file=err,
                        flush=True,
                    )
                run.stop(reason=reason)

            for number in (signal.SIGINT, signal.SIGTERM):
                # Not on Windows, nor outside the main thread (tests run the CLI in a thread).
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(number, on_signal, number)
            try:
                summary = await run
            except asyncio.CancelledError:
                if not received or run.started:
                    raise
                sigint = received[0] == signal.SIGINT
                reason = "interrupted (Ctrl-C)" if sigint else "terminated (SIGTERM)"
                print(f"zoom-batch: {reason} while starting; nothing was sent", file=err)
                return EXIT_SIGINT if sigint else EXIT_SIGTERM
    if received:
        return EXIT_SIGTERM if received[0] == signal.SIGTERM else EXIT_SIGINT
    return summary.exit_code


def _run_command(args: argparse.Namespace, environ: Mapping[str, str], err: TextIO) -> int:
    config, file_settings = _load_settings(args, environ)
    simulator = None
    if getattr(args, "simulate", False):
        section = file_settings.get("simulator") or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{args.config}: simulator: expected a mapping of settings")
        simulator = simulator_options(args, section, args.manifest)
    # A full garbage collection walks every object the imports left (~46,000): a ~50 ms pause
    # that holds back a paced send, so one second at Zoom then holds a request too many
    # (bench/pacing.py: one 429 in every 300-upload run at 20/s). gc.freeze() takes them out
    # of the collector's walk; unfrozen afterwards for callers of main() in a process.
    gc.freeze()
    try:
        return asyncio.run(_execute(args, config, simulator, err))
    finally:
        gc.unfreeze()


# -- scan ----------------------------------------------------------------------------------


def _scan_command(args: argparse.Namespace, out: TextIO) -> int:
    from ._scan import scan_folder, write_manifest

    result = scan_folder(args.folder, domain=args.domain)
    try:
        write_manifest(result, args.output)
    except OSError as exc:
        raise ConfigError(f"--output: cannot write {args.output}: {exc.strerror or exc}") from None
    mapped = len(result.mapped)
    print(f"mapped {mapped:,} file{'' if mapped == 1 else 's'} → {args.output}", file=out)
    if result.notes:
        print(f"{len(result.notes):,} to convert:", file=out)
        for path, note in result.notes:
            print(f"  {path}: {note}", file=out)
    if result.unmapped:
        print(f"{len(result.unmapped):,} not mapped:", file=out)
        for path, reason in result.unmapped:
            print(f"  {path}: {reason}", file=out)
    return EXIT_OK if not result.unmapped else EXIT_PROBLEMS


# -- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoom-batch`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_SETUP
    environ = dict(os.environ)
    # Pillow warns (once, on stderr) about huge images; the row's report message says it all.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    # Decoding a photo to check it may warn about its EXIF ("Corrupt EXIF data"): the pixels
    # are what is checked and sent, and a warning on stderr per photo would drown the run.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    try:
        if args.command in ("run", "validate", "remove"):
            return _run_command(args, environ, sys.stderr)
        if args.command == "simulate":
            return simulate_command(args, environ, sys.stdout)
        return _scan_command(args, sys.stdout)
    except MissingCredentials as exc:
        print(f"zoom-batch: {one_line(str(exc))}; or try --simulate", file=sys.stderr)
        return EXIT_SETUP
    except SetupError as exc:
        print(f"zoom-batch: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("zoom-batch: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except Exception as exc:  # a bug: one line, not a traceback, unless asked for
        if environ.get("ZOOM_BATCH_DEBUG"):
            raise
        print(
            f"zoom-batch: internal error: {type(exc).__name__}: {exc}"
            " (set ZOOM_BATCH_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


__all__ = ["MEDIUM_RATE", "PLAN_NAMES", "build_parser", "main"]
