"""``--crop face``: which detector, how accurate, and what it costs per 12-megapixel photo.

1. **Accuracy** of the detectors a package ships with its weights (nothing may be downloaded at
   run time), on real photographs from scikit-image's wheel: the astronaut (512x512) as it is
   and off-centre on larger canvases, 100 LFW portraits (25x25 grey, enlarged, placed at
   random on gradients), ten "group shots" of three equal faces (no dominant one: the crop
   must fall back) and ten of one face twice the others' size (it must win), and 34 photos
   with no face (scikit-image's coffee, rocket, cat, coins... and LFW's non-face patches).
   A face counts as found when the verdict is that one face and its centre is within 10% of
   the photo's shorter edge of where it was placed. CPU per photo is the detection alone, on
   the grey copy of :data:`DETECT_EDGE` px.
2. **Cost per 12-MP JPEG** on one thread: ``prepare_image(fit=True)`` without a crop, with
   ``crop="center"`` and ``crop="face"`` (4000x3000, a camera's file size, the astronaut's
   face in it), and the detection alone.
3. **Sharing the detector** between the photo pool's threads: a classifier per thread (what
   ships), one under a lock, and OpenCV's own threads on or off.
4. **Throughput on every core**: ``LocalFiles`` checking the photos as a run does, no upload.
5. **The tool**: ``zoom-batch run --fit --crop face`` against the simulator in its own process,
   with pacing lifted and at Pro's 20/s (bench/fit.py's method).
6. **Install size** of each candidate's packages, as installed here.

Needs ``pip install ".[faces]" scikit-image``. Prints markdown; never asserts.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SimulatorProcess,
    compile_package,
    header,
    nproc,
    run_measured,
    sim_env,
    table,
    url_flags,
    user,
    write_manifest,
    zoom_batch,
)

from batch.photos import LocalFiles, prepare_image, require_face_detector
from batch.photos._faces import DETECT_EDGE, DOMINANT, MIN_FACE, find_faces
from batch.simulator import SimulatorOptions

Boxes = list[tuple[float, float, float, float]]
Expect = tuple[str, Any]  # ("face", (x, y)) | ("none", None) | ("many", n)
#: The astronaut's face in skimage.data.astronaut() (the cascades' box, checked by eye).
ASTRONAUT_FACE = (177.0, 66.0, 97.0, 97.0)
SIZE_12MP = (4000, 3000)


# -- the photographs -------------------------------------------------------------------------


def _gradient(size: tuple[int, int], seed: int) -> Image.Image:
    rng = random.Random(seed)
    top = tuple(rng.randrange(120, 230) for _ in range(3))
    bottom = tuple(rng.randrange(40, 160) for _ in range(3))
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, top), Image.new("RGB", size, bottom), mask)


def _studio(size: tuple[int, int]) -> Image.Image:
    """A grey-blue studio backdrop, lighter at the top."""
    mask = Image.linear_gradient("L").resize(size)
    light, dark = Image.new("RGB", size, (196, 204, 214)), Image.new("RGB", size, (96, 108, 128))
    return Image.composite(light, dark, mask)


def cases() -> list[tuple[str, Image.Image, Expect]]:
    """Named photos and what a detector should say of each."""
    import numpy
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    lfw = data.lfw_subset()
    faces = [Image.fromarray((lfw[i] * 255).astype(numpy.uint8)).convert("RGB") for i in range(100)]
    others = [
        Image.fromarray((lfw[i] * 255).astype(numpy.uint8)).convert("RGB") for i in range(100, 200)
    ]
    x, y, w, h = ASTRONAUT_FACE
    found: list[tuple[str, Image.Image, Expect]] = [
        ("astronaut", astronaut, ("face", (x + w / 2, y + h / 2)))
    ]
    placements = [
        ((1600, 1200), 1.5, 0.05, 0.1),
        ((1600, 1200), 1.0, 0.6, 0.5),
        ((1200, 1600), 1.2, 0.4, 0.05),
        ((2400, 1600), 1.0, 0.7, 0.3),
        ((900, 1200), 1.6, 0.05, 0.3),
    ]
    for i, (size, scale, across, down) in enumerate(placements):
        canvas = _gradient(size, i)
        pasted = astronaut.resize((round(512 * scale),) * 2)
        left = round((size[0] - pasted.width) * across)
        top = round((size[1] - pasted.height) * down)
        canvas.paste(pasted, (left, top))
        centre = (left + (x + w / 2) * scale, top + (y + h / 2) * scale)
        found.append((f"astronaut on {size[0]}x{size[1]}", canvas, ("face", centre)))
    rng = random.Random(1)
    for i, face in enumerate(faces):
        size = rng.choice([(600, 800), (800, 600), (1000, 1000)])
        side = rng.randrange(150, 300)
        canvas = _gradient(size, 100 + i)
        left, top = rng.randrange(0, size[0] - side), rng.randrange(0, size[1] - side)
        canvas.paste(face.resize((side, side), Image.Resampling.BICUBIC), (left, top))
        found.append((f"lfw {i}", canvas, ("face", (left + side / 2, top + side / 2))))
    for g in range(10):
        picks = rng.sample(range(100), 3)
        canvas = _gradient((1500, 800), 300 + g)
        for k, p in enumerate(picks):
            canvas.paste(
                faces[p].resize((220, 220), Image.Resampling.BICUBIC), (100 + k * 450, 250)
            )
        found.append((f"group of 3 ({g})", canvas, ("many", 3)))
        canvas = _gradient((1500, 800), 400 + g)
        canvas.paste(faces[picks[0]].resize((300, 300), Image.Resampling.BICUBIC), (600, 150))
        for left in (150, 1200):
            small = faces[picks[1 if left == 150 else 2]].resize((130, 130))
            canvas.paste(small, (left, 400))
        found.append((f"one dominant ({g})", canvas, ("face", (750, 300))))
    for name in ("coffee", "rocket", "hubble_deep_field", "retina", "chelsea", "brick", "grass"):
        found.append((name, Image.fromarray(getattr(data, name)()).convert("RGB"), ("none", None)))
    for name in ("gravel", "coins", "moon", "horse", "page", "text"):
        pixels = getattr(data, name)()
        if pixels.dtype != numpy.uint8:
            pixels = (pixels * 255).astype(numpy.uint8)
        found.append((name, Image.fromarray(pixels).convert("RGB"), ("none", None)))
    for i in range(20):
        canvas = _gradient((800, 600), 500 + i)
        for k in range(3):
            patch = others[i * 3 + k].resize((180, 180), Image.Resampling.BICUBIC)
            canvas.paste(patch, (40 + k * 250, 200))
        found.append((f"non-faces {i}", canvas, ("none", None)))
    found.append(("gradient", _gradient((1200, 900), 999), ("none", None)))
    return found


# -- the candidates ---------------------------------------------------------------------------


def _grey(image: Image.Image) -> tuple[Any, float]:
    """The grey copy the detector scans (as find_faces makes it), and its scale."""
    import numpy

    scale = min(1.0, DETECT_EDGE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return numpy.asarray(small.convert("L")), scale


def haar(file: str, step: float, neighbours: int) -> Callable[[Any], Boxes]:
    import cv2
    import cv2.data

    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / file))

    def detect(grey: Any) -> Boxes:
        side = max(20, round(min(grey.shape) * MIN_FACE))
        found = cascade.detectMultiScale(
            grey, scaleFactor=step, minNeighbors=neighbours, minSize=(side, side)
        )
        return [tuple(map(float, box)) for box in found]  # type: ignore[misc]

    return detect


def skimage_lbp(step: float) -> Callable[[Any], Boxes]:
    from skimage import data
    from skimage.feature import Cascade

    cascade = Cascade(data.lbp_frontal_face_cascade_filename())

    def detect(grey: Any) -> Boxes:
        side = max(24, round(min(grey.shape) * MIN_FACE))
        found = cascade.detect_multi_scale(
            img=grey / 255.0,
            scale_factor=step,
            step_ratio=1,
            min_size=(side, side),
            max_size=grey.shape,
            min_neighbor_number=4,
        )
        return [(d["c"], d["r"], d["width"], d["height"]) for d in found]

    return detect


def verdict(boxes: Boxes) -> Expect:
    """What --crop face makes of these faces: one (dominant) face, none, or many."""
    if not boxes:
        return ("none", None)
    ranked = sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)
    first = ranked[0]
    if len(ranked) == 1 or first[2] * first[3] >= DOMINANT * ranked[1][2] * ranked[1][3]:
        return ("face", (first[0] + first[2] / 2, first[1] + first[3] / 2))
    return ("many", len(ranked))


def score(
    detect: Callable[[Image.Image], Boxes], photos: Sequence[tuple[str, Image.Image, Expect]]
) -> tuple[dict[str, list[int]], float, list[str]]:
    """({kind: [right, total]}, CPU ms per photo, names of the misses)."""
    right: dict[str, list[int]] = {"face": [0, 0], "many": [0, 0], "none": [0, 0]}
    cpu = 0.0
    misses = []
    for name, image, (kind, where) in photos:
        started = time.thread_time()
        got, value = verdict(detect(image))
        cpu += time.thread_time() - started
        if kind == "face":
            tolerance = 0.1 * min(image.size)
            near = zip(value, where, strict=True) if got == "face" else ()
            ok = got == "face" and all(abs(a - b) <= tolerance for a, b in near)
        else:
            ok = got == kind
        right[kind][0] += ok
        right[kind][1] += 1
        if not ok:
            misses.append(name)
    return right, 1000 * cpu / len(photos), misses


def scanned(detect: Callable[[Any], Boxes]) -> Callable[[Image.Image], Boxes]:
    """A candidate run on the grey copy, its boxes in the photo's pixels."""

    def run(image: Image.Image) -> Boxes:
        grey, scale = _grey(image)
        return [(x / scale, y / scale, w / scale, h / scale) for x, y, w, h in detect(grey)]

    return run


def shipped(image: Image.Image) -> Boxes:
    return [tuple(box[:4]) for box in find_faces(image)]


def accuracy_table(quick: bool) -> str:
    photos = cases()
    candidates: list[tuple[str, Callable[[Image.Image], Boxes]]] = [
        ("**OpenCV 4 Haar alt2, step 1.2** (ships: `find_faces`)", shipped),
        ("OpenCV 4 Haar alt2, step 1.1", scanned(haar("haarcascade_frontalface_alt2.xml", 1.1, 5))),
        ("OpenCV 4 Haar alt, step 1.2", scanned(haar("haarcascade_frontalface_alt.xml", 1.2, 5))),
        (
            "OpenCV 4 Haar default, step 1.2",
            scanned(haar("haarcascade_frontalface_default.xml", 1.2, 5)),
        ),
        ("scikit-image LBP cascade, step 1.2", scanned(skimage_lbp(1.2))),
    ]
    if quick:
        candidates = candidates[:1] + candidates[-1:]
    rows = []
    for name, detect in candidates:
        right, ms, misses = score(detect, photos)
        face, many, none = (f"{right[k][0]}/{right[k][1]}" for k in ("face", "many", "none"))
        shown = ", ".join(misses[:4]) + (f" (+{len(misses) - 4})" if len(misses) > 4 else "")
        rows.append((name, face, many, none, f"{ms:.0f}", shown or "—"))
    return table(
        ["detector", "faces found", "groups left uncropped", "no false face", "CPU ms", "missed"],
        rows,
    )


# -- 12-megapixel photos ----------------------------------------------------------------------


def portrait_12mp(seed: int, *, close: bool = True) -> bytes:
    """A 4000x3000 JPEG of a camera's size (~3 MB) with the astronaut's face in it: ``close``,
    a headshot (her face a third of the height, ~1000 px: its square is over 1024 px even from
    the half-scale decode); else the whole 512-px photo enlarged off-centre (a face of ~450 px,
    a square of ~600 px from that decode)."""
    from skimage import data

    rng = random.Random(seed)
    small = Image.frombytes("RGB", (500, 375), rng.randbytes(500 * 375 * 3))
    im = small.resize(SIZE_12MP, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(1.2))
    astronaut = Image.fromarray(data.astronaut())
    if close:  # 290 px around her face, enlarged to the photo's height
        face = astronaut.crop((80, 0, 370, 290)).resize((3000, 3000), Image.Resampling.BICUBIC)
        im.paste(face, (200 + 100 * (seed % 6), 0))
    else:
        face = astronaut.resize((2400, 2400), Image.Resampling.BICUBIC)
        im.paste(face, (300 + 200 * (seed % 6), 300 + 50 * (seed % 4)))
    # Fine noise over it all, as a camera's sensor gives: the file sizes of real photos.
    im = Image.blend(im, Image.effect_noise(SIZE_12MP, 18).convert("RGB"), 0.1)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=94)  # over 2 MB, as a camera's: --fit must convert them all
    return out.getvalue()


def _cpu_ms(photos: Sequence[bytes], crop: str) -> tuple[float, set[str | None], int]:
    """CPU per photo of prepare_image on this thread, the crops made, the largest edge out."""
    crops, edge = set(), 0
    started = time.thread_time()
    for data in photos:
        image = prepare_image(data, filename="p.jpg", fit=True, crop=crop)
        crops.add(getattr(image, "crop", None))
        edge = max(edge, image.width)
    return 1000 * (time.thread_time() - started) / len(photos), crops, edge


def cost_table(close: Sequence[bytes], loose: Sequence[bytes]) -> tuple[str, dict[str, float]]:
    """CPU per photo on one thread: --fit, --fit --crop center, --fit --crop face."""
    prepare_image(close[0], filename="warm.jpg", fit=True, crop="face")  # cascade loaded
    ms: dict[str, float] = {}
    rows = []
    for label, photos in (("headshot", close), ("loosely framed", loose)):
        base = 0.0
        for crop, flags in (
            ("none", "--fit"),
            ("center", "--fit --crop center"),
            ("face", "--fit --crop face"),
        ):
            cpu, crops, edge = _cpu_ms(photos, crop)
            ms[f"{label} {crop}"] = cpu
            base = cpu if crop == "none" else base
            made = ", ".join(sorted(str(c) for c in crops if c)) or "—"
            change = "—" if crop == "none" else f"{cpu - base:+.0f}"
            rows.append((f"{label}: {flags}", f"{cpu:.0f}", change, made, f"{edge} px"))
    with Image.open(io.BytesIO(close[0])) as im:
        im.draft("RGB", (1024, 768))
        decoded = im.convert("RGB")
    started = time.thread_time()
    for _ in range(len(close)):
        find_faces(decoded)
    ms["detect"] = 1000 * (time.thread_time() - started) / len(close)
    decode = f"detection alone, on the {decoded.width}x{decoded.height} decode"
    rows.append((decode, f"{ms['detect']:.0f}", "", "", ""))
    headers = ["per 12-MP JPEG, one thread", "CPU ms", "vs --fit", "crop", "sent"]
    return table(headers, rows), ms


def sharing_table(rounds: int) -> str:
    """2 threads detecting at once: a classifier each, one under a lock, OpenCV's threads."""
    import cv2
    import cv2.data
    from skimage import data

    grey, _ = _grey(Image.fromarray(data.astronaut()).resize((1600, 1600)))
    path = str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml")
    local = threading.local()
    shared = cv2.CascadeClassifier(path)
    lock = threading.Lock()

    def own(_: int) -> None:
        if not hasattr(local, "c"):
            local.c = cv2.CascadeClassifier(path)
        local.c.detectMultiScale(grey, scaleFactor=1.2, minNeighbors=5, minSize=(48, 48))

    def locked(_: int) -> None:
        with lock:
            shared.detectMultiScale(grey, scaleFactor=1.2, minNeighbors=5, minSize=(48, 48))

    threads = nproc()
    rows = []
    for label, work, cv_threads in (
        ("a classifier per thread, OpenCV threads off (ships)", own, 1),
        ("a classifier per thread, OpenCV threads on", own, cv2.getNumberOfCPUs()),
        ("one classifier under a lock, OpenCV threads off", locked, 1),
        ("one classifier under a lock, OpenCV threads on", locked, cv2.getNumberOfCPUs()),
    ):
        cv2.setNumThreads(cv_threads)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(work, range(threads)))  # warm: classifiers loaded
            started, cpu = time.perf_counter(), time.process_time()
            list(pool.map(work, range(rounds)))
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows.append((label, f"{rounds / wall:.0f}", f"{1000 * cpu / rounds:.1f}"))
    cv2.setNumThreads(1)
    load = time.perf_counter()
    cv2.CascadeClassifier(path)
    loaded = 1000 * (time.perf_counter() - load)
    note = f"\n\nLoading a classifier: {loaded:.0f} ms (once per thread of the photo pool)."
    return (
        table(
            [f"{threads} threads, {grey.shape[1]}x{grey.shape[0]} grey", "detections/s", "CPU ms"],
            rows,
        )
        + note
    )


async def _check_all(folder: Path, names: Sequence[str], crop: str) -> float:
    from batch._models import ManifestRow

    photos = LocalFiles(fit=True, root=None, crop=crop)
    rows = [ManifestRow(i, i + 1, user(i), n, folder / n) for i, n in enumerate(names)]
    started = time.perf_counter()
    import asyncio

    await asyncio.gather(*(photos.inspect(row) for row in rows))
    photos.close()
    return len(rows) / (time.perf_counter() - started)


def pool_table(folder: Path, names: Sequence[str]) -> tuple[str, dict[str, float]]:
    import asyncio

    speeds = {crop: asyncio.run(_check_all(folder, names, crop)) for crop in ("none", "face")}
    rows = [
        ("--fit", f"{speeds['none']:.1f}"),
        ("--fit --crop face", f"{speeds['face']:.1f}"),
    ]
    return table([f"LocalFiles on {nproc()} cores, no upload", "photos/s"], rows), speeds


def tool_runs(folder: Path, manifest: Path) -> tuple[str, bool]:
    """``zoom-batch run --fit`` with and without ``--crop face``, in turn on the same photos."""
    rows = []
    wired = True
    for label, limit, flags, crop in (
        ("--fit, pacing lifted", 0.0, ["--rate", "1000"], []),
        ("--fit --crop face, pacing lifted", 0.0, ["--rate", "1000"], ["--crop", "face"]),
        ("--fit --crop face, Pro 20/s", 20.0, ["--plan", "pro"], ["--crop", "face"]),
    ):
        report = folder / "r.csv"
        with SimulatorProcess(SimulatorOptions(rate_limit=limit)) as sim:
            argv = [*zoom_batch(), "run", str(manifest), "--fit", *crop, *url_flags(sim.base_url)]
            argv += [*flags, "--no-state", "--quiet", "--report", str(report)]
            measured = run_measured(argv, env=sim_env())
        lines = report.read_text(encoding="utf-8-sig").splitlines()[1:] if report.exists() else []
        if crop:
            wired = wired and bool(lines) and all(",face," in line for line in lines)
        speed = len(lines) / measured.wall
        against = f"{speed / (limit * 0.97):.2f} of the pace" if limit else ""
        cpu = f"{1000 * measured.cpu / max(1, len(lines)):.0f}"
        rss = f"{measured.max_rss_mb:.0f} MB"
        rows.append((label, f"{speed:.1f}", against, cpu, rss, measured.returncode))
    headers = ["zoom-batch run", "uploads/s", "against", "client CPU ms/photo", "peak RSS", "exit"]
    return table(headers, rows), wired


def install_table() -> str:
    def size(*names: str) -> tuple[float, list[str]]:
        total, found = 0, []
        for name in names:
            try:
                dist = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                continue
            found.append(f"{name} {dist.version}")
            for file in dist.files or ():
                path = Path(str(dist.locate_file(file)))
                if path.is_file():
                    total += path.stat().st_size
        return total / 1e6, found

    opencv, opencv_names = size("opencv-python-headless", "numpy")
    skimage, skimage_names = size(
        "scikit-image", "numpy", "scipy", "networkx", "imageio", "tifffile", "lazy-loader"
    )
    rows = [
        ("OpenCV 4 headless", f"{opencv:.0f} MB", ", ".join(opencv_names)),
        ("scikit-image", f"{skimage:.0f} MB", ", ".join(skimage_names)),
    ]
    return table(["candidate", "installed", "packages (Pillow not counted)"], rows)


def write_sheet_samples(folder: Path) -> Path:
    """The six photos of ``docs/contact-sheet.png`` and their manifest; returns the manifest.

    Then: ``zoom-batch validate DIR/m.csv --fit --crop face --html sheet.html`` and a headless
    Chromium screenshot of the page (1100x660), quantized to 256 colours.
    """
    import numpy
    from skimage import data

    photos = folder / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    astronaut = Image.fromarray(data.astronaut())
    off = _studio((1800, 1200))
    off.paste(astronaut.resize((900, 900)), (860, 240))
    off.save(photos / "offcentre.jpg", quality=90)
    tall = _studio((900, 1200))
    tall.paste(astronaut.resize((800, 800)), (50, 60))
    tall.save(photos / "portrait.jpg", quality=90)
    side = _studio((1600, 1200))
    side.paste(astronaut.resize((800, 800)), (100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: the camera was held upright
    side.transpose(Image.Transpose.ROTATE_90).save(photos / "sideways.jpg", quality=90, exif=exif)
    Image.fromarray(data.coffee()).save(photos / "coffee.jpg", quality=90)
    lfw = data.lfw_subset()
    group = _studio((1500, 800))
    for k in range(3):
        face = Image.fromarray((lfw[k + 5] * 255).astype(numpy.uint8)).convert("RGB")
        group.paste(face.resize((240, 240), Image.Resampling.BICUBIC), (90 + 460 * k, 240))
    group.save(photos / "group.jpg", quality=90)
    Image.fromarray(data.camera()).convert("RGB").save(photos / "cameraman.jpg", quality=90)
    rows = [
        ("astro", "offcentre", "Astronaut off-centre"),
        ("portrait", "portrait", "Astronaut in a 3:4 portrait"),
        ("sideways", "sideways", "Turned by EXIF"),
        ("coffee", "coffee", "A coffee cup"),
        ("group", "group", "Three colleagues"),
        ("camera", "cameraman", "Cameraman in profile"),
    ]
    manifest = folder / "m.csv"
    lines = [f"{u}@example.com,photos/{f}.jpg,{n}\n" for u, f, n in rows]
    manifest.write_text("email,file,name\n" + "".join(lines), encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos, two candidates")
    parser.add_argument("--photos", type=int, default=None, help="12-MP photos (default 60)")
    parser.add_argument("--no-run", action="store_true", help="skip the zoom-batch runs")
    parser.add_argument(
        "--sheet-samples", type=Path, metavar="DIR", help="write docs/contact-sheet.png's photos"
    )
    args = parser.parse_args()
    if args.sheet_samples:
        print(write_sheet_samples(args.sheet_samples))
        return
    require_face_detector()
    count = args.photos or (12 if args.quick else 60)
    compile_package()
    print(header("--crop face: the detector, and its cost on 12-megapixel photos"))
    print("Accuracy on scikit-image's photographs (see the script's docstring):\n")
    print(accuracy_table(args.quick))
    print()
    distinct = 3 if args.quick else 6
    photos = [portrait_12mp(seed) for seed in range(distinct)]
    loose = [portrait_12mp(seed, close=False) for seed in range(distinct)]
    cost, ms = cost_table(photos, loose)
    print(cost)
    print()
    print(sharing_table(20 if args.quick else 60))
    print()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = []
        for i in range(count):
            name = f"p{i:04d}.jpg"
            (folder / name).write_bytes(photos[i % len(photos)])
            names.append(name)
        pool, speeds = pool_table(folder, names)
        print(pool)
        print()
        if not args.no_run:
            manifest = write_manifest(folder / "m.csv", ((user(i), n) for i, n in enumerate(names)))
            runs, wired = tool_runs(folder, manifest)
            print(runs)
            if not wired:
                print(
                    "\n(The run did not crop: the runner does not pass --crop to the photos yet.)"
                )
            print()
    per_photo, fit_only = ms["headshot face"], ms["headshot none"]
    print(
        f"Headshots: on {nproc()} cores the check's ceiling is ~{nproc() * 1000 / per_photo:.1f}"
        f" photos/s with --crop face ({per_photo:.0f} ms of CPU each), against"
        f" ~{nproc() * 1000 / fit_only:.1f}/s for --fit alone; holding 20/s needs"
        f" {20 * per_photo / 1000:.1f} cores for the check alone."
        f" LocalFiles measured {speeds['face']:.1f} photos/s.\n"
    )
    print(install_table())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
