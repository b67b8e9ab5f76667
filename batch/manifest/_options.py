"""How to read a manifest (:class:`ReadOptions`), and what a reader learns of it (:class:`Layout`).

:class:`ReadOptions` is what the operator may say about a file the readers would otherwise work
out for themselves: the CSV delimiter, the workbook's sheet, the headers of the user and file
columns. :class:`Layout` is filled in by a reader as it reads: the manifest's extra columns
(the ones the table in ``_columns.py`` does not read, carried to the report) and one-line notes
the CLI may print.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: What a delimiter may not be: the csv module refuses them, or they cannot separate cells.
_NOT_DELIMITERS = frozenset('"\r\n')


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadOptions:
    """What the operator said about how to read the manifest; None: found from the file."""

    delimiter: str | None = None  #: a CSV's field separator, one character (``,`` ``;`` tab ``|``)
    sheet: str | None = None  #: an .xlsx workbook's sheet, by name; None: the first
    user_column: str | None = None  #: the header of the user column, instead of the aliases
    file_column: str | None = None  #: the header of the file column, instead of the aliases

    def __post_init__(self) -> None:
        if self.delimiter is not None and (
            len(self.delimiter) != 1 or self.delimiter in _NOT_DELIMITERS
        ):
            raise ValueError(f"delimiter: expected one character, got {self.delimiter!r}")
        for key in ("user_column", "file_column"):
            value = getattr(self, key)
            if value is not None and not value.strip():
                raise ValueError(f"{key}: expected a header name, got {value!r}")

    def column_name(self, key: str) -> str | None:
        """The header the operator named for the column ``key`` ("user", "file"), if any."""
        if key == "user":
            return self.user_column
        if key == "file":
            return self.file_column
        return None


#: Everything found from the file.
DEFAULT_OPTIONS = ReadOptions()


@dataclass(slots=True)
class Layout:
    """What a reader found of the manifest as a whole, filled in as it reads.

    ``extra_columns`` are the names of the columns beyond the table's, in the order a
    :data:`~._columns.Record`'s extras follow. A CSV or workbook reader sets them from the
    header; the YAML reader adds each key as it first meets it, so a row's extras may be shorter
    than the final list (the rest are ""); given the list a first pass found, a second pass
    gives every row all of them.
    """

    extra_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  #: one line each, for the CLI to print
