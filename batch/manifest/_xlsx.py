"""The .xlsx reader: one worksheet, its first non-blank row the header. Imports openpyxl.

The sheet is the workbook's first, or the one the options name. Rows stream from openpyxl's
read-only mode (``load_workbook(read_only=True, data_only=True)``): the sheet is parsed as it
is read, and this reader holds no row. openpyxl itself holds the shared-strings table (every
distinct text of the workbook) and ~100 bytes a row (the emptied ``<row>`` elements its parser
leaves in the tree): ~10 MB for 100,000 rows, measured. It is also the slow part: ~7,500
rows a second a pass (three columns, shared strings as Excel writes them, 2-core VM), so a
100,000-row workbook takes ~13 s to check and as long again to run through; a 10,000-row one,
under 3 s in all. Formulas read as the value Excel last computed. A row's ``line`` is Excel's
row number, and messages quote it ("row 7 (Excel)"). The column rules are the CSV reader's
(``_header.py``).

Cells read as text the way a person reads them in Excel: a whole number (a user ID typed as
123, stored as 123.0) as "123", a date as ISO text ("2024-03-01"), an empty cell as "".

Only :mod:`._registry` should import this module, on demand, so that openpyxl loads only for
a workbook.
"""

from __future__ import annotations

import datetime as dt
import gc
import warnings
from collections.abc import Iterator
from typing import IO, Any

import openpyxl  # type: ignore[import-untyped, unused-ignore]

from .._exceptions import ManifestError
from ._binary import SAVE_AS, is_encrypted_ooxml, is_ole2
from ._columns import COLUMNS, Column, Record
from ._header import read_header
from ._options import DEFAULT_OPTIONS, Layout, ReadOptions

# openpyxl warns (UserWarning) of what it leaves out of a workbook it reads — data validation,
# conditional formatting, a missing default style — none of which a manifest needs; printed,
# they would break the one-line output a run promises.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")

_HEAD = 8192


def read_xlsx(
    stream: IO[bytes],
    source: str,
    columns: tuple[Column, ...] = COLUMNS,
    options: ReadOptions = DEFAULT_OPTIONS,
    layout: Layout | None = None,
) -> Iterator[Record]:
    """Stream the data rows of an .xlsx workbook's sheet.

    ``stream`` is binary and seekable, positioned at the start; it is left open. Errors are
    :class:`ManifestError` starting ``"{source}: "``: not a workbook (an .xls, a
    password-protected one, text), no such sheet, no header ("the manifest is empty"), a
    missing column ("row N (Excel): no user column ..."). A header and no rows is no error.
    """
    layout = layout if layout is not None else Layout()
    _check_head(stream, source)
    workbook = _open(stream, source)
    try:
        sheet = _sheet(workbook, source, options, layout)
        rows = _rows(sheet, source)
        first = next(((number, row) for number, row in rows if not _blank(row)), None)
        if first is None:
            raise ManifestError(f"{source}: the manifest is empty")
        cells = [_text(value) for value in first[1]]
        header = read_header(cells, columns, options, f"{source}: row {first[0]} (Excel)")
        layout.extra_columns[:] = header.extra_names
        positions, extra_at, width = header.positions, header.extra_at, header.width
        for number, row in rows:
            if _blank(row):
                continue
            if len(row) < width:
                row = (*row, *(None,) * (width - len(row)))
            values = tuple(["" if p is None else _text(row[p]).strip() for p in positions])
            extras = tuple([_text(row[p]) for p in extra_at]) if extra_at else ()
            yield number, values, extras, None
    finally:
        workbook.close()
        # ElementTree's iterparse (which openpyxl parses the sheet with) is a reference cycle
        # in CPython 3.11/3.12: the parsed tree, ~100 bytes a row, outlives the pass until the
        # cycle collector runs, and a run's second pass would hold two. Measured on 20,000
        # rows with the collector idle: a check and a pass peaked at 5.5 MB, one pass at 3.7.
        gc.collect()


def _check_head(stream: IO[bytes], source: str) -> None:
    """Refuse, with what it is, a file that is no .xlsx at all."""
    start = stream.tell()
    head = stream.read(_HEAD)
    stream.seek(start)
    if not head.strip():
        raise ManifestError(f"{source}: the manifest is empty")
    if is_ole2(head):
        if is_encrypted_ooxml(stream):
            raise ManifestError(
                f"{source}: the workbook is password-protected — remove its password in Excel"
                " (File > Info > Protect Workbook), or save it as CSV UTF-8"
            )
        raise ManifestError(f"{source}: an old Excel workbook (.xls), not .xlsx — {SAVE_AS}")
    if not head.startswith(b"PK"):
        if b"\x00" not in head:
            raise ManifestError(
                f"{source}: not an Excel workbook (.xlsx): it is text — name it .csv, or pass"
                " --format csv"
            )
        raise ManifestError(f"{source}: not an Excel workbook (.xlsx) — {SAVE_AS}")


# openpyxl reads a damaged or foreign zip with whatever the broken part makes it raise
# (BadZipFile, KeyError, ValueError, TypeError, XML ParseError, zlib.error, EOFError...):
# each is translated here, once, into one line naming the file.


def _damaged(source: str, exc: Exception, where: str = "") -> ManifestError:
    detail = " ".join(str(exc).split())[:120] or type(exc).__name__
    return ManifestError(
        f"{source}: {where}not an Excel workbook (.xlsx), or a damaged one ({detail})"
    )


def _open(stream: IO[bytes], source: str) -> Any:
    try:
        return openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except ManifestError:
        raise  # reading the snapshot failed: that says it best
    except Exception as exc:  # see above
        raise _damaged(source, exc) from None


def _sheet(workbook: Any, source: str, options: ReadOptions, layout: Layout) -> Any:
    names: list[str] = list(workbook.sheetnames)
    sheets = workbook.worksheets  # worksheets only: a chart sheet holds no rows
    if options.sheet is None:
        if not sheets:
            raise ManifestError(f"{source}: the workbook has no worksheet")
        sheet = sheets[0]
        if len(names) > 1:
            layout.notes.append(
                f"read sheet {sheet.title!r}, the first of {len(names)} (--sheet names another)"
            )
    else:
        wanted = options.sheet.strip()
        by_case = {name.casefold(): name for name in names}
        name = wanted if wanted in names else by_case.get(wanted.casefold())
        sheet = None if name is None else workbook[name]
        if sheet is None or sheet not in sheets:
            listed = ", ".join(repr(n) for n in names) or "none"
            raise ManifestError(f"{source}: no sheet {wanted!r} — the workbook's sheets: {listed}")
    # The <dimension> a writer recorded may be wrong (some write "A1" for any sheet), and
    # openpyxl would stop reading there: read what the sheet holds instead.
    sheet.reset_dimensions()
    return sheet


def _rows(sheet: Any, source: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(Excel's row number, values) for every row from the first, blank ones included."""
    rows = sheet.iter_rows(values_only=True)
    number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except ManifestError:
            raise
        except Exception as exc:  # see above
            raise _damaged(source, exc, f"row {number + 1} (Excel): ") from None
        number += 1
        yield number, row


def _blank(row: tuple[Any, ...]) -> bool:
    for value in row:
        if value is not None and (type(value) is not str or value.strip()):
            return False
    return True


def _text(value: Any) -> str:
    """A cell's value as text, as Excel shows it without a number format."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
