"""A header row matched against the column table: where each column stands, and the rest.

Shared by the readers of tabular formats (CSV, .xlsx): the first non-blank row names the
columns; each column of the table is the first cell that is one of its names
(:func:`~._columns.match_keys`), and every other cell names an extra column, carried to the
report as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .._exceptions import ManifestError
from ._columns import Column, match_keys, missing, normalize
from ._options import ReadOptions


@dataclass(frozen=True, slots=True)
class Header:
    """Where a header's columns stand."""

    positions: tuple[int | None, ...]  #: per column of the table: its cell, None if absent
    extra_at: tuple[int, ...]  #: the cells of the extra columns, in order
    extra_names: tuple[str, ...]  #: their names: as written, trimmed; unnamed: ``column_N``
    width: int  #: how many cells a row must have for every position to exist


def read_header(
    cells: Sequence[str],
    columns: tuple[Column, ...],
    options: ReadOptions,
    where: str,
    hint: str = "",
) -> Header:
    """Match ``cells``, a header row, against ``columns``.

    Raises :class:`ManifestError` "``where``: no user column — found columns: ...``hint``;
    accepted: ..." for a required column missing; ``where`` is the source and line
    ("people.csv: line 1").
    Unnamed cells after the last named one (Excel's trailing ``;;;``) are no column at all.
    """
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    first_at: dict[str, int] = {}
    for index, name in enumerate(names):
        if name:
            first_at.setdefault(normalize(name), index)
    positions: list[int | None] = []
    for column, keys in zip(columns, match_keys(columns, options), strict=True):
        at = next((first_at[key] for key in keys if key in first_at), None)
        if at is None and column.required:
            found = [name for name in names if name]
            problem = missing(column, "column", found, options, hint)
            raise ManifestError(f"{where}: {problem}")
        positions.append(at)
    taken = set(positions)
    extra_at = tuple(index for index in range(len(names)) if index not in taken)
    return Header(
        positions=tuple(positions),
        extra_at=extra_at,
        extra_names=tuple(names[index] or f"column_{index + 1}" for index in extra_at),
        width=len(names),
    )
