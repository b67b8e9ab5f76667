"""What Zoom accepts, and the words for what it does not: every photo refusal is worded here.

Each message says what is wrong with the file and what to do, in words an HR person can act
on; Pillow's own complaints are translated by :func:`damaged`.
"""

from __future__ import annotations

from typing import Final

from PIL import Image, UnidentifiedImageError

from .._words import human_size
from ._sniff import describe, short_name

__all__ = [
    "CORRUPTED",
    "DEFAULT_FIT_MAX_EDGE",
    "EMPTY",
    "MAX_FIT_SOURCE_BYTES",
    "MAX_UPLOAD_BYTES",
    "MIN_FIT_MAX_EDGE",
    "TRUNCATED",
    "bomb",
    "damaged",
    "not_a_picture",
    "not_found",
    "too_big",
    "too_big_to_fit",
    "unreadable",
]

#: Zoom's limit: "File size cannot exceed 2M", without saying whether that is 2,000,000 or
#: 2,097,152 bytes; a file between the two may be refused, so the smaller is the limit.
MAX_UPLOAD_BYTES: Final = 2_000_000
DEFAULT_FIT_MAX_EDGE: Final = 1024
MIN_FIT_MAX_EDGE: Final = 16
#: ``--fit`` still refuses sources above this: no profile photo needs it, and decoding costs memory.
MAX_FIT_SOURCE_BYTES: Final = 50_000_000

#: The reasons :func:`damaged` gives most often.
TRUNCATED: Final = "image file is truncated"
CORRUPTED: Final = "its data is corrupted"
EMPTY: Final = "file is empty (0 bytes) — export the photo again"

_MB: Final = 1_000_000  # decimal, as Zoom's "2M" and the sizes human_size() writes
_NOT_A_PICTURE_ADVICE: Final = {
    "html": "download the photo itself",
    "pdf": "export the photo as JPEG or PNG",
    "svg": "export it as PNG or JPEG",
    "xml": "check that the manifest points at the photo",
}
# Pillow's complaints that name something it cannot do (a 12-bit JPEG, a BMP compression),
# rather than damage: passed on as they are. Anything else ("broken data stream", "no marker
# found", "index out of range"...) means the bytes are not what an encoder wrote.
_UNSUPPORTED: Final = ("cannot handle", "unsupported")


def not_found(name: str) -> str:
    """The message for a photo that is not there (also used when it vanishes mid-run)."""
    return (
        f"file not found: {name}"
        " — check the file name (a relative path starts at the manifest's folder)"
    )


def unreadable(name: str) -> str:
    """The message for a photo the process may not read."""
    return f"file cannot be read (permission denied): {name} — ask for read access to it"


def too_big(size: int) -> str:
    """The message for a JPEG or PNG over Zoom's limit, without ``--fit``."""
    return (
        f"file is {human_size(size, beside=MAX_UPLOAD_BYTES)};"
        f" Zoom accepts at most {MAX_UPLOAD_BYTES // _MB} MB — shrink it or run with --fit"
    )


def too_big_to_fit(size: int) -> str:
    """The message for a file over :data:`MAX_FIT_SOURCE_BYTES`, with ``--fit``."""
    return (
        f"file is {human_size(size, beside=MAX_FIT_SOURCE_BYTES)}, too large even for --fit"
        f" (at most {MAX_FIT_SOURCE_BYTES // _MB} MB) — export a smaller photo"
    )


def not_a_picture(kind: str | None) -> str:
    """The message for a file that is no picture at all (``kind`` from :func:`sniff`)."""
    if kind is None:
        return (
            "file is not a picture (its content matches no image format)"
            " — export the photo as JPEG or PNG"
        )
    advice = _NOT_A_PICTURE_ADVICE.get(kind, "export the photo as JPEG or PNG")
    return f"file is {describe(kind)}, not a picture — {advice}"


def damaged(kind: str, reason: str | BaseException) -> str:
    """The message for a ``kind`` picture that does not decode: ``reason``, or Pillow's error."""
    name = short_name(kind)
    article = "an" if name[0] in "AEIOU" else "a"
    why = reason if isinstance(reason, str) else _reason(reason)
    return f"file is {article} damaged {name} ({why}) — export the photo again"


def bomb(kind: str, pixels: int | None, size: tuple[int, int] | None = None) -> str:
    """The message for a picture of more than ``Image.MAX_IMAGE_PIXELS`` pixels.

    ``pixels`` is None when Pillow refused it in words we could not read the count from.
    """
    limit = Image.MAX_IMAGE_PIXELS or 0
    if pixels is None:
        pixels = 2 * limit
    megapixels = f"{pixels / 1e6:,.0f} megapixels"
    what = f"{size[0]:,} x {size[1]:,} pixels ({megapixels})" if size else megapixels
    return (
        f"file is {describe(kind)} of {what}, too large to process safely"
        f" — export it smaller (at most {limit / 1e6:,.0f} megapixels)"
    )


def _reason(exc: BaseException) -> str:
    """Pillow's complaint in words an HR person can pass on."""
    text = str(exc)
    lowered = text.lower()
    if "truncated" in lowered or isinstance(exc, EOFError):
        return TRUNCATED
    if isinstance(exc, UnidentifiedImageError):
        return "its content cannot be read"
    if isinstance(exc, MemoryError):
        return "too large to decode in memory"
    if lowered.startswith(_UNSUPPORTED):
        return text[:100]
    return CORRUPTED
