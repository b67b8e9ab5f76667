"""The CSV reader: a header naming the columns, then one record per row.

The header is the first record that is not blank; its cells are matched against the aliases of
:data:`~._columns.COLUMNS`. Blank records (no line, or every cell empty or spaces) are not
rows. A record shorter than the header reads as "" in the cells it lacks; extra cells and
columns the table does not know are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from .._exceptions import ManifestError
from ._columns import COLUMNS, Column, Record, missing, normalize
from ._text import check_text, decoded

csv.field_size_limit(1 << 20)  # a 1 MB cell is a broken file, not a manifest


def read_csv(
    stream: IO[bytes], source: str, columns: tuple[Column, ...] = COLUMNS
) -> Iterator[Record]:
    """Stream the data rows of a CSV manifest (UTF-8, comma-separated, quoted as Excel does).

    ``stream`` is binary and seekable, positioned at the start; it is left open. Errors are
    :class:`ManifestError` starting ``"{source}: line N: "``, including a file with no header
    ("the manifest is empty") or with no rows ("the manifest has a header but no rows"), raised
    when the stream is found to be so: a consumer that reads every row has checked the file.
    """
    check_text(stream, source)
    with decoded(stream, source) as text:
        records = _records(text, source)
        first = next(((line, cells) for line, cells in records if "".join(cells).strip()), None)
        if first is None:
            raise ManifestError(f"{source}: the manifest is empty")
        positions = _positions(first[1], first[0], source, columns)
        width = max((p for p in positions if p is not None), default=-1) + 1
        rows = 0
        for line, cells in records:
            if not "".join(cells).strip():
                continue  # every cell empty or spaces: not a row
            rows += 1
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            yield line, tuple(["" if p is None else cells[p].strip() for p in positions])
        if rows == 0:
            raise ManifestError(f"{source}: the manifest has a header but no rows")


def _records(text: IO[str], source: str) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells) for every record, the header included."""
    reader = csv.reader(text, strict=False)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ManifestError(f"{source}: line {reader.line_num}: {exc}") from None
        yield line, cells
        line = reader.line_num + 1


def _positions(
    header: list[str], line: int, source: str, columns: tuple[Column, ...]
) -> tuple[int | None, ...]:
    """Where each column of the table stands in ``header``; raises for a required one missing."""
    first_at: dict[str, int] = {}
    for index, cell in enumerate(header):
        first_at.setdefault(normalize(cell), index)
    positions: list[int | None] = []
    for column in columns:
        alias = column.find(first_at)
        if alias is None and column.required:
            found = [cell.strip() for cell in header if cell.strip()]
            raise ManifestError(f"{source}: line {line}: {missing(column, 'column', found)}")
        positions.append(None if alias is None else first_at[alias])
    return tuple(positions)
