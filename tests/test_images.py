"""Image checks: what Zoom would refuse is refused first, in words an HR person acts on; --fit."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import os
import random
import struct
import sys
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from PIL import ExifTags, Image, ImageCms, ImageDraw, features

from batch._exceptions import InvalidRow
from batch._models import PreparedImage
from batch.photos import MAX_UPLOAD_BYTES, _fit, check_file, prepare_image, sniff
from batch.photos._sniff import SNIFF_BYTES, describe

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
MB = 1_000_000  # decimal, as the messages count (and Zoom's "2M")
NOT_A_PHOTO = "photos/not-a-photo.jpg"
RED = (255, 0, 0)
WHITE = (255, 255, 255)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A small picture: blue, with a red band along the top."""
    image = Image.new("RGB", size, (30, 90, 200))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] - 1, size[1] // 4), fill=RED)
    return image.convert(mode)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels in a few bytes: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


JPEG = encode(picture(), "JPEG", quality=90)
PNG = encode(picture(), "PNG")
NOISY_JPEG = encode(Image.frombytes("RGB", (128, 128), random.Random(0).randbytes(49_152)), "JPEG")


def heic_available() -> bool:
    return importlib.util.find_spec("pillow_heif") is not None


def make_heic(image: Image.Image, **params: object) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(image, "HEIF", quality=80, **params)


def refused(data: bytes, *, fit: bool = False) -> str:
    with pytest.raises(InvalidRow) as caught:
        prepare_image(data, filename="photo.jpg", fit=fit)
    return str(caught.value)


def corrupt_huffman_table(data: bytes) -> bytes:
    """Claim 3 codes of 1 bit in the first Huffman table: more than 1 bit can hold."""
    table = data.index(b"\xff\xc4") + 5  # marker, length, class/id: the 16 code counts follow
    return data[:table] + b"\x03" + data[table + 1 :]


def flip_bit_in_idat(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 8
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]


# --- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        pytest.param(JPEG, "jpeg", id="jpeg"),
        pytest.param(PNG, "png", id="png"),
        pytest.param(encode(picture(), "GIF"), "gif", id="gif"),
        pytest.param(encode(picture(), "WEBP"), "webp", id="webp"),
        pytest.param(encode(picture(), "BMP"), "bmp", id="bmp"),
        pytest.param(encode(picture(), "TIFF"), "tiff", id="tiff-little-endian"),
        pytest.param(b"MM\x00*\x00\x00\x00\x08", "tiff", id="tiff-big-endian"),
        pytest.param(encode(picture(), "AVIF"), "avif", id="avif"),
        pytest.param(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic", id="heic"),
        pytest.param(b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1heix", "heic", id="heix"),
        pytest.param(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic", id="mif1-heic"),
        pytest.param(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "avif", id="mif1-avif"),
        pytest.param(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None, id="mp4-video"),
        pytest.param(b"<!DOCTYPE html>\n<html><head>", "html", id="html-doctype"),
        pytest.param(b"\xef\xbb\xbf\r\n  <html lang='en'>", "html", id="html-bom-space"),
        pytest.param(
            b"\n<!-- saved from url=(0042)https://photos -->\n<html>", "html", id="comment"
        ),
        pytest.param(b"<HEAD><TITLE>Sign in</TITLE>", "html", id="html-upper-case"),
        pytest.param("\ufeff<!doctype html>".encode("utf-16-le"), "html", id="html-utf16"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "pdf", id="pdf"),
        pytest.param(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">', "svg"),
        pytest.param(b'<svg width="10" height="10">', "svg", id="svg-bare"),
        pytest.param(b"<?xml version='1.0'?><feed>", "xml", id="xml"),
        pytest.param(b"BMW 320d, blue, 2019", None, id="text-starting-with-BM"),
        pytest.param(b"<photo>jane.jpg</photo>", None, id="unknown-tag"),
        pytest.param(random.Random(7).randbytes(512), None, id="random"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_sniff_names_the_format_from_the_content(head: bytes, kind: str | None) -> None:
    assert sniff(head[:SNIFF_BYTES]) == kind


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("jpeg", "a JPEG image"),
        ("gif", "a GIF image"),
        ("webp", "a WebP image"),
        ("heic", "a HEIC image"),
        ("avif", "an AVIF image"),
        ("html", "a web page (HTML)"),
        ("pdf", "a PDF document"),
        ("svg", "an SVG drawing"),
        (None, "not a picture"),
    ],
)
def test_describe_says_it_in_plain_words(kind: str | None, words: str) -> None:
    assert describe(kind) == words


# --- refusals ---------------------------------------------------------------------------------

DAMAGED_JPEG = "file is a damaged JPEG (image file is truncated) — export the photo again"
CONVERT = "; Zoom accepts JPEG or PNG — convert it or run with --fit"


@pytest.mark.parametrize("fit", [False, True], ids=["plain", "fit"])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "file is empty (0 bytes) — export the photo again", id="empty"),
        pytest.param(
            b"<!DOCTYPE html>\n<html><body>Sign in</body></html>",
            "file is a web page (HTML), not a picture — download the photo itself",
            id="html",
        ),
        pytest.param(
            b"%PDF-1.4\n1 0 obj",
            "file is a PDF document, not a picture — export the photo as JPEG or PNG",
            id="pdf",
        ),
        pytest.param(
            random.Random(1).randbytes(4000),
            "file is not a picture (its content matches no image format)"
            " — export the photo as JPEG or PNG",
            id="random-bytes",
        ),
        pytest.param(JPEG[: len(JPEG) // 2], DAMAGED_JPEG, id="truncated-jpeg"),
        pytest.param(JPEG[:-1], DAMAGED_JPEG, id="jpeg-missing-last-byte"),
        pytest.param(
            NOISY_JPEG[: len(NOISY_JPEG) // 2] + bytes(len(NOISY_JPEG) - len(NOISY_JPEG) // 2),
            DAMAGED_JPEG,
            id="jpeg-second-half-zeros",
        ),
        pytest.param(
            corrupt_huffman_table(JPEG),
            "file is a damaged JPEG (its data is corrupted) — export the photo again",
            id="jpeg-bad-huffman-table",
        ),
        pytest.param(
            PNG[:-20],
            "file is a damaged PNG (image file is truncated) — export the photo again",
            id="truncated-png",
        ),
        pytest.param(
            flip_bit_in_idat(PNG),
            "file is a damaged PNG (its data is corrupted) — export the photo again",
            id="png-bit-flip",
        ),
    ],
)
def test_refused_with_and_without_fit(data: bytes, message: str, fit: bool) -> None:
    assert refused(data, fit=fit) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(encode(picture(), "GIF"), "file is a GIF image" + CONVERT, id="gif"),
        pytest.param(encode(picture(), "WEBP"), "file is a WebP image" + CONVERT, id="webp"),
        pytest.param(encode(picture(), "BMP"), "file is a BMP image" + CONVERT, id="bmp"),
        pytest.param(encode(picture(), "TIFF"), "file is a TIFF image" + CONVERT, id="tiff"),
        pytest.param(
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
            "file is a HEIC image" + CONVERT,
            id="heic",
        ),
        pytest.param(
            JPEG + bytes(int(6.1 * MB) - len(JPEG)),
            "file is 6.1 MB; Zoom accepts at most 2 MB — shrink it or run with --fit",
            id="over-2-MB",
        ),
        pytest.param(
            PNG + bytes(MAX_UPLOAD_BYTES + 1 - len(PNG)),
            "file is 2,000,001 bytes; Zoom accepts at most 2 MB — shrink it or run with --fit",
            id="one-byte-over-2-MB",
        ),
    ],
)
def test_refused_without_fit(data: bytes, message: str) -> None:
    assert refused(data) == message


def test_fit_refuses_absurd_sizes() -> None:
    data = JPEG + bytes(52 * MB - len(JPEG))
    assert refused(data, fit=True) == (
        "file is 52.0 MB, too large even for --fit (at most 50 MB) — export a smaller photo"
    )


@pytest.mark.parametrize("fit", [False, True], ids=["plain", "fit"])
def test_decompression_bomb_over_the_limit_is_refused(
    fit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)  # Pillow's default
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused from the header, before Pillow would warn
        message = refused(png_header_only(10_000, 10_000), fit=fit)
    assert message == (
        "file is a PNG image of 10,000 x 10,000 pixels (100 megapixels), too large to process"
        " safely — export it smaller (at most 89 megapixels)"
    )


@pytest.mark.parametrize("fit", [False, True], ids=["plain", "fit"])
def test_decompression_bomb_over_twice_the_limit_is_refused(
    fit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)
    assert refused(png_header_only(20_000, 20_000), fit=fit) == (
        "file is a PNG image of 20,000 x 20,000 pixels (400 megapixels), too large to process"
        " safely — export it smaller (at most 89 megapixels)"
    )


def gif_header_only(width: int, height: int) -> bytes:
    """A GIF whose screen claims ``width`` x ``height`` pixels, holding one pixel."""
    screen = struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00;"
    return b"GIF89a" + screen + frame


def test_fit_refuses_what_pillow_calls_a_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over twice the limit Pillow refuses at open, without the size: the count is read out."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)
    assert refused(gif_header_only(20_000, 20_000), fit=True) == (
        "file is a GIF image of 400 megapixels, too large to process safely"
        " — export it smaller (at most 89 megapixels)"
    )


def test_bomb_limit_follows_pillow_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000_000)
    assert refused(png_header_only(8_000, 8_000)) == (
        "file is a PNG image of 8,000 x 8,000 pixels (64 megapixels), too large to process"
        " safely — export it smaller (at most 50 megapixels)"
    )


def with_frame(jpeg: bytes, *, bits: int = 8, height: int = 48, width: int = 64) -> bytes:
    """``jpeg`` with its start-of-frame header rewritten (precision and size)."""
    at = jpeg.index(b"\xff\xc0") + 4
    header = bytes([bits]) + height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return jpeg[:at] + header + jpeg[at + 5 :]


def test_jpeg_size_comes_from_its_frame_header() -> None:
    assert prepare_image(with_frame(JPEG, width=300, height=7), filename="a.jpg").width == 300
    assert refused(with_frame(JPEG, width=20_000, height=20_000)) == (
        "file is a JPEG image of 20,000 x 20,000 pixels (400 megapixels), too large to process"
        " safely — export it smaller (at most 89 megapixels)"
    )


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"bits": 12}, "cannot handle 12-bit layers"),
        ({"height": 0}, "its data is corrupted"),
        ({"width": 0}, "its data is corrupted"),
    ],
)
def test_jpeg_frame_pillow_or_libjpeg_refuse(frame: dict[str, int], reason: str) -> None:
    assert refused(with_frame(JPEG, **frame)) == (
        f"file is a damaged JPEG ({reason}) — export the photo again"
    )


def test_damaged_picture_with_fit_is_refused() -> None:
    gif = encode(picture(), "GIF")
    assert refused(gif[: len(gif) // 2], fit=True) == (
        "file is a damaged GIF (image file is truncated) — export the photo again"
    )


def test_heic_with_fit_but_without_pillow_heif(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fit, "register_heif", lambda: False)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(100)
    assert refused(heic, fit=True) == (
        "file is a HEIC image; reading HEIC needs the optional pillow-heif package"
        " — install zoom-batch[heic], or convert the photo to JPEG"
    )


def test_avif_with_fit_on_a_pillow_without_avif(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(features.modules, "avif")
    assert refused(encode(picture(), "AVIF"), fit=True) == (
        "file is an AVIF image; this Pillow cannot read AVIF (it needs Pillow 11.2 or newer)"
        " — upgrade Pillow, or convert the photo to JPEG"
    )


def test_max_edge_too_small_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="max_edge must be at least 16, got 8"):
        prepare_image(JPEG, filename="a.jpg", fit=True, max_edge=8)


def test_no_pillow_exception_escapes_on_damaged_bytes() -> None:
    """Single-byte damage anywhere in six formats: every outcome is a result or InvalidRow."""
    rng = random.Random(2026)
    sources = [JPEG, PNG] + [encode(picture(), fmt) for fmt in ("GIF", "WEBP", "BMP", "TIFF")]
    outcomes = {"ok": 0, "refused": 0}
    for source in sources:
        for _ in range(40):
            data = bytearray(source)
            data[rng.randrange(len(data))] = rng.randrange(256)
            for fit in (False, True):
                try:
                    prepare_image(bytes(data), filename="x.jpg", fit=fit)
                except InvalidRow:
                    outcomes["refused"] += 1
                else:
                    outcomes["ok"] += 1
    assert outcomes["ok"] + outcomes["refused"] == 6 * 40 * 2
    assert outcomes["refused"] > 0


# --- compliant photos go unchanged ------------------------------------------------------------


def motion_photo() -> bytes:
    """A phone's motion photo: a JPEG with a video appended after its EOI marker."""
    return JPEG + b"\x00\x00\x00\x18ftypmp42" + bytes(500)


@pytest.mark.parametrize("fit", [False, True], ids=["plain", "fit"])
@pytest.mark.parametrize(
    ("data", "content_type", "size"),
    [
        pytest.param(JPEG, "image/jpeg", (64, 48), id="jpeg"),
        pytest.param(PNG, "image/png", (64, 48), id="png"),
        pytest.param(
            encode(picture(), "JPEG", progressive=True), "image/jpeg", (64, 48), id="progressive"
        ),
        pytest.param(
            encode(picture(), "JPEG", restart_marker_blocks=1), "image/jpeg", (64, 48), id="rst"
        ),
        pytest.param(encode(picture("CMYK"), "JPEG"), "image/jpeg", (64, 48), id="cmyk-jpeg"),
        pytest.param(encode(picture("L"), "JPEG"), "image/jpeg", (64, 48), id="grey-jpeg"),
        pytest.param(encode(picture("P"), "PNG"), "image/png", (64, 48), id="palette-png"),
        pytest.param(encode(picture("RGBA"), "PNG"), "image/png", (64, 48), id="rgba-png"),
        pytest.param(motion_photo(), "image/jpeg", (64, 48), id="motion-photo"),
        pytest.param(
            JPEG + bytes(MAX_UPLOAD_BYTES - len(JPEG)), "image/jpeg", (64, 48), id="exactly-2-MB"
        ),
    ],
)
def test_compliant_photo_is_sent_unchanged(
    data: bytes, content_type: str, size: tuple[int, int], fit: bool
) -> None:
    prepared = prepare_image(data, filename="jane.jpg", fit=fit)
    assert prepared == PreparedImage(
        data=data,
        filename="jane.jpg",
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        width=size[0],
        height=size[1],
        original_size=None,
        source_offset=0,  # the file itself from its first byte: it may be streamed from disk
    )
    assert prepared.data is data
    assert not prepared.fitted


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "sent_as"),
    [
        pytest.param(PNG, "jane.jpg", "image/png", "jane.jpg", id="png-named-jpg"),
        pytest.param(JPEG, "jane.PNG", "image/jpeg", "jane.PNG", id="jpeg-named-png"),
        pytest.param(JPEG, "jane", "image/jpeg", "jane.jpg", id="no-suffix"),
        pytest.param(PNG, "jane.photo", "image/png", "jane.photo.png", id="odd-suffix"),
    ],
)
def test_content_type_comes_from_the_bytes(
    data: bytes, filename: str, content_type: str, sent_as: str
) -> None:
    prepared = prepare_image(data, filename=filename)
    assert (prepared.content_type, prepared.filename) == (content_type, sent_as)


# --- --fit ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    """4000x3000, noisy (so well over 2 MB), stored sideways (EXIF orientation 6), GPS-tagged.

    A red band runs along the stored top edge: upright, it is the right edge.
    """
    noise = Image.frombytes("RGB", (4000, 3000), random.Random(6).randbytes(4000 * 3000 * 3))
    ImageDraw.Draw(noise).rectangle((0, 0, 3999, 399), fill=RED)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 26.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(noise, "JPEG", quality=85, exif=exif, icc_profile=icc, comment=b"home")


def test_fit_makes_a_phone_photo_upright_small_and_anonymous(phone_photo: bytes) -> None:
    source = Image.open(io.BytesIO(phone_photo))
    assert len(phone_photo) > MAX_UPLOAD_BYTES
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"

    prepared = prepare_image(phone_photo, filename="IMG_0042.jpeg", fit=True)

    assert prepared.content_type == "image/jpeg"
    assert prepared.filename == "IMG_0042.jpg"
    assert prepared.original_size == len(phone_photo)
    assert prepared.size <= MAX_UPLOAD_BYTES
    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()
    assert (prepared.width, prepared.height) == (768, 1024)
    result = Image.open(io.BytesIO(prepared.data))
    assert (result.format, result.mode, result.size) == ("JPEG", "RGB", (768, 1024))
    assert dict(result.getexif()) == {}
    assert result.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(result.info)
    assert b"Exif" not in prepared.data
    assert b"PhoneMaker" not in prepared.data
    right_edge, left_edge = result.getpixel((763, 512)), result.getpixel((4, 512))
    assert isinstance(right_edge, tuple)
    assert isinstance(left_edge, tuple)
    assert right_edge[0] > 200 and right_edge[1] < 40 and right_edge[2] < 40
    assert not (left_edge[0] > 200 and left_edge[1] < 40 and left_edge[2] < 40)


def test_fit_honours_max_edge() -> None:
    prepared = prepare_image(
        encode(picture(size=(800, 600)), "GIF"), filename="a.gif", fit=True, max_edge=300
    )
    assert (prepared.width, prepared.height) == (300, 225)
    assert Image.open(io.BytesIO(prepared.data)).size == (300, 225)


def test_fit_steps_quality_then_size_down_until_it_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fit, "MAX_UPLOAD_BYTES", 20_000)  # noise at 600x600 needs ~100 KB
    noise = Image.frombytes("RGB", (600, 600), random.Random(4).randbytes(600 * 600 * 3))
    prepared = prepare_image(encode(noise, "BMP"), filename="a.bmp", fit=True, max_edge=600)
    assert prepared.size <= 20_000
    assert prepared.width == prepared.height < 600


def test_fit_re_encodes_a_padded_jpeg_over_2_mb() -> None:
    data = JPEG + bytes(3 * MB)
    prepared = prepare_image(data, filename="a.jpg", fit=True)
    assert (prepared.content_type, prepared.width, prepared.height) == ("image/jpeg", 64, 48)
    assert prepared.original_size == len(data)
    assert prepared.size < 10_000


def center_and_corner(data: bytes) -> tuple[object, object]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image.getpixel((32, 40)), image.getpixel((2, 2))


def close_to(pixel: object, colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


@pytest.mark.parametrize(
    "fmt", ["GIF", "WEBP", "BMP", "TIFF", "AVIF"], ids=["gif", "webp", "bmp", "tiff", "avif"]
)
def test_fit_converts_other_formats_to_jpeg(fmt: str) -> None:
    data = encode(picture(), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    prepared = prepare_image(data, filename="photos/jane.gif", fit=True)
    assert (prepared.content_type, prepared.filename) == ("image/jpeg", "photos/jane.jpg")
    assert (prepared.width, prepared.height, prepared.original_size) == (64, 48, len(data))
    body, top = center_and_corner(prepared.data)
    assert close_to(body, (30, 90, 200), tolerance=24)
    assert close_to(top, RED, tolerance=24)


def transparent_left_half() -> Image.Image:
    image = picture("RGBA")
    ImageDraw.Draw(image).rectangle((0, 0, 31, 47), fill=(0, 0, 0, 0))
    return image


def gif_transparent_left_half() -> bytes:
    image = Image.new("P", (64, 48), 0)
    image.putpalette([0, 0, 0, 30, 90, 200])
    ImageDraw.Draw(image).rectangle((32, 0, 63, 47), fill=1)
    return encode(image, "GIF", transparency=0)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encode(transparent_left_half(), "WEBP", lossless=True), id="webp-alpha"),
        pytest.param(encode(transparent_left_half(), "PNG"), id="png-alpha-small"),
        pytest.param(gif_transparent_left_half(), id="gif-transparency"),
    ],
)
def test_fit_flattens_transparency_on_white(data: bytes) -> None:
    if sniff(data) == "png":  # compliant as it is: sent unchanged, so make it too large
        data += bytes(MAX_UPLOAD_BYTES)
    prepared = prepare_image(data, filename="a.webp", fit=True)
    image = Image.open(io.BytesIO(prepared.data))
    assert close_to(image.getpixel((8, 40)), WHITE)
    assert close_to(image.getpixel((56, 40)), (30, 90, 200), tolerance=24)


def test_fit_flattens_a_large_png_with_alpha() -> None:
    image = Image.new("RGBA", (1200, 1200), (0, 0, 0, 0))
    noise = Image.frombytes("RGB", (600, 1200), random.Random(3).randbytes(600 * 1200 * 3))
    image.paste(noise, (600, 0))
    data = encode(image, "PNG", compress_level=1)
    assert len(data) > MAX_UPLOAD_BYTES

    prepared = prepare_image(data, filename="a.png", fit=True)

    assert (prepared.content_type, prepared.filename) == ("image/jpeg", "a.jpg")
    assert (prepared.width, prepared.height) == (1024, 1024)
    result = Image.open(io.BytesIO(prepared.data))
    assert close_to(result.getpixel((100, 500)), WHITE, tolerance=3)


def test_fit_keeps_16_bit_grey_levels() -> None:
    data = encode(Image.new("I;16", (40, 30), 30_000), "TIFF")
    prepared = prepare_image(data, filename="scan.tif", fit=True)
    assert close_to(Image.open(io.BytesIO(prepared.data)).getpixel((20, 15)), (117, 117, 117), 2)


@pytest.mark.skipif(not heic_available(), reason="pillow-heif is not installed")
def test_fit_converts_heic() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: the red top band becomes the right
    data = make_heic(picture(size=(80, 60)), exif=exif.tobytes())
    assert sniff(data) == "heic"

    prepared = prepare_image(data, filename="IMG_0001.HEIC", fit=True)

    assert (prepared.content_type, prepared.filename) == ("image/jpeg", "IMG_0001.jpg")
    assert (prepared.width, prepared.height) == (60, 80)
    result = Image.open(io.BytesIO(prepared.data))
    assert dict(result.getexif()) == {}
    assert close_to(result.getpixel((57, 40)), RED, tolerance=30)
    assert close_to(result.getpixel((10, 40)), (30, 90, 200), tolerance=30)


def test_prepare_image_is_thread_safe() -> None:
    noise = Image.frombytes("RGB", (500, 400), random.Random(5).randbytes(500 * 400 * 3))
    inputs = [
        (JPEG, False),
        (PNG, False),
        (encode(picture(), "GIF"), True),
        (encode(picture(), "WEBP", lossless=True), True),
        (encode(noise, "TIFF"), True),
        (JPEG[:100], False),
    ] * 4

    def run(item: tuple[bytes, bool]) -> str:
        try:
            return prepare_image(item[0], filename="a.jpg", fit=item[1], max_edge=256).sha256
        except InvalidRow as exc:
            return str(exc)

    serial = [run(item) for item in inputs]
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(run, inputs)) == serial


# --- check_file -------------------------------------------------------------------------------


def test_check_file_returns_the_size(tmp_path: Path) -> None:
    (tmp_path / "jane.jpg").write_bytes(JPEG)
    assert check_file(tmp_path / "jane.jpg", shown="jane.jpg") == len(JPEG)


@pytest.mark.parametrize(
    ("make", "shown", "fit", "message"),
    [
        pytest.param(
            lambda folder: folder / "jane.jpg",
            "photos/jane.jpg",
            False,
            "file not found: photos/jane.jpg"
            " — check the file name (a relative path starts at the manifest's folder)",
            id="missing",
        ),
        pytest.param(
            lambda folder: write(folder / "plain.txt", b"x") / "jane.jpg",
            "plain.txt/jane.jpg",
            False,
            "file not found: plain.txt/jane.jpg"
            " — check the file name (a relative path starts at the manifest's folder)",
            id="parent-is-a-file",
        ),
        pytest.param(
            lambda folder: folder,
            "photos",
            False,
            "file is a folder, not a photo: photos — name the photo file itself",
            id="directory",
        ),
        pytest.param(
            lambda folder: fifo(folder / "pipe.jpg"),
            "pipe.jpg",
            True,
            "file is not a regular file (a device, pipe or socket): pipe.jpg"
            " — name the photo file itself",
            id="named-pipe",
        ),
        pytest.param(
            lambda folder: write(folder / "empty.jpg", b""),
            "empty.jpg",
            True,
            "file is empty (0 bytes) — export the photo again",
            id="empty",
        ),
        pytest.param(
            lambda folder: sparse(folder / "big.jpg", int(6.1 * MB)),
            "big.jpg",
            False,
            "file is 6.1 MB; Zoom accepts at most 2 MB — shrink it or run with --fit",
            id="over-2-MB",
        ),
        pytest.param(
            lambda folder: sparse(folder / "huge.jpg", 61 * MB),
            "huge.jpg",
            True,
            "file is 61.0 MB, too large even for --fit (at most 50 MB) — export a smaller photo",
            id="over-50-MB-with-fit",
        ),
    ],
)
def test_check_file_refusals(
    tmp_path: Path, make: Callable[[Path], Path], shown: str, fit: bool, message: str
) -> None:
    with pytest.raises(InvalidRow) as caught:
        check_file(make(tmp_path), shown=shown, fit=fit)
    assert str(caught.value) == message


def test_check_file_allows_over_2_mb_with_fit(tmp_path: Path) -> None:
    assert check_file(sparse(tmp_path / "big.jpg", 6 * MB), fit=True) == 6 * MB


def test_check_file_shows_the_path_when_no_name_is_given(tmp_path: Path) -> None:
    with pytest.raises(InvalidRow) as caught:
        check_file(tmp_path / "gone.jpg")
    assert str(caught.value) == (
        f"file not found: {tmp_path / 'gone.jpg'}"
        " — check the file name (a relative path starts at the manifest's folder)"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads every file")
def test_check_file_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.jpg", JPEG)
    path.chmod(0)
    with pytest.raises(InvalidRow) as caught:
        check_file(path, shown="locked.jpg")
    assert str(caught.value) == (
        "file cannot be read (permission denied): locked.jpg — ask for read access to it"
    )


def test_check_file_unreadable_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same refusal, for when the tests run as root (who reads every file)."""
    path = write(tmp_path / "locked.jpg", JPEG)
    monkeypatch.setattr(os, "access", lambda *_: False)
    with pytest.raises(InvalidRow) as caught:
        check_file(path, shown="photos/locked.jpg")
    assert str(caught.value) == (
        "file cannot be read (permission denied): photos/locked.jpg — ask for read access to it"
    )


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    os.mkfifo(path)
    return path


# --- the sample data --------------------------------------------------------------------------


def load_make_samples(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_samples", module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def sample_rows() -> list[dict[str, str]]:
    with (SAMPLES / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_photos_pass_except_the_web_page() -> None:
    outcomes = {}
    for row in sample_rows():
        data = (SAMPLES / row["file"]).read_bytes()
        try:
            prepared = prepare_image(data, filename=Path(row["file"]).name)
        except InvalidRow as exc:
            outcomes[row["file"]] = str(exc)
        else:
            outcomes[row["file"]] = prepared.content_type
            assert 1_000 < prepared.size < 10_000
            assert (prepared.width, prepared.height) == (256, 256)
    assert outcomes.pop(NOT_A_PHOTO) == (
        "file is a web page (HTML), not a picture — download the photo itself"
    )
    assert sorted(outcomes.values()) == ["image/jpeg"] * 6 + ["image/png"] * 5


def test_sample_manifests_and_simulator_users_agree() -> None:
    rows = sample_rows()
    assert list(rows[0]) == ["email", "file", "name", "department"]
    pairs = [(row["email"], row["file"]) for row in rows]
    with (SAMPLES / "manifest.yaml").open(encoding="utf-8") as handle:
        assert [(item["email"], item["file"]) for item in yaml.safe_load(handle)] == pairs
    users = (SAMPLES / "simulator-users.txt").read_text(encoding="utf-8").splitlines()
    known = [line for line in users if line and not line.startswith("#")]
    assert known == [email for email, _ in pairs if email != "former.employee@example.com"]
    assert {"alan.turing+zoom@example.com", "KDcuGIm1QgePTO8WbOqwIQ"} <= set(known)


def test_make_samples_is_deterministic_and_matches_the_committed_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_samples = load_make_samples(monkeypatch)
    make_samples.generate(tmp_path / "one")
    make_samples.generate(tmp_path / "two")
    written = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert len(written) == 15
    for path in written:
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes()
    for name in ("manifest.csv", "manifest.yaml", "simulator-users.txt", NOT_A_PHOTO):
        assert (tmp_path / "one" / name).read_bytes() == (SAMPLES / name).read_bytes()
