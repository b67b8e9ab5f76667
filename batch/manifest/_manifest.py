"""Opening a manifest file: one pass that checks it all and counts the rows, then the rows.

:func:`open_manifest` reads the whole file once with its format's reader, so that a problem
on line 90,000 stops the run before any upload rather than in the middle of it;
:meth:`Manifest.rows` then streams the rows. The file itself is read once: both passes read a
private copy taken as the check read it (``_snapshot.py``), so a file changed during the run
changes nothing in it. Neither pass holds more than a row in memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .._exceptions import ManifestError
from .._models import ManifestRow
from ._columns import COLUMNS, Column, columns_for
from ._options import DEFAULT_OPTIONS, Layout, ReadOptions
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
    #: Data rows (blank lines and rows with every cell empty are not rows; a YAML item that
    #: cannot be a row is one, with its ``problem``).
    total: int
    columns: tuple[Column, ...] = COLUMNS  #: the column table it was checked against
    #: The manifest's other columns (a Name, a department), in file order: each row's
    #: :attr:`~batch._models.ManifestRow.extras` hold one value per name. Header names as
    #: written (trimmed), duplicates as they are, an unnamed one as ``column_N``.
    extra_columns: tuple[str, ...] = ()
    options: ReadOptions = DEFAULT_OPTIONS  #: how it was read, and :meth:`rows` reads it
    #: One-line notes on how it was read, for the CLI to print ("read as semicolon-separated").
    notes: tuple[str, ...] = ()
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
        After :meth:`close`, reading raises ValueError. A row the reader could not use on its
        own (a YAML item of the wrong shape) comes with its ``problem`` set. Each row has one
        extra value per :attr:`extra_columns` (a manifest built by hand, with none, gives the
        extras the reader finds as it goes).
        """
        read = reader_for(self.format)
        folder = self.folder
        snapshot = self.snapshot if self.snapshot is not None else take(self.path)
        # What the check found, so that a YAML row has a value for every extra column.
        layout = Layout(list(self.extra_columns))
        try:
            with snapshot.reader() as stream:
                records = read(stream, str(self.path), self.columns, self.options, layout)
                # values in the order of _columns.COLUMNS: a column added there is added here too
                for number, (line, (user, file), extras, problem) in enumerate(records, start=1):
                    path = resolve_file(file, folder)
                    yield ManifestRow(number, line, user, file, path, extras, problem)
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
    the home folder. None when the cell is empty or spaces.

    A cell written on Windows (``photos\\ada.jpg``) names ``photos/ada.jpg`` where no file
    has the name as written: backslashes are read as separators then, and only then (a file
    name may hold a backslash on POSIX), at the cost of one ``lstat`` for such cells alone.
    A drive or UNC path (``C:\\Photos\\a.jpg``, ``\\\\server\\share``) names nothing here
    and is left as written, so that the row names it as it stands in the manifest.
    """
    text = file.strip()
    if not text:
        return None
    path = _resolve(text, folder)
    windows = "\\" in text and os.sep == "/" and not _WINDOWS_ROOT.match(text)
    if windows and not os.path.lexists(path):
        return _resolve(text.replace("\\", "/"), folder)
    return path


#: The start of a path that only means something on Windows: a drive, or a UNC share.
_WINDOWS_ROOT = re.compile(r"[A-Za-z]:[\\/]|\\\\")


def _resolve(text: str, folder: Path) -> Path:
    if text.startswith("~"):
        try:
            path = Path(text).expanduser()
        except RuntimeError:  # ~name of no such user: left as written, so the row says so
            path = Path(text)
        return path if path.is_absolute() else folder / path
    # The common case, without a Path of its own: this runs once per row.
    return Path(text) if os.path.isabs(text) else folder / text


def open_manifest(
    path: Path,
    *,
    format: str | None = None,
    optional: frozenset[str] = frozenset(),
    options: ReadOptions | None = None,
) -> Manifest:
    """Check a manifest from end to end and count its rows.

    ``optional`` names the columns (by key: ``"file"``) this manifest need not have;
    ``options`` says what the file does not (its delimiter, sheet, column headers).
    ``format`` is a name of :data:`~._registry.FORMAT_NAMES` (any case); without it the
    extension decides. Raises :class:`ManifestError` (its message starts with ``path`` as given,
    or with ``--format``) when the file cannot be read, its format is unknown, or its reader
    finds a problem anywhere in it. A manifest with a header and no rows has ``total`` 0; so
    has an empty YAML list.

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
            options = options if options is not None else DEFAULT_OPTIONS
            layout = Layout()
            records = reader_for(fmt)(stream, str(path), columns, options, layout)
            total = sum(1 for _ in records)
        snapshot.finish()  # what the reader left unread, if anything: size and sha256 cover all
    except BaseException:
        snapshot.close()
        raise
    extras, notes = tuple(layout.extra_columns), tuple(layout.notes)
    return Manifest(path, fmt, total, columns, extras, options, notes, snapshot)
