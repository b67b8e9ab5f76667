"""Previews of what a run sends, for the contact sheet: small JPEGs on disk, found by digest.

With ``--crop`` the contact sheet must show the square the check cut, not one it guesses from
the file again: the photo sources hand each photo they prepare to :class:`Previews`, which
keeps a thumbnail of the very bytes to be sent (a few KB) in a temporary file, and the sheet
finds it by the row's ``sha256`` in the report. Memory holds only the index (~150 bytes a
photo); rows that share a photo share its preview.
"""

from __future__ import annotations

import io
import tempfile
import threading
from typing import Final, NamedTuple

from PIL import Image, ImageOps

from .._models import PreparedImage
from ._fit import CroppedImage, to_srgb_on_white

__all__ = ["PREVIEW_PX", "Preview", "Previews"]

#: Edge of a preview, in pixels: the contact sheet's circle.
PREVIEW_PX: Final = 96
_QUALITY: Final = 80


class Preview(NamedTuple):
    """A photo as Zoom will show it, and where it was cut from."""

    jpeg: bytes  #: the centre square of the bytes sent, at most PREVIEW_PX a side
    #: The square ``--crop`` kept, as shares of the upright photo (left, top, right, bottom);
    #: None when the photo was not cropped.
    square: tuple[float, float, float, float] | None
    crop: str | None  #: the report's ``crop`` value; None when not cropped


class Previews:
    """Thumbnails of the photos a run prepared, in a temporary file deleted on :meth:`close`.

    :meth:`add` is called from the photo pool's threads, :meth:`get` by the contact sheet:
    both are thread-safe.
    """

    def __init__(self) -> None:
        # Closed by close(), which the run calls once the sheet is written.
        self._file = tempfile.TemporaryFile(prefix="zoom-batch-previews-")  # noqa: SIM115
        self._index: dict[bytes, tuple[int, int, Preview]] = {}
        self._lock = threading.Lock()
        self._end = 0

    def __len__(self) -> int:
        return len(self._index)

    def add(self, image: PreparedImage) -> None:
        """Keep a preview of ``image`` (blocking: ~3 ms, in a worker thread). Best effort: a
        preview that cannot be made or written is left out, and the sheet says so."""
        key = bytes.fromhex(image.sha256)
        if image.streamed or key in self._index:
            return  # only the head is in memory; or it is already kept
        try:
            jpeg = _thumbnail(image.data)
        except Exception:  # Pillow raises many types; the photo itself passed its check
            return
        square = image.square if isinstance(image, CroppedImage) else None
        crop = image.crop if isinstance(image, CroppedImage) else None
        with self._lock:
            if key in self._index or self._file.closed:
                return
            try:
                self._file.seek(self._end)
                self._file.write(jpeg)
            except OSError:  # a full temporary folder: the sheet goes without this picture
                return
            self._index[key] = (self._end, len(jpeg), Preview(b"", square, crop))
            self._end += len(jpeg)

    def get(self, sha256: str) -> Preview | None:
        """The preview of the photo whose bytes sent have this digest; None if none was kept."""
        try:
            key = bytes.fromhex(sha256)
        except ValueError:
            return None
        with self._lock:
            found = self._index.get(key)
            if found is None or self._file.closed:
                return None
            offset, length, preview = found
            self._file.seek(offset)
            return preview._replace(jpeg=self._file.read(length))

    def close(self) -> None:
        with self._lock:
            self._index.clear()
            self._file.close()


def _thumbnail(data: bytes) -> bytes:
    """The centre square of a JPEG or PNG, at most PREVIEW_PX a side (a crop already is one)."""
    with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as im:
        im.draft("RGB", (PREVIEW_PX, PREVIEW_PX))  # 1024 px decodes at 128: ~1 ms
        rgb = to_srgb_on_white(im)
    side = min(PREVIEW_PX, *rgb.size)  # never enlarged
    square = ImageOps.fit(rgb, (side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    square.save(out, "JPEG", quality=_QUALITY, optimize=True)
    return out.getvalue()
