"""``--crop``: where the face is, and the square of the photo Zoom's circle should show.

**The detector** is OpenCV 4's Haar cascade ``haarcascade_frontalface_alt2.xml``, which the
``opencv-python-headless`` 4.x wheel ships (the optional extra ``zoom-batch[faces]``): nothing
is downloaded at run time. OpenCV 5 dropped the cascades; MediaPipe's wheel ships no model.
Chosen by measurement (``bench/faces.py``, BENCHMARKS.md "Faces"): on 116 real faces from
scikit-image's data (the astronaut, 100 LFW portraits, off-centre on larger canvases, one face
dominant among three) it found 111 with no false face in 34 photos without one, at ~25 ms of
CPU per photo (~55 ms on a 12-MP photo's decode); scikit-image's LBP cascade found 94, saw two
false faces, took ~3 times the CPU, and installs larger (it needs SciPy).
It runs on a grey copy whose longest edge is :data:`DETECT_EDGE`, and looks for faces of at
least :data:`MIN_FACE` of the copy's shorter edge (smaller ones are a crowd, not a portrait).

**The framing** is head and shoulders, around the box the cascade draws (brows to chin, about
as wide as high): a square :data:`FACE_SQUARE` times the box's height a side, with the face's
centre :data:`FACE_RAISE` of the side above the square's centre — room for the hair above,
the neck and the top of the shoulders below, and the whole head inside Zoom's circle. The
square is clamped to the photo (moved, then shrunk to its shorter edge), never enlarged.

**The fallback**, with no face or several without a dominant one (at least :data:`DOMINANT`
times the area of the next): the centre square, biased toward the top (:data:`UPPER_BIAS`),
where a portrait's head is. ``--crop center`` always cuts that square.

Thread-safe: OpenCV's ``CascadeClassifier.detectMultiScale`` is not safe to call on one
classifier from two threads at once, so each thread loads its own (~15 ms, once per thread of
the photo pool); a lock would make the pool's threads take turns (bench/faces.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final, NamedTuple

from PIL import Image

from .._exceptions import ConfigError

__all__ = [
    "CENTER",
    "DETECT_EDGE",
    "DOMINANT",
    "FACE",
    "FACE_RAISE",
    "FACE_SQUARE",
    "INSTALL_FACES",
    "MIN_FACE",
    "NONE",
    "UPPER_BIAS",
    "Box",
    "Cut",
    "centre_square",
    "crop_words",
    "face_square",
    "find_faces",
    "frame",
    "require_face_detector",
]

#: ``--crop`` values (``Config.crop``), and the report's ``crop`` values that are the same word.
NONE: Final = "none"
CENTER: Final = "center"
FACE: Final = "face"

#: The square's side, in face heights: 2.2 crops at the chin-to-crown, 2.6 reaches the chest.
FACE_SQUARE: Final = 2.5
#: How far above the square's centre the face's centre sits, as a share of the side.
FACE_RAISE: Final = 0.05
#: The centre square's top, as a share of the height left over (0.5 would centre it).
UPPER_BIAS: Final = 0.25
#: A face wins among several when its area is at least this many times the next one's.
DOMINANT: Final = 2.0
#: Longest edge of the grey copy the cascade scans (bench/faces.py: at 400, 2 faces fewer of 116).
DETECT_EDGE: Final = 480
#: Smallest face looked for, as a share of the copy's shorter edge: a portrait's face is 25-40%
#: of it. The small windows cost the most: 0.10 found one face more than 0.12 (of 116), for
#: 81 ms instead of 60 per 12-MP photo; 0.15 found two fewer, in 41 ms.
MIN_FACE: Final = 0.12
#: The cascade's own smallest window, in pixels.
_WINDOW: Final = 20
#: detectMultiScale's parameters (bench/faces.py: a step of 1.1 took ~1.5 times as long and
#: found one face fewer; 5 neighbours left no false face where 3 saw one).
_SCALE_STEP: Final = 1.2
_NEIGHBOURS: Final = 5
_CASCADE: Final = "haarcascade_frontalface_alt2.xml"
#: What to run to get the detector.
INSTALL_FACES: Final = 'pip install "zoom-batch[faces]"'


class Box(NamedTuple):
    """A rectangle in a picture's pixels: left, top, width, height."""

    x: float
    y: float
    width: float
    height: float

    @property
    def area(self) -> float:
        return self.width * self.height


class Cut(NamedTuple):
    """Where to crop a picture, and what the report says about it."""

    box: tuple[int, int, int, int]  #: left, top, right, bottom (as ``Image.crop`` takes it)
    crop: str  #: the report's ``crop`` value: ``face``, ``center: no face found``, ``center``


def require_face_detector() -> None:
    """Check, before any row, that ``--crop face`` can run; :class:`ConfigError` if not.

    Loads the cascade once, so that a broken install is found here and not at the first photo.
    """
    try:
        import cv2
    except ImportError:
        raise ConfigError(
            f"--crop face needs the face detector, which is not installed — {INSTALL_FACES}"
        ) from None
    try:
        _cascade()
    except Exception:  # OpenCV 5: no CascadeClassifier, no cascades; or a damaged install
        version = getattr(cv2, "__version__", "")
        raise ConfigError(
            f"--crop face needs OpenCV 4's face cascades, which OpenCV {version} does not have"
            f" — {INSTALL_FACES} (it installs OpenCV 4)"
        ) from None


def frame(image: Image.Image, mode: str) -> Cut:
    """The square of ``image`` to keep for ``--crop mode`` (``center`` or ``face``).

    ``image`` is upright, in any mode Pillow resamples (L, RGB, RGBA, CMYK).
    """
    size = (image.width, image.height)
    if mode == CENTER:
        return Cut(centre_square(size), CENTER)
    if mode != FACE:
        raise ValueError(f"mode must be {CENTER!r} or {FACE!r}, got {mode!r}")
    faces = sorted(find_faces(image), key=lambda box: box.area, reverse=True)
    if not faces:
        return Cut(centre_square(size), f"{CENTER}: no face found")
    if len(faces) > 1 and faces[0].area < DOMINANT * faces[1].area:
        return Cut(centre_square(size), f"{CENTER}: {len(faces)} faces")
    return Cut(face_square(size, faces[0]), FACE)


def crop_words(crop: str | None) -> str:
    """How a row's message says it: ``cropped around the face``; "" for ``none`` or None."""
    if crop is None or crop == NONE:
        return ""
    if crop == FACE:
        return "cropped around the face"
    # "center" or "center: no face found": the British spelling the messages use elsewhere.
    return "cropped to the centre" + crop.removeprefix(CENTER)


def centre_square(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest square of a ``size`` picture: centred across, biased toward the top."""
    width, height = size
    side = min(width, height)
    left = (width - side) // 2
    top = round((height - side) * UPPER_BIAS)
    return left, top, left + side, top + side


def face_square(size: tuple[int, int], face: Box) -> tuple[int, int, int, int]:
    """The head-and-shoulders square around ``face`` in a ``size`` picture, inside it."""
    width, height = size
    side = min(round(face.height * FACE_SQUARE), width, height)
    centre_x = face.x + face.width / 2
    centre_y = face.y + face.height / 2 + FACE_RAISE * side
    left = min(max(0, round(centre_x - side / 2)), width - side)
    top = min(max(0, round(centre_y - side / 2)), height - side)
    return left, top, left + side, top + side


def find_faces(image: Image.Image) -> list[Box]:
    """The frontal faces the cascade finds in ``image``, in its pixels. Thread-safe.

    Raises ImportError without OpenCV (:func:`require_face_detector` says it first).
    """
    import numpy

    scale = min(1.0, DETECT_EDGE / max(image.size))
    small = image
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # reducing_gap: box-reduce first, then a bilinear pass (~3 ms from 2000x1500).
        small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    grey = numpy.asarray(small.convert("L"))
    side = max(_WINDOW, round(min(grey.shape) * MIN_FACE))
    found = _cascade().detectMultiScale(
        grey, scaleFactor=_SCALE_STEP, minNeighbors=_NEIGHBOURS, minSize=(side, side)
    )
    ratio_x, ratio_y = image.width / small.width, image.height / small.height
    return [
        Box(float(x) * ratio_x, float(y) * ratio_y, float(w) * ratio_x, float(h) * ratio_y)
        for x, y, w, h in found
    ]


_local = threading.local()


def _cascade() -> Any:
    """This thread's classifier, loaded at its first use."""
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        import cv2
        import cv2.data

        # One thread per detection: the photo pool already runs one per core, and OpenCV's
        # own threads added nothing to that (bench/faces.py), only competition.
        cv2.setNumThreads(1)
        path = Path(cv2.data.haarcascades) / _CASCADE
        if not path.is_file():
            raise OSError(f"no {_CASCADE} in {path.parent}")
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise OSError(f"{path} cannot be loaded")
        _local.cascade = cascade
    return cascade
