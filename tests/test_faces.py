"""``--crop``: a square around the face, or the upper centre, on real photographs of faces.

The photographs are scikit-image's (the astronaut, LFW portraits, its coffee cup): real faces
placed off-centre on larger canvases, turned by EXIF, pasted into group shots. A face "ends in
the middle" when its centre, tracked from where it was placed, is within 10% of the side of the
square's centre; the detector, run again on what would be sent, must agree.
"""

from __future__ import annotations

import functools
import importlib
import io
import os
import sys
import threading
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from batch._exceptions import ConfigError, InvalidRow
from batch._models import ManifestRow, Status
from batch._pool import RunControl
from batch.jobs import JobContext, UploadJob
from batch.photos import (
    CroppedImage,
    LocalFiles,
    MemoryValidators,
    Previews,
    RemotePhotos,
    _faces,
    crop_of,
    crop_words,
    photo_policy,
    prepare_image,
    require_face_detector,
)
from batch.photos._faces import (
    FACE_RAISE,
    FACE_SQUARE,
    UPPER_BIAS,
    Box,
    centre_square,
    face_square,
    find_faces,
    frame,
)

from .conftest import report_rows, sim_args, sim_env, write_manifest

#: The centre of the face in ``skimage.data.astronaut()``: the cascade's box (177, 66, 97, 97),
#: checked by eye (brows to chin, between the ears).
ASTRONAUT_FACE = (225.5, 114.5)
TOLERANCE = 0.10  #: the issue's "within 10% of the crop's centre"


def needs(module: str) -> Any:
    """``module``, imported; else skip — or, in CI (ZOOM_BATCH_CI set), fail."""
    try:
        return importlib.import_module(module)
    except ImportError:
        reason = f"{module} is not installed (pip install '.[test]')"
        if os.environ.get("ZOOM_BATCH_CI"):
            pytest.fail(f"CI must run this test, but {reason}")
        pytest.skip(reason)


@pytest.fixture
def detector() -> None:
    """The face detector and scikit-image's photographs, or a skip saying which is missing."""
    needs("cv2")
    needs("skimage.data")


@functools.cache
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


@functools.cache
def lfw(index: int) -> Image.Image:
    """One of scikit-image's 100 LFW portraits (25x25 grey, tightly cropped), as RGB."""
    import numpy
    from skimage import data

    return Image.fromarray((data.lfw_subset()[index] * 255).astype(numpy.uint8)).convert("RGB")


def backdrop(size: tuple[int, int]) -> Image.Image:
    """A studio backdrop: a vertical gradient, as behind most staff photos."""
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(
        Image.new("RGB", size, (190, 200, 210)), Image.new("RGB", size, (90, 100, 120)), mask
    )


def placed(
    size: tuple[int, int], scale: float, at: tuple[float, float]
) -> tuple[Image.Image, tuple[float, float]]:
    """The astronaut, scaled, on a ``size`` backdrop at ``at`` (shares of the room left); the
    canvas and where the face's centre is on it."""
    canvas = backdrop(size)
    photo = astronaut().resize((round(512 * scale),) * 2, Image.Resampling.BICUBIC)
    left = round((size[0] - photo.width) * at[0])
    top = round((size[1] - photo.height) * at[1])
    canvas.paste(photo, (left, top))
    return canvas, (left + ASTRONAUT_FACE[0] * scale, top + ASTRONAUT_FACE[1] * scale)


def jpeg(image: Image.Image, quality: int = 90, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, **params)
    return out.getvalue()


def cropped(data: bytes, crop: str = "face", **options: Any) -> CroppedImage:
    image = prepare_image(data, filename="photo.jpg", fit=True, crop=crop, **options)
    assert isinstance(image, CroppedImage)
    return image


def offset(
    image: CroppedImage, size: tuple[int, int], point: tuple[float, float]
) -> tuple[float, float]:
    """Where ``point`` of the upright photo lands in the square, from its centre, in sides."""
    left, top, right, bottom = image.square
    return (
        (point[0] / size[0] - left) / (right - left) - 0.5,
        (point[1] / size[1] - top) / (bottom - top) - 0.5,
    )


def sent(image: CroppedImage) -> Image.Image:
    with Image.open(io.BytesIO(image.data)) as im:
        assert im.format == "JPEG"
        return im.convert("RGB")


def assert_face_in_the_middle(
    image: CroppedImage, size: tuple[int, int], face: tuple[float, float]
) -> None:
    assert image.crop == "face"
    picture = sent(image)
    assert picture.width == picture.height  # a square
    dx, dy = offset(image, size, face)
    assert abs(dx) <= TOLERANCE and abs(dy) <= TOLERANCE, (dx, dy)
    # The head-and-shoulders framing puts the face a little above the middle.
    assert dy < 0
    # The detector, run on what would be sent, finds that one face there too.
    [box] = find_faces(picture)
    centre = (box.x + box.width / 2, box.y + box.height / 2)
    assert abs(centre[0] / picture.width - 0.5) <= TOLERANCE
    assert abs(centre[1] / picture.height - 0.5) <= TOLERANCE
    # Head and shoulders: the face is 1 / FACE_SQUARE of the side, give or take the cascade's
    # steps (its boxes grow 1.2 times a step, on the original and here).
    assert 1 / (FACE_SQUARE * 1.25) <= box.height / picture.height <= 1.25 / FACE_SQUARE


# --- a face, wherever it is in the photo ------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "scale", "at"),
    [
        ((1600, 1200), 2.0, (0.95, 0.1)),  # top right of a landscape photo
        ((1200, 1600), 1.8, (0.05, 0.9)),  # bottom left of a portrait one
        ((2000, 1000), 1.6, (0.0, 0.5)),  # at the left edge of a wide one
        ((3000, 2400), 3.0, (0.3, 0.2)),  # a camera's size: decoded at half scale first
    ],
)
def test_a_face_off_centre_ends_in_the_middle_of_the_square(
    detector: None, size: tuple[int, int], scale: float, at: tuple[float, float]
) -> None:
    canvas, face = placed(size, scale, at)
    data = jpeg(canvas)
    image = cropped(data)
    assert_face_in_the_middle(image, size, face)
    assert image.original_size == len(data)
    assert max(image.width, image.height) <= 1024


def test_the_astronaut_as_she_is(detector: None) -> None:
    image = cropped(jpeg(astronaut()))
    assert_face_in_the_middle(image, (512, 512), ASTRONAUT_FACE)
    # Room for her hair: the square reaches from near the top of the photo to her collar.
    side = image.width
    assert round(90 * FACE_SQUARE) <= side <= round(100 * FACE_SQUARE)  # her face: ~95 px
    _, top, _, bottom = image.square
    assert top * 512 < 66 - 0.5 * 97 and bottom * 512 > 66 + 1.6 * 97


@pytest.mark.parametrize(
    ("orientation", "turn"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
@pytest.mark.parametrize("large", [False, True], ids=["compliant", "over-2-MB"])
def test_a_photo_stored_sideways_is_turned_upright_before_the_face_is_looked_for(
    detector: None, orientation: int, turn: Image.Transpose, large: bool
) -> None:
    size = (1600, 1200)
    canvas, face = placed(size, 1.8, (0.8, 0.2))
    stored = canvas.transpose(turn)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = jpeg(stored, exif=exif)
    if large:  # the other path through the check: padded over Zoom's 2 MB
        comment = b"\xff\xfe\xff\xff" + b"\0" * 65533  # a COM segment of 64 KB
        data = data[:2] + comment * 32 + data[2:]
        assert len(data) > 2_000_000
    image = cropped(data)
    assert_face_in_the_middle(image, size, face)
    with Image.open(io.BytesIO(image.data)) as out:
        assert not out.getexif()  # no orientation left to apply twice, no metadata


# --- several faces, or none --------------------------------------------------------------------


def test_a_group_without_a_dominant_face_falls_back_to_the_upper_centre(detector: None) -> None:
    canvas = backdrop((1500, 800))
    for k in range(3):
        canvas.paste(lfw(k).resize((220, 220), Image.Resampling.BICUBIC), (100 + 450 * k, 250))
    image = cropped(jpeg(canvas))
    assert image.crop == "center: 3 faces"
    assert image.square == pytest.approx((350 / 1500, 0.0, 1150 / 1500, 1.0))
    assert crop_words(image.crop) == "cropped to the centre: 3 faces"


def test_a_dominant_face_wins_in_a_group(detector: None) -> None:
    size = (2000, 1200)
    canvas, face = placed(size, 2.0, (0.5, 0.3))
    for left in (60, 1800):  # two colleagues at the edges, a quarter of her face's area
        canvas.paste(
            lfw(3 if left == 60 else 4).resize((100, 100), Image.Resampling.BICUBIC), (left, 700)
        )
    image = cropped(jpeg(canvas))
    assert_face_in_the_middle(image, size, face)


@pytest.mark.parametrize("photo", ["coffee", "gradient"])
def test_a_photo_without_a_face_falls_back_to_the_upper_centre(detector: None, photo: str) -> None:
    from skimage import data

    picture = Image.fromarray(data.coffee()) if photo == "coffee" else backdrop((600, 900))
    image = cropped(jpeg(picture))
    assert image.crop == "center: no face found"
    width, height = picture.size
    side = min(width, height)
    top = (height - side) * UPPER_BIAS / height
    assert image.square == pytest.approx(
        ((width - side) / 2 / width, top, (width + side) / 2 / width, top + side / height), abs=1e-3
    )
    assert crop_words(image.crop) == "cropped to the centre: no face found"


def test_crop_center_always_cuts_the_upper_centre_square(detector: None) -> None:
    canvas, _ = placed((900, 1500), 1.5, (0.0, 1.0))  # a face at the bottom left: not followed
    image = cropped(jpeg(canvas), crop="center")
    assert image.crop == "center"
    assert image.square == pytest.approx((0.0, 0.1, 1.0, 0.7))
    assert sent(image).size == (900, 900)  # never enlarged
    assert crop_words("center") == "cropped to the centre"


# --- the usual --fit steps still apply ---------------------------------------------------------


def test_a_compliant_photo_is_cut_and_re_encoded_all_the_same() -> None:
    photo = backdrop((300, 400))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    data = jpeg(photo, exif=exif)
    plain = prepare_image(data, filename="a.jpg", fit=True)
    assert plain.data == data  # as it is: Zoom would take it
    image = cropped(data, crop="center")
    assert image.data != data and image.original_size == len(data)
    assert (image.width, image.height) == (300, 300)  # never enlarged
    with Image.open(io.BytesIO(image.data)) as out:
        assert not out.getexif() and "exif" not in out.info


def test_the_longest_edge_and_zoom_s_size_limit_still_apply() -> None:
    noise = Image.effect_noise((3000, 2000), 60).convert("RGB")
    image = cropped(jpeg(noise, quality=95), crop="center", max_edge=1600)
    assert (image.width, image.height) == (1600, 1600)
    assert len(image.data) <= 2_000_000


def test_crop_is_refused_without_fit_and_for_an_unknown_mode() -> None:
    data = jpeg(backdrop((64, 64)))
    with pytest.raises(ValueError, match="crop needs fit"):
        prepare_image(data, filename="a.jpg", crop="center")
    with pytest.raises(ValueError, match="crop must be one of none, center, face"):
        prepare_image(data, filename="a.jpg", fit=True, crop="faces")
    with pytest.raises(ValueError, match="crop needs fit"):
        LocalFiles(root=None, crop="face")


def test_a_damaged_photo_is_refused_as_without_crop() -> None:
    data = jpeg(backdrop((200, 200)))
    with pytest.raises(InvalidRow, match="damaged JPEG"):
        prepare_image(data[: len(data) // 2], filename="a.jpg", fit=True, crop="center")


# --- the framing, by the numbers ---------------------------------------------------------------


def test_the_head_and_shoulders_square() -> None:
    face = Box(400, 300, 200, 200)  # centre (500, 400)
    left, top, right, bottom = face_square((2000, 2000), face)
    side = right - left
    assert side == bottom - top == FACE_SQUARE * 200
    assert (left + right) / 2 == 500
    assert (top + bottom) / 2 == pytest.approx(400 + FACE_RAISE * side)


def test_the_square_is_moved_into_the_photo_then_shrunk_to_fit_never_past_it() -> None:
    assert face_square((1000, 800), Box(0, 0, 100, 100)) == (0, 0, 250, 250)
    assert face_square((1000, 800), Box(900, 700, 100, 100)) == (750, 550, 1000, 800)
    assert face_square((1000, 800), Box(300, 100, 500, 500)) == (150, 0, 950, 800)


@pytest.mark.parametrize(
    ("size", "box"),
    [
        ((1000, 1000), (0, 0, 1000, 1000)),
        ((1600, 1200), (200, 0, 1400, 1200)),
        ((900, 1500), (0, 150, 900, 1050)),
    ],
)
def test_the_centre_square_is_biased_toward_the_top(
    size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    assert centre_square(size) == box


@pytest.mark.parametrize(
    ("faces", "crop"),
    [
        ([], "center: no face found"),
        ([Box(10, 10, 50, 50)], "face"),
        ([Box(10, 10, 100, 100), Box(300, 10, 70, 70)], "face"),  # 2.04 times the area
        ([Box(10, 10, 100, 100), Box(300, 10, 71, 71)], "center: 2 faces"),  # 1.98 times
        ([Box(300, 10, 40, 40), Box(10, 10, 100, 100), Box(200, 200, 30, 30)], "face"),
        ([Box(0, 0, 60, 60)] * 4, "center: 4 faces"),
    ],
)
def test_a_face_wins_when_it_is_twice_the_area_of_the_next(
    monkeypatch: pytest.MonkeyPatch, faces: list[Box], crop: str
) -> None:
    monkeypatch.setattr(_faces, "find_faces", lambda image: list(faces))
    cut = frame(Image.new("RGB", (800, 600)), "face")
    assert cut.crop == crop
    if crop == "face":
        biggest = max(faces, key=lambda box: box.area)
        assert cut.box == face_square((800, 600), biggest)
    else:
        assert cut.box == centre_square((800, 600))


@pytest.mark.parametrize(
    ("crop", "words"),
    [
        ("face", "cropped around the face"),
        ("center", "cropped to the centre"),
        ("center: no face found", "cropped to the centre: no face found"),
        ("center: 3 faces", "cropped to the centre: 3 faces"),
        ("none", ""),
        (None, ""),
    ],
)
def test_how_a_message_says_it(crop: str | None, words: str) -> None:
    assert crop_words(crop) == words


# --- the detector: optional, loaded once per thread, off the event loop ------------------------


def test_the_setup_check_passes_with_the_extra_installed(detector: None) -> None:
    require_face_detector()


def test_without_the_extra_the_setup_check_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    monkeypatch.setattr(_faces, "_local", threading.local())
    with pytest.raises(ConfigError) as caught:
        require_face_detector()
    assert str(caught.value) == (
        "--crop face needs the face detector, which is not installed"
        ' — pip install "zoom-batch[faces]"'
    )
    # A library caller that skipped the check gets it as the row's refusal, not as "damaged".
    with pytest.raises(
        InvalidRow, match=r'needs the face detector — pip install "zoom-batch\[faces\]"'
    ):
        prepare_image(jpeg(backdrop((64, 64))), filename="a.jpg", fit=True, crop="face")
    # --crop center needs no detector.
    assert cropped(jpeg(backdrop((64, 80))), crop="center").crop == "center"


def test_opencv_5_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    five = types.ModuleType("cv2")
    five.__version__ = "5.0.0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cv2", five)
    monkeypatch.setitem(sys.modules, "cv2.data", None)
    monkeypatch.setattr(_faces, "_local", threading.local())
    with pytest.raises(
        ConfigError,
        match=r"OpenCV 4's face cascades, which OpenCV 5\.0\.0 does not have — pip install",
    ):
        require_face_detector()


def test_detection_is_safe_from_many_threads_at_once(detector: None) -> None:
    photos = [placed((1200, 900), 1.5, (x, 0.3))[0] for x in (0.0, 0.5, 1.0)]
    alone = [find_faces(photo) for photo in photos]
    assert all(len(found) == 1 for found in alone)
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(find_faces, photos * 4))
    assert together == alone * 4
    # One classifier per thread: a lock would have the photo pool's threads take turns.
    seen: set[int] = set()

    def classifier(_: int) -> int:
        return id(_faces._cascade())

    with ThreadPoolExecutor(max_workers=3) as pool:
        seen.update(pool.map(classifier, range(30)))
    assert 1 < len(seen) <= 3


async def test_detection_runs_in_the_photo_pool_not_on_the_event_loop(
    detector: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = _faces.find_faces

    def spy(image: Image.Image) -> list[Box]:
        threads.append(threading.current_thread().name)
        return real(image)

    monkeypatch.setattr(_faces, "find_faces", spy)
    (tmp_path / "a.jpg").write_bytes(jpeg(placed((800, 600), 1.0, (0.5, 0.5))[0]))
    photos = LocalFiles(fit=True, root=None, crop="face")
    checked = await photos.inspect(ManifestRow(1, 2, "a@example.com", "a.jpg", tmp_path / "a.jpg"))
    photos.close()
    assert crop_of(checked.facts) == "face"
    assert threads and all(name.startswith("zoom-batch-photo") for name in threads)
    assert threading.current_thread().name not in threads


# --- the photo sources and the upload job ------------------------------------------------------


def row(n: int, file: str, folder: Path) -> ManifestRow:
    return ManifestRow(n, n + 1, f"user{n}@example.com", file, folder / file)


async def test_local_files_keep_a_preview_of_what_they_cut(detector: None, tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(placed((1600, 1200), 2.0, (0.2, 0.2))[0]))
    previews = Previews()
    photos = LocalFiles(fit=True, root=None, crop="face", previews=previews)
    first = await photos.inspect(row(1, "a.jpg", tmp_path))
    again = await photos.inspect(row(2, "a.jpg", tmp_path))  # the same file: checked once
    photos.close()
    assert photos.decoded == 1
    assert crop_of(first.facts) == crop_of(again.facts) == "face"
    assert first.image is not None and isinstance(first.image, CroppedImage)
    preview = previews.get(first.facts.sha256)
    assert preview is not None and len(previews) == 1
    assert (preview.crop, preview.square) == ("face", first.image.square)
    with Image.open(io.BytesIO(preview.jpeg)) as im:
        assert (im.format, im.size) == ("JPEG", (96, 96))
    previews.close()
    assert previews.get(first.facts.sha256) is None


async def test_the_upload_job_says_how_it_cut_each_photo(detector: None, tmp_path: Path) -> None:
    from skimage import data

    (tmp_path / "face.jpg").write_bytes(jpeg(placed((1600, 1200), 2.0, (0.8, 0.2))[0]))
    (tmp_path / "cup.jpg").write_bytes(jpeg(Image.fromarray(data.coffee())))

    async def dry_run(photos: LocalFiles, *, fit: bool) -> list[tuple[str, str | None]]:
        job = UploadJob(JobContext(control=RunControl(), sender=None, state=None), photos, fit=fit)
        try:
            results = [
                await job.process(row(n, f, tmp_path))
                for n, f in enumerate(["face.jpg", "cup.jpg"], 1)
            ]
        finally:
            job.close()
        assert all(r.status is Status.VALID for r in results)
        return [(r.message, r.crop) for r in results]

    face, cup = await dry_run(LocalFiles(fit=True, root=None, crop="face"), fit=True)
    assert face[0].startswith("ready to upload; fitted from ")
    assert face[0].endswith("; cropped around the face") and face[1] == "face"
    assert cup[0].endswith("; cropped to the centre: no face found")
    assert cup[1] == "center: no face found"
    uncut = await dry_run(LocalFiles(fit=True, root=None), fit=True)
    assert [crop for _, crop in uncut] == ["none", "none"]
    assert not any("cropped" in message for message, _ in uncut)


class OneBody:
    """A fetcher that serves one body for every URL (the download path is tested elsewhere)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def fetch(self, url: str, policy: Any, **validators: Any) -> Any:
        from batch._fetch import Download

        return Download(url=url, status=200, data=self.body)


async def test_photo_urls_remember_the_crop_among_their_settings(detector: None) -> None:
    """The state store's record of a URL names the settings that made the bytes sent: a record
    made without --crop is not trusted by a run with it (and the other way round)."""
    validators = MemoryValidators()
    body = jpeg(placed((1600, 1200), 2.0, (0.5, 0.2))[0])
    photos = RemotePhotos(
        OneBody(body),
        photo_policy(allow_hosts=["hr.test"]),
        fit=True,
        crop="face",
        validators=validators,
    )  # type: ignore[arg-type]
    checked = await photos.inspect(
        ManifestRow(1, 2, "a@example.com", "https://hr.test/a.jpg", None)
    )
    photos.close()
    assert crop_of(checked.facts) == "face"
    [record] = validators.records.values()
    assert record.prepared == "fit 1024 crop face"
    assert record.sha256 == checked.facts.sha256


# --- through the CLI: these wait on the runner passing crop= (see the closing note) -------------


def crop_photos(folder: Path) -> dict[str, bytes]:
    """A portrait with a face, a photo without one and a group of three, by user."""
    from skimage import data

    group = backdrop((1500, 800))
    for k in range(3):
        group.paste(lfw(k).resize((220, 220), Image.Resampling.BICUBIC), (100 + 450 * k, 250))
    photos = {
        "ann@example.com": jpeg(placed((1600, 1200), 2.0, (0.9, 0.1))[0]),
        "bob@example.com": jpeg(Image.fromarray(data.coffee())),
        "cat@example.com": jpeg(group),
    }
    for user, body in photos.items():
        (folder / f"{user.split('@')[0]}.jpg").write_bytes(body)
    return photos


async def test_run_with_crop_face_reports_how_each_photo_was_cut(
    detector: None, tmp_path: Path, simulator: Any, cli: Callable[..., Any]
) -> None:
    photos = crop_photos(tmp_path)
    manifest = write_manifest(tmp_path / "m.csv", [(u, f"{u.split('@')[0]}.jpg") for u in photos])
    sim = await simulator(users=frozenset(photos), rate_limit=0)
    args = [
        "run",
        str(manifest),
        *sim_args(sim),
        "--fit",
        "--crop",
        "face",
        "--report",
        "r.csv",
        "--html",
        "s.html",
        "--quiet",
    ]
    outcome = await cli(args, sim_env(sim))
    assert outcome.code == 0, outcome.err
    rows = report_rows(tmp_path / "r.csv")
    assert [r["crop"] for r in rows] == ["face", "center: no face found", "center: 3 faces"]
    assert [r["message"].split("; ", 2)[-1] for r in rows] == [
        "cropped around the face",
        "cropped to the centre: no face found",
        "cropped to the centre: 3 faces",
    ]
    for r in rows:
        assert r["message"].startswith("uploaded; fitted from ")
        assert sim.received[r["user"]].sha256 == r["sha256"]
    page = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert page.count('<div class="pics cropped">') == 3
    assert page.count('<img class="thumb avatar"') == 3 and page.count('class="square"') == 3
    assert page.count('<div class="cropnote">') == 2  # the fallbacks, to look at
    # The same command again: the same bytes, so nothing is sent; without --crop they differ.
    again = await cli(args, sim_env(sim))
    assert (
        again.code == 0
        and [r["status"] for r in report_rows(tmp_path / "r.csv")] == ["skipped"] * 3
    )
    uncut = [a for a in args if a not in ("--crop", "face")]
    assert (await cli(uncut, sim_env(sim))).code == 0
    assert [r["status"] for r in report_rows(tmp_path / "r.csv")] == ["uploaded"] * 3


async def test_validate_html_previews_each_crop_before_the_run(
    detector: None, tmp_path: Path, cli: Callable[..., Any]
) -> None:
    photos = crop_photos(tmp_path)
    manifest = write_manifest(tmp_path / "m.csv", [(u, f"{u.split('@')[0]}.jpg") for u in photos])
    outcome = await cli(
        [
            "validate",
            str(manifest),
            "--fit",
            "--crop",
            "face",
            "--report",
            "v.csv",
            "--html",
            "v.html",
        ]
    )
    assert outcome.code == 0, outcome.err
    assert [r["crop"] for r in report_rows(tmp_path / "v.csv")] == [
        "face",
        "center: no face found",
        "center: 3 faces",
    ]
    page = (tmp_path / "v.html").read_text(encoding="utf-8")
    assert page.count('class="square"') == 3 and "Not checked" not in page


async def test_crop_face_without_the_detector_stops_before_any_row(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(backdrop((64, 64))))
    manifest = write_manifest(tmp_path / "m.csv", [("a@example.com", "a.jpg")])
    monkeypatch.setitem(sys.modules, "cv2", None)
    monkeypatch.setattr(_faces, "_local", threading.local())
    outcome = await cli(
        ["run", str(manifest), "--simulate", "--fit", "--crop", "face", "--report", "r.csv"]
    )
    assert outcome.code == 2
    assert outcome.err.strip().splitlines()[-1].endswith('pip install "zoom-batch[faces]"')
    assert not (tmp_path / "r.csv").exists()
    # --crop center needs no detector.
    center = await cli(
        [
            "run",
            str(manifest),
            "--simulate",
            "--fit",
            "--crop",
            "center",
            "--report",
            "r.csv",
            "--quiet",
        ]
    )
    assert center.code == 0
    assert [r["crop"] for r in report_rows(tmp_path / "r.csv")] == ["center"]
