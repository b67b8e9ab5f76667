"""Bad input never breaks a run: every row is checked before any request, through the real CLI.

A corpus of broken rows goes through ``zoom-batch run`` (against the in-process simulator),
``run --dry-run`` and ``validate`` once each; every case is then asserted on its own. Broken
manifests stop the run before any request with one line on stderr. ``--root`` keeps files
inside a folder, ``--fit`` converts what Zoom would refuse, and property-based tests feed
arbitrary bytes as manifests and photos.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageDraw

from batch import Simulator, SimulatorOptions
from batch._cli import main
from batch._exceptions import InvalidRow
from batch._report import COLUMNS
from batch.photos import MAX_UPLOAD_BYTES, prepare_image

from .conftest import ROOT, make_jpeg, make_png, sha256, sim_args, sim_env

MB = 1_000_000  # decimal, as the messages count (and Zoom's "2M")
NOT_FOUND = " — check the file name (a relative path starts at the manifest's folder)"
CONVERT = "; Zoom accepts JPEG or PNG — convert it or run with --fit"
DAMAGED = " — export the photo again"
OUTSIDE = (
    " is outside the allowed folder {root} (--root)"
    " — move the photo into that folder or fix the path"
)
DUPLICATE = (
    "duplicate of row {row} (same user) — only the first usable row for a user is used;"
    " remove this row or fix its user"
)
NOT_A_USER = " is not an email address, a Zoom user ID or 'me' — fix the user cell"
NO_USER = "no user on this row — add the person's email address"
NO_FILE = "no file on this row — add the photo's file name"


# -- pictures ----------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def picture(size: tuple[int, int] = (48, 36), mode: str = "RGB") -> Image.Image:
    """Blue, with a red band along the top."""
    image = Image.new("RGB", size, (30, 90, 200))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] - 1, size[1] // 4), fill=(255, 0, 0))
    return image.convert(mode)


def heic() -> bytes | None:
    try:
        import pillow_heif
    except ImportError:
        return None
    out = io.BytesIO()
    pillow_heif.from_pillow(picture()).save(out, quality=80)  # without registering an opener
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few bytes of PNG that claim ``width`` x ``height`` pixels: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def bad_huffman(data: bytes) -> bytes:
    """Claim 3 one-bit codes in the first Huffman table: more than one bit can hold."""
    at = data.index(b"\xff\xc4") + 5
    return data[:at] + b"\x03" + data[at + 1 :]


def bad_png_crc(data: bytes) -> bytes:
    at = data.index(b"IDAT") + 8
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1 :]


JPEG = make_jpeg(1)
PNG = make_png(2)
HEIC = heic()


# -- the row corpus ----------------------------------------------------------------------------


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def symlink(target: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)

    return make


def holding(content: bytes) -> Callable[[Path], None]:
    return lambda path: write(path, content)


@dataclass(frozen=True)
class RowCase:
    """One manifest row: the cells as written, how to make its file, what the report says."""

    id: str
    user: str
    file: str
    #: "" for a row that must upload; else the exact message ({root}: the --root folder).
    message: str
    make: Callable[[Path], None] | None = None  #: called with the path the file cell names

    @property
    def valid(self) -> bool:
        return not self.message


def _cases() -> list[RowCase]:
    ok = holding(JPEG)
    cases = [
        # users
        RowCase("empty-user", "", "photos/u1.jpg", NO_USER, holding(make_jpeg(11))),
        RowCase("spaces-only-user", "   ", "photos/u2.jpg", NO_USER, holding(make_jpeg(12))),
        RowCase(
            "email-without-domain",
            "jane@",
            "photos/u3.jpg",
            "'jane@' is not a valid email address: There must be something after the @-sign"
            " — fix the user cell",
            ok,
        ),
        RowCase(
            "email-with-two-at",
            "jane@@example.com",
            "photos/u3.jpg",
            "'jane@@example.com' is not a valid email address: The part after the @-sign"
            " contains invalid characters: '@' — fix the user cell",
        ),
        RowCase(
            "email-with-two-at-apart",
            "jane@doe@example.com",
            "photos/u3.jpg",
            "'jane@doe@example.com' is not a valid email address: The part after the @-sign"
            " contains invalid characters: '@' — fix the user cell",
        ),
        RowCase(
            "email-dotless-domain",
            "jane@localhost",
            "photos/u3.jpg",
            "'jane@localhost' is not a valid email address: The part after the @-sign is not"
            " valid. It should have a period — fix the user cell",
        ),
        RowCase(
            "email-with-space",
            "jane doe@example.com",
            "photos/u3.jpg",
            "'jane doe@example.com' is not a valid email address: The email address contains"
            " invalid characters before the @-sign: SPACE — fix the user cell",
        ),
        RowCase(
            "email-with-display-name",
            "Jane <jane@example.com>",
            "photos/u3.jpg",
            "'Jane <jane@example.com>' is not a valid email address: A display name and angle"
            " brackets around the email address are not permitted here — fix the user cell",
        ),
        RowCase("user-id-with-space", "john smith", "photos/u3.jpg", "'john smith'" + NOT_A_USER),
        RowCase("user-id-too-short", "abc12", "photos/u3.jpg", "'abc12'" + NOT_A_USER),
        RowCase(
            "user-is-a-formula",
            '=HYPERLINK("x")',
            "photos/u3.jpg",
            "'=HYPERLINK(\"x\")'" + NOT_A_USER,
        ),
        RowCase("me", "me", "photos/me.jpg", "", holding(make_jpeg(13))),
        RowCase("user-id", "KDcuGIm1QgePTO8WbOqwIQ", "photos/id.png", "", holding(make_png(14))),
        # A user ID is case-sensitive: this one is another user, not a duplicate.
        RowCase("user-id-other-case", "kdcuGIm1QgePTO8WbOqwIQ", "photos/id2.jpg", "", ok),
        RowCase("duplicate-first", "dup@example.com", "photos/dup.jpg", "", holding(make_jpeg(15))),
        RowCase(
            "duplicate-case-and-spaces",
            "  DUP@Example.COM  ",
            "photos/dup.jpg",
            DUPLICATE.format(row="{duplicate-first}"),
        ),
        RowCase("duplicate-of-me", " Me ", "photos/me.jpg", DUPLICATE.format(row="{me}")),
        # files
        RowCase(
            "missing-file",
            "missing@example.com",
            "photos/missing.jpg",
            "file not found: photos/missing.jpg" + NOT_FOUND,
        ),
        RowCase("empty-file-cell", "nofile@example.com", "", NO_FILE),
        RowCase("spaces-only-file-cell", "nofile2@example.com", "   ", NO_FILE),
        RowCase(
            "directory-as-file",
            "dir@example.com",
            "photos/folder.jpg",
            "file is a folder, not a photo: photos/folder.jpg — name the photo file itself",
            lambda path: path.mkdir(parents=True),
        ),
        RowCase(
            "named-pipe",
            "pipe@example.com",
            "photos/pipe.jpg",
            "file is not a regular file (a device, pipe or socket): photos/pipe.jpg"
            " — name the photo file itself",
            lambda path: os.mkfifo(path),
        ),
        RowCase(
            "file-inside-a-file",
            "under@example.com",
            "photos/u1.jpg/x.jpg",
            "file not found: photos/u1.jpg/x.jpg" + NOT_FOUND,
        ),
        RowCase(
            "broken-symlink",
            "broken@example.com",
            "photos/broken.jpg",
            "file not found: photos/broken.jpg" + NOT_FOUND,
            symlink("nowhere.jpg"),
        ),
        RowCase(
            "symlink-loop",
            "loop@example.com",
            "photos/loop.jpg",
            "file cannot be opened: photos/loop.jpg (Too many levels of symbolic links)"
            " — check its name",
            symlink("loop.jpg"),
        ),
        RowCase(
            "name-too-long",
            "long@example.com",
            "photos/" + "x" * 300 + ".jpg",
            f"file cannot be opened: photos/{'x' * 300}.jpg (File name too long) — check its name",
        ),
        RowCase(
            "empty-file",
            "empty@example.com",
            "photos/empty.jpg",
            "file is empty (0 bytes) — export the photo again",
            holding(b""),
        ),
        RowCase(
            "gif",
            "gif@example.com",
            "photos/gif.jpg",
            "file is a GIF image" + CONVERT,
            holding(encode(picture(), "GIF")),
        ),
        RowCase(
            "webp",
            "webp@example.com",
            "photos/webp.jpg",
            "file is a WebP image" + CONVERT,
            holding(encode(picture(), "WEBP")),
        ),
        RowCase(
            "bmp",
            "bmp@example.com",
            "photos/bmp.png",
            "file is a BMP image" + CONVERT,
            holding(encode(picture(), "BMP")),
        ),
        RowCase(
            "tiff",
            "tiff@example.com",
            "photos/tiff.jpg",
            "file is a TIFF image" + CONVERT,
            holding(encode(picture(), "TIFF")),
        ),
        RowCase(
            "html-named-jpg",
            "html@example.com",
            "photos/html.jpg",
            "file is a web page (HTML), not a picture — download the photo itself",
            holding(b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n"),
        ),
        RowCase(
            "pdf",
            "pdf@example.com",
            "photos/pdf.jpg",
            "file is a PDF document, not a picture — export the photo as JPEG or PNG",
            holding(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
        ),
        RowCase(
            "svg",
            "svg@example.com",
            "photos/svg.png",
            "file is an SVG drawing, not a picture — export it as PNG or JPEG",
            holding(b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'),
        ),
        RowCase(
            "random-bytes",
            "random@example.com",
            "photos/random.jpg",
            "file is not a picture (its content matches no image format)"
            " — export the photo as JPEG or PNG",
            holding(random.Random(7).randbytes(4096)),
        ),
        RowCase(
            "text-file",
            "text@example.com",
            "photos/notes.png",
            "file is not a picture (its content matches no image format)"
            " — export the photo as JPEG or PNG",
            holding(b"Jane's photo is on the shared drive\n"),
        ),
        RowCase(
            "truncated-jpeg",
            "cutjpeg@example.com",
            "photos/cut.jpg",
            "file is a damaged JPEG (image file is truncated)" + DAMAGED,
            holding(JPEG[: len(JPEG) // 2]),
        ),
        RowCase(
            "truncated-png",
            "cutpng@example.com",
            "photos/cut.png",
            "file is a damaged PNG (image file is truncated)" + DAMAGED,
            holding(PNG[: len(PNG) - 30]),
        ),
        RowCase(
            "zero-filled-tail-jpeg",
            "zeros@example.com",
            "photos/zeros.jpg",
            "file is a damaged JPEG (its data is corrupted)" + DAMAGED,
            holding(JPEG[: len(JPEG) // 2] + bytes(len(JPEG) - len(JPEG) // 2)),
        ),
        RowCase(
            "jpeg-bad-huffman-table",
            "huffman@example.com",
            "photos/huffman.jpg",
            "file is a damaged JPEG (its data is corrupted)" + DAMAGED,
            holding(bad_huffman(JPEG)),
        ),
        RowCase(
            "png-bad-checksum",
            "crc@example.com",
            "photos/crc.png",
            "file is a damaged PNG (its data is corrupted)" + DAMAGED,
            holding(bad_png_crc(PNG)),
        ),
        RowCase(
            "over-2-mb-jpeg",
            "big@example.com",
            "photos/big.jpg",
            "file is 3.0 MB; Zoom accepts at most 2 MB — shrink it or run with --fit",
            holding(JPEG + bytes(3 * MB - len(JPEG))),
        ),
        RowCase(
            "decompression-bomb",
            "bomb@example.com",
            "photos/bomb.png",
            "file is a PNG image of 10,000 x 10,000 pixels (100 megapixels), too large to"
            " process safely — export it smaller (at most 89 megapixels)",
            holding(png_claiming(10_000, 10_000)),
        ),
        RowCase(
            "multi-line-user",
            "jane\nsmith@example.com",
            "photos/u3.jpg",
            "'jane\\nsmith@example.com' is not a valid email address: The email address"
            " contains invalid characters before the @-sign: U+000A — fix the user cell",
        ),
        RowCase(
            "multi-line-file",
            "lines@example.com",
            "photos/a\nb.jpg",
            "file not found: photos/a\\nb.jpg" + NOT_FOUND,
        ),
        # --root
        RowCase(
            "outside-root-dotdot",
            "dotdot@example.com",
            "../outside.jpg",
            "file ../outside.jpg" + OUTSIDE,
        ),
        RowCase(
            "outside-root-dotdot-inside-path",
            "dotdot2@example.com",
            "photos/../../outside.jpg",
            "file photos/../../outside.jpg" + OUTSIDE,
        ),
        RowCase(
            "outside-root-absolute",
            "absolute@example.com",
            "{outside}",
            "file {outside}" + OUTSIDE,
        ),
        RowCase(
            "symlink-escaping-root",
            "escape@example.com",
            "photos/escape.jpg",
            "file photos/escape.jpg" + OUTSIDE,
            symlink("../../outside.jpg"),
        ),
        RowCase(
            "dotdot-staying-inside-root",
            "inside@example.com",
            "photos/../photos/inside.jpg",
            "",
            holding(make_jpeg(16)),
        ),
        RowCase(
            "symlink-inside-root",
            "link@example.com",
            "photos/link.jpg",
            "",
            symlink("inside.jpg"),
        ),
        # compliant photos, whatever their names say
        RowCase("jpeg", "jpeg@example.com", "photos/ok.jpg", "", holding(make_jpeg(17))),
        RowCase("png", "png@example.com", "photos/ok.png", "", holding(make_png(18))),
        RowCase(
            "png-named-jpg", "misnamed@example.com", "photos/png.jpg", "", holding(make_png(19))
        ),
        RowCase("no-extension", "noext@example.com", "photos/jane", "", holding(make_jpeg(20))),
    ]
    if HEIC is not None:
        cases.append(
            RowCase(
                "heic",
                "heic@example.com",
                "photos/heic.jpg",
                "file is a HEIC image" + CONVERT,
                holding(HEIC),
            )
        )
    return cases


CASES = _cases()
ROW_OF = {case.id: number for number, case in enumerate(CASES, 1)}


@dataclass
class Run:
    code: int
    err: str
    rows: list[dict[str, str]]
    summary: dict[str, Any]


@dataclass
class Corpus:
    folder: Path
    outside: Path
    upload: Run
    dry_run: Run
    validate: Run
    simulator: Simulator
    files: dict[str, bytes]  #: case id -> bytes of its file, for the cases that have one
    mtimes: dict[str, int]


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ())[: len(COLUMNS)] == COLUMNS  # then the manifest's
        return list(reader)


@contextlib.contextmanager
def isolated(folder: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """What the ``cli`` fixture gives one test, for a module-scoped run."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("ZOOM_") or name == "NO_COLOR":
                patch.delenv(name)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.setenv("XDG_STATE_HOME", str(folder / "state-home"))
        patch.chdir(folder)
        yield


def run_main(args: Sequence[str], report: Path) -> Run:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main([*args, "--report", str(report)])
    rows = read_report(report) if report.exists() else []
    summary_file = report.with_suffix(".json")
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return Run(code, err.getvalue(), rows, summary)


def cell(case: RowCase, outside: Path) -> str:
    return case.file.replace("{outside}", str(outside))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The whole row corpus, run once for real, once with --dry-run, once with validate."""
    base = tmp_path_factory.mktemp("corpus")
    folder = base / "upload"  # the manifest's folder and the --root
    folder.mkdir()
    outside = base / "outside.jpg"
    outside.write_bytes(make_jpeg(99))
    files, mtimes = {}, {}
    for case in CASES:
        path = folder / cell(case, outside)
        if case.make is None:
            continue
        case.make(path)
        if path.is_file():
            files[case.id] = path.read_bytes()
            mtimes[case.id] = path.stat().st_mtime_ns
    manifest = folder / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "file"])
        writer.writerows((case.user, cell(case, outside)) for case in CASES)
    common = [str(manifest), "--root", str(folder), "--quiet"]

    async def upload() -> tuple[Run, Simulator]:
        async with Simulator(SimulatorOptions(rate_limit=0)) as sim:
            with isolated(base, sim_env(sim)):
                args = ["run", *common, *sim_args(sim), "--rate", "1000"]
                run = await asyncio.to_thread(run_main, args, base / "upload.csv")
        return run, sim

    uploaded, sim = asyncio.run(upload())
    with isolated(base):
        dry_run = run_main(["run", *common, "--dry-run"], base / "dry-run.csv")
        validate = run_main(["validate", *common], base / "validate.csv")
    return Corpus(folder, outside, uploaded, dry_run, validate, sim, files, mtimes)


def expected_message(case: RowCase, corpus: Corpus) -> str:
    text = case.message.replace("{root}", str(corpus.folder.resolve()))
    text = text.replace("{outside}", str(corpus.outside))
    for name, number in ROW_OF.items():
        text = text.replace("{" + name + "}", str(number))
    return text


def expected_line(case: RowCase) -> int:
    """The manifest line a row starts on: a quoted cell with a line break spans two."""
    before = CASES[: ROW_OF[case.id] - 1]
    return 1 + ROW_OF[case.id] + sum(c.user.count("\n") + c.file.count("\n") for c in before)


def sent_as(user: str) -> str:
    """The simulator's key for a user (emails lower-cased, ``me`` as is)."""
    user = user.strip()
    if user.lower() == "me":
        return "me"
    return user.lower() if "@" in user else user


def test_corpus_is_large_and_mixed() -> None:
    invalid = [case for case in CASES if not case.valid]
    assert len(invalid) >= 40
    assert len(MANIFEST_CASES) + len(ROW_LEVEL_CASES) >= 30
    assert len(CASES) - len(invalid) >= 8
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_row_case(case: RowCase, corpus: Corpus) -> None:
    number = ROW_OF[case.id]
    row = corpus.upload.rows[number - 1]
    assert row["row"] == str(number)
    assert row["line"] == str(expected_line(case))
    received = corpus.simulator.received
    if case.valid:
        data = corpus.files[case.id]
        assert (row["status"], row["message"], row["attempts"], row["http_status"]) == (
            "uploaded",
            "uploaded",
            "1",
            "201",
        )
        assert (row["bytes"], row["sha256"]) == (str(len(data)), sha256(data))
        got = received[sent_as(case.user)]
        assert (got.sha256, got.count) == (sha256(data), 1)
        assert got.content_type == ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
    else:
        message = expected_message(case, corpus)
        assert (row["status"], row["message"]) == ("invalid", message)
        sent = (row["attempts"], row["http_status"], row["bytes"], row["sha256"])
        assert sent == ("0", "", "", "")
        if not row["message"].startswith("duplicate of row"):
            assert case.user.strip() == "" or sent_as(case.user) not in received
    # The dry runs say the same, with "valid" for what would be uploaded.
    for dry in (corpus.dry_run, corpus.validate):
        again = dry.rows[number - 1]
        if case.valid:
            assert (again["status"], again["message"]) == ("valid", "ready to upload")
            assert (again["bytes"], again["sha256"]) == (row["bytes"], row["sha256"])
        else:
            assert (again["status"], again["message"]) == ("invalid", row["message"])
        assert again["attempts"] == "0"
    # Checking a file never changes it.
    if case.id in corpus.files:
        path = corpus.folder / cell(case, corpus.outside)
        assert path.read_bytes() == corpus.files[case.id]
        assert path.stat().st_mtime_ns == corpus.mtimes[case.id]


def test_invalid_rows_never_reach_zoom(corpus: Corpus) -> None:
    valid = [case for case in CASES if case.valid]
    stats = corpus.simulator.stats
    assert corpus.upload.code == 1, corpus.upload.err
    assert len(corpus.upload.rows) == len(CASES)
    assert stats.picture_requests == stats.uploads == len(valid)
    assert sorted(corpus.simulator.received) == sorted(sent_as(case.user) for case in valid)
    assert corpus.upload.summary["requests_sent"] == len(valid)
    assert corpus.upload.summary["counts"]["uploaded"] == len(valid)
    assert corpus.upload.summary["counts"]["invalid"] == len(CASES) - len(valid)
    assert "Traceback" not in corpus.upload.err


def test_dry_run_and_validate_count_and_forecast(corpus: Corpus) -> None:
    valid = sum(case.valid for case in CASES)
    invalid = len(CASES) - valid
    for run in (corpus.dry_run, corpus.validate):
        assert run.code == 1
        assert run.summary["requests_sent"] == 0
        assert run.summary["counts"]["valid"] == valid
        assert run.summary["counts"]["invalid"] == invalid
        lines = run.err.splitlines()
        width = len(str(len(CASES)))
        for label, count in (("invalid", invalid), ("valid", valid), ("total", len(CASES))):
            assert f"{label:<14}{count:>{width}}" in lines
        assert lines[-1] == (
            f"dry run: {valid} valid rows ≈ 1 s at 19.4/s on a Pro account;"
            f" {invalid} invalid, see report"
        )
    drop = ("duration_ms", "finished_at")
    assert [{k: v for k, v in r.items() if k not in drop} for r in corpus.dry_run.rows] == [
        {k: v for k, v in r.items() if k not in drop} for r in corpus.validate.rows
    ]


ADVICE = re.compile(r" — \S.*[a-z]")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> bool:
    """No line break nor other control character."""
    return not CONTROL.search(text)


def test_every_invalid_message_is_one_plain_line_that_says_what_to_do(corpus: Corpus) -> None:
    messages = [r["message"] for r in corpus.upload.rows if r["status"] == "invalid"]
    assert len(messages) == sum(not case.valid for case in CASES)
    for message in messages:
        assert one_line(message), message
        assert len(message) < 400, message
        assert ADVICE.search(message), f"no advice after a dash: {message}"
        assert not re.search(r"Error\b|errno|Traceback|0x[0-9a-f]{6}", message), message


# -- me and ME ---------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["me", "ME", " Me "])
async def test_me_in_any_case_is_the_token_owner(
    user: str, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    (tmp_path / "a.jpg").write_bytes(JPEG)
    (tmp_path / "m.csv").write_text(f"user,photo\n{user},a.jpg\n", encoding="utf-8")
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", "m.csv", *sim_args(sim), "--report", "r.csv", "--no-state"], sim_env(sim)
    )
    assert outcome.code == 0, outcome.err
    (row,) = read_report(tmp_path / "r.csv")
    assert (row["user"], row["status"]) == (user.strip(), "uploaded")
    assert list(sim.received) == ["me"]


async def spawn_run(args: Sequence[str], cwd: Path, limit: float) -> int | None:
    """``zoom-batch`` as its own process, killed after ``limit`` seconds (then None)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")}
    env.update(PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(cwd / "state-home"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batch",
        *args,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return await asyncio.wait_for(process.wait(), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None


async def test_a_photo_swapped_for_a_named_pipe_does_not_hang_the_next_run(
    tmp_path: Path,
) -> None:
    """Skipping unchanged photos reads them; a pipe would block the event loop for good."""
    photo = tmp_path / "a.jpg"
    photo.write_bytes(JPEG)
    (tmp_path / "m.csv").write_text("email,file\njane@example.com,a.jpg\n")
    args = ["run", "m.csv", "--simulate", "--quiet", "--report"]
    assert await spawn_run([*args, "1.csv"], tmp_path, 60) == 0
    photo.unlink()
    os.mkfifo(photo)
    assert await spawn_run([*args, "2.csv"], tmp_path, 30) == 1
    (row,) = read_report(tmp_path / "2.csv")
    assert (row["status"], row["message"]) == (
        "invalid",
        "file is not a regular file (a device, pipe or socket): a.jpg — name the photo file itself",
    )


# -- manifest-level problems -------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestCase:
    id: str
    name: str
    content: bytes | None  #: None: do not create it
    message: str  #: after "zoom-batch: {path}: "
    options: tuple[str, ...] = ()


CSV_NEEDS_UTF8 = "not UTF-8 text — save the manifest as UTF-8 (in Excel: CSV UTF-8) and try again"
SHAPE = " — expected a list of mappings with 'email' and 'file' keys, or a mapping of user: file"
USERS_ACCEPTED = (
    "accepted: email, e-mail, email address, mail, user, user_id, userId, login,"
    " userPrincipalName, upn (or name it with --user-column)"
)
FILES_ACCEPTED = (
    "accepted: file, photo, picture, path, image, photo file, photo path, file name, foto, bild"
    " (or name it with --file-column)"
)
FORMATS_HINT = " — name it .csv, .yaml, .yml, .xlsx or .xlsm, or pass --format csv|yaml|xlsx"

MANIFEST_CASES = [
    ManifestCase("missing", "m.csv", None, "manifest not found"),
    ManifestCase("empty", "m.csv", b"", "the manifest is empty"),
    ManifestCase("blank-lines-only", "m.csv", b"\n \r\n\t\n", "the manifest is empty"),
    ManifestCase("bom-only", "m.csv", b"\xef\xbb\xbf\n", "the manifest is empty"),
    ManifestCase(
        "binary",
        "m.csv",
        make_png(1),
        "not a text file (it holds binary data) — export it as CSV",
    ),
    ManifestCase(
        "csv-with-nul-byte",
        "m.csv",
        b"email,file\na@example.com,a.jpg\x00\n",
        "not a text file (it holds binary data) — export it as CSV",
    ),
    ManifestCase(
        "latin-1",
        "m.csv",
        "email,file\na@example.com,a.jpg\nb@example.com,café.jpg\n".encode("latin-1"),
        "line 3: " + CSV_NEEDS_UTF8,
    ),
    ManifestCase(
        "latin-1-far-down",
        "m.csv",
        b"email,file\n" + b"a@example.com,a.jpg\n" * 5000 + "é,é\n".encode("latin-1"),
        "line 5002: " + CSV_NEEDS_UTF8,
    ),
    ManifestCase(
        "utf-16",
        "m.csv",
        "email,file\na@example.com,a.jpg\n".encode("utf-16"),
        "line 1: not UTF-8 text (it is UTF-16) — save the manifest as UTF-8"
        " (in Excel: CSV UTF-8) and try again",
    ),
    ManifestCase(
        "yaml-latin-1",
        "m.yaml",
        "a@example.com: café.jpg\n".encode("latin-1"),
        "line 1: " + CSV_NEEDS_UTF8,
    ),
    ManifestCase(
        "no-user-column",
        "m.csv",
        b"name,photo\nJane,a.jpg\n",
        "line 1: no user column — found columns: name, photo; " + USERS_ACCEPTED,
    ),
    ManifestCase(
        "no-file-column",
        "m.csv",
        b"Email,Name\na@example.com,Jane\n",
        "line 1: no file column — found columns: Email, Name; " + FILES_ACCEPTED,
    ),
    ManifestCase(
        "bad-header-after-blank-lines",
        "m.csv",
        b"\n,,\nname,photo\nJane,a.jpg\n",
        "line 3: no user column — found columns: name, photo; " + USERS_ACCEPTED,
    ),
    ManifestCase(
        "header-with-control-characters",
        "m.csv",
        b"e\x0bmail,file\na@example.com,a.jpg\n",
        "line 1: no user column — found columns: e\\x0bmail, file; " + USERS_ACCEPTED,
    ),
    ManifestCase(
        "data-row-as-header",
        "m.csv",
        b"a@example.com,a.jpg\n",
        "line 1: no user column — found columns: a@example.com, a.jpg; " + USERS_ACCEPTED,
    ),
    ManifestCase(
        "cell-over-1-mb",
        "m.csv",
        b"email,file\na@example.com," + b"x" * (1024 * 1024 + 10) + b"\n",
        "line 2: field larger than field limit (1048576)",
    ),
    ManifestCase(
        "malformed-yaml",
        "m.yaml",
        b"- email: a@example.com\n  file: a.jpg\n- email: b@example.com\n  file: [b.jpg\n",
        "line 5: malformed YAML (did not find expected ',' or ']')",
    ),
    ManifestCase(
        "yaml-tab-indent",
        "m.yaml",
        b"- email: a@example.com\n\tfile: a.jpg\n",
        "line 2: malformed YAML (found a tab character that violates indentation)",
    ),
    ManifestCase(
        "yaml-control-character",
        "m.yaml",
        b"a@example.com: a.jpg\nb@example.com: b\x01.jpg\n",
        "line 2: malformed YAML (control characters are not allowed: U+0001)"
        " — remove that character",
    ),
    ManifestCase(
        "yaml-multi-document",
        "m.yaml",
        b"a@example.com: a.jpg\n---\nb@example.com: b.jpg\n",
        "line 2: more than one YAML document" + SHAPE,
    ),
    ManifestCase(
        "yaml-single-value", "m.yaml", b"hello\n", "line 1: the manifest is a single value" + SHAPE
    ),
    ManifestCase("yaml-comments-only", "m.yaml", b"# nobody yet\n", "the manifest is empty"),
    ManifestCase(
        "unknown-extension",
        "m.txt",
        b"email,file\na@example.com,a.jpg\n",
        "cannot tell the manifest format from the extension '.txt'" + FORMATS_HINT,
    ),
    ManifestCase(
        "no-extension",
        "manifest",
        b"email,file\na@example.com,a.jpg\n",
        "cannot tell the manifest format from the extension ''" + FORMATS_HINT,
    ),
    ManifestCase(
        "format-yaml-on-a-csv",
        "m.csv",
        b"email,file\na@example.com,a.jpg\n",
        "line 1: the manifest is a single value" + SHAPE,
        ("--format", "yaml"),
    ),
    ManifestCase(
        "format-csv-on-a-yaml",
        "m.yaml",
        b"- email: a@example.com\n  file: a.jpg\n",
        "line 1: no user column — found columns: - email: a@example.com; " + USERS_ACCEPTED,
        ("--format", "csv"),
    ),
]


@pytest.mark.parametrize("case", MANIFEST_CASES, ids=[case.id for case in MANIFEST_CASES])
async def test_manifest_problem_stops_the_run_before_any_request(
    case: ManifestCase, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    path = tmp_path / case.name
    if case.content is not None:
        path.write_bytes(case.content)
    (tmp_path / "a.jpg").write_bytes(JPEG)
    sim = await simulator(rate_limit=0)
    expected = [f"zoom-batch: {case.name}: {case.message}"]
    for command in (
        ["run", case.name, *sim_args(sim)],
        ["run", case.name, "--dry-run"],
        ["validate", case.name],
    ):
        outcome = await cli([*command, *case.options], sim_env(sim))
        assert (outcome.code, outcome.err.splitlines()) == (2, expected)
        assert outcome.out == ""
    assert (sim.stats.token_requests, sim.stats.picture_requests) == (0, 0)
    assert not (tmp_path / "reports").exists()


# What stopped the run before (issue 14) and is now a row, or nothing to do: a quiet day, a
# tab-separated export, one bad YAML entry among good ones.
ROW_LEVEL_CASES = [
    ("header-only", "m.csv", b"email,file\n", 0, []),
    ("header-and-blank-rows", "m.csv", b"email,file\n,\n \n", 0, []),
    ("tab-separated", "m.csv", b"email\tfile\na@example.com\ta.jpg\n", 0, [("valid", "")]),
    (
        "yaml-list-of-strings",
        "m.yaml",
        b"- a@example.com\n- b@example.com\n",
        1,
        [
            ("invalid", "line 1: a list item is not a mapping" + SHAPE),
            ("invalid", "line 2: a list item is not a mapping" + SHAPE),
        ],
    ),
    (
        "yaml-mapping-with-list-value",
        "m.yaml",
        b"a@example.com: a.jpg\nb@example.com: [b.jpg, c.jpg]\n",
        1,
        [
            ("valid", ""),
            ("invalid", "line 2: 'b@example.com' holds a list or mapping, not text" + SHAPE),
        ],
    ),
    (
        "yaml-item-without-file",
        "m.yml",
        b"- email: a@example.com\n  file: a.jpg\n- email: b@example.com\n  name: Bo\n",
        1,
        [
            ("valid", ""),
            ("invalid", "line 3: no file key — found keys: email, name; " + FILES_ACCEPTED),
        ],
    ),
    (
        "yaml-alias",
        "m.yaml",
        b"a@example.com: &p a.jpg\nb@example.com: *p\n",
        1,
        [
            ("valid", ""),
            ("invalid", "line 2: 'b@example.com' is an alias; write the value out" + SHAPE),
        ],
    ),
    (
        "yaml-mapping-key",
        "m.yaml",
        b"? {a: b}\n: a.jpg\n",
        1,
        [("invalid", "line 1: a key is not text" + SHAPE)],
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "code", "rows"),
    [case[1:] for case in ROW_LEVEL_CASES],
    ids=[case[0] for case in ROW_LEVEL_CASES],
)
async def test_a_bad_entry_is_a_row_and_an_empty_manifest_is_nothing_to_do(
    name: str, content: bytes, code: int, rows: list[tuple[str, str]], cli: Any, tmp_path: Path
) -> None:
    (tmp_path / name).write_bytes(content)
    (tmp_path / "a.jpg").write_bytes(JPEG)
    outcome = await cli(["validate", name, "--report", "r.csv"])
    assert outcome.code == code, outcome.err
    found = [(r["status"], r["message"]) for r in read_report(tmp_path / "r.csv")]
    assert [(status, message if status == "invalid" else "") for status, message in found] == rows


async def test_directory_as_manifest(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "photos.csv").mkdir()
    outcome = await cli(["validate", "photos.csv"])
    assert (outcome.code, outcome.err) == (
        2,
        "zoom-batch: photos.csv: is a directory, not a manifest file\n",
    )


# -- --fit -------------------------------------------------------------------------------------


def human(n: int) -> str:
    """Sizes as the report's messages write them."""
    return f"{n / MB:.1f} MB" if n >= MB else f"{max(1, round(n / 1000))} KB"


def phone_photo() -> bytes:
    """2000x1500 of noise (so over 2 MB), stored sideways (EXIF orientation 6), GPS-tagged.

    A red band runs along the stored top edge: upright, it is the right edge.
    """
    noise = Image.frombytes("RGB", (2000, 1500), random.Random(6).randbytes(2000 * 1500 * 3))
    ImageDraw.Draw(noise).rectangle((0, 0, 1999, 199), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 26.0)
    return encode(noise, "JPEG", quality=95, exif=exif)


async def test_fit_sends_an_upright_small_anonymous_jpeg(
    cli: Any, simulator: Any, tmp_path: Path
) -> None:
    source = phone_photo()
    original = Image.open(io.BytesIO(source))
    assert len(source) > MAX_UPLOAD_BYTES
    assert original.getexif()[ExifTags.Base.Orientation] == 6
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    photo = tmp_path / "photos" / "IMG_0042.jpeg"
    photo.parent.mkdir()
    photo.write_bytes(source)
    mtime = photo.stat().st_mtime_ns
    (tmp_path / "m.csv").write_text("email,file\njane@example.com,photos/IMG_0042.jpeg\n")
    sim = await simulator(rate_limit=0)

    outcome = await cli(
        ["run", "m.csv", "--fit", *sim_args(sim), "--report", "r.csv", "--no-state"],
        sim_env(sim),
    )

    assert outcome.code == 0, outcome.err
    # What the pool sends is prepare_image's output; the simulator keeps its digest.
    sent = prepare_image(source, filename="IMG_0042.jpeg", fit=True)
    got = sim.received["jane@example.com"]
    assert (got.sha256, got.size, got.content_type, got.filename) == (
        sent.sha256,
        sent.size,
        "image/jpeg",
        "IMG_0042.jpg",
    )
    assert sim.stats.picture_requests == 1
    (row,) = read_report(tmp_path / "r.csv")
    assert row["status"] == "uploaded"
    assert row["message"] == f"uploaded; fitted from {human(len(source))} to {human(sent.size)}"
    assert (row["bytes"], row["original_bytes"], row["sha256"]) == (
        str(sent.size),
        str(len(source)),
        sent.sha256,
    )
    # Upright, small, and nothing of the phone's metadata left.
    image = Image.open(io.BytesIO(sent.data))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (768, 1024))
    assert sent.size <= MAX_UPLOAD_BYTES
    assert dict(image.getexif()) == {}
    assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
    assert b"PhoneMaker" not in sent.data
    right, left = image.getpixel((763, 512)), image.getpixel((4, 512))
    assert isinstance(right, tuple) and isinstance(left, tuple)
    assert right[0] > 200 and right[1] < 60 and right[2] < 60  # the band is on the right
    assert not (left[0] > 200 and left[1] < 60 and left[2] < 60)
    # The source is untouched.
    assert photo.read_bytes() == source
    assert photo.stat().st_mtime_ns == mtime


FIT_SOURCES: dict[str, bytes] = {
    "gif": encode(picture((300, 200)), "GIF"),
    "webp": encode(picture((300, 200)), "WEBP"),
    "bmp": encode(picture((300, 200)), "BMP"),
    "tiff": encode(picture((300, 200)), "TIFF"),
    "padded-jpeg-over-2-mb": JPEG + bytes(2 * MB),
}
if HEIC is not None:
    FIT_SOURCES["heic"] = HEIC


def mtimes_in(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}


async def test_fit_converts_every_kind_zoom_refuses(
    cli: Any, simulator: Any, tmp_path: Path
) -> None:
    rows = []
    for kind, content in FIT_SOURCES.items():
        (tmp_path / f"{kind}.img").write_bytes(content)
        rows.append(f"{kind}@example.com,{kind}.img")
    (tmp_path / "ok.jpg").write_bytes(JPEG)
    (tmp_path / "page.img").write_bytes(b"<html><body>nope</body></html>")
    (tmp_path / "cut.gif").write_bytes(FIT_SOURCES["gif"][:60])
    rows += ["ok@example.com,ok.jpg", "page@example.com,page.img", "cut@example.com,cut.gif"]
    (tmp_path / "m.csv").write_text("email,file\n" + "\n".join(rows) + "\n")
    mtimes = mtimes_in(tmp_path)
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", "m.csv", "--fit", *sim_args(sim), "--report", "r.csv", "--no-state"],
        sim_env(sim),
    )
    dry = await cli(["validate", "m.csv", "--fit", "--report", "v.csv"])
    assert (outcome.code, dry.code) == (1, 1)
    report = {r["user"].split("@")[0]: r for r in read_report(tmp_path / "r.csv")}
    checked = {r["user"].split("@")[0]: r for r in read_report(tmp_path / "v.csv")}
    for kind, content in FIT_SOURCES.items():
        sent = prepare_image(content, filename=f"{kind}.img", fit=True)
        fitted = f"fitted from {human(len(content))} to {human(sent.size)}"
        row = report[kind]
        assert (row["status"], row["message"]) == ("uploaded", f"uploaded; {fitted}"), kind
        assert (row["bytes"], row["original_bytes"]) == (str(sent.size), str(len(content)))
        assert sim.received[f"{kind}@example.com"].sha256 == sent.sha256 == row["sha256"]
        assert sim.received[f"{kind}@example.com"].content_type == "image/jpeg"
        assert sent.size <= MAX_UPLOAD_BYTES
        assert max(sent.width, sent.height) <= 1024
        assert (checked[kind]["status"], checked[kind]["message"]) == (
            "valid",
            f"ready to upload; {fitted}",
        )
    # A compliant photo is sent as it is, and is not "fitted".
    assert (report["ok"]["message"], report["ok"]["original_bytes"]) == ("uploaded", "")
    assert sim.received["ok@example.com"].sha256 == sha256(JPEG)
    # What is not a picture, or is broken, stays invalid with --fit.
    assert (report["page"]["status"], report["page"]["message"]) == (
        "invalid",
        "file is a web page (HTML), not a picture — download the photo itself",
    )
    assert report["cut"]["status"] == "invalid"
    assert report["cut"]["message"].startswith("file is a damaged GIF (")
    assert report["cut"]["message"].endswith(") — export the photo again")
    assert sim.stats.picture_requests == len(FIT_SOURCES) + 1
    # Sources never change.
    for kind, content in FIT_SOURCES.items():
        assert (tmp_path / f"{kind}.img").read_bytes() == content
    assert {name: t for name, t in mtimes_in(tmp_path).items() if name in mtimes} == mtimes


@pytest.mark.parametrize("fit", [False, True], ids=["as-is", "fit"])
async def test_a_photo_shared_by_many_rows_is_reported_alike_on_every_row(
    fit: bool, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    """Rows after the first reuse the cached check: their size and digest must not change."""
    shared = JPEG if not fit else FIT_SOURCES["gif"]
    (tmp_path / "team.jpg").write_bytes(shared)
    users = [f"member{i}@example.com" for i in range(40)]
    (tmp_path / "m.csv").write_text("email,file\n" + "".join(f"{u},team.jpg\n" for u in users))
    sim = await simulator(rate_limit=0)
    flags = ["--fit"] if fit else []
    outcome = await cli(
        ["run", "m.csv", *flags, *sim_args(sim), "--rate", "1000", "--report", "r.csv"],
        sim_env(sim),
    )
    # --no-state: the check itself is under test here, not the forecast of skips.
    dry = await cli(["validate", "m.csv", *flags, "--no-state", "--report", "v.csv"])
    assert (outcome.code, dry.code) == (0, 0), outcome.err
    sent = prepare_image(shared, filename="team.jpg", fit=fit)
    fitted = f"; fitted from {human(len(shared))} to {human(sent.size)}" if fit else ""
    for report, message in (("r.csv", "uploaded"), ("v.csv", "ready to upload")):
        rows = read_report(tmp_path / report)
        assert {(r["message"], r["bytes"], r["sha256"], r["original_bytes"]) for r in rows} == {
            (message + fitted, str(sent.size), sent.sha256, str(len(shared)) if fit else "")
        }
    assert {sim.received[u].sha256 for u in users} == {sent.sha256}


# -- arbitrary bytes never break a run ---------------------------------------------------------

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

CELLS = st.sampled_from(
    [
        "me",
        "ME",
        "a@example.com",
        " A@Example.com ",
        "john smith",
        "a@@b",
        "",
        " ",
        "a.jpg",
        "missing.jpg",
        "../a.jpg",
        '"',
        '""',
        ",",
        "\n",
        "\r",
        "#",
        "- x",
        "x: y",
        "[",
        "{",
        "&a",
        "*a",
        "---",
        "~",
        "é",
        "=1+1",
        "\t",
    ]
)
HEADERS = st.sampled_from(["email,file", "user,photo", "Email , Path ", "name,file", "email", ""])


@st.composite
def csv_like(draw: st.DrawFn) -> str:
    rows = draw(st.lists(st.lists(CELLS, max_size=4).map(",".join), max_size=8))
    text = "\n".join([draw(HEADERS), *rows])
    return draw(st.sampled_from(["", "\ufeff"])) + text + draw(st.sampled_from(["", "\n", "\r\n"]))


@st.composite
def yaml_like(draw: st.DrawFn) -> bytes:
    items = draw(
        st.lists(
            st.one_of(
                st.tuples(CELLS, CELLS).map(lambda p: f"- email: {p[0]}\n  file: {p[1]}"),
                st.tuples(CELLS, CELLS).map(lambda p: f"{p[0]}: {p[1]}"),
                CELLS.map(lambda c: f"- {c}"),
            ),
            max_size=8,
        )
    )
    return "\n".join(items).encode()


MANIFEST_BYTES = st.one_of(
    st.binary(max_size=300),
    csv_like().map(str.encode),
    yaml_like(),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def data_rows(content: bytes, fmt: str) -> int:
    """The rows a manifest holds, counted independently of batch._manifest."""
    text = content.decode("utf-8-sig")
    if fmt == "csv":
        records = [
            r for r in csv.reader(io.StringIO(text, newline="")) if any(c.strip() for c in r)
        ]
        return max(0, len(records) - 1)
    depth = items = 0
    top: yaml.Event | None = None
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, yaml.CollectionStartEvent):
            top = top or event
            items += depth == 1
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            items += depth == 1
    # A list holds one row per item; a mapping one per key and value.
    return items if isinstance(top, yaml.SequenceStartEvent) else items // 2


def check_outcome(code: int, err: str, report: Path, expected_rows: Callable[[], int]) -> None:
    assert code in (0, 1, 2), err
    assert "Traceback" not in err and "internal error" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
        assert not report.exists()
        return
    rows = read_report(report)
    assert [r["row"] for r in rows] == [str(n) for n in range(1, len(rows) + 1)]
    assert len(rows) == expected_rows()
    for row in rows:
        assert row["status"] in ("valid", "invalid"), row
        assert one_line(row["message"]), row
    assert (code == 0) == all(r["status"] == "valid" for r in rows)


def validate(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["validate", *args, "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", "yaml"])
@PROPERTY
@given(content=MANIFEST_BYTES)
def test_arbitrary_bytes_as_a_manifest_never_break_a_run(
    fmt: str, content: bytes, clean_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.jpg").write_bytes(JPEG)
    manifest = tmp_path / f"m.{fmt}"
    manifest.write_bytes(content)
    report = tmp_path / f"report-{uuid.uuid4().hex}.csv"
    code, err = validate([str(manifest), "--report", str(report)], capsys)
    check_outcome(code, err, report, lambda: data_rows(content, fmt))


def damaged(base: bytes) -> st.SearchStrategy[bytes]:
    cut = st.integers(0, len(base)).map(lambda n: base[:n])
    flip = st.tuples(st.integers(0, len(base) - 1), st.integers(1, 255)).map(
        lambda p: base[: p[0]] + bytes([base[p[0]] ^ p[1]]) + base[p[0] + 1 :]
    )
    return st.one_of(cut, flip)


IMAGE_BYTES = st.one_of(
    st.binary(max_size=600),
    st.binary(max_size=300).map(lambda b: b"\xff\xd8\xff" + b),
    st.binary(max_size=300).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
    st.binary(max_size=300).map(lambda b: b"GIF89a" + b),
    damaged(JPEG),
    damaged(PNG),
    damaged(FIT_SOURCES["gif"]),
)


@PROPERTY
@given(content=IMAGE_BYTES, fit=st.booleans())
def test_arbitrary_bytes_as_a_photo_never_break_a_run(
    content: bytes,
    fit: bool,
    clean_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "photo.jpg").write_bytes(content)
    (tmp_path / "m.csv").write_text("email,file\nme,photo.jpg\na@example.com,photo.jpg\n")
    report = tmp_path / f"report-{uuid.uuid4().hex}.csv"
    code, err = validate(["m.csv", "--report", str(report), *(["--fit"] if fit else [])], capsys)
    check_outcome(code, err, report, lambda: 2)
    first, second = read_report(report)
    assert (first["status"], first["message"]) == (second["status"], second["message"])
    if first["status"] == "valid":
        # What passed must be a whole JPEG or PNG that Zoom accepts, fitted or not.
        sent = prepare_image(content, filename="photo.jpg", fit=fit)
        assert sent.size <= MAX_UPLOAD_BYTES
        assert first["bytes"] == second["bytes"] == str(sent.size)
        with Image.open(io.BytesIO(sent.data)) as image:
            assert image.format in ("JPEG", "PNG")
            image.load()


def header_end(jpeg: bytes) -> int:
    """Where a JPEG's entropy-coded data starts (the end of its first scan header)."""
    start = jpeg.index(b"\xff\xda")
    return start + 2 + int.from_bytes(jpeg[start + 2 : start + 4], "big")


def decodes(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception:
        return False
    return True


@pytest.mark.parametrize(
    "jpeg",
    [make_jpeg(3), encode(picture((64, 40)), "JPEG", progressive=True, subsampling=1)],
    ids=["baseline", "progressive"],
)
def test_no_jpeg_with_a_damaged_header_passes_as_valid(jpeg: bytes) -> None:
    """Every single-bit flip in the headers that a decoder refuses is refused before upload."""
    passed = []
    for at in range(2, header_end(jpeg)):
        for bit in range(8):
            flipped = bytearray(jpeg)
            flipped[at] ^= 1 << bit
            with contextlib.suppress(InvalidRow):
                prepare_image(bytes(flipped), filename="a.jpg")
                if not decodes(bytes(flipped)):
                    passed.append((at, bit))
    assert passed == []
