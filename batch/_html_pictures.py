"""The pictures on the contact sheet: thumbnails of the photos, and ``--crop`` previews.

A photo is read for the page under the upload check's own limits: nothing outside ``--root``,
only a regular file ``--fit`` would read, opened with :func:`~batch.photos.open_picture` (the
check's formats and pixel limit), so the page never decodes what a run refuses. After
``--crop`` the circle is the run's preview of the bytes it checked
(:class:`~batch.photos.Previews`), beside the whole photo with the square it kept drawn on it.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps

from ._exceptions import InvalidRow
from .photos import (
    PILLOW_FORMATS,
    PREVIEW_PX,
    SNIFF_BYTES,
    Preview,
    Previews,
    check_file,
    crop_words,
    open_picture,
    sniff,
    to_srgb_on_white,
    within_root,
)

__all__ = ["CROPPED_WHOLE_PX", "THUMBNAIL_PX", "WHOLE_PX", "Thumbnails", "placeholder"]

#: Edge of the round thumbnail (the centre square, as Zoom crops it), in pixels; also its
#: displayed size in CSS pixels.
THUMBNAIL_PX = PREVIEW_PX
#: Longest edge of the whole photo shown small beneath it.
WHOLE_PX = 48
#: Longest edge of the whole photo beside a ``--crop`` preview: large enough to see the square.
CROPPED_WHOLE_PX = 96
#: JPEG quality of the thumbnails: small enough for thousands in one page.
THUMBNAIL_QUALITY = 80


class Thumbnails:
    """Makes thumbnails until the cap is reached, then placeholders that say why."""

    def __init__(
        self,
        resolve: Callable[[str], Path | None],
        cap: int,
        *,
        root: Path | None = None,
        previews: Previews | None = None,
    ) -> None:
        self._resolve = resolve
        self._cap = cap
        self._root = root.resolve() if root is not None else None
        self._previews = previews
        self.made = 0
        self.capped = False  #: a row has gone without its picture because of the cap

    def html(self, file: str, *, sha256: str, person: str) -> str:
        """A row's round thumbnail and whole photo, or a placeholder naming what is wrong.

        ``file`` is the row's file cell, ``sha256`` its report's digest of the bytes sent (a
        ``--crop`` preview's key), ``person`` whom the alternative text names. A preview needs
        no file on disk (a photo at a URL, in a directory): the run has read it already.
        """
        preview = None
        if self._previews is not None and sha256:
            preview = self._previews.get(sha256)
        local = self._local(file)
        if isinstance(local, str) and preview is None:
            return local
        if self.made >= self._cap:
            self.capped = True
            return placeholder("Picture not shown (limit)", "capped")
        pictures = None
        if isinstance(local, Path):
            whole_px = WHOLE_PX if self._previews is None else CROPPED_WHOLE_PX
            try:
                pictures = _thumbnail_jpegs(local, whole_px=whole_px)
            except InvalidRow:  # what the upload check refuses to decode: too large, damaged...
                if preview is None:
                    return placeholder("Not shown", "refused")
            if pictures is None and preview is None:
                return placeholder("Not an image", "missing")
        self.made += 1
        alt = html.escape(f"Photo of {person}, as Zoom shows it")
        if self._previews is None:
            assert pictures is not None
            square, whole = (_data_uri(jpeg) for jpeg in pictures)
            return (
                '<div class="pics">'
                f'<img class="thumb avatar" src="{square}" alt="{alt}">'
                f'<img class="whole" src="{whole}" alt="The whole photo" title="The whole photo">'
                "</div>"
            )
        return _cropped_html(preview, pictures[1] if pictures else None, alt)

    def _local(self, file: str) -> Path | str:
        """The photo file a row names, or the placeholder saying why there is none to show."""
        path = self._resolve(file) if file else None
        if path is None:
            return placeholder("No file", "missing")
        if not within_root(path, self._root):  # the run did not read it: neither does the page
            return placeholder("Outside --root", "refused")
        try:
            found = path.is_file()
        except OSError:  # e.g. a name too long for the file system
            found = False
        return path if found else placeholder("File not found", "missing")


def _cropped_html(preview: Preview | None, whole: bytes | None, alt: str) -> str:
    """A ``--crop`` card's pictures: the circle the check cut, beside the whole photo with the
    square drawn on it; a placeholder circle when the row's photo was not checked."""
    square = note = ""
    if preview is None:
        circle = placeholder("Not checked: no crop", "unchecked")
    else:
        circle = f'<img class="thumb avatar" src="{_data_uri(preview.jpeg)}" alt="{alt}">'
        if preview.square is not None:
            left, top, right, bottom = (100 * share for share in preview.square)
            square = (
                f'<span class="square" style="left:{left:.1f}%;top:{top:.1f}%;'
                f'width:{right - left:.1f}%;height:{bottom - top:.1f}%"></span>'
            )
        if preview.crop and preview.crop.startswith("center:"):
            # The fallbacks are the crops to look at: "centre: no face found", "centre: 3 faces".
            note = f'<div class="cropnote">{html.escape(crop_words(preview.crop))}</div>'
    original = ""
    if whole is not None:
        original = (
            f'<div class="orig"><img class="whole" src="{_data_uri(whole)}"'
            f' alt="The whole photo, with the square kept" title="The whole photo">{square}</div>'
        )
    return f'<div class="pics cropped">{circle}{original}{note}</div>'


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _thumbnail_jpegs(path: Path, *, whole_px: int = WHOLE_PX) -> tuple[bytes, bytes] | None:
    """Two small upright JPEGs of ``path``: its centre square, at most THUMBNAIL_PX a side,
    and the whole photo, at most ``whole_px`` on its longest edge. None if it is no picture;
    :class:`InvalidRow` for one the upload check refuses (the same limits, so a picture too
    large for the check is never decoded here)."""
    check_file(path, fit=True)  # a regular file, readable, no larger than --fit reads
    try:
        data = path.read_bytes()
    except OSError:
        return None
    kind = sniff(data[:SNIFF_BYTES])
    if kind not in PILLOW_FORMATS:
        return None
    try:
        with open_picture(data, kind) as im:
            # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: far faster for
            # camera-sized photos, and the result is still at least the requested size.
            im.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            rgb = to_srgb_on_white(ImageOps.exif_transpose(im))
    except InvalidRow:
        raise
    # A preview is best effort: an exotic file must only lose its picture, never the page.
    except Exception:
        return None
    side = min(THUMBNAIL_PX, *rgb.size)  # never enlarged
    square = ImageOps.fit(rgb, (side, side), Image.Resampling.LANCZOS)
    whole = rgb.copy()
    whole.thumbnail((whole_px, whole_px))
    return _jpeg(square), _jpeg(whole)


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buf.getvalue()


def placeholder(text: str, kind: str) -> str:
    return f'<div class="thumb ph ph-{kind}" role="img" aria-label="{text}">{text}</div>'
