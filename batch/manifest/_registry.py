"""The manifest formats: each one's name, file suffixes and reader, in one table.

A reader (:class:`Reader`) turns a binary stream into :data:`~._columns.Record` rows and
checks the whole stream as it goes, reading as the :class:`~._options.ReadOptions` say and
filling in a :class:`~._options.Layout` (the extra columns, notes) as it learns them. Adding
a format is a reader module beside this one, a loader function and one :class:`Format` entry
in :data:`_TABLE`; the ``--format`` choices, the suffixes recognised and the messages that
list them follow. A reader of text (CSV, YAML) starts with :func:`~._text.check_text` and
reads through :func:`~._text.decoded`; one of a binary format (.xlsx) does neither. A reader
is imported the first time it is asked for, so a format's library (PyYAML, openpyxl) loads
only for a manifest in that format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple, Protocol

from .._exceptions import ManifestError
from ._columns import COLUMNS, Column, Record
from ._options import DEFAULT_OPTIONS, Layout, ReadOptions


class Reader(Protocol):
    """Read one manifest format: ``reader(stream, source)`` streams its rows.

    ``stream`` is binary and seekable, positioned at the manifest's start, and is left open.
    ``source`` starts every message: the path as given, or a label for a stream. ``columns``
    is the column table (:data:`~._columns.COLUMNS`, or one with fewer required); ``options``
    what the operator said about the file; ``layout``, when given, is filled in as the reader
    learns the manifest's extra columns (and given those a first pass found, a YAML reader
    gives every row all of them). The reader raises :class:`ManifestError` ("{source}: line
    N: ...") for anything it cannot read, when it gets there: reading every row checks the
    file. A row it cannot use on its own is a :data:`~._columns.Record` with a problem.
    """

    def __call__(
        self,
        stream: IO[bytes],
        source: str,
        /,
        columns: tuple[Column, ...] = COLUMNS,
        options: ReadOptions = DEFAULT_OPTIONS,
        layout: Layout | None = None,
    ) -> Iterator[Record]: ...


class Format(NamedTuple):
    """One manifest format."""

    name: str  #: as ``--format`` takes it
    suffixes: tuple[str, ...]  #: lower-case file extensions that mean this format
    load: Callable[[], Reader]  #: imports the reader module and returns its reader


def _csv() -> Reader:
    from ._csv import read_csv

    return read_csv


def _yaml() -> Reader:
    from ._yaml import read_yaml  # imports PyYAML

    return read_yaml


def _xlsx() -> Reader:
    from ._xlsx import read_xlsx  # imports openpyxl

    return read_xlsx


_TABLE: tuple[Format, ...] = (
    Format("csv", (".csv",), _csv),
    Format("yaml", (".yaml", ".yml"), _yaml),
    # .xlsm: a workbook with macros, which are never run (openpyxl does not read them).
    Format("xlsx", (".xlsx", ".xlsm"), _xlsx),
)
#: Excel's old binary format, which no reader reads: its own message.
_OLD_EXCEL = (".xls",)

#: Suffix (lower-case, with its dot) -> format name.
FORMATS: dict[str, str] = {suffix: fmt.name for fmt in _TABLE for suffix in fmt.suffixes}
#: The format names, as ``--format`` takes them.
FORMAT_NAMES: tuple[str, ...] = tuple(fmt.name for fmt in _TABLE)

_BY_NAME = {fmt.name: fmt for fmt in _TABLE}


def reader_for(name: str) -> Reader:
    """The reader of the format called ``name`` (one of :data:`FORMAT_NAMES`); imports it."""
    return _BY_NAME[name].load()


def format_of(path: Path, format: str | None = None) -> str:
    """The format of ``path``: ``format`` when given (any case), else from its extension.

    Raises :class:`ManifestError` for a ``format`` that is not one of :data:`FORMAT_NAMES`, or
    an extension that names none.
    """
    if format:
        if format.lower() not in _BY_NAME:
            raise ManifestError(f"--format: expected {_either(FORMAT_NAMES)}, got {format!r}")
        return format.lower()
    name = FORMATS.get(path.suffix.lower())
    if path.suffix.lower() in _OLD_EXCEL:
        raise ManifestError(
            f"{path}: an old Excel workbook ({path.suffix}) is not read — save it as .xlsx"
            " or CSV UTF-8"
        )
    if name is None:
        raise ManifestError(
            f"{path}: cannot tell the manifest format from the extension {path.suffix!r}"
            f" — name it {_either(tuple(FORMATS))}, or pass --format {'|'.join(FORMAT_NAMES)}"
        )
    return name


def _either(words: tuple[str, ...]) -> str:
    """ "a, b or c"."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1])))
