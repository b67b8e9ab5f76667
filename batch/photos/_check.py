"""Checking photos before upload, and ``--fit``, which turns a photo Zoom would refuse into a JPEG.

Zoom accepts JPEG or PNG of at most 2 MB. :func:`check_file` refuses what a ``stat`` can tell;
:func:`prepare_image` looks at the bytes: their real format (never the extension), whether they
are whole and decode (:mod:`._decode`), and with ``fit`` re-encodes other pictures as a clean
JPEG (:mod:`._fit`). Every refusal is an :class:`~batch._exceptions.InvalidRow` whose message
says what is wrong and what to do (:mod:`._rules`); no Pillow exception leaves this package.
All functions are thread-safe (the pool calls them through ``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Final

from .._exceptions import InvalidRow
from .._models import PreparedImage
from .._words import CELL_EXCERPT, excerpt
from ._decode import check_image
from ._faces import CENTER, FACE, NONE
from ._fit import PILLOW_FORMATS, fit_to_jpeg
from ._rules import (
    DEFAULT_FIT_MAX_EDGE,
    EMPTY,
    MAX_FIT_SOURCE_BYTES,
    MAX_UPLOAD_BYTES,
    MIN_FIT_MAX_EDGE,
    not_a_picture,
    not_found,
    too_big,
    too_big_to_fit,
    unreadable,
)
from ._sniff import SNIFF_BYTES, describe, sniff
from ._strip import locate

__all__ = [
    "CELL_EXCERPT",
    "DEFAULT_FIT_MAX_EDGE",
    "MAX_FIT_SOURCE_BYTES",
    "MAX_UPLOAD_BYTES",
    "MIN_FIT_MAX_EDGE",
    "check_file",
    "excerpt",
    "not_found",
    "prepare_image",
    "sniff",
]

_ZOOM_TYPES: Final = {"jpeg": "image/jpeg", "png": "image/png"}
#: The most characters of a cell a message quotes (:func:`excerpt`): more than any valid email
#: address (254) or file name (255 bytes) holds, so only a broken cell is shortened.
_CROPS: Final = (NONE, CENTER, FACE)


def check_file(path: Path, *, shown: str | None = None, fit: bool = False) -> int:
    """Check what ``stat`` can tell about a photo before reading it; return its size in bytes.

    ``shown`` is the name the user wrote (e.g. ``photos/jane.jpg``); messages use it, and
    ``path`` itself when it is not given.
    """
    name = excerpt(str(path) if shown is None else shown)
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidRow(not_found(name)) from None
    except PermissionError:
        raise InvalidRow(unreadable(name)) from None
    except (OSError, ValueError) as exc:  # name too long, symlink loop, NUL in the name...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidRow(f"file cannot be opened: {name} ({reason}) — check its name") from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidRow(f"file is a folder, not a photo: {name} — name the photo file itself")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidRow(
            f"file is not a regular file (a device, pipe or socket): {name}"
            " — name the photo file itself"
        )
    if not os.access(path, os.R_OK):
        raise InvalidRow(unreadable(name))
    size = info.st_size
    if size == 0:
        raise InvalidRow(EMPTY)
    if fit and size > MAX_FIT_SOURCE_BYTES:
        raise InvalidRow(too_big_to_fit(size))
    if not fit and size > MAX_UPLOAD_BYTES:
        raise InvalidRow(too_big(size))
    return size


def prepare_image(
    data: bytes,
    *,
    filename: str,
    fit: bool = False,
    max_edge: int = DEFAULT_FIT_MAX_EDGE,
    crop: str = NONE,
) -> PreparedImage:
    """Check a photo's bytes and return what to send to Zoom.

    A JPEG or PNG of at most 2 MB that decodes is returned unchanged but for its GPS metadata
    (taken out without re-encoding, :mod:`._strip`), with its content type taken from the bytes;
    one whose EXIF says it is stored sideways is re-encoded upright. With ``fit``, any other
    picture (too large, GIF, WebP, BMP, TIFF, AVIF, HEIC when pillow-heif is installed) becomes
    a JPEG: upright, without metadata, longest edge at most ``max_edge``, at most 2 MB.
    ``crop`` (``center`` or ``face``, with ``fit`` only) cuts every picture to a square first,
    so even a compliant one is re-encoded: a :class:`~._fit.CroppedImage` says how it was cut.
    Raises :class:`InvalidRow` for anything else.
    """
    if max_edge < MIN_FIT_MAX_EDGE:
        raise ValueError(f"max_edge must be at least {MIN_FIT_MAX_EDGE}, got {max_edge}")
    if crop not in _CROPS:
        raise ValueError(f"crop must be one of {', '.join(_CROPS)}, got {crop!r}")
    if crop != NONE and not fit:
        raise ValueError("crop needs fit: only what --fit re-encodes is cropped")
    if not data:
        raise InvalidRow(EMPTY)
    kind = sniff(data[:SNIFF_BYTES])
    if kind not in PILLOW_FORMATS:
        raise InvalidRow(not_a_picture(kind))
    if fit and len(data) > MAX_FIT_SOURCE_BYTES:
        raise InvalidRow(too_big_to_fit(len(data)))
    if kind in _ZOOM_TYPES and len(data) <= MAX_UPLOAD_BYTES:
        width, height = check_image(data, kind)
        located = locate(data, kind)
        if crop != NONE:  # the same verdict as without --crop, then always cut and re-encoded
            return fit_to_jpeg(
                data,
                kind,
                filename=filename,
                max_edge=max_edge,
                orientation=located.orientation,
                crop=crop,
            )
        if located.orientation != 1:
            # Stored sideways: Zoom shows the pixels as stored, so the face would lie on its
            # side. Re-encoded upright at the same size (which also drops every metadata block).
            edge = max(width, height, MIN_FIT_MAX_EDGE)
            return fit_to_jpeg(
                data, kind, filename=filename, max_edge=edge, orientation=located.orientation
            )
        sent = located.apply(data)  # without GPS: no location data leaves
        return PreparedImage(
            data=sent,
            filename=_with_suffix(filename, kind),
            content_type=_ZOOM_TYPES[kind],
            sha256=hashlib.sha256(sent).hexdigest(),
            width=width,
            height=height,
            source_offset=located.offset,
            head_size=len(located.head),
        )
    if not fit:
        if kind in _ZOOM_TYPES:
            raise InvalidRow(too_big(len(data)))
        raise InvalidRow(
            f"file is {describe(kind)}; Zoom accepts JPEG or PNG — convert it or run with --fit"
        )
    return fit_to_jpeg(data, kind, filename=filename, max_edge=max_edge, crop=crop)


def _with_suffix(filename: str, kind: str) -> str:
    """Keep the filename, adding the right suffix when it has none Zoom would recognise.

    Zoom's refusal text speaks of "jpg/jpeg, gif or png image file": it may look at the name.
    """
    if os.path.splitext(filename)[1].lower() in (".jpg", ".jpeg", ".png"):
        return filename
    return f"{filename or 'photo'}{'.jpg' if kind == 'jpeg' else '.png'}"
