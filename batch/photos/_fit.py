"""``--fit``: any picture Pillow reads becomes an upright, metadata-free JPEG of at most 2 MB.

With ``--crop`` it is cut to a square first (:mod:`._faces` says where). Until the plain data
of ``_models`` carries how a photo was cropped, :class:`CroppedImage` and :class:`CroppedFacts`
do, and :func:`crop_of` reads it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import PurePath
from typing import Any, Final, NamedTuple

from PIL import Image, ImageOps, features

from .._exceptions import InvalidRow
from .._models import ImageFacts, PreparedImage
from ._decode import check_pixels, pillow_errors
from ._faces import INSTALL_FACES, NONE, frame
from ._heif import register_heif
from ._rules import MAX_UPLOAD_BYTES, not_a_picture

__all__ = [
    "PILLOW_FORMATS",
    "CroppedFacts",
    "CroppedImage",
    "crop_of",
    "fit_to_jpeg",
    "open_picture",
    "to_srgb_on_white",
]

#: Pillow's format id for each picture kind ``--fit`` can read (HEIF comes from pillow-heif).
PILLOW_FORMATS: Final = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "heic": "HEIF",
    "avif": "AVIF",
}
_FIT_QUALITIES: Final = (90, 85, 80, 75, 70, 60, 50, 40)
# Modes whose pixels carry their own alpha (a palette's or grey's may come from "transparency").
_ALPHA_MODES: Final = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})


#: How to turn a picture upright for each EXIF orientation (as ImageOps.exif_transpose does).
_UPRIGHT: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def fit_to_jpeg(
    data: bytes,
    kind: str,
    *,
    filename: str,
    max_edge: int,
    orientation: int | None = None,
    crop: str = NONE,
) -> PreparedImage:
    """Re-encode a ``kind`` picture as an upright, metadata-free JPEG of at most 2 MB.

    Its longest edge becomes at most ``max_edge``. ``orientation``, when given, is the EXIF
    orientation already read (so both readers agree); else Pillow's is used. ``crop``
    (``center``, ``face``) first cuts the upright picture to a square (:mod:`._faces`): the
    result is then a :class:`CroppedImage`. Raises :class:`InvalidRow` for what cannot be read
    (HEIC without pillow-heif, AVIF on an old Pillow, damage).
    """
    cut: _Framed | None = None
    with open_picture(data, kind) as im:
        # Decode JPEG at the smallest DCT scale that keeps at least the target size (other
        # formats ignore draft()): a 4000x3000 photo for 1024 px decodes at 2000x1500, a
        # quarter of the pixels, and LANCZOS takes it the rest of the way. Asking for twice
        # the target, as thumbnail()'s reducing gap does, decoded it at full size. A square
        # crop needs the target on the shorter edge (the centre square's side).
        edge = max(im.size) if crop == NONE else min(im.size)
        if edge > max_edge:
            factor = edge / max_edge
            im.draft("RGB", (max(1, int(im.width / factor)), max(1, int(im.height / factor))))
        im.load()  # decoding errors surface here, not in the EXIF handling below
        # Turned in place when it must be, never copied when it need not (a copy of the
        # decoded pixels was ~4 ms of the ~165 ms a 12-MP photo takes: bench/fit.py).
        if orientation is not None:
            turn = _UPRIGHT.get(orientation)
            upright = im.transpose(turn) if turn is not None else im
        else:
            try:
                upright = ImageOps.exif_transpose(im, in_place=True) or im
            except Exception:  # unreadable EXIF: the pixels are fine, keep them as stored
                upright = im
        icc = im.info.get("icc_profile")
        # Scale first (inside: ``upright`` may be the file's image, which closing ends):
        # at full size, colour conversion took 0.47 s on a 12-megapixel photo.
        small = _resamplable(upright)
        if crop != NONE:
            # Upright first, so the face is found the right way up; crop() makes a new image.
            cut = _frame(small, crop)
            small = small.crop(cut.box)
        if small is im:
            size = _fitted_size(im.size, max_edge)
            small = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        else:
            small.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
        rgb = to_srgb_on_white(small, icc if isinstance(icc, bytes) else None)
        # A new image carries no info dict: no EXIF, GPS, XMP, ICC or comment can follow along
        # (JPEG's encoder copies the source's comment unless told otherwise).
        clean = Image.new("RGB", rgb.size)
        clean.paste(rgb)
        data_out, width, height = _encode_jpeg(clean)
    image = PreparedImage(
        data=data_out,
        filename=_jpg_name(filename),
        content_type="image/jpeg",
        sha256=hashlib.sha256(data_out).hexdigest(),
        width=width,
        height=height,
        original_size=len(data),
    )
    if cut is None:
        return image
    return CroppedImage(**_fields(image), crop=cut.crop, square=cut.share)


@contextmanager
def open_picture(data: bytes, kind: str) -> Iterator[Image.Image]:
    """The ``kind`` picture (from :func:`~._sniff.sniff`) in ``data``, opened, not decoded.

    The limits of the upload check apply: only the formats it reads, HEIC only with
    pillow-heif, no more pixels than ``Image.MAX_IMAGE_PIXELS``; every refusal, and whatever
    Pillow raises inside the block, is an :class:`InvalidRow`. The contact sheet opens photos
    through it too, so it never decodes what a run refuses.
    """
    if kind not in PILLOW_FORMATS:
        raise InvalidRow(not_a_picture(kind))
    if kind == "heic" and not register_heif():
        raise InvalidRow(
            "file is a HEIC image; reading HEIC needs the optional pillow-heif package"
            " — install zoom-batch[heic], or convert the photo to JPEG"
        )
    if kind == "avif" and not ("avif" in features.modules and features.check_module("avif")):
        raise InvalidRow(
            "file is an AVIF image; this Pillow cannot read AVIF (it needs Pillow 11.2 or"
            " newer) — upgrade Pillow, or convert the photo to JPEG"
        )
    with pillow_errors(kind), Image.open(io.BytesIO(data), formats=(PILLOW_FORMATS[kind],)) as im:
        check_pixels(im.size, kind)
        yield im


@dataclass(frozen=True, slots=True)
class CroppedFacts(ImageFacts):
    """:class:`ImageFacts` of a photo ``--crop`` cut, with how it was cut."""

    crop: str | None = None  #: the report's ``crop`` value (``face``, ``center: 3 faces``...)


@dataclass(frozen=True, slots=True)
class CroppedImage(PreparedImage):
    """A :class:`PreparedImage` that ``--crop`` cut to a square of the upright photo."""

    crop: str | None = None  #: the report's ``crop`` value (``face``, ``center: 3 faces``...)
    #: The square kept, as shares of the upright photo: left, top, right, bottom (0 to 1).
    square: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)

    @property
    def facts(self) -> CroppedFacts:
        # Not super(): slots=True makes a new class, which zero-argument super() does not know.
        plain = PreparedImage.facts.__get__(self)
        return CroppedFacts(**_fields(plain), crop=self.crop)


class _Framed(NamedTuple):
    box: tuple[int, int, int, int]
    crop: str
    share: tuple[float, float, float, float]  #: the box as shares of the picture's size


def _frame(image: Image.Image, crop: str) -> _Framed:
    """:func:`~._faces.frame`, its failures in the row's words (Pillow's are caught as damage)."""
    try:
        cut = frame(image, crop)
    except ImportError:
        raise InvalidRow(f"--crop face needs the face detector — {INSTALL_FACES}") from None
    except Exception as exc:  # OpenCV's cv2.error: not the photo's fault, so not "damaged"
        raise InvalidRow(
            f"the face detector failed on this photo ({type(exc).__name__}: {exc})"
            " — run with --crop center, and please report it"
        ) from None
    left, top, right, bottom = cut.box
    width, height = image.size
    share = (left / width, top / height, right / width, bottom / height)
    return _Framed(cut.box, cut.crop, share)


def crop_of(facts: ImageFacts) -> str | None:
    """How ``--crop`` cut the photo these facts describe; None when it did not."""
    return facts.crop if isinstance(facts, CroppedFacts) else None


def _fields(instance: ImageFacts | PreparedImage) -> dict[str, Any]:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def _fitted_size(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    """``size`` scaled to a longest edge of at most ``max_edge``, as thumbnail() would."""
    width, height = size
    scale = min(1.0, max_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def to_srgb_on_white(im: Image.Image, icc: bytes | None = None) -> Image.Image:
    """``im`` as sRGB ``RGB``, any transparency composited on white (JPEG has no alpha).

    ``icc`` is the picture's embedded colour profile: its colours are converted from it, and
    kept as they are when it cannot be used. Returns a new image; ``im`` is not changed.
    """
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        im = im.convert("RGBA")
    alpha = im.getchannel("A") if im.mode == "RGBA" else None
    colour = im.convert("RGB") if alpha is not None else im
    if icc:
        # Keep the colours of wide-gamut photos (iPhone Display P3) and CMYK before the profile
        # goes; a profile that does not fit the pixels is dropped, as every browser would.
        colour = _icc_to_srgb(colour, icc) or colour
    rgb = colour.convert("RGB")
    if alpha is None:
        return rgb
    canvas = Image.new("RGB", rgb.size, "white")
    canvas.paste(rgb, mask=alpha)
    return canvas


def _resamplable(im: Image.Image) -> Image.Image:
    """``im`` in a mode that resamples smoothly: L, RGB, RGBA or CMYK."""
    if im.mode == "I" or im.mode.startswith("I;16"):
        # 16-bit greys: convert() would clip every value above 255 to white.
        return im.convert("F").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return im.convert("RGBA")
    return im if im.mode in ("L", "RGB", "RGBA", "CMYK") else im.convert("RGB")


def _icc_to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert ``im`` from its embedded ICC profile to sRGB; None if that cannot be done."""
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without LittleCMS
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        return ImageCms.profileToProfile(im, source, target, outputMode="RGB")
    except Exception:  # a broken or mismatched profile: plain conversion will do
        return None


def _encode_jpeg(im: Image.Image) -> tuple[bytes, int, int]:
    """Encode as JPEG, stepping quality down, then size, until it fits in 2 MB."""
    while True:
        for quality in _FIT_QUALITIES:
            buffer = io.BytesIO()
            im.save(buffer, "JPEG", quality=quality, optimize=True)
            if buffer.tell() <= MAX_UPLOAD_BYTES:
                return buffer.getvalue(), im.width, im.height
        # Only a large max_edge gets here: three quarters of the size, and try again.
        im = im.resize(
            (max(1, im.width * 3 // 4), max(1, im.height * 3 // 4)), Image.Resampling.LANCZOS
        )


def _jpg_name(filename: str) -> str:
    path = PurePath(filename)
    if not path.stem or path.name in ("", ".", ".."):
        return "photo.jpg"
    return str(path.with_suffix(".jpg"))
