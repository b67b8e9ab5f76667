"""The CSV reader: a header naming the columns, then one record per row.

The delimiter is the operator's (``--delimiter``), else the one a first line ``sep=;`` names
(as Excel writes it; that line is no row, though lines are still counted from it), else
detected from the header line (:func:`sniff`): Excel writes ``;`` where the decimal mark is a
comma, and "Text (Tab delimited)" writes tabs.

The header is the first record that is not blank; its cells are matched against the column
table (``_header.py``). Blank records (no line, or every cell empty or spaces) are not rows.
A record shorter than the header reads as "" in the cells it lacks; cells beyond the header
are ignored. Every header cell that is not a column of the table is an extra column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import IO, NamedTuple

from .._exceptions import ManifestError
from ._columns import COLUMNS, Column, Record, match_keys, normalize
from ._header import read_header
from ._options import DEFAULT_OPTIONS, Layout, ReadOptions
from ._text import check_text, decoded

FIELD_LIMIT = 1 << 20  # a 1 MB cell is a broken file, not a manifest
csv.field_size_limit(FIELD_LIMIT)

#: The delimiters detected, in the order a tie is settled.
CANDIDATES = (",", ";", "\t")
#: What a message may suggest as the file's real delimiter: the detected ones, and ``|``.
_SUGGESTED = (*CANDIDATES, "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: How far the header is looked for before the first record is taken as it, whatever it is.
_SNIFF_LINES = 1000


class Sniffed(NamedTuple):
    """The delimiter a CSV is read with, and how it was chosen."""

    delimiter: str
    how: str  #: "given" (the options), "sep" (a ``sep=`` line), "detected"
    others: tuple[str, ...]  #: other delimiters in the header line, the most frequent first


def read_csv(
    stream: IO[bytes],
    source: str,
    columns: tuple[Column, ...] = COLUMNS,
    options: ReadOptions = DEFAULT_OPTIONS,
    layout: Layout | None = None,
) -> Iterator[Record]:
    """Stream the data rows of a CSV manifest (UTF-8, quoted as Excel does).

    ``stream`` is binary and seekable, positioned at the start; it is left open. Errors are
    :class:`ManifestError` starting ``"{source}: line N: "``, including a file with no header
    ("the manifest is empty"), raised when the stream is found to be so: a consumer that reads
    every row has checked the file. A header and no rows is no error: no rows. ``layout``
    gets the extra columns from the header, and a note of a delimiter other than a comma.
    """
    check_text(stream, source)
    layout = layout if layout is not None else Layout()
    with decoded(stream, source) as text:
        head, skipped, sniffed = sniff(text, options, source)
        records = _records(chain(head, text), source, sniffed.delimiter, skipped)
        first = next(((line, cells) for line, cells in records if "".join(cells).strip()), None)
        if first is None:
            raise ManifestError(f"{source}: the manifest is empty")
        header = read_header(
            first[1], columns, options, f"{source}: line {first[0]}", _hint(sniffed)
        )
        layout.extra_columns[:] = header.extra_names
        if sniffed.delimiter != "," and sniffed.how != "given":
            why = "as its sep= line says" if sniffed.how == "sep" else "detected from the header"
            layout.notes.append(f"read as {_separated(sniffed.delimiter)} ({why})")
        positions, extra_at, width = header.positions, header.extra_at, header.width
        for line, cells in records:
            if not "".join(cells).strip():
                continue  # every cell empty or spaces: not a row
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            values = tuple(["" if p is None else cells[p].strip() for p in positions])
            yield line, values, tuple([cells[p] for p in extra_at]) if extra_at else (), None


def sniff(text: IO[str], options: ReadOptions, source: str) -> tuple[list[str], int, Sniffed]:
    """Read up to the header line: (the lines read, to parse again; lines dropped; delimiter).

    The dropped line is a first ``sep=X`` line. Detected, the delimiter is the candidate that
    splits the header line into the most cells that are column names, then into the most
    cells; a tie goes to the first of :data:`CANDIDATES`.
    """
    head: list[str] = []
    skipped = 0
    named: str | None = None
    first = text.readline(FIELD_LIMIT)
    # "sep=;" then a line break (any), and nothing else: what Excel writes and reads.
    named_here = first[4:5] not in ('"', "\r", "\n", "") and not first[5:].strip("\r\n")
    if first[:4].lower() == "sep=" and named_here:
        named, skipped, first = first[4], 1, text.readline(FIELD_LIMIT)
    line = first
    while line:
        head.append(line)
        if line.strip(" \t\r\n,;|\"'") or len(head) >= _SNIFF_LINES:
            break
        line = text.readline(FIELD_LIMIT)
    header = head[-1] if head else ""
    if len(header) >= FIELD_LIMIT and not header.endswith(("\n", "\r")):
        line_number = skipped + len(head)
        raise ManifestError(f"{source}: line {line_number}: the header line is over 1 MB")
    counts = {d: _count_outside_quotes(header, d) for d in _SUGGESTED}
    if options.delimiter is not None:
        chosen, how = options.delimiter, "given"
    elif named is not None:
        chosen, how = named, "sep"
    else:
        chosen, how = _detect(header, counts, options), "detected"
    others = sorted((d for d in _SUGGESTED if d != chosen and counts[d]), key=lambda d: -counts[d])
    return head, skipped, Sniffed(chosen, how, tuple(others))


def _detect(header: str, counts: dict[str, int], options: ReadOptions) -> str:
    names = {key for keys in match_keys(COLUMNS, options) for key in keys}

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header], delimiter=delimiter, strict=False), [])
        return sum(normalize(cell) in names for cell in cells), counts[delimiter]

    scores = {d: score(d) for d in CANDIDATES}
    best = max(scores.values())
    return next(d for d in CANDIDATES if scores[d] == best)


def _count_outside_quotes(line: str, delimiter: str) -> int:
    if '"' not in line:
        return line.count(delimiter)
    return sum(part.count(delimiter) for part in line.split('"')[::2])


def _hint(sniffed: Sniffed) -> str:
    """What a missing-column message adds, when the delimiter may be why."""
    name = _separated(sniffed.delimiter)
    other = sniffed.others[0] if sniffed.others else None
    if sniffed.how == "detected":
        if other is None:
            return f" (read as {name})" if sniffed.delimiter != "," else ""
        return (
            f" (read as {name}; if the file uses {_shown(other)}, pass --delimiter {_arg(other)})"
        )
    if other is None:
        return ""
    why = "as --delimiter says" if sniffed.how == "given" else "as its sep= line says"
    return f" (read as {name}, {why}; the header also holds {_shown(other)})"


def _separated(delimiter: str) -> str:
    return f"{_NAMES.get(delimiter, repr(delimiter))}-separated"


def _shown(delimiter: str) -> str:
    return "tabs" if delimiter == "\t" else repr(delimiter)


def _arg(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


def _records(
    lines: Iterable[str], source: str, delimiter: str, skipped: int
) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, cells) for every record, the header included."""
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    line = 1 + skipped
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ManifestError(f"{source}: line {reader.line_num + skipped}: {exc}") from None
        yield line, cells
        line = reader.line_num + 1 + skipped
