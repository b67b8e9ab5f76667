"""``--fit``: any picture Pillow reads becomes an upright, metadata-free JPEG of at most 2 MB."""

from __future__ import annotations

import hashlib
import io
from pathlib import PurePath
from typing import Final

from PIL import Image, ImageOps, features

from .._exceptions import InvalidRow
from .._models import PreparedImage
from ._decode import check_pixels, pillow_errors
from ._heif import register_heif
from ._rules import MAX_UPLOAD_BYTES

__all__ = ["PILLOW_FORMATS", "fit_to_jpeg", "to_srgb_on_white"]

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
    data: bytes, kind: str, *, filename: str, max_edge: int, orientation: int | None = None
) -> PreparedImage:
    """Re-encode a ``kind`` picture as an upright, metadata-free JPEG of at most 2 MB.

    Its longest edge becomes at most ``max_edge``. ``orientation``, when given, is the EXIF
    orientation already read (so both readers agree); else Pillow's is used. Raises
    :class:`InvalidRow` for what cannot be read (HEIC without pillow-heif, AVIF on an old
    Pillow, damage).
    """
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
    with pillow_errors(kind):
        with Image.open(io.BytesIO(data), formats=(PILLOW_FORMATS[kind],)) as im:
            check_pixels(im.size, kind)
            # Decode JPEG at the smallest DCT scale that keeps at least the target size (other
            # formats ignore draft()): a 4000x3000 photo for 1024 px decodes at 2000x1500, a
            # quarter of the pixels, and LANCZOS takes it the rest of the way. Asking for twice
            # the target, as thumbnail()'s reducing gap does, decoded it at full size.
            longest = max(im.size)
            if longest > max_edge:
                factor = longest / max_edge
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
    return PreparedImage(
        data=data_out,
        filename=_jpg_name(filename),
        content_type="image/jpeg",
        sha256=hashlib.sha256(data_out).hexdigest(),
        width=width,
        height=height,
        original_size=len(data),
    )


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
