"""Opening a manifest file: one pass that checks it all and counts the rows, then the rows.

:func:`open_manifest` reads the whole file once with its format's reader, so that a problem
on line 90,000 stops the run before any upload rather than in the middle of it;
:meth:`Manifest.rows` then reads it again, streaming. Neither pass holds more than a row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .._exceptions import ManifestError
from .._models import ManifestRow
from ._columns import COLUMNS, Column, columns_for
from ._registry import format_of, reader_for
from ._text import HEAD_SIZE, check_text


@dataclass(frozen=True)
class Manifest:
    """A checked manifest file; :meth:`rows` streams its rows."""

    path: Path
    format: str  #: a name of :data:`~._registry.FORMAT_NAMES`
    total: int  #: data rows (blank lines and rows with every cell empty are not rows)
    columns: tuple[Column, ...] = COLUMNS  #: the column table it was checked against

    @property
    def folder(self) -> Path:
        """Where relative ``file`` cells start."""
        return self.path.parent

    def rows(self) -> Iterator[ManifestRow]:
        """Stream the rows in file order, numbered from 1; nothing is read before the first.

        The file was checked by :func:`open_manifest`; were it changed since, this raises
        :class:`ManifestError` at the problem, as that did.
        """
        read = reader_for(self.format)
        folder = self.folder
        with self.path.open("rb") as stream:
            records = read(stream, str(self.path), self.columns)
            # values in the order of _columns.COLUMNS: a column added there is added here too
            for number, (line, (user, file)) in enumerate(records, start=1):
                yield ManifestRow(number, line, user, file, resolve_file(file, folder))

    def resolve(self, file: str) -> Path | None:
        """The path a ``file`` cell names: relative paths start at the manifest's folder."""
        return resolve_file(file, self.folder)


def resolve_file(file: str, folder: Path) -> Path | None:
    """The path ``file`` (a cell as written) names, relative ones under ``folder``; ``~`` is
    the home folder. None when the cell is empty or spaces."""
    text = file.strip()
    if not text:
        return None
    if text.startswith("~"):
        try:
            path = Path(text).expanduser()
        except RuntimeError:  # ~name of no such user: left as written, so the row says so
            path = Path(text)
        return path if path.is_absolute() else folder / path
    # The common case, without a Path of its own: this runs once per row.
    return Path(text) if os.path.isabs(text) else folder / text


def open_manifest(
    path: Path, *, format: str | None = None, optional: frozenset[str] = frozenset()
) -> Manifest:
    """Check a manifest from end to end and count its rows.

    ``optional`` names the columns (by key: ``"file"``) this manifest need not have.
    ``format`` is a name of :data:`~._registry.FORMAT_NAMES` (any case); without it the
    extension decides. Raises :class:`ManifestError` (its message starts with ``path`` as given,
    or with ``--format``) when the file cannot be read, its format is unknown, or its reader
    finds a problem anywhere in it.
    """
    with _open(path) as stream:
        try:
            fmt = format_of(path, format)
        except ManifestError:
            check_text(stream, str(path))  # an empty or binary file says so, whatever its name
            raise
        columns = columns_for(optional=optional)
        total = sum(1 for _ in reader_for(fmt)(stream, str(path), columns))
    return Manifest(path, fmt, total, columns)


def _open(path: Path) -> IO[bytes]:
    """The file opened for reading, its first bytes read: "not found" and the like say more
    than the extension, so they come first."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        stream.read(HEAD_SIZE)
        stream.seek(0)
    except OSError as exc:
        stream.close()
        raise _unreadable(path, exc) from None
    return stream


def _unreadable(path: Path, exc: OSError) -> ManifestError:
    if isinstance(exc, FileNotFoundError):
        return ManifestError(f"{path}: manifest not found")
    if isinstance(exc, IsADirectoryError):
        return ManifestError(f"{path}: is a directory, not a manifest file")
    if isinstance(exc, PermissionError):
        return ManifestError(f"{path}: permission denied reading the manifest")
    return ManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc})")
