"""Checking photos before upload, and ``--fit``, which turns a photo Zoom would refuse into a JPEG.

Zoom accepts JPEG or PNG of at most 2 MB. :func:`check_file` refuses what a ``stat`` can tell;
:func:`prepare_image` looks at the bytes: their real format (never the extension), whether they
are whole, and with ``fit`` re-encodes other pictures as a clean JPEG. Every refusal is an
:class:`~batch._exceptions.InvalidRow` whose message says what is wrong and what to do; no Pillow
exception leaves this module. All functions are thread-safe (the pool calls them through
``asyncio.to_thread``).
"""

from __future__ import annotations

import hashlib
import io
import operator
import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Final, NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError, features

from .._exceptions import InvalidRow
from .._models import PreparedImage

MAX_UPLOAD_BYTES: Final = 2 * 1024 * 1024  # Zoom's limit ("File size cannot exceed 2M")
DEFAULT_FIT_MAX_EDGE: Final = 1024
MIN_FIT_MAX_EDGE: Final = 16
#: ``--fit`` still refuses sources above this: no profile photo needs it, and decoding costs memory.
MAX_FIT_SOURCE_BYTES: Final = 50 * 1024 * 1024
#: How many leading bytes :func:`sniff` looks at.
SNIFF_BYTES: Final = 512

_MB: Final = 1024 * 1024
_ZOOM_TYPES: Final = {"jpeg": "image/jpeg", "png": "image/png"}
#: Pillow's format id for each picture kind ``--fit`` can read (HEIF comes from pillow-heif).
_PILLOW_FORMATS: Final = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "heic": "HEIF",
    "avif": "AVIF",
}
_SHORT_NAMES: Final = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WebP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "heic": "HEIC",
    "avif": "AVIF",
}
_DESCRIPTIONS: Final = {
    **{kind: f"a {name} image" for kind, name in _SHORT_NAMES.items()},
    "avif": "an AVIF image",
    "html": "a web page (HTML)",
    "pdf": "a PDF document",
    "svg": "an SVG drawing",
    "xml": "an XML document",
}
_NOT_A_PICTURE_ADVICE: Final = {
    "html": "download the photo itself",
    "pdf": "export the photo as JPEG or PNG",
    "svg": "export it as PNG or JPEG",
    "xml": "check that the manifest points at the photo",
}
# ISO BMFF brands (the ``ftyp`` box): HEIF/HEIC as written by phones and cameras, and AVIF.
_HEVC_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
)
_HEIF_GENERIC_BRANDS: Final = frozenset({b"mif1", b"mif2", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})
# Sizes of the DIB header that follows "BM": "BM" alone is too common at the start of text.
_BMP_DIB_SIZES: Final = frozenset({12, 40, 52, 56, 64, 108, 124})
# Tags that mark HTML, from the WHATWG MIME Sniffing Standard, §7.1 "Identifying a resource with
# an unknown MIME type" (https://mimesniff.spec.whatwg.org/#rules-for-identifying-an-unknown-mime-type),
# plus meta and link, which start many saved pages.
_HTML_TAGS: Final = frozenset(
    {"html", "head", "script", "iframe", "h1", "div", "font", "table", "a", "style", "title"}
    | {"b", "body", "br", "p", "meta", "link"}
)
_FIRST_TAG: Final = re.compile(r"<([a-z][a-z0-9]*)[\s>/]")
# Start-of-frame markers libjpeg decodes: baseline, extended, progressive, lossless, with Huffman
# or arithmetic coding. Hierarchical frames (C5-C7, CD-CF) it refuses ("Unsupported JPEG
# process"), like every browser.
_SOF_MARKERS: Final = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB})
_PROGRESSIVE: Final = frozenset({0xC2, 0xCA})
_ARITHMETIC: Final = frozenset({0xC9, 0xCA, 0xCB})
_LOSSLESS: Final = frozenset({0xC3, 0xCB})  # no quantization tables
# Segments skipped unread: APPn, COM, DRI, DNL, DAC. libjpeg refuses any other marker.
_SKIPPED_MARKERS: Final = frozenset({*range(0xE0, 0xF0), 0xFE, 0xDD, 0xDC, 0xCC})
# A marker inside entropy-coded data: 0xFF not followed by a stuffed 00 or a restart marker.
_MARKER_IN_SCAN: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
#: What a Huffman code of 1 to 16 bits takes of the code space, in units of 2**-16.
_KRAFT_WEIGHTS: Final = tuple(1 << (16 - bits) for bits in range(1, 17))
_TRUNCATED: Final = "image file is truncated"
_CORRUPTED: Final = "its data is corrupted"
_FIT_QUALITIES: Final = (90, 85, 80, 75, 70, 60, 50, 40)
_BOMB_PIXELS: Final = re.compile(r"\((\d+) pixels\)")
_OBJECT_REPR: Final = re.compile(r"\s*<[^>]*object at 0x[0-9a-f]+>")


def sniff(head: bytes) -> str | None:
    """Name the format of a file from its first bytes (:data:`SNIFF_BYTES` are enough).

    Returns one of ``jpeg png gif webp bmp tiff heic avif html pdf svg xml``, or None when the
    bytes match nothing known. Signatures follow the WHATWG MIME Sniffing Standard, §6.1 and §7.1.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # TIFF, BigTIFF
        return "tiff"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return "bmp"
    return _sniff_text(head)


def describe(kind: str | None) -> str:
    """Say what :func:`sniff` found in plain words: ``"a GIF image"``, ``"not a picture"``."""
    if kind is None:
        return "not a picture"
    return _DESCRIPTIONS.get(kind, f"a {kind} file")


def check_file(path: Path, *, shown: str | None = None, fit: bool = False) -> int:
    """Check what ``stat`` can tell about a photo before reading it; return its size in bytes.

    ``shown`` is the name the user wrote (e.g. ``photos/jane.jpg``); messages use it, and
    ``path`` itself when it is not given.
    """
    name = str(path) if shown is None else shown
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidRow(not_found(name)) from None
    except PermissionError:
        raise InvalidRow(_unreadable(name)) from None
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
        raise InvalidRow(_unreadable(name))
    size = info.st_size
    if size == 0:
        raise InvalidRow(_EMPTY)
    if fit and size > MAX_FIT_SOURCE_BYTES:
        raise InvalidRow(_too_big_to_fit(size))
    if not fit and size > MAX_UPLOAD_BYTES:
        raise InvalidRow(_too_big(size))
    return size


def prepare_image(
    data: bytes,
    *,
    filename: str,
    fit: bool = False,
    max_edge: int = DEFAULT_FIT_MAX_EDGE,
) -> PreparedImage:
    """Check a photo's bytes and return what to send to Zoom.

    A JPEG or PNG of at most 2 MB that decodes is returned unchanged, with its content type taken
    from the bytes. With ``fit``, any other picture (too large, GIF, WebP, BMP, TIFF, AVIF, HEIC
    when pillow-heif is installed) becomes a JPEG: upright, without metadata, longest edge at most
    ``max_edge``, at most 2 MB. Raises :class:`InvalidRow` for anything else.
    """
    if max_edge < MIN_FIT_MAX_EDGE:
        raise ValueError(f"max_edge must be at least {MIN_FIT_MAX_EDGE}, got {max_edge}")
    if not data:
        raise InvalidRow(_EMPTY)
    kind = sniff(data[:SNIFF_BYTES])
    if kind not in _PILLOW_FORMATS:
        raise InvalidRow(_not_a_picture(kind))
    if fit and len(data) > MAX_FIT_SOURCE_BYTES:
        raise InvalidRow(_too_big_to_fit(len(data)))
    if kind in _ZOOM_TYPES and len(data) <= MAX_UPLOAD_BYTES:
        width, height = _verify(data, kind)
        return PreparedImage(
            data=data,
            filename=_with_suffix(filename, kind),
            content_type=_ZOOM_TYPES[kind],
            sha256=hashlib.sha256(data).hexdigest(),
            width=width,
            height=height,
        )
    if not fit:
        if kind in _ZOOM_TYPES:
            raise InvalidRow(_too_big(len(data)))
        raise InvalidRow(
            f"file is {describe(kind)}; Zoom accepts JPEG or PNG — convert it or run with --fit"
        )
    return _fit(data, kind, filename=filename, max_edge=max_edge)


# --- sniffing ---------------------------------------------------------------------------------


def _sniff_ftyp(head: bytes) -> str | None:
    """Tell HEIC from AVIF (and from MP4/MOV video) by the ``ftyp`` box's brands."""
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major in _AVIF_BRANDS:
        return "avif"
    if major in _HEVC_BRANDS:
        return "heic"
    if major in _HEIF_GENERIC_BRANDS:
        # The generic HEIF brand: the compatible brands say which codec is inside.
        return "avif" if compatible & _AVIF_BRANDS and not compatible & _HEVC_BRANDS else "heic"
    return None  # MP4, MOV and other ISO media files


def _sniff_text(head: bytes) -> str | None:
    """Recognise PDF and markup (HTML, SVG, XML), after an optional byte order mark."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16-le" if head[0] == 0xFF else "utf-16-be"
        text = head[2 : len(head) & ~1].decode(encoding, "ignore")
    else:
        text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    text = text.lstrip(" \t\r\n\f").lower()
    if text.startswith("%pdf-"):
        return "pdf"
    if text.startswith("<?xml") or text.startswith("<!doctype"):
        for kind in ("svg", "html"):
            if f"<{kind}" in text or text.startswith(f"<!doctype {kind}"):
                return kind
        return "xml"
    if text.startswith("<!--"):
        return "svg" if "<svg" in text else "html"
    if text.startswith("<svg"):
        return "svg"
    match = _FIRST_TAG.match(text)
    if match and match.group(1) in _HTML_TAGS:
        return "html"
    return None


# --- checking ---------------------------------------------------------------------------------


def _verify(data: bytes, kind: str) -> tuple[int, int]:
    """Check a JPEG or PNG from end to end for truncation and corruption; return its size.

    Chosen by measuring, per 256x256 avatar of 3-10 KB (2 vCPU; rows/s include stat and read):

    * PNG: ``verify()`` checks the CRC-32 of every chunk through IEND: 36 µs, against 830 µs for
      a full decode, which also let through a file cut just before its IEND chunk.
    * JPEG: :func:`_walk_jpeg` walks every segment to EOI, headers included, without Pillow:
      ~40 µs. Pillow's header parse before it had doubled that, and found nothing the walk
      does not (Pillow's own refusals, 12-bit samples and 2-layer frames, are the walk's too).
      Decoding at 1/8 scale (``draft`` then ``load``) cost ~170 µs more, 2,500-4,500 rows/s,
      and let through files whose second half was zeros (libjpeg only warns). Of 2,700
      single-bit flips in JPEG headers, the walk caught 95% of those a decode caught, plus 21
      a decode missed.
    """
    if kind == "jpeg":
        found = _walk_jpeg(data)
        if isinstance(found, str):
            raise InvalidRow(f"file is a damaged JPEG ({found}) — export the photo again")
        _check_pixels(found, kind)
        return found
    with (
        _pillow_errors(kind),
        Image.open(io.BytesIO(data), formats=(_PILLOW_FORMATS[kind],)) as im,
    ):
        size = im.size
        _check_pixels(size, kind)
        im.verify()
    return size


def _walk_jpeg(data: bytes) -> tuple[int, int] | str:
    """Walk a JPEG's segments from SOI to EOI (ITU-T T.81, Annex B); its size, or what is wrong.

    Besides the structure, checks what makes libjpeg give up: Huffman tables (the code-space
    test of libjpeg's ``jpeg_make_d_derived_tbl``), frame and scan headers, and tables a scan
    uses but no segment defined.
    """
    pos, end_of_file = 2, len(data)
    components: dict[int, _Component] = {}
    tables: set[tuple[str, int]] = set()  # ("q" | "dc" | "ac", table id) defined so far
    frame = 0  # the start-of-frame marker
    size = (0, 0)
    while True:
        if pos + 2 > end_of_file:
            return _TRUNCATED
        if data[pos] != 0xFF:
            return _CORRUPTED
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # EOI: anything after it (a phone's motion-photo video) is not ours
            return size if components else _CORRUPTED
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn and TEM stand alone
            pos += 2
            continue
        if pos + 4 > end_of_file:
            return _TRUNCATED
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2:
            return _CORRUPTED
        if end > end_of_file:
            return _TRUNCATED
        if marker == 0xC4:
            problem = _huffman_problem(data[pos + 4 : end], tables)
        elif marker == 0xDB:
            problem = _quantization_problem(data[pos + 4 : end], tables)
        elif marker in _SOF_MARKERS:
            segment = data[pos + 4 : end]
            problem = _frame_problem(segment, components)
            frame = marker
            size = (int.from_bytes(segment[3:5], "big"), int.from_bytes(segment[1:3], "big"))
        elif marker == 0xDA:
            problem = _scan_problem(data[pos + 4 : end], components, tables, frame)
        elif marker in _SKIPPED_MARKERS:
            pos = end
            continue
        else:
            return _CORRUPTED
        if problem:
            return problem
        if marker != 0xDA:
            pos = end
            continue
        # Entropy-coded data runs to the next marker; 0xFF is stuffed as FF 00 inside it.
        found = _MARKER_IN_SCAN.search(data, end)
        if found is None:
            return _TRUNCATED  # the end of the file, or zeros where the rest should be
        pos = found.start()


def _huffman_problem(segment: bytes, tables: set[tuple[str, int]]) -> str | None:
    pos = 0
    while pos < len(segment):
        if pos + 17 > len(segment):
            return _CORRUPTED
        table_class, table_id = divmod(segment[pos], 16)
        counts = segment[pos + 1 : pos + 17]
        total = sum(counts)
        symbols = segment[pos + 17 : pos + 17 + total]
        if table_class > 1 or table_id > 3 or total > 256 or len(symbols) < total:
            return _CORRUPTED
        # libjpeg refuses a table whose codes overflow their lengths (all ones is no code
        # either): the Kraft sum of the code lengths must stay below 1.
        if sum(map(operator.mul, counts, _KRAFT_WEIGHTS)) >= 1 << 16:
            return _CORRUPTED
        if table_class == 0 and symbols and max(symbols) > 15:
            return _CORRUPTED  # a DC symbol is a bit count, 0 to 15
        tables.add(("ac" if table_class else "dc", table_id))
        pos += 17 + total
    return None


def _quantization_problem(segment: bytes, tables: set[tuple[str, int]]) -> str | None:
    pos = 0
    while pos < len(segment):
        precision, table_id = divmod(segment[pos], 16)
        end = pos + 1 + 64 * (precision + 1)  # 8- or 16-bit values
        if precision > 1 or table_id > 3 or end > len(segment):
            return _CORRUPTED
        tables.add(("q", table_id))
        pos = end
    return None


class _Component(NamedTuple):  # a tuple: built per component of every photo checked
    horizontal: int  #: sampling factors
    vertical: int
    table: int  #: quantization table


def _frame_problem(segment: bytes, components: dict[int, _Component]) -> str | None:
    count = segment[5] if len(segment) > 5 else 0
    if count == 0 or len(segment) != 6 + 3 * count or components:
        return _CORRUPTED
    # What Pillow refused at open (JpegImagePlugin.SOF), in its words, as before the walk alone
    # checked JPEGs.
    if segment[0] != 8:
        return f"cannot handle {segment[0]}-bit layers"
    if count not in (1, 3, 4):
        return f"cannot handle {count}-layer images"
    if segment[1:3] == b"\0\0" or segment[3:5] == b"\0\0":
        return _CORRUPTED  # no pixels (a height given later, in a DNL segment, libjpeg refuses)
    for pos in range(6, len(segment), 3):
        horizontal, vertical = divmod(segment[pos + 1], 16)
        if not (1 <= horizontal <= 4 and 1 <= vertical <= 4) or segment[pos] in components:
            return _CORRUPTED
        if segment[pos + 2] > 3:
            return _CORRUPTED
        components[segment[pos]] = _Component(horizontal, vertical, segment[pos + 2])
    # libjpeg upsamples only by whole factors ("Fractional sampling not implemented yet").
    widest = max(c.horizontal for c in components.values())
    tallest = max(c.vertical for c in components.values())
    if any(widest % c.horizontal or tallest % c.vertical for c in components.values()):
        return _CORRUPTED
    return None


def _scan_problem(
    segment: bytes,
    components: dict[int, _Component],
    tables: set[tuple[str, int]],
    frame: int,
) -> str | None:
    count = segment[0] if segment else 0
    if not components or not 1 <= count <= 4 or len(segment) != 4 + 2 * count:
        return _CORRUPTED
    first, last = segment[-3], segment[-2]
    approximation, low = divmod(segment[-1], 16)
    progressive = frame in _PROGRESSIVE
    # libjpeg's checks of progressive (jdphuff.c) and lossless (jdlossls.c) scans. A sequential
    # scan's odd Ss and Se only draw a warning (some cameras write them), but successive
    # approximation there means progressive data under a damaged frame marker.
    if progressive:
        if (
            (last != 0 if first == 0 else first > last or last > 63 or count != 1)
            or (approximation and low != approximation - 1)
            or low > 13
        ):
            return _CORRUPTED
    elif frame in _LOSSLESS:
        if not 1 <= first <= 7 or last != 0 or approximation != 0:
            return _CORRUPTED
    elif approximation or low:
        return _CORRUPTED
    chosen = [segment[pos] for pos in range(1, 1 + 2 * count, 2)]
    if len(set(chosen)) != count or any(c not in components for c in chosen):
        return _CORRUPTED
    if count > 1 and sum(components[c].horizontal * components[c].vertical for c in chosen) > 10:
        return _CORRUPTED  # libjpeg's limit of blocks in one MCU (D_MAX_BLOCKS_IN_MCU)
    huffman = any(kind != "q" for kind, _ in tables)
    for pos in range(1, 1 + 2 * count, 2):
        dc_table, ac_table = divmod(segment[pos + 1], 16)
        if dc_table > 3 or ac_table > 3:
            return _CORRUPTED
        if frame not in _LOSSLESS and ("q", components[segment[pos]].table) not in tables:
            return _CORRUPTED
        if frame in _ARITHMETIC:
            continue  # no Huffman tables: DAC segments condition the coder, with defaults
        # A table the scan decodes with must exist; libjpeg-turbo supplies the standard
        # tables 0 and 1 to a file that has none (Motion-JPEG frames carry none).
        uses = []
        if first == 0 and not (progressive and approximation):
            uses.append(("dc", dc_table))
        if last > 0:
            uses.append(("ac", ac_table))
        if any(t not in tables and (t[1] > 1 or huffman) for t in uses):
            return _CORRUPTED
    return None


def _check_pixels(size: tuple[int, int], kind: str) -> None:
    """Refuse decompression bombs: more pixels than ``Image.MAX_IMAGE_PIXELS``."""
    limit = Image.MAX_IMAGE_PIXELS
    width, height = size
    if limit is not None and width * height > limit:
        raise InvalidRow(_bomb(kind, width * height, size))


@contextmanager
def _pillow_errors(kind: str) -> Iterator[None]:
    """Translate whatever Pillow raises while reading a ``kind`` picture into :class:`InvalidRow`.

    The one place Pillow's exceptions are caught: it raises OSError, SyntaxError, ValueError,
    struct.error, EOFError, MemoryError... depending on the plugin and the damage.
    """
    try:
        yield
    except InvalidRow:
        raise
    except Image.DecompressionBombError as exc:
        pixels = _BOMB_PIXELS.search(str(exc))
        raise InvalidRow(_bomb(kind, int(pixels.group(1)) if pixels else None)) from None
    except Exception as exc:
        raise InvalidRow(_damaged(kind, exc)) from None


# --- --fit ------------------------------------------------------------------------------------


def _fit(data: bytes, kind: str, *, filename: str, max_edge: int) -> PreparedImage:
    """Re-encode a picture as an upright, metadata-free JPEG of at most 2 MB."""
    if kind == "heic" and not _heif_available():
        raise InvalidRow(
            "file is a HEIC image; reading HEIC needs the optional pillow-heif package"
            " — install zoom-batch[heic], or convert the photo to JPEG"
        )
    if kind == "avif" and not ("avif" in features.modules and features.check_module("avif")):
        raise InvalidRow(
            "file is an AVIF image; this Pillow cannot read AVIF (it needs Pillow 11.2 or"
            " newer) — upgrade Pillow, or convert the photo to JPEG"
        )
    with _pillow_errors(kind):
        with Image.open(io.BytesIO(data), formats=(_PILLOW_FORMATS[kind],)) as im:
            _check_pixels(im.size, kind)
            # Decode JPEG at the smallest DCT scale that keeps twice the target size, the
            # reducing gap Pillow's own thumbnail() uses (other formats ignore draft()).
            longest = max(im.size)
            if longest > 2 * max_edge:
                factor = longest / (2 * max_edge)
                im.draft("RGB", (max(1, int(im.width / factor)), max(1, int(im.height / factor))))
            im.load()  # decoding errors surface here, not in the EXIF handling below
            try:
                upright = ImageOps.exif_transpose(im)
            except Exception:  # unreadable EXIF: the pixels are fine, keep them as stored
                upright = im.copy()
            icc = im.info.get("icc_profile")
        # Scale first: at full size, colour conversion took 0.47 s on a 12-megapixel photo.
        small = _resamplable(upright)
        small.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
        rgb = _to_srgb_on_white(small, icc if isinstance(icc, bytes) else None)
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


def _resamplable(im: Image.Image) -> Image.Image:
    """``im`` in a mode that resamples smoothly: L, RGB, RGBA or CMYK."""
    if im.mode == "I" or im.mode.startswith("I;16"):
        # 16-bit greys: convert() would clip every value above 255 to white.
        return im.convert("F").point(lambda v: v * (1 / 256)).convert("L")
    if "transparency" in im.info or im.mode in ("LA", "PA", "La", "RGBa"):
        return im.convert("RGBA")
    return im if im.mode in ("L", "RGB", "RGBA", "CMYK") else im.convert("RGB")


def _to_srgb_on_white(im: Image.Image, icc: bytes | None) -> Image.Image:
    """``im`` as sRGB ``RGB``, any transparency composited on white."""
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


class _HeifSupport:
    """Registers pillow-heif's opener with Pillow on first use, if it is installed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._available: bool | None = None

    def available(self) -> bool:
        with self._lock:
            if self._available is None:
                try:
                    import pillow_heif
                except ImportError:
                    self._available = False
                else:
                    pillow_heif.register_heif_opener()
                    self._available = True
            return self._available


_HEIF = _HeifSupport()


def _heif_available() -> bool:
    return _HEIF.available()


# --- names and messages -----------------------------------------------------------------------


def _with_suffix(filename: str, kind: str) -> str:
    """Keep the filename, adding the right suffix when it has none Zoom would recognise.

    Zoom's refusal text speaks of "jpg/jpeg, gif or png image file": it may look at the name.
    """
    if os.path.splitext(filename)[1].lower() in (".jpg", ".jpeg", ".png"):
        return filename
    return f"{filename or 'photo'}{'.jpg' if kind == 'jpeg' else '.png'}"


def _jpg_name(filename: str) -> str:
    path = PurePath(filename)
    if not path.stem or path.name in ("", ".", ".."):
        return "photo.jpg"
    return str(path.with_suffix(".jpg"))


def _human_size(size: int) -> str:
    text = f"{size / _MB:.1f} MB"
    return f"{size:,} bytes" if text == f"{MAX_UPLOAD_BYTES // _MB}.0 MB" else text


_EMPTY: Final = "file is empty (0 bytes) — export the photo again"


def _too_big(size: int) -> str:
    return (
        f"file is {_human_size(size)}; Zoom accepts at most {MAX_UPLOAD_BYTES // _MB} MB"
        " — shrink it or run with --fit"
    )


def _too_big_to_fit(size: int) -> str:
    return (
        f"file is {size / _MB:.1f} MB, too large even for --fit"
        f" (at most {MAX_FIT_SOURCE_BYTES // _MB} MB) — export a smaller photo"
    )


def not_found(name: str) -> str:
    """The message for a photo that is not there (also used when it vanishes mid-run)."""
    return (
        f"file not found: {name}"
        " — check the file name (a relative path starts at the manifest's folder)"
    )


def _unreadable(name: str) -> str:
    return f"file cannot be read (permission denied): {name} — ask for read access to it"


def _not_a_picture(kind: str | None) -> str:
    if kind is None:
        return (
            "file is not a picture (its content matches no image format)"
            " — export the photo as JPEG or PNG"
        )
    advice = _NOT_A_PICTURE_ADVICE.get(kind, "export the photo as JPEG or PNG")
    return f"file is {describe(kind)}, not a picture — {advice}"


def _damaged(kind: str, exc: BaseException) -> str:
    name = _SHORT_NAMES.get(kind, kind.upper())
    article = "an" if name[0] in "AEIOU" else "a"
    return f"file is {article} damaged {name} ({_reason(exc)}) — export the photo again"


def _reason(exc: BaseException) -> str:
    """Pillow's complaint in words an HR person can pass on."""
    text = str(exc)
    lowered = text.lower()
    if "truncated" in lowered or isinstance(exc, EOFError):
        return _TRUNCATED
    if "checksum" in lowered or "crc" in lowered:
        return _CORRUPTED
    if isinstance(exc, UnidentifiedImageError):
        return "its content cannot be read"
    if isinstance(exc, MemoryError):
        return "too large to decode in memory"
    text = _OBJECT_REPR.sub("", text).strip()
    return text[:100] if text else type(exc).__name__


def _bomb(kind: str, pixels: int | None, size: tuple[int, int] | None = None) -> str:
    limit = Image.MAX_IMAGE_PIXELS or 0
    if pixels is None:  # Pillow's wording changed: say what we know
        pixels = 2 * limit
    megapixels = f"{pixels / 1e6:,.0f} megapixels"
    what = f"{size[0]:,} x {size[1]:,} pixels ({megapixels})" if size else megapixels
    return (
        f"file is {describe(kind)} of {what}, too large to process safely"
        f" — export it smaller (at most {limit / 1e6:,.0f} megapixels)"
    )
