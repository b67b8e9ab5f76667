"""No location data leaves: EXIF and XMP GPS taken out of a JPEG or PNG without re-encoding it.

A phone photo carries where it was taken. :func:`locate` finds the metadata blocks that hold
GPS data — a JPEG's APP1 Exif segment with a GPS IFD, an APP1 XMP segment naming GPS
coordinates; a PNG's ``eXIf`` chunk with a GPS IFD, its XMP ``iTXt`` chunk, ImageMagick's raw
profile text chunks — and says how to send the picture without them, byte for byte otherwise
(segment removal: the pixels are untouched, DECISIONS.md). It also reads the EXIF orientation:
a picture stored sideways is turned upright by re-encoding instead (``_check.py``), so that the
face reaches Zoom the right way up.

The result is ``head`` plus the file's bytes from ``offset`` on, so a large JPEG can be streamed
from disk after a rewritten head of a few kilobytes: its metadata all comes before the scan.
"""

from __future__ import annotations

import io
import struct
from typing import Final, NamedTuple

__all__ = ["Located", "locate"]

_EXIF: Final = b"Exif\x00\x00"
_XMP: Final = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXTENSION: Final = b"http://ns.adobe.com/xmp/extension/\x00"
_GPS_IN_XMP: Final = (b"GPSLatitude", b"GPSLongitude", b"GPSAltitude")
_GPS_IFD: Final = 0x8825
_ORIENTATION: Final = 0x0112
_SOS: Final = 0xDA
_EOI: Final = 0xD9
# Markers without a length: SOI, TEM, RST0-7.
_STANDALONE: Final = frozenset({0xD8, 0x01, *range(0xD0, 0xD8)})
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_XMP_KEYWORD: Final = b"XML:com.adobe.xmp"
_PNG_RAW_PROFILES: Final = (
    b"Raw profile type exif",
    b"Raw profile type xmp",
    b"Raw profile type APP1",
)


class Located(NamedTuple):
    """How to send a picture without its location: ``head + data[offset:]``."""

    head: bytes
    offset: int
    orientation: int  #: EXIF orientation, 1 (upright) when there is none
    removed: int  #: metadata blocks taken out

    def apply(self, data: bytes) -> bytes:
        """The bytes to send, from the whole file."""
        if not self.head and not self.offset:
            return data
        return self.head + data[self.offset :]


def locate(data: bytes, kind: str) -> Located:
    """Where the location data of a JPEG or PNG (``kind``) is, and its orientation.

    Never raises: what cannot be parsed is left as it is (the image check judges the file).
    """
    try:
        if kind == "jpeg":
            return _locate_jpeg(data)
        if kind == "png":
            return _locate_png(data)
    except (IndexError, ValueError, struct.error):
        pass
    return Located(b"", 0, 1, 0)


def _exif_facts(exif: bytes) -> tuple[bool, int]:
    """(has GPS data, orientation) of an EXIF block (starting with ``Exif\\0\\0``)."""
    from PIL import Image

    try:
        tags = Image.Exif()
        tags.load(exif)
        orientation = tags.get(_ORIENTATION, 1)
        has_gps = _GPS_IFD in tags
    except Exception:  # Pillow's EXIF parser raises whatever a damaged block makes it
        return True, 1  # unreadable: it may hold anything, so it does not leave
    if not isinstance(orientation, int) or not 1 <= orientation <= 8:
        orientation = 1
    return has_gps, orientation


def _locate_jpeg(data: bytes) -> Located:
    if data[:2] != b"\xff\xd8":
        return Located(b"", 0, 1, 0)
    pos = 2
    kept = io.BytesIO()
    kept.write(data[:2])
    removed = 0
    orientation = 1
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break  # not a marker: leave the rest to the image check
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            kept.write(b"\xff")
            pos += 1
            continue
        if marker in _STANDALONE:
            kept.write(data[pos : pos + 2])
            pos += 2
            continue
        if marker in (_SOS, _EOI):
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        payload = data[pos + 4 : end]
        drop = False
        if marker == 0xE1 and payload.startswith(_EXIF):
            has_gps, found = _exif_facts(payload)
            orientation = found if orientation == 1 else orientation
            drop = has_gps
        elif marker == 0xE1 and payload.startswith((_XMP, _XMP_EXTENSION)):
            drop = any(tag in payload for tag in _GPS_IN_XMP)
        if drop:
            removed += 1
        else:
            kept.write(data[pos:end])
        pos = end
    if not removed:
        return Located(b"", 0, orientation, 0)
    return Located(kept.getvalue(), pos, orientation, removed)


def _locate_png(data: bytes) -> Located:
    if not data.startswith(_PNG_SIGNATURE):
        return Located(b"", 0, 1, 0)
    pos = len(_PNG_SIGNATURE)
    spans: list[tuple[int, int]] = []  # chunks to take out
    orientation = 1
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        body = data[pos + 8 : pos + 8 + length]
        drop = False
        if kind == b"eXIf":
            has_gps, orientation = _exif_facts(_EXIF + body)
            drop = has_gps
        elif kind == b"iTXt" and body.startswith(_PNG_XMP_KEYWORD + b"\x00"):
            drop = any(tag in body for tag in _GPS_IN_XMP)
        elif kind in (b"tEXt", b"zTXt") and body.startswith(_PNG_RAW_PROFILES):
            drop = True  # hex or compressed EXIF/XMP: it may hold GPS, and shows nothing
        if drop:
            spans.append((pos, end))
        if kind == b"IEND":
            break
        pos = end
    if not spans:
        return Located(b"", 0, orientation, 0)
    # Chunks may follow the pixels: the whole file is rebuilt (PNG photos are rarely large).
    kept = io.BytesIO()
    start = 0
    for begin, end in spans:
        kept.write(data[start:begin])
        start = end
    kept.write(data[start:])
    return Located(kept.getvalue(), len(data), orientation, len(spans))
