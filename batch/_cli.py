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
from typing import TYPE_CHECKING, Any, TextIO

from PIL import Image

from ._arguments import EXIT_SETUP, again_words, build_parser
from ._config import (
    MEDIUM_RATE,
    PLAN_NAMES,
    Config,
    build_config,
)
from ._config_file import read_config_file
from ._exceptions import ConfigError, MissingCredentials, SetupError, one_line
from ._simulate import (
    FILE_SECTIONS,
    simulate_command,
    simulated,
    simulator_options,
)

if TYPE_CHECKING:
    from ._runner import JobName
    from .simulator import SimulatorOptions

EXIT_OK, EXIT_PROBLEMS = 0, 1
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
EXIT_INTERNAL = 70  # EX_SOFTWARE
# -- run / validate ------------------------------------------------------------------------

_FLAG_KEYS = (
    "plan",
    "rate",
    "report",
    "html",
    "fit",
    "fit_max_edge",
    "crop",
    "allow_hosts",
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
    "keep_reports",
    "backup",
    "check_users",
    "delimiter",
    "sheet",
    "user_column",
    "file_column",
    "ldap_filter",
    "ldap_user_attr",
    "ldap_photo_attrs",
    "ldap_ca_file",
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


def _observers(
    args: argparse.Namespace, again: list[str], err: TextIO, stack: contextlib.ExitStack
) -> Any:
    from .ui import ConsoleProgress, JsonLog, Observers, TextLog

    console = ConsoleProgress(
        stream=err,
        quiet=args.quiet,
        manifest=str(args.manifest),
        again=again,
        remembers=not (getattr(args, "no_state", None) or getattr(args, "force", None)),
    )
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
    args: argparse.Namespace,
    again: list[str],
    config: Config,
    simulator: SimulatorOptions | None,
    err: TextIO,
) -> int:
    from ._runner import run_manifest

    job: JobName = args.command if args.command in ("remove", "undo", "audit") else "upload"
    in_flight = {"remove": "removals", "audit": "reads"}.get(job, "uploads")
    received: list[int] = []
    loop = asyncio.get_running_loop()
    with contextlib.ExitStack() as stack:
        observer = _observers(args, again, err, stack)
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
                run.stop(reason=reason, exit_code=EXIT_SIGINT if sigint else EXIT_SIGTERM)

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
    return summary.exit_code  # 130 or 143 after a signal, as the JSON summary says


def _run_command(
    args: argparse.Namespace, again: list[str], environ: Mapping[str, str], err: TextIO
) -> int:
    config, file_settings = _load_settings(args, environ)
    simulator = None
    if not getattr(args, "simulate", False):
        given = [
            name
            for name, value in vars(args).items()
            if name.startswith("sim_") and value is not None
        ]
        if given:
            flag = "--sim-" + given[0][4:].replace("_", "-")
            raise ConfigError(f"{flag} sets the simulator: add --simulate, or drop it")
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
        return asyncio.run(_execute(args, again, config, simulator, err))
    finally:
        gc.unfreeze()


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
        if args.command in ("run", "validate", "remove", "undo", "audit"):
            if args.command == "undo" and args.manifest.is_dir():
                args.manifest = args.manifest / "backup.csv"  # undo DIR: its backup.csv
            # The parser built once: the words a suggested next command repeats.
            return _run_command(args, again_words(parser, args), environ, sys.stderr)
        if args.command == "simulate":
            return simulate_command(args, environ, sys.stdout)
        from ._scan import scan_command

        return scan_command(
            args.folder,
            domain=args.domain,
            output=args.output,
            force=args.force,
            recursive=args.recursive,
            out=sys.stdout,
            err=sys.stderr,
        )
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
