"""Reading the manifest: CSV or YAML, streamed row by row, never held in memory as a whole.

:func:`open_manifest` makes one streaming pass that checks the whole file (encoding, structure,
columns) and counts the rows, so that a problem on line 90,000 stops the run before any upload
rather than in the middle of it. :meth:`Manifest.rows` then streams the rows again.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .._exceptions import ManifestError
from .._models import ManifestRow

#: Accepted header names, compared lower-cased with spaces trimmed; the first present wins.
USER_COLUMNS = ("email", "user", "user_id", "userid")
FILE_COLUMNS = ("file", "photo", "picture", "path")
_USER_SHOWN = "email, user, user_id, userId"
_FILE_SHOWN = "file, photo, picture, path"

FORMATS = {".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}

csv.field_size_limit(1 << 20)  # a 1 MB cell is a broken file, not a manifest


@dataclass(frozen=True)
class Manifest:
    """A checked manifest file; :meth:`rows` streams its rows."""

    path: Path
    format: str
    total: int  #: data rows (blank lines and rows with every cell empty are not rows)
    user_column: str
    file_column: str

    @property
    def folder(self) -> Path:
        return self.path.parent

    def rows(self) -> Iterator[ManifestRow]:
        """Stream the rows in file order, numbered from 1."""
        if self.format == "csv":
            return _csv_rows(self.path, self.folder)
        from ._yaml import yaml_rows  # PyYAML loads only for a YAML manifest

        return yaml_rows(self.path, self.folder)

    def resolve(self, file: str) -> Path | None:
        """The path a ``file`` cell names: relative paths start at the manifest's folder."""
        return resolve_file(file, self.folder)


def resolve_file(file: str, folder: Path) -> Path | None:
    text = file.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else folder / path


def open_manifest(path: Path, *, format: str | None = None) -> Manifest:
    """Check a manifest from end to end and count its rows. Raises :class:`ManifestError`."""
    _check_readable(path)  # first: "not found" or "a directory" says more than the extension
    fmt = format.lower() if format else FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ManifestError(
            f"{path}: cannot tell the manifest format from the extension {path.suffix!r}"
            " — name it .csv, .yaml or .yml, or pass --format csv|yaml"
        )
    if fmt not in ("csv", "yaml"):
        raise ManifestError(f"--format: expected csv or yaml, got {format!r}")
    if fmt == "csv":
        user_col, file_col, total = _csv_scan(path)
    else:
        from ._yaml import yaml_scan

        user_col, file_col, total = yaml_scan(path)
    return Manifest(path, fmt, total, user_col, file_col)


def _check_readable(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except IsADirectoryError:
        raise ManifestError(f"{path}: is a directory, not a manifest file") from None
    except PermissionError:
        raise ManifestError(f"{path}: permission denied reading the manifest") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc})") from None
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ManifestError(f"{path}: the manifest is empty")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode Text"
        raise ManifestError(
            f"{path}: line 1: not UTF-8 text (it is UTF-16)"
            " — save the manifest as UTF-8 (in Excel: CSV UTF-8) and try again"
        )
    if b"\x00" in head:
        raise ManifestError(f"{path}: not a text file (it holds binary data) — export it as CSV")


def _text_stream(handle: IO[bytes]) -> io.TextIOWrapper:
    # utf-8-sig drops a BOM when there is one; strict errors so a Latin-1 export is reported.
    return io.TextIOWrapper(handle, encoding="utf-8-sig", errors="strict", newline="")


def _not_utf8(path: Path) -> ManifestError:
    return ManifestError(
        f"{path}: line {_first_bad_utf8_line(path)}: not UTF-8 text"
        " — save the manifest as UTF-8 (in Excel: CSV UTF-8) and try again"
    )


def _first_bad_utf8_line(path: Path) -> int:
    """The line holding the first byte that is not UTF-8 (decoders read ahead in chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    with path.open("rb") as handle:
        while chunk := handle.read(65536):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.object is this chunk plus any partial character held from the last one.
                return line + bytes(exc.object[: exc.start]).count(b"\n")
            line += chunk.count(b"\n")
    return line


# --- CSV ------------------------------------------------------------------------------------


def _header_columns(path: Path, header: list[str], line: int) -> tuple[int, int, str, str]:
    names = [cell.strip().lower() for cell in header]
    user = next((n for n in USER_COLUMNS if n in names), None)
    file = next((n for n in FILE_COLUMNS if n in names), None)
    found = ", ".join(cell.strip() for cell in header if cell.strip()) or "none"
    if user is None:
        raise ManifestError(
            f"{path}: line {line}: no user column — found columns: {found}; accepted: {_USER_SHOWN}"
        )
    if file is None:
        raise ManifestError(
            f"{path}: line {line}: no file column — found columns: {found}; accepted: {_FILE_SHOWN}"
        )
    return (
        names.index(user),
        names.index(file),
        header[names.index(user)].strip(),
        header[names.index(file)].strip(),
    )


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(starting line, cells) for every record, header included; errors name the line."""
    with path.open("rb") as handle:
        text = _text_stream(handle)
        reader = csv.reader(text, strict=False)
        line = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise _not_utf8(path) from None
            except csv.Error as exc:
                raise ManifestError(f"{path}: line {reader.line_num}: {exc}") from None
            yield line, cells
            line = reader.line_num + 1


def _blank(cells: list[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def _csv_scan(path: Path) -> tuple[str, str, int]:
    records = _csv_records(path)
    first = next(((line, cells) for line, cells in records if not _blank(cells)), None)
    if first is None:
        raise ManifestError(f"{path}: the manifest is empty")
    _, _, user_col, file_col = _header_columns(path, first[1], first[0])
    total = sum(1 for _line, cells in records if not _blank(cells))
    if total == 0:
        raise ManifestError(f"{path}: the manifest has a header but no rows")
    return user_col, file_col, total


def _csv_rows(path: Path, folder: Path) -> Iterator[ManifestRow]:
    records = _csv_records(path)
    first = next(((line, cells) for line, cells in records if not _blank(cells)), None)
    if first is None:
        return
    user_index, file_index, _, _ = _header_columns(path, first[1], first[0])
    number = 0
    for line, cells in records:
        if _blank(cells):
            continue
        number += 1
        user = cells[user_index].strip() if user_index < len(cells) else ""
        file = cells[file_index].strip() if file_index < len(cells) else ""
        yield ManifestRow(number, line, user, file, resolve_file(file, folder))
