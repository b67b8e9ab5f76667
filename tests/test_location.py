"""No location data leaves (DECISIONS.md): GPS metadata is taken out without re-encoding, a
sideways photo is re-encoded upright, large photos are streamed from disk, and the report's
digest is of the bytes Zoom received."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import ExifTags, Image

from batch.photos import prepare_image
from batch.photos._strip import locate

from .conftest import report_rows, sim_args, sim_env, write_manifest

GPS = {1: "N", 2: (52.0, 22.0, 10.0), 3: "E", 4: (4.0, 53.0, 0.0)}
XMP_GPS = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description'
    b' exif:GPSLatitude="52,22.1N" exif:GPSLongitude="4,53.0E"/></rdf:RDF></x:xmpmeta>'
)


def photo(
    fmt: str,
    *,
    orientation: int = 1,
    gps: bool = True,
    size: tuple[int, int] = (64, 48),
    noise: bool = False,
    xmp: bool = False,
) -> bytes:
    if noise:
        rng = random.Random(7)
        im = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    else:
        im = Image.new("RGB", size, (200, 100, 50))
        im.putpixel((0, 0), (0, 0, 255))  # a marker that shows which way up it is
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Camera"
    if gps:
        exif[ExifTags.IFD.GPSInfo] = GPS
    buffer = io.BytesIO()
    options: dict[str, Any] = {"exif": exif.tobytes()}
    if xmp and fmt == "JPEG":
        options["xmp"] = XMP_GPS
    im.save(buffer, fmt, quality=95, **options)
    return buffer.getvalue()


def gps_of(data: bytes) -> dict[int, Any]:
    with Image.open(io.BytesIO(data)) as im:
        return dict(im.getexif().get_ifd(ExifTags.IFD.GPSInfo))


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB").tobytes()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_gps_is_taken_out_and_the_pixels_are_untouched(fmt: str) -> None:
    data = photo(fmt)
    assert gps_of(data) == GPS
    image = prepare_image(data, filename="a." + fmt.lower())
    assert gps_of(image.data) == {}
    assert pixels(image.data) == pixels(data)  # segment removal, not a re-encode
    assert image.sha256 == hashlib.sha256(image.data).hexdigest()
    assert image.size < len(data)


def test_xmp_with_coordinates_goes_too() -> None:
    data = photo("JPEG", gps=False, xmp=True)
    assert b"GPSLatitude" in data
    sent = prepare_image(data, filename="a.jpg").data
    assert b"GPSLatitude" not in sent
    assert pixels(sent) == pixels(data)


def test_a_photo_without_location_is_sent_as_it_is() -> None:
    data = photo("JPEG", gps=False)
    image = prepare_image(data, filename="a.jpg")
    assert image.data == data
    assert locate(data, "jpeg").head == b""


def test_a_sideways_photo_is_re_encoded_upright() -> None:
    data = photo("JPEG", orientation=6, size=(64, 48))  # stored landscape, shown portrait
    image = prepare_image(data, filename="a.jpg")
    assert (image.width, image.height) == (48, 64)
    with Image.open(io.BytesIO(image.data)) as im:
        assert im.size == (48, 64)
        assert im.getexif().get(0x0112) in (None, 1)
    assert gps_of(image.data) == {}


async def test_the_report_says_a_sideways_photo_was_turned_upright(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    (tmp_path / "side.jpg").write_bytes(photo("JPEG", orientation=6, size=(64, 48)))
    manifest = write_manifest(tmp_path / "m.csv", [("a@example.com", "side.jpg")])
    sim = await simulator(rate_limit=0)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(manifest), *sim_args(sim), "--report", str(report)], sim_env(sim)
    )
    assert outcome.code == 0, outcome.err
    (row,) = report_rows(report)
    assert row["message"].startswith("uploaded; turned upright (re-encoded from ")


def test_damaged_metadata_never_raises() -> None:
    data = photo("JPEG")
    broken = data[:30] + b"\x00" * 40 + data[70:]
    located = locate(broken, "jpeg")
    assert located.orientation == 1


async def test_zoom_receives_the_photo_without_its_location(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    big = photo("JPEG", size=(700, 600), noise=True)  # ~1 MB: streamed from disk
    small = photo("PNG")
    plain = photo("JPEG", gps=False, size=(640, 480), noise=True)
    assert len(big) > 256 * 1024 and len(plain) > 256 * 1024
    for name, data in (("big.jpg", big), ("small.png", small), ("plain.jpg", plain)):
        (tmp_path / name).write_bytes(data)
    manifest = write_manifest(
        tmp_path / "m.csv",
        [
            ("a@example.com", "big.jpg"),
            ("b@example.com", "small.png"),
            ("c@example.com", "plain.jpg"),
        ],
    )
    sim = await simulator(rate_limit=0)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(manifest), *sim_args(sim), "--report", str(report)], sim_env(sim)
    )
    assert outcome.code == 0, outcome.err
    rows = {r["user"]: r for r in report_rows(report)}
    for user, data, kind in (("a@example.com", big, "jpeg"), ("b@example.com", small, "png")):
        sent = locate(data, kind).apply(data)
        assert gps_of(sent) == {}
        got = sim.received[user]
        assert got.sha256 == hashlib.sha256(sent).hexdigest() == rows[user]["sha256"]
        assert got.size == len(sent) == int(rows[user]["bytes"])
    assert sim.received["c@example.com"].sha256 == hashlib.sha256(plain).hexdigest()

    # The next run finds the photos unchanged: the state remembers the bytes sent.
    again = await cli(["run", str(manifest), *sim_args(sim), "--report", str(report)], sim_env(sim))
    assert again.code == 0
    assert {r["status"] for r in report_rows(report)} == {"skipped"}
    assert sim.stats.uploads == 3
