"""Reading manifests: one reader per format, one table of columns, rows streamed.

:func:`open_manifest` checks a file end to end and counts its rows (raising
:class:`~batch._exceptions.ManifestError` before any row when it is unusable);
:meth:`Manifest.rows` streams them as :class:`~batch._models.ManifestRow`. The file is read
once, into a private snapshot that both read (``_snapshot.py``): close the manifest when done.

How to read a file the readers cannot work out alone (a delimiter, a sheet, the headers of
the user and file columns) is a :class:`ReadOptions`; what they found of it (the extra columns
carried to the report, notes) is on the :class:`Manifest`.

Underneath, :func:`reader_for` gives a format's reader: ``reader(stream, source)`` reads a
binary stream into :class:`Record` rows, one value per column of the table in ``_columns.py``
plus the row's extra cells (their names go to a :class:`Layout`).
The formats and their suffixes are the table in ``_registry.py``; :data:`FORMATS` maps a
suffix to a format name, :data:`FORMAT_NAMES` lists the names ``--format`` takes.
"""

from __future__ import annotations

from ._columns import COLUMNS, Column, Record, columns_for
from ._manifest import Manifest, open_manifest, resolve_file
from ._options import DEFAULT_OPTIONS, Layout, ReadOptions
from ._registry import FORMAT_NAMES, FORMATS, Reader, reader_for

__all__ = [
    "COLUMNS",
    "DEFAULT_OPTIONS",
    "FORMATS",
    "FORMAT_NAMES",
    "Column",
    "Layout",
    "Manifest",
    "ReadOptions",
    "Reader",
    "Record",
    "columns_for",
    "open_manifest",
    "reader_for",
    "resolve_file",
]
