"""Report retention (``--keep-reports N``): delete the reports of old runs, and nothing else.

Only the files a run names by default are touched: ``zoom-batch-YYYYmmdd-HHMMSS[-N]`` with
``.csv`` or ``.xlsx`` (the report), the same plus ``.partial``, and — only beside a report or a
``.partial`` of the same stem — its ``.json`` summary and an ``.html`` contact sheet. Runs are
ordered by the time in their name, never by the files' times, which a copy or a backup changes.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path

__all__ = ["PARTIAL_LIVE_S", "prune_reports"]

_log = logging.getLogger(__name__)

_NAME = re.compile(
    r"zoom-batch-(?P<date>\d{8})-(?P<time>\d{6})(?:-(?P<n>[2-9]|[1-9]\d+))?"
    r"(?P<ext>\.csv|\.xlsx|\.csv\.partial|\.xlsx\.partial|\.json|\.html)"
)
_REPORTS = frozenset({".csv", ".xlsx", ".csv.partial", ".xlsx.partial"})
#: A ``.partial`` written to less than this long ago may belong to a run still going on in
#: another process (one waiting for the daily quota writes nothing for up to a day): its run is
#: kept whatever its age, so a crashed run's leftovers go two days late rather than a live one's.
PARTIAL_LIVE_S = 2 * 24 * 3600

Run = tuple[str, str, int]  #: (date, time, N): a run's place in time, from its files' names


def prune_reports(
    folder: Path,
    keep: int,
    *,
    protect: Collection[Path] = (),
    on_error: Callable[[Path, OSError], None] | None = None,
) -> list[Path]:
    """Keep the reports of the last ``keep`` runs in ``folder``; delete older ones' files.

    A run is kept whatever its age when one of its files is in ``protect`` (the current run's
    report, ``.partial``, summary or sheet) or when its ``.partial`` looks live
    (:data:`PARTIAL_LIVE_S`). Returns the files deleted, oldest run first. Never raises for the
    file system: a folder that cannot be listed deletes nothing, and a file that cannot be
    deleted is left, logged and passed to ``on_error``.
    """
    if keep < 0:
        raise ValueError(f"keep must be >= 0, got {keep}")
    files, reported = _runs(folder)
    here = _where(folder)
    protected = {_where(path) for path in protect}
    # The current run is protected by its stem too: its report may exist only as a .partial.
    protected_runs = {
        parsed[0]
        for path in protected
        if path.parent == here and (parsed := _parse(path.name)) is not None
    }
    now = time.time()
    deleted: list[Path] = []
    for run in sorted(reported, reverse=True)[keep:][::-1]:
        paths = sorted(files[run])
        if run in protected_runs or any(_where(path) in protected for path in paths):
            continue
        if _live(paths, now):
            continue
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # gone already (another run's retention): nothing to do
            except OSError as exc:
                _log.warning("--keep-reports: cannot delete %s (%s)", path, exc.strerror or exc)
                if on_error is not None:
                    on_error(path, exc)
                continue
            deleted.append(path)
    return deleted


def _runs(folder: Path) -> tuple[dict[Run, list[Path]], set[Run]]:
    """Each run's files in ``folder``, and the runs that have a report or a ``.partial``."""
    files: dict[Run, list[Path]] = {}
    reported: set[Run] = set()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return files, reported
    for entry in entries:
        parsed = _parse(entry.name)
        if parsed is None:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                continue  # a folder so named is not ours
        except OSError:
            continue
        run, ext = parsed
        files.setdefault(run, []).append(Path(entry.path))
        if ext in _REPORTS:
            reported.add(run)
    return files, reported


def _parse(name: str) -> tuple[Run, str] | None:
    """The run a file name belongs to and its extension, or None if this tool names no file so."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    try:
        datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S")
    except ValueError:
        return None  # looks like ours, but no time we would have written
    return (match["date"], match["time"], int(match["n"] or 1)), match["ext"]


def _live(paths: list[Path], now: float) -> bool:
    """True when a ``.partial`` of the run was written lately: it may be running elsewhere."""
    for path in paths:
        if path.name.endswith(".partial"):
            try:
                if now - path.stat().st_mtime < PARTIAL_LIVE_S:
                    return True
            except OSError:
                return True  # cannot tell: keep it
    return False


def _where(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()
