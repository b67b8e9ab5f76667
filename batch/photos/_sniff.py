"""What a file really is, from its first bytes (never its extension), and how to say so."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["SNIFF_BYTES", "describe", "short_name", "sniff"]

#: How many leading bytes :func:`sniff` looks at.
SNIFF_BYTES: Final = 512

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


def short_name(kind: str) -> str:
    """The format's name as people write it: ``"JPEG"``, ``"WebP"``."""
    return _SHORT_NAMES.get(kind, kind.upper())


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
