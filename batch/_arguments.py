"""The ``zoom-batch`` command line's words: its commands and flags, and the command that repeats
a run (for the closing text's suggestions). :mod:`._cli` parses with these and does the rest.
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import NoReturn

from . import __version__
from ._settings import MEDIUM_RATE, PLAN_ALIASES
from ._simulate import add_simulator_options
from .manifest import FORMAT_NAMES

__all__ = ["EXIT_SETUP", "again_words", "build_parser"]

EXIT_SETUP = 2  #: a usage error, as every "could not start"

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

  # keep every user's current picture before replacing it, then put them all back
  zoom-batch run photos.csv --backup backups/2026-03-01
  zoom-batch undo backups/2026-03-01

  # who is in Zoom, who is in the manifest, who still has no picture
  zoom-batch audit photos.csv --report reports/audit.xlsx

  # spend no upload on people who are not users of the account
  zoom-batch run photos.csv --check-users
"""

#: Exit codes shared by remove, undo and audit, as the README's table gives them.
_EXITS = """exit codes: 0 every row done; 1 some rows failed, invalid or not attempted; 2 could not
start, or had to stop (one line says why); 130 Ctrl-C, 143 SIGTERM (the report is complete)
"""

REMOVE_EXAMPLES = f"""\
examples:
  # leavers and withdrawn consent: take their pictures away (only the user column is read)
  zoom-batch remove leavers.csv --plan business --report reports/leavers.csv

  # after Ctrl-C or failures, finish only what is left
  zoom-batch remove leavers.csv --retry-failed reports/leavers.csv

{_EXITS}"""

UNDO_EXAMPLES = f"""\
examples:
  # a run that kept the pictures it replaced ...
  zoom-batch run photos.csv --backup backups/2026-03-01
  # ... undone: the old pictures back, removed for users who had none
  zoom-batch undo backups/2026-03-01 --report reports/undo.csv

  # interrupted? the same command again puts back everything (undo never skips a row)

{_EXITS}"""

AUDIT_EXAMPLES = """\
examples:
  # who is in Zoom, who is in the manifest, with which status, who still has no picture
  zoom-batch audit photos.csv --report reports/audit.xlsx --html reports/audit.html

  # sends no upload; interrupted, the same command again audits from the start

exit codes: 0 the audit completed; 1 some users could not be read (or a manifest row was
invalid); 2 could not start or had to stop; 130 Ctrl-C, 143 SIGTERM
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_SETUP, f"{self.prog}: {message}{self._hint(message)} (see {self.prog} --help)\n"
        )

    def _hint(self, message: str) -> str:
        """`` — did you mean --fit-max-edge?`` for a misspelt flag, or ""."""
        prefix = "unrecognized arguments: "
        if not message.startswith(prefix):
            return ""
        # The top parser reports a subcommand's unknown flags: look in every parser.
        parsers = [self]
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
        known = {s for p in parsers for a in p._actions for s in a.option_strings}
        for word in message[len(prefix) :].split():
            flag = word.partition("=")[0]
            if flag.startswith("--"):
                close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
                if close:
                    return f" — did you mean {close[0]}?"
        return ""


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
        epilog=REMOVE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    undo = commands.add_parser(
        "undo",
        help="put back the pictures a run --backup folder kept",
        description="Put back what a --backup folder recorded: upload each user's old picture"
        " (status restored) and remove the picture of users who had none (status removed).",
        epilog=UNDO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit = commands.add_parser(
        "audit",
        help="list the account's users: in Zoom, in the manifest, status, picture",
        description="List every user of the account (active, inactive, pending) and of the"
        " manifest, one report row each: in_zoom, in_manifest, zoom_status, has_picture."
        " Exit 0 when done, 1 when some users could not be read.",
        epilog=AUDIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for sub in (run, validate, remove, undo, audit):
        sub.add_argument(
            "manifest",
            type=_manifest_argument,
            metavar="DIR" if sub is undo else "MANIFEST",
            help="the --backup folder (or its backup.csv)"
            if sub is undo
            else "CSV, Excel (.xlsx) or YAML manifest",
        )
        sub.add_argument("--config", type=Path, metavar="FILE", help="YAML file of settings")
        sub.add_argument(
            "--format", choices=FORMAT_NAMES, help="manifest format (default: from the extension)"
        )
        sub.add_argument(
            "--plan",
            choices=PLAN_CHOICES,
            help="the account's Zoom plan, which sets the pace: free 2/s, pro 20/s (default),"
            " business 60/s (enterprise, education and partner are business)",
        )
        sub.add_argument(
            "--rate",
            type=float,
            metavar="N",
            help="pace ceiling in requests/s (default: the plan's)",
        )
        sub.add_argument(
            "--report",
            type=Path,
            metavar="PATH",
            help="report path, .csv or .xlsx (default: reports/zoom-batch-<UTC time>.csv)",
        )
        sub.add_argument(
            "--keep-reports",
            type=int,
            metavar="N",
            help="keep only the reports of the last N runs in the report folder (cron)",
        )
        sub.add_argument("--quiet", action="store_true", help="print only the summary and errors")
        sub.add_argument(
            "--log-format", choices=("text", "json"), default="text", help="event log format"
        )
        sub.add_argument("--log-file", type=Path, metavar="PATH", help="append events to this file")
        columns = sub.add_argument_group("reading the manifest")
        columns.add_argument(
            "--delimiter",
            metavar="CHAR",
            help="a CSV's field separator: ',' ';' tab or '|' (default: detected)",
        )
        columns.add_argument(
            "--sheet", metavar="NAME", help="an .xlsx manifest's sheet (default: the first)"
        )
        columns.add_argument(
            "--user-column",
            metavar="NAME",
            help="the header of the user column, if not email or user",
        )
        columns.add_argument(
            "--file-column",
            metavar="NAME",
            help="the header of the photo column, if not file or photo",
        )
        sub.add_argument(
            "--state",
            type=Path,
            metavar="PATH",
            help="state store (SQLite) of what was uploaded (default: one per account)",
        )
        sub.add_argument(
            "--no-state",
            action="store_true",
            default=None,
            help="no state store: nothing is skipped as unchanged, a rerun sends everything",
        )
    audit.add_argument("--html", type=Path, metavar="PATH", help="also write a contact sheet")
    for sub in (run, validate, remove):
        ldap = sub.add_argument_group("reading a directory (MANIFEST is ldap://HOST/BASE)")
        ldap.add_argument(
            "--ldap-filter", metavar="FILTER", help="search filter (default: people with a photo)"
        )
        ldap.add_argument(
            "--ldap-user-attr", metavar="ATTR", help="attribute holding the Zoom user (mail)"
        )
        ldap.add_argument(
            "--ldap-photo-attr",
            dest="ldap_photo_attrs",
            metavar="ATTRS",
            help="photo attributes, the first present wins (thumbnailPhoto,jpegPhoto)",
        )
        ldap.add_argument(
            "--ldap-ca-file",
            type=Path,
            metavar="PEM",
            help="CA certificates for ldaps:// and ?starttls (default: the system's)",
        )
    for sub in (run, validate):
        sub.add_argument("--html", type=Path, metavar="PATH", help="also write a contact sheet")
        sub.add_argument(
            "--fit",
            action="store_true",
            default=None,
            help="convert photos Zoom would refuse (too big, GIF, WebP, HEIC...) to a JPEG under"
            " 2 MB, scaled to --fit-max-edge; the source file is not changed",
        )
        sub.add_argument(
            "--fit-max-edge", type=int, metavar="PX", help="with --fit, the longest edge (1024)"
        )
        sub.add_argument(
            "--crop",
            choices=("none", "center", "face"),
            help="with --fit, cut each photo to the square Zoom shows through a circle: around"
            " the face (face), or the centre biased upward (center); default none",
        )
        sub.add_argument(
            "--root", type=Path, metavar="DIR", help="refuse photo files outside this folder"
        )
        sub.add_argument(
            "--allow-host",
            action="append",
            dest="allow_hosts",
            metavar="HOST",
            help="a host photo URLs may come from (repeat it; *.example.com for a domain);"
            " without it a URL in the manifest is refused",
        )

    for sub in (run, remove, undo, audit):
        sub.add_argument("--api-url", metavar="URL", help="default https://api.zoom.us/v2")
        sub.add_argument("--oauth-url", metavar="URL", help="default https://zoom.us/oauth/token")
        sub.add_argument(
            "--concurrency",
            type=int,
            metavar="N",
            help="most rows in progress (default: follows Zoom's answer times)",
        )
        sub.add_argument(
            "--memory-budget",
            type=int,
            metavar="MB",
            dest="memory_budget_mb",
            help="photo bytes held in memory at once, MB (256)",
        )
        sub.add_argument(
            "--dry-run", action="store_true", default=None, help="check and forecast; send nothing"
        )
        sub.add_argument(
            "--simulate", action="store_true", help="run against the built-in Zoom simulator"
        )
        sub.add_argument(
            "--retry-failed",
            type=Path,
            metavar="REPORT",
            help="run only the rows that report shows failed, invalid, deferred or not attempted",
        )
        sub.add_argument(
            "--wait-for-quota",
            action="store_true",
            default=None,
            help="when the daily quota runs out, wait for it instead of stopping",
        )
        sub.add_argument(
            "--max-attempts", type=int, metavar="N", help="requests per row, retries included (5)"
        )
        sub.add_argument(
            "--max-retry-time", type=float, metavar="S", help="seconds per row across retries (300)"
        )
        sub.add_argument(
            "--connect-timeout", type=float, metavar="S", help="seconds to connect (10)"
        )
        sub.add_argument(
            "--request-timeout", type=float, metavar="S", help="seconds for one request (60)"
        )
        sim_group = sub.add_argument_group("simulator settings (with --simulate)")
        add_simulator_options(sim_group, "sim-")  # type: ignore[arg-type]

    run.add_argument(
        "--backup",
        type=Path,
        metavar="DIR",
        help="before replacing a picture, keep the user's current one in DIR (backup.csv and"
        " pictures/), so that zoom-batch undo DIR can put it back",
    )
    run.add_argument(
        "--check-users",
        action="store_true",
        default=None,
        help="list the account's users first and spend no upload on rows whose user is not"
        " one (invalid); inactive and pending users are noted",
    )
    run.add_argument(
        "--force",
        action="store_true",
        default=None,
        help="upload every photo, even those the state store says are unchanged",
    )

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
    scan.add_argument("folder", type=Path, metavar="DIR", help="the folder of photos")
    scan.add_argument(
        "--domain", help="email domain for files named after the local part only (jane.doe.jpg)"
    )
    scan.add_argument(
        "--output",
        metavar="PATH",
        default="manifest.csv",
        help="the manifest to write (default: %(default)s); - writes it to standard output and"
        " the notes to standard error. An existing file is kept unless --force",
    )
    scan.add_argument("--force", action="store_true", help="replace the --output file if it exists")
    scan.add_argument("--recursive", action="store_true", help="also scan the sub-folders")
    return parser


#: Flags a suggested next command leaves out: each run names its own report, and the
#: suggestion adds the --retry-failed it needs; the rest are about this run's output alone.
_NOT_REPEATED = frozenset(
    {"retry_failed", "report", "html", "force", "dry_run", "quiet", "log_format", "log_file"}
)


def again_words(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The command that repeats this run, as the words after ``zoom-batch``: the command, the
    manifest, and every flag
    that shapes the run (where Zoom is, the simulator, the pace, --fit, the state store, how
    the manifest is read...), so that a pasted suggestion does what this run did. Secrets
    never appear: they come from the environment."""
    words = [args.command, str(args.manifest)]
    command = next(
        action.choices[args.command]
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    for action in command._actions:
        if not action.option_strings or action.dest in _NOT_REPEATED:
            continue
        value = getattr(args, action.dest, None)
        if value is None or value is False or value == action.default:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:
            words.append(flag)
            continue
        for one in value if isinstance(value, list) else [value]:  # --allow-host, repeated
            words += [flag, f"{one:g}" if isinstance(one, float) else str(one)]  # 20, not 20.0
    return words


def _manifest_argument(text: str) -> Path | str:
    """A manifest file, or a directory URL kept as written (a Path would fold its ``//``)."""
    from .directory import is_directory_url

    return text if is_directory_url(text) else Path(text)
