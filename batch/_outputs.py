"""A run's outputs before and after it: refuse ones that cannot be written or would overwrite an
input (checked before anything is sent), and keep only the last runs' reports (``--keep-reports``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from ._config import Config
from ._exceptions import ConfigError
from ._models import RunSummary
from ._report import ReportWriter, summary_path

if TYPE_CHECKING:
    from .directory import DirectoryManifest
    from .manifest import Manifest
    from .photos import Previews

__all__ = ["check_outputs", "contact_sheet", "prune"]


def prune(report: ReportWriter, config: Config, summary: RunSummary) -> None:
    """``--keep-reports N``: the reports of older runs in the report's folder go."""
    from ._retention import prune_reports

    assert config.keep_reports is not None
    protect = [report.path, report.partial, summary_path(report.path)]
    prune_reports(
        report.path.parent,
        config.keep_reports,
        protect=[*protect, *([config.html] if config.html else [])],
        on_error=lambda path, exc: summary.warnings.append(
            f"--keep-reports: cannot delete {path} ({exc.strerror or exc})"
        ),
    )


def check_outputs(config: Config, manifest: Path | None) -> None:
    """Refuse, before anything is sent, outputs that cannot be written or would overwrite an
    input: a folder, the manifest, or each other."""
    summary = summary_path(config.report) if config.report is not None else None
    named = [("--report", config.report), ("the JSON summary", summary), ("--html", config.html)]
    seen: dict[Path, str] = {} if manifest is None else {_where(manifest): "the manifest"}
    for flag, path in named:
        if path is None:
            continue
        if path.is_dir():
            raise ConfigError(f"{flag}: {path} is a folder — name a file")
        if path.exists() and not path.is_file():
            # /dev/null, a pipe: the report is written beside it and renamed over it, which
            # (as root) would put a plain file where the device was.
            raise ConfigError(f"{flag}: {path} is not a regular file — name a file")
        where = _where(path)
        if where in seen:
            raise ConfigError(f"{flag}: {path} is {seen[where]} — name another file")
        seen[where] = flag


def _where(path: Path) -> Path:
    """The file ``path`` names, links followed, for comparing two paths."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


async def contact_sheet(
    html: Path,
    report: Path,
    manifest: Manifest | DirectoryManifest,
    summary: RunSummary,
    *,
    root: Path | None,
    previews: Previews | None,
) -> None:
    """Write the run's ``--html`` contact sheet; a failure is a warning, not a failed run."""
    from ._html import run_date, write_contact_sheet

    try:
        html.parent.mkdir(parents=True, exist_ok=True)  # as the report's folder is
        # Thumbnails are CPU work (a few ms each): keep the loop free for signals.
        await asyncio.to_thread(
            write_contact_sheet,
            html,
            report,
            resolve=manifest.resolve,
            title=f"zoom-batch · {getattr(manifest, 'name', None) or Path(manifest.path).name}",
            date=run_date(summary.started_at),
            counts={status.value: n for status, n in summary.counts.items()},
            root=root,
            previews=previews,
        )
    except OSError as exc:
        # Every row is done and reported: a missing contact sheet is worth a warning,
        # not a failed run.
        summary.warnings.append(f"--html: cannot write {html} ({exc.strerror or exc})")
    else:
        summary.html_path = str(html)
