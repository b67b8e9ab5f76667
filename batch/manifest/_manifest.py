"""Opening a manifest file: one pass that checks it all and counts the rows, then the rows.

:func:`open_manifest` reads the whole file once with its format's reader, so that a problem
on line 90,000 stops the run before any upload rather than in the middle of it;
:meth:`Manifest.rows` then streams the rows. The file itself is read once: both passes read a
private copy taken as the check read it (``_snapshot.py``), so a file changed during the run
changes nothing in it. Neither pass holds more than a row in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .._exceptions import ManifestError
from .._models import ManifestRow
from ._columns import COLUMNS, Column, columns_for
from ._registry import format_of, reader_for
from ._snapshot import Snapshot, take
from ._text import HEAD_SIZE, check_text


@dataclass(frozen=True)
class Manifest:
    """A checked manifest file; :meth:`rows` streams its rows; :meth:`close` when done.

    :func:`open_manifest` gives one that reads its snapshot of the file, never the file
    again; close it (or use it as a context manager) to delete that copy. One built by hand,
    without a snapshot, takes one at each :meth:`rows`.
    """

    path: Path  #: the file as given: messages and relative ``file`` cells start from it
    format: str  #: a name of :data:`~._registry.FORMAT_NAMES`
    total: int  #: data rows (blank lines and rows with every cell empty are not rows)
    columns: tuple[Column, ...] = COLUMNS  #: the column table it was checked against
    #: The bytes checked, which :meth:`rows` reads.
    snapshot: Snapshot | None = field(default=None, repr=False, compare=False)

    @property
    def folder(self) -> Path:
        """Where relative ``file`` cells start."""
        return self.path.parent

    @property
    def size(self) -> int | None:
        """The file's size in bytes, as checked (None without a snapshot)."""
        return self.snapshot.size if self.snapshot is not None else None

    @property
    def sha256(self) -> str | None:
        """The SHA-256 (hex) of the bytes checked and streamed (None without a snapshot)."""
        return self.snapshot.sha256 if self.snapshot is not None else None

    def rows(self) -> Iterator[ManifestRow]:
        """Stream the rows in file order, numbered from 1; nothing is read before the first.

        Each call reads the snapshot from its start, on its own, whatever became of the file.
        After :meth:`close`, reading raises ValueError.
        """
        read = reader_for(self.format)
        folder = self.folder
        snapshot = self.snapshot if self.snapshot is not None else take(self.path)
        try:
            with snapshot.reader() as stream:
                records = read(stream, str(self.path), self.columns)
                # values in the order of _columns.COLUMNS: a column added there is added here too
                for number, (line, (user, file)) in enumerate(records, start=1):
                    yield ManifestRow(number, line, user, file, resolve_file(file, folder))
        finally:
            if snapshot is not self.snapshot:
                snapshot.close()

    def close(self) -> None:
        """Delete the snapshot. Safe to call more than once."""
        if self.snapshot is not None:
            self.snapshot.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

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

    The file is read once, into a private copy that :meth:`Manifest.rows` reads: close the
    manifest when done with it (``with open_manifest(path) as manifest: ...``).
    """
    snapshot = take(path)  # a pipe, a device, a directory: refused, never opened
    try:
        with snapshot.reader() as stream:
            # "Cannot read" says more than the extension: the first read comes first.
            stream.read(HEAD_SIZE)
            stream.seek(0)
            try:
                fmt = format_of(path, format)
            except ManifestError:
                check_text(stream, str(path))  # an empty or binary file says so, whatever its name
                raise
            columns = columns_for(optional=optional)
            total = sum(1 for _ in reader_for(fmt)(stream, str(path), columns))
        snapshot.finish()  # what the reader left unread, if anything: size and sha256 cover all
    except BaseException:
        snapshot.close()
        raise
    return Manifest(path, fmt, total, columns, snapshot)
