"""Text helpers for the readers of text formats: the head check, UTF-8 decoding, line numbers.

Every function takes the binary stream a reader was given, positioned where the manifest
starts, plus ``source``: the name messages start with (the path as given, or a label). The
stream must be seekable (a file opened ``"rb"``, a :class:`io.BytesIO`): the head check looks
ahead and comes back, and a UTF-8 error is located by reading again from the start.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from .._exceptions import ManifestError
from ._binary import SAVE_AS, is_ole2, looks_like_xlsx

#: How much of the start the head check looks at.
HEAD_SIZE = 8192
#: What every "not UTF-8" message ends with.
SAVE_AS_UTF8 = "save the manifest as UTF-8 (in Excel: CSV UTF-8) and try again"

_CHUNK = 65536


def check_text(stream: IO[bytes], source: str) -> None:
    """Raise :class:`ManifestError` when the start shows this is no text manifest at all.

    That is: nothing but spaces, line breaks and a byte-order mark ("the manifest is empty"),
    UTF-16 (Excel's "Unicode Text"), an Excel workbook (named as if it were text), or binary
    data (a NUL byte in the first 8 KiB). The stream is left where it was.
    """
    start = stream.tell()
    head = stream.read(HEAD_SIZE)
    stream.seek(start)
    if not head.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise ManifestError(f"{source}: the manifest is empty")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ManifestError(f"{source}: line 1: not UTF-8 text (it is UTF-16) — {SAVE_AS_UTF8}")
    if looks_like_xlsx(head):
        raise ManifestError(
            f"{source}: not a text file (it is an Excel workbook) — name it .xlsx, or pass"
            " --format xlsx"
        )
    if is_ole2(head):
        raise ManifestError(
            f"{source}: not a text file (it is an old Excel workbook, .xls, or a"
            f" password-protected one) — {SAVE_AS}"
        )
    if b"\x00" in head:
        raise ManifestError(f"{source}: not a text file (it holds binary data) — export it as CSV")


@contextmanager
def decoded(stream: IO[bytes], source: str) -> Iterator[io.TextIOWrapper]:
    """The stream as text: UTF-8, a leading BOM dropped, line endings kept as written.

    Reading bytes that are not UTF-8 inside the ``with`` block raises :class:`ManifestError`
    naming the line of the first bad byte. On leaving the block the caller's stream is left
    open (detached, not closed).
    """
    start = stream.tell()
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        yield text
    except UnicodeDecodeError:
        line = first_bad_utf8_line(stream, start)
        raise ManifestError(f"{source}: line {line}: not UTF-8 text — {SAVE_AS_UTF8}") from None
    finally:
        if not stream.closed:  # closed under a reader its consumer dropped: nothing to keep
            text.detach()


def first_bad_utf8_line(stream: IO[bytes], start: int = 0) -> int:
    """The line (from 1) holding the first byte from ``start`` on that is not UTF-8.

    Decoders read ahead in chunks, so the failing read says little about where the byte is;
    this reads the stream again from ``start``. Past the end (all of it is UTF-8), the last line.
    """
    stream.seek(start)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line = 1
    while chunk := stream.read(_CHUNK):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # exc.object is this chunk plus any partial character held from the last one.
            return line + bytes(exc.object[: exc.start]).count(b"\n")
        line += chunk.count(b"\n")
    return line


def line_at(stream: IO[bytes], offset: int, start: int = 0) -> int:
    """The line (from 1) holding the byte ``offset`` bytes after ``start``."""
    stream.seek(start)
    line = 1
    while offset > 0 and (chunk := stream.read(min(offset, _CHUNK))):
        line += chunk.count(b"\n")
        offset -= len(chunk)
    return line
