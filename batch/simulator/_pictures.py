"""An uploaded picture: reading the ``pic_file`` part, then checking it is a whole JPEG or PNG."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from typing import Final

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from PIL import Image

from ._answers import BODY_EMPTY, BODY_NO_FILENAME, BODY_NOT_IMAGE, BODY_TOO_BIG

# Larger pictures are hashed and decoded in a worker thread so the event loop keeps serving.
# Measured with client and simulator in one process (noise JPEGs): inline is faster up to
# ~200 KB (57 KB: 580/s inline vs 500/s threaded), the thread from ~400 KB (78/s vs 133/s).
_THREAD_DECODE_BYTES: Final = 256 * 1024
_READ_CHUNK: Final = 64 * 1024
_VERDICTS_KEPT: Final = 4096
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"


def image_problem(data: bytes) -> bytes | None:
    """The 400 body for bytes that are not a whole JPEG or PNG, else None."""
    if not (data.startswith(_JPEG_MAGIC) or data.startswith(PNG_MAGIC)):
        return BODY_NOT_IMAGE
    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG")) as image:
            is_png = image.format == "PNG"
            if is_png:
                # Checks every chunk's CRC and the final IEND: load() alone accepts a PNG cut
                # short by a few dozen bytes. verify() leaves the image unusable, so reopen.
                image.verify()
            else:
                # Decode at 1/8 scale: still reads every entropy-coded segment, so truncation
                # and corruption are caught, ~1.4-1.9x faster than a full decode (measured).
                image.draft("RGB", (1, 1))
                image.load()
        if is_png:
            with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
                image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return BODY_NOT_IMAGE
    return None


# The Content-Disposition every client sends. aiohttp's parser rebuilds an escaped character
# class on each call (~55 us with aiohttp 3.14, and BodyPartReader.name and .filename parse
# again each); this plain form is read directly and anything else goes to that parser.
_PLAIN_DISPOSITION: Final = re.compile(
    r'form-data; ?name="([^"\\/][^"\\]*)"(?:; ?filename="([^"\\/][^"\\]*|)")?', re.IGNORECASE
)


def part_names(header: str | None) -> tuple[str | None, str | None]:
    """The ``name`` and ``filename`` of a part's Content-Disposition (None when absent)."""
    if header is not None and (match := _PLAIN_DISPOSITION.fullmatch(header)):
        return match[1], match[2]
    _, params = parse_content_disposition(header)
    return content_disposition_filename(params, "name"), content_disposition_filename(params)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def read_picture(request: web.Request, max_bytes: int) -> tuple[bytes, str, str] | bytes:
    """The ``pic_file`` part as (bytes, filename, content type), or a 400 body.

    Reads at most ``max_bytes`` plus one chunk of the part: a larger file is
    refused without buffering the rest.
    """
    # Not request.content_type: its parser takes ~0.7 ms and misses its cache on every
    # request, as each multipart boundary is new (measured with aiohttp 3.14).
    if not request.headers.get(hdrs.CONTENT_TYPE, "").lower().startswith("multipart/"):
        return BODY_EMPTY
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                # No pic_file part at all: Zoom's wording for this is unknown; a null
                # file reads as an empty one.
                return BODY_EMPTY
            if isinstance(part, BodyPartReader):
                name, filename = part_names(part.headers.get(hdrs.CONTENT_DISPOSITION))
                if name == "pic_file":
                    break
            await part.release()
        if not filename:
            return BODY_NO_FILENAME
        buffer = bytearray()
        while chunk := await part.read_chunk(_READ_CHUNK):
            buffer += chunk
            if len(buffer) > max_bytes:
                return BODY_TOO_BIG
    except (ValueError, KeyError, AssertionError):
        # Malformed multipart (bad boundary, truncated part): nothing usable was sent.
        return BODY_EMPTY
    if not buffer:
        return BODY_EMPTY
    return bytes(buffer), filename, part.headers.get(hdrs.CONTENT_TYPE, "")


class ImageChecks:
    """:func:`image_problem`'s answers, remembered per digest."""

    __slots__ = ("_verdicts",)

    def __init__(self) -> None:
        self._verdicts: dict[str, bytes | None] = {}  # sha256 -> image_problem's answer

    async def check(self, data: bytes) -> tuple[str, bytes | None]:
        """The sha256 of ``data`` and :func:`image_problem`'s answer for it.

        Larger pictures are hashed and decoded in a worker thread.
        """
        large = len(data) > _THREAD_DECODE_BYTES
        digest = await asyncio.to_thread(sha256_hex, data) if large else sha256_hex(data)
        # Benchmarks send the same bytes again and again, and the decode is most of an
        # upload's cost on the simulator side (~0.1-0.25 ms for a small JPEG).
        verdicts = self._verdicts
        if digest in verdicts:
            return digest, verdicts[digest]
        problem = await asyncio.to_thread(image_problem, data) if large else image_problem(data)
        if len(verdicts) >= _VERDICTS_KEPT:
            verdicts.clear()  # crude but bounded; a real run rarely repeats a picture
        verdicts[digest] = problem
        return digest, problem
