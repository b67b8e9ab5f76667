"""The image check's verdict is a full decode's, over every single-bit flip in picture headers.

The reference verdict: Pillow opens the bytes as the format sniffed and ``load()``s them at full
scale, strictly (no truncated images, the pixel limit an error rather than a warning). The
check (:func:`prepare_image`) must accept exactly what the reference decodes, except files
that decode but are visibly damaged, which it refuses; :func:`visibly_damaged` says which,
and nothing else may differ.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator

import pytest
from PIL import ExifTags, Image, ImageDraw, ImageFile, PngImagePlugin

from batch._exceptions import InvalidRow
from batch.photos import prepare_image, sniff
from batch.photos._strip import locate

EOI = b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Bit flips in a size field make pictures of up to 2**31 pixels: keep the decodes small.
PIXEL_LIMIT = 1_000_000


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (32, 24)) -> Image.Image:
    """Noise (so every Huffman code is used), with a red band along the top."""
    rng = random.Random(size[0] * size[1])
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] - 1, size[1] // 4), fill=(255, 0, 0))
    return image.convert(mode)


def exif(orientation: int = 6) -> Image.Exif:
    tags = Image.Exif()
    tags[ExifTags.Base.Orientation] = orientation
    tags[ExifTags.Base.Make] = "PhoneMaker"
    return tags


def jpeg_with_thumbnail(size: tuple[int, int] = (96, 64)) -> bytes:
    """A JPEG whose EXIF segment holds a whole small JPEG, as a camera's thumbnail is."""
    thumbnail = encode(Image.new("RGB", (8, 8), (200, 30, 30)), "JPEG")
    # Upright: a sideways photo is re-encoded before it is sent (test_location.py).
    return encode(picture(size=size), "JPEG", exif=exif(1).tobytes() + thumbnail)


JPEGS = {
    "baseline": encode(picture(), "JPEG", quality=90, subsampling=0),
    "progressive": encode(picture(), "JPEG", progressive=True),
    "greyscale": encode(picture("L"), "JPEG"),
    "restart-markers": encode(picture(), "JPEG", restart_marker_blocks=1, optimize=True),
    "exif": encode(picture(), "JPEG", exif=exif(), optimize=True),
    "subsampled-4:2:0": encode(picture(), "JPEG", subsampling=2, optimize=True),
}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(offset, type, body) of each chunk, as far as the lengths lead."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        yield pos, data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length


def with_split_idat(png: bytes, parts: int = 3) -> bytes:
    """``png`` with its pixel data spread over several IDAT chunks, as large files have."""
    pixels = b"".join(body for _, kind, body in png_chunks(png) if kind == b"IDAT")
    step = -(-len(pixels) // parts)
    out = PNG_SIGNATURE
    for _, kind, body in png_chunks(png):
        if kind == b"IDAT":
            out += b"".join(
                png_chunk(kind, pixels[i : i + step]) for i in range(0, len(pixels), step)
            )
            pixels = b""
        else:
            out += png_chunk(kind, body)
    return out


def png_text() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a text chunk before the pixels")
    return info


PNGS = {
    "rgb": encode(picture(), "PNG"),
    "rgba-with-text": encode(picture("RGBA"), "PNG", pnginfo=png_text()),
    "palette": encode(picture("P"), "PNG"),
    "grey-16-bit": encode(picture("L").convert("I;16"), "PNG"),
    "interlaced": encode(picture(), "PNG", interlace=1),
    "split-idat": with_split_idat(encode(picture(), "PNG")),
}


# --- the two verdicts, and the one difference allowed ----------------------------------------


def reference(data: bytes) -> tuple[int, int] | None:
    """The size of the picture if a full decode succeeds, else None."""
    kind = sniff(data)
    assert kind in ("jpeg", "png")
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # corrupt EXIF, a malformed MPO header...
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=(kind.upper(),)) as image:
                image.load()
                return image.size
    except Exception:
        return None


def checked(data: bytes) -> tuple[int, int] | None:
    """The size the check gives, or None when it refuses the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepared = prepare_image(data, filename="photo")
    except InvalidRow:
        return None
    if prepared.fitted and locate(data, "jpeg").orientation >= 5:
        return prepared.height, prepared.width  # re-encoded upright: the size as stored
    return prepared.width, prepared.height


def visibly_damaged(data: bytes) -> bool:
    """Whether a file that decodes is still refused, and rightly.

    * JPEG: no EOI marker follows the start of the first scan's entropy-coded data. libjpeg
      then only warns and paints the rest grey: the file was cut short, or zeros replaced
      its end.
    * PNG: the chunks do not run, each with a matching CRC-32, to an IEND chunk. Pillow's
      loader checks no CRC after the image header and stops at the last row, so it accepts a
      file cut before IEND, or with bits flipped in what its CRCs protect.
    """
    if sniff(data) == "jpeg":
        start = entropy_start(data)
        return start is not None and data.find(EOI, start) == -1
    for pos, kind, body in png_chunks(data):
        if kind == b"IEND":  # it holds nothing: its length and CRC protect nothing either
            return False
        stored = data[pos + 8 + len(body) : pos + 12 + len(body)]
        if len(stored) < 4 or int.from_bytes(stored, "big") != zlib.crc32(kind + body):
            return True
    return True


def entropy_start(jpeg: bytes) -> int | None:
    """Where the first scan's entropy-coded data starts: after its SOS segment (T.81, B.2)."""
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        if jpeg[pos + 1] == 0xFF:  # fill byte
            pos += 1
            continue
        end = pos + 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if jpeg[pos + 1] == 0xDA:
            return end
        pos = end
    return None


# --- the corpus -------------------------------------------------------------------------------


Flips = Iterator[tuple[str, bytes]]  #: (which bit, the file with it flipped)


def flipped(data: bytes, start: int, end: int) -> Flips:
    """``data`` with each bit of ``data[start:end]`` flipped in turn."""
    for at in range(start, end):
        for bit in range(8):
            copy = bytearray(data)
            copy[at] ^= 1 << bit
            yield f"byte {at} bit {bit}", bytes(copy)


def jpeg_header_flips(jpeg: bytes) -> Flips:
    """Every single-bit flip before the first scan's entropy-coded data, SOI kept for sniff."""
    end = entropy_start(jpeg)
    assert end is not None
    yield from flipped(jpeg, 3, end)


def png_header_flips(png: bytes) -> Flips:
    """Every single-bit flip in a chunk's length and type, and in IHDR and its CRC.

    IHDR again with its CRC made to match: a consistent header the decoder must still refuse
    when it does not fit the pixels (a colour type, a depth, a size).
    """
    for pos, kind, body in list(png_chunks(png)):
        yield from flipped(png, pos, pos + 8)
        if kind != b"IHDR":
            continue
        yield from flipped(png, pos + 8, pos + 12 + len(body))
        crc_at = pos + 8 + len(body)
        for which, copy in flipped(png, pos + 8, crc_at):
            crc = struct.pack(">I", zlib.crc32(copy[pos + 4 : crc_at]))
            yield f"{which}, CRC made to match", copy[:crc_at] + crc + copy[crc_at + 4 :]


CORPUS = {
    **{f"jpeg-{name}": (data, jpeg_header_flips) for name, data in JPEGS.items()},
    **{f"png-{name}": (data, png_header_flips) for name, data in PNGS.items()},
}


@pytest.mark.parametrize(("data", "flips"), list(CORPUS.values()), ids=list(CORPUS))
def test_the_check_agrees_with_a_full_decode(
    data: bytes, flips: Callable[[bytes], Flips], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", PIXEL_LIMIT)
    assert checked(data) == reference(data) == Image.open(io.BytesIO(data)).size
    verdicts = {True: 0, False: 0}
    disagree = []  # (which bit, what the reference decoded, what the check gave)
    for which, copy in flips(data):
        decoded = reference(copy)
        verdicts[decoded is not None] += 1
        expected = None if decoded is not None and visibly_damaged(copy) else decoded
        if (got := checked(copy)) != expected:
            disagree.append((which, decoded, got))
    assert disagree == []
    # A corpus with both verdicts in number: neither "accept all" nor "refuse all" would pass.
    assert min(verdicts.values()) > sum(verdicts.values()) // 20, verdicts


# --- what the corpus cannot reach: files cut short, zeroed, or without a scan -----------------

DAMAGED_JPEG = "file is a damaged JPEG ({}) — export the photo again"
DAMAGED_PNG = "file is a damaged PNG ({}) — export the photo again"
NOISY = picture(size=(96, 64))


def refusal(data: bytes) -> str:
    with pytest.raises(InvalidRow) as caught:
        prepare_image(data, filename="photo")
    return str(caught.value)


def test_a_jpeg_without_a_scan_is_refused() -> None:
    """Headers intact, then EOI: no pixels at all (Zoom refuses it too)."""
    jpeg = JPEGS["baseline"]
    no_scan = jpeg[: jpeg.index(b"\xff\xda")] + EOI
    assert reference(no_scan) is None
    assert refusal(no_scan) == DAMAGED_JPEG.format("its data is corrupted")


def zeros_for_second_half(data: bytes) -> bytes:
    half = len(data) // 2
    return data[:half] + bytes(len(data) - half)


@pytest.mark.parametrize(
    "jpeg",
    [
        pytest.param(encode(NOISY, "JPEG"), id="baseline"),
        pytest.param(encode(NOISY, "JPEG", progressive=True), id="progressive"),
        pytest.param(jpeg_with_thumbnail(), id="with-a-thumbnail-before-the-scan"),
    ],
)
def test_a_jpeg_whose_second_half_is_zeros_is_refused(jpeg: bytes) -> None:
    assert refusal(zeros_for_second_half(jpeg)) == DAMAGED_JPEG.format("image file is truncated")


def test_a_full_decode_accepts_a_jpeg_whose_second_half_is_zeros() -> None:
    """Why the check also looks for EOI: libjpeg only warns, and paints the rest grey."""
    assert reference(zeros_for_second_half(encode(NOISY, "JPEG"))) == (96, 64)
    # The thumbnail's own EOI, before the scan, does not count.
    assert reference(zeros_for_second_half(jpeg_with_thumbnail())) == (96, 64)


@pytest.mark.parametrize(
    ("data", "damaged"),
    [
        pytest.param(encode(NOISY, "JPEG", progressive=True), DAMAGED_JPEG, id="jpeg"),
        pytest.param(jpeg_with_thumbnail(), DAMAGED_JPEG, id="jpeg-with-thumbnail"),
        pytest.param(encode(NOISY, "PNG"), DAMAGED_PNG, id="png"),
        pytest.param(PNGS["split-idat"], DAMAGED_PNG, id="png-split-idat"),
    ],
)
def test_every_cut_of_a_picture_is_refused(data: bytes, damaged: str) -> None:
    """Cut anywhere; once past the headers, the file says it is truncated.

    Except a PNG's last four bytes: the CRC of IEND, which holds nothing, protects nothing.
    """
    end = len(data) - 4 if sniff(data) == "png" else len(data)
    sizes = {end - 1, end - 2, end - 12, *range(8, end, 17)}
    # Past the first scan's header (JPEG) or into the first IDAT chunk (PNG).
    pixels = entropy_start(data) if sniff(data) == "jpeg" else data.index(b"IDAT") + 4
    assert pixels is not None
    for size in sorted(sizes):
        message = refusal(data[:size])
        if size >= pixels:
            assert message == damaged.format("image file is truncated"), size


def test_a_png_cut_before_iend_is_refused() -> None:
    png = PNGS["rgb"]
    cut = png[: png.rindex(b"IEND") - 4]
    assert reference(cut) == (32, 24)  # Pillow's loader stops at the last row
    assert refusal(cut) == DAMAGED_PNG.format("image file is truncated")


def test_a_png_with_a_flipped_pixel_bit_is_refused() -> None:
    png = PNGS["rgb"]
    at = png.index(b"IDAT") + 4 + 200
    assert refusal(png[:at] + bytes([png[at] ^ 0x10]) + png[at + 1 :]) == (
        DAMAGED_PNG.format("its data is corrupted")
    )


@pytest.mark.parametrize(
    ("data", "size"),
    [
        pytest.param(encode(NOISY, "JPEG"), (96, 64), id="jpeg"),
        pytest.param(
            encode(NOISY.transpose(Image.Transpose.ROTATE_90), "JPEG"), (64, 96), id="tall"
        ),
        pytest.param(encode(picture("CMYK"), "JPEG"), (32, 24), id="jpeg-cmyk"),
        pytest.param(jpeg_with_thumbnail(), (96, 64), id="jpeg-with-thumbnail"),
        # A flat picture with optimised Huffman tables is all zero bits, up to EOI.
        pytest.param(
            encode(Image.new("RGB", (256, 256), "white"), "JPEG", optimize=True),
            (256, 256),
            id="jpeg-flat-white",
        ),
        pytest.param(encode(NOISY, "JPEG") + bytes(3000), (96, 64), id="jpeg-zeros-after-eoi"),
        pytest.param(encode(NOISY, "PNG"), (96, 64), id="png"),
        pytest.param(PNGS["grey-16-bit"], (32, 24), id="png-16-bit"),
        pytest.param(PNGS["interlaced"], (32, 24), id="png-interlaced"),
    ],
)
def test_a_whole_picture_is_accepted_with_its_size(data: bytes, size: tuple[int, int]) -> None:
    prepared = prepare_image(data, filename="photo")
    assert (prepared.width, prepared.height) == size
    assert prepared.data is data
