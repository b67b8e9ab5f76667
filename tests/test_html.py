"""The HTML contact sheet: one card per report row, problems first, self-contained and escaped."""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from batch._html import run_date, write_contact_sheet
from batch._models import RowResult, Status
from batch._people import name_finder
from batch._report import COLUMNS, ReportWriter

from .conftest import chromium_screenshot

HEADER = list(COLUMNS)  # the report's own columns, as the pool writes them

Row = tuple[int, str, str, str, str]  # row, user, file, status, message


def _photo(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (120, 120)) -> None:
    Image.new("RGB", size, colour).save(path, "JPEG", quality=90)


def _report(path: Path, rows: Sequence[Row], *, extra_column: bool = False) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*HEADER, "later_column"] if extra_column else HEADER)
        for row, user, file, status, message in rows:
            http = "404" if status == "failed" else ""
            code = "1001" if status == "failed" else ""
            line = [row, user, file, status, http, code, message, 1, "", "", "", ""]
            writer.writerow([*line, "x"] if extra_column else line)
    return path


def _resolver(folder: Path) -> Callable[[str], Path | None]:
    return lambda file: folder / file if file else None


def _sheet(
    tmp_path: Path,
    rows: Sequence[Row],
    *,
    title: str = "Run of Monday",
    counts: dict[str, int] | None = None,
    max_thumbnails: int = 2000,
    extra_column: bool = False,
) -> str:
    report = _report(tmp_path / "report.csv", rows, extra_column=extra_column)
    out = tmp_path / "sheet.html"
    if counts is None:
        counts = {}
        for _, _, _, status, _ in rows:
            counts[status] = counts.get(status, 0) + 1
    write_contact_sheet(
        out,
        report,
        resolve=_resolver(tmp_path),
        title=title,
        counts=counts,
        max_thumbnails=max_thumbnails,
    )
    return out.read_text(encoding="utf-8")


def _users(page: str) -> list[str]:
    return re.findall(r'<div class="user">(.*?)</div>', page)


def _images(page: str, css: str) -> list[Image.Image]:
    uris = re.findall(rf'<img class="{css}" src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(uri))) for uri in uris]


def _thumbnails(page: str) -> list[Image.Image]:
    """The round pictures: what Zoom will show."""
    return _images(page, "thumb avatar")


def _wholes(page: str) -> list[Image.Image]:
    """The whole photos shown small beneath them."""
    return _images(page, "whole")


def _pictured(page: str) -> int:
    """Cards with a picture (a round one and the whole one)."""
    rounds, wholes = page.count('<img class="thumb avatar"'), page.count('<img class="whole"')
    assert rounds == wholes
    return rounds


@pytest.fixture
def mixed(tmp_path: Path) -> list[Row]:
    """Seven rows, one of each status, every photo present."""
    statuses = ["uploaded", "failed", "skipped", "invalid", "deferred", "valid", "not_attempted"]
    rows: list[Row] = []
    for i, status in enumerate(statuses, start=1):
        _photo(tmp_path / f"u{i}.jpg", (30 * i, 200, 120))
        rows.append((i, f"u{i}@example.com", f"u{i}.jpg", status, f"message {i}"))
    return rows


def test_one_card_and_one_thumbnail_per_row(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed)
    assert page.count("<article") == 7
    assert page.count("<img") == 14  # the round picture and the whole photo
    assert len(_thumbnails(page)) == 7
    assert len(_wholes(page)) == 7


def test_problems_first_then_the_rest_each_in_manifest_order(
    tmp_path: Path, mixed: list[Row]
) -> None:
    page = _sheet(tmp_path, mixed)
    assert _users(page) == [
        "u2@example.com",  # failed
        "u4@example.com",  # invalid
        "u5@example.com",  # deferred
        "u7@example.com",  # not_attempted
        "u1@example.com",  # uploaded
        "u3@example.com",  # skipped
        "u6@example.com",  # valid
    ]
    assert (
        page.index("Needs attention") < page.index("u2@") < page.index("Done") < page.index("u1@")
    )
    assert '<h2>Needs attention <span class="n">(4)</span></h2>' in page
    assert '<h2>Done <span class="n">(3)</span></h2>' in page


def test_report_in_completion_order_is_shown_in_manifest_order(
    tmp_path: Path, mixed: list[Row]
) -> None:
    page = _sheet(tmp_path, list(reversed(mixed)))
    assert _users(page) == [f"u{i}@example.com" for i in (2, 4, 5, 7, 1, 3, 6)]


def test_status_is_text_as_well_as_colour(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed)
    badges = re.findall(r'<div class="status"><span class="badge">(.*?)</span>', page)
    assert badges == [
        "\u2717 Failed",
        "! Invalid",
        "\u00bb Deferred",
        "\u2013 Not attempted",
        "\u2713 Uploaded",
        "= Skipped",
        "\u2713 Valid",
    ]
    assert '<article class="card st-failed">' in page
    assert (
        '<div class="msg">message 2 <span class="codes">HTTP 404 Zoom code 1001</span></div>'
        in (page)
    )


def test_header_shows_the_run_counts(tmp_path: Path, mixed: list[Row]) -> None:
    counts = {"uploaded": 1200, "failed": 3, "deferred": 0, "later_status": 2}
    page = _sheet(tmp_path, mixed, counts=counts)
    header = page[page.index("<header>") : page.index("</header>")]
    chips = re.findall(r"<li[^>]*>(.*?)</li>", header)
    assert chips == [
        "Total <b>1,205</b>",
        '<span class="badge">\u2717 Failed</span> <b>3</b>',
        '<span class="badge">\u2713 Uploaded</span> <b>1,200</b>',
        '<span class="badge">? later_status</span> <b>2</b>',
    ]
    assert "<title>Run of Monday</title>" in page


def test_untrusted_values_are_escaped(tmp_path: Path) -> None:
    evil_user = "<script>alert(1)</script>@x.com"
    rows: list[Row] = [
        (1, evil_user, 'a"b<i>.jpg', "failed", "<img src=x onerror=alert(2)>"),
    ]
    page = _sheet(tmp_path, rows, title="<b>title</b>")
    assert "<script" not in page
    assert "<img" not in page
    assert "<b>title" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@x.com" in page
    assert "a&quot;b&lt;i&gt;.jpg" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<title>&lt;b&gt;title&lt;/b&gt;</title>" in page


def test_the_csv_formula_guard_stays_in_the_csv(tmp_path: Path) -> None:
    """The report writes ``'=x`` so a spreadsheet does not run it; the page shows ``=x``."""
    rows: list[Row] = [(1, "'=HYPERLINK(1)@x.com", "a.jpg", "invalid", "'-not a formula")]
    page = _sheet(tmp_path, rows)
    assert _users(page) == ["=HYPERLINK(1)@x.com"]
    assert "&#x27;=HYPERLINK" not in page
    assert "-not a formula" in page and "&#x27;-not" not in page


def test_missing_and_unreadable_files_get_a_placeholder(tmp_path: Path) -> None:
    (tmp_path / "notes.jpg").write_text("not a picture", encoding="utf-8")
    (tmp_path / "folder.jpg").mkdir()
    _photo(tmp_path / "ok.jpg", (10, 200, 10))
    rows: list[Row] = [
        (1, "a@x.com", "gone.jpg", "invalid", "file not found"),
        (2, "b@x.com", "", "invalid", "no file given"),
        (3, "c@x.com", "notes.jpg", "invalid", "not an image"),
        (4, "d@x.com", "folder.jpg", "invalid", "not a file"),
        (5, "e@x.com", "ok.jpg", "uploaded", ""),
    ]
    page = _sheet(tmp_path, rows)
    placeholders = re.findall(r'<div class="thumb ph ph-(\w+)"[^>]*>(.*?)</div>', page)
    assert placeholders == [
        ("missing", "File not found"),
        ("missing", "No file"),
        ("missing", "Not an image"),
        ("missing", "File not found"),
    ]
    assert _pictured(page) == 1
    assert page.count("<article") == 5


def test_thumbnail_cap(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed, max_thumbnails=3)
    assert page.count("<article") == 7
    assert _pictured(page) == 3
    assert page.count('class="thumb ph ph-capped"') == 4
    # The problems get the pictures; the page says where and why they stop.
    cards = re.findall(r"<article.*?</article>", page)
    assert ["<img" in card for card in cards] == [True, True, True, False, False, False, False]
    assert page.count('<p class="note cap">3 pictures shown: the limit for one page.') == 1
    assert page.index('class="note cap"') < page.index("u7@example.com")
    assert "pictures are shown for at most 3 of them" in page


def test_no_cap_note_below_the_cap(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed, max_thumbnails=7)
    assert _pictured(page) == 7
    assert "note" not in page.split("</style>")[1]


def test_zero_thumbnails(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed, max_thumbnails=0)
    assert page.count("<img") == 0
    assert page.count('class="thumb ph ph-capped"') == 7


def test_negative_cap_is_refused(tmp_path: Path, mixed: list[Row]) -> None:
    with pytest.raises(ValueError, match="max_thumbnails"):
        _sheet(tmp_path, mixed, max_thumbnails=-1)


def test_self_contained(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed)
    assert re.search(r"https?://", page, re.IGNORECASE) is None
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert len(sources) == 14
    assert all(src.startswith("data:image/jpeg;base64,") for src in sources)
    assert "img-src data:" in page  # the CSP forbids anything else


def test_thumbnails_are_the_centre_square_and_the_whole_photo_small_and_upright(
    tmp_path: Path,
) -> None:
    _photo(tmp_path / "wide.jpg", (200, 30, 30), size=(2000, 1500))
    # A landscape sensor image tagged "rotate 90" (EXIF orientation 6) is a portrait photo.
    sideways = Image.new("RGB", (400, 200), (30, 30, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "sideways.jpg", "JPEG", exif=exif)
    Image.new("RGBA", (50, 80), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    rows: list[Row] = [
        (1, "a@x.com", "wide.jpg", "uploaded", ""),
        (2, "b@x.com", "sideways.jpg", "uploaded", ""),
        (3, "c@x.com", "clear.png", "uploaded", ""),
    ]
    page = _sheet(tmp_path, rows)
    thumbs = _thumbnails(page)
    assert [(t.format, t.size) for t in thumbs] == [
        ("JPEG", (96, 96)),
        ("JPEG", (96, 96)),
        ("JPEG", (50, 50)),  # never enlarged
    ]
    assert thumbs[2].convert("RGB").getpixel((25, 25)) == (255, 255, 255)  # alpha on white
    wholes = _wholes(page)
    assert [(t.format, t.size) for t in wholes] == [
        ("JPEG", (48, 36)),
        ("JPEG", (24, 48)),  # turned upright
        ("JPEG", (30, 48)),
    ]
    # Drawn through a circle, as Zoom draws avatars: the square is cropped, never squashed.
    assert ".thumb{" in page and "border-radius:50%" in page and "object-fit:cover" in page


def test_the_round_picture_is_the_centre_of_a_wide_photo(tmp_path: Path) -> None:
    """A wide photo loses its sides, as in Zoom: the centre fills the circle."""
    wide = Image.new("RGB", (300, 100), (200, 20, 20))  # red sides...
    wide.paste((20, 20, 200), (100, 0, 200, 100))  # ... a blue centre square
    wide.save(tmp_path / "wide.jpg", "JPEG", quality=95)
    (thumb,) = _thumbnails(_sheet(tmp_path, [(1, "a@x.com", "wide.jpg", "uploaded", "")]))
    rgb = thumb.convert("RGB")
    assert rgb.size == (96, 96)
    for xy in ((5, 48), (48, 48), (90, 48)):
        pixel = rgb.getpixel(xy)
        assert isinstance(pixel, tuple)
        r, _, b = pixel
        assert b > 150 and r < 80, xy


def test_resolve_gets_the_file_column_as_written(tmp_path: Path) -> None:
    seen: list[str] = []

    def resolve(file: str) -> Path | None:
        seen.append(file)
        return None

    report = _report(
        tmp_path / "r.csv",
        [(1, "a@x.com", "photos/A B.jpg", "uploaded", ""), (2, "b@x.com", "", "invalid", "")],
    )
    write_contact_sheet(tmp_path / "s.html", report, resolve=resolve, title="t", counts={})
    assert seen == ["photos/A B.jpg"]  # an empty file column needs no resolving


def test_extra_columns_and_bom_are_tolerated(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed, extra_column=True)
    assert page.count("<article") == 7
    report = tmp_path / "report.csv"
    report.write_bytes(b"\xef\xbb\xbf" + report.read_bytes())
    out = tmp_path / "bom.html"
    write_contact_sheet(out, report, resolve=_resolver(tmp_path), title="t", counts={})
    assert _users(out.read_text(encoding="utf-8"))[0] == "u2@example.com"


def test_empty_report(tmp_path: Path) -> None:
    page = _sheet(tmp_path, [])
    assert page.count("<article") == 0
    assert '<p class="empty">The report has no rows.</p>' in page
    assert page.rstrip().endswith("</html>")


def test_written_atomically(tmp_path: Path, mixed: list[Row]) -> None:
    (tmp_path / "sheet.html").write_text("old", encoding="utf-8")
    _sheet(tmp_path, mixed)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    report = tmp_path / "report.csv"

    def broken(file: str) -> Path | None:
        raise RuntimeError("resolver failed")

    with pytest.raises(RuntimeError):
        write_contact_sheet(tmp_path / "sheet.html", report, resolve=broken, title="t", counts={})
    assert (tmp_path / "sheet.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_renders_in_a_real_browser(tmp_path: Path, mixed: list[Row]) -> None:
    _sheet(tmp_path, mixed)
    png = tmp_path / "sheet.png"
    command = chromium_screenshot(tmp_path / "sheet.html", png, size=(1280, 1000))
    assert command is not None
    subprocess.run(command, check=True, capture_output=True, timeout=90)
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
    assert rgb.size == (1280, 1000)
    colours = rgb.getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 200  # text, badges and photos, not a blank page
    # The thumbnails were drawn: u1's photo is (30, 200, 120), shown 96 px square.
    near = 0
    for n, pixel in colours:
        assert isinstance(pixel, tuple)
        r, g, b = pixel
        near += n if abs(r - 30) + abs(g - 200) + abs(b - 120) < 30 else 0
    assert near > 96 * 96 // 2


# --- what the manifest says about the person, and when the run was --------------------------


def _written_report(
    path: Path, extra_columns: Sequence[str], rows: Sequence[tuple[str, str, tuple[str, ...]]]
) -> Path:
    """A report as the run writes it: (user, status, extras) per row, photos ``u<n>.jpg``."""
    writer = ReportWriter(path, extra_columns)
    for number, (user, status, extras) in enumerate(rows, start=1):
        file = f"u{number}.jpg"
        writer.add(RowResult(number, user, file, Status(status), extras=extras))
    writer.close()
    return path


def _page(tmp_path: Path, report: Path, **options: Any) -> str:
    out = tmp_path / "sheet.html"
    options.setdefault("counts", {})
    write_contact_sheet(out, report, resolve=_resolver(tmp_path), title="t", **options)
    return out.read_text(encoding="utf-8")


def _names(page: str) -> list[str]:
    return [
        name
        for card in re.findall(r"<article.*?</article>", page)
        for name in re.findall(r'<div class="name">(.*?)</div>', card) or [""]
    ]


def test_each_card_shows_the_name_the_manifest_gives(tmp_path: Path) -> None:
    rows = [
        ("a@x.com", "uploaded", ("Ann  Lee", "Sales")),
        ("b@x.com", "failed", ("", "Sales")),  # no name on this row
        ("c@x.com", "uploaded", ("Chloé <b>Martin</b>",)),  # escaped like everything else
    ]
    report = _written_report(tmp_path / "r.csv", ["Full Name", "Department"], rows)
    page = _page(tmp_path, report)
    assert _names(page) == ["", "Ann Lee", "Chlo\u00e9 &lt;b&gt;Martin&lt;/b&gt;"]
    assert _users(page) == ["b@x.com", "a@x.com", "c@x.com"]  # the user is still shown
    assert "<b>Martin" not in page


def test_a_name_in_two_columns_is_joined(tmp_path: Path) -> None:
    rows = [("a@x.com", "uploaded", ("Nachname-only", "Lee", "Ann")), ("b@x.com", "uploaded", ())]
    report = _written_report(tmp_path / "r.csv", ["Department", "Last name", "First name"], rows)
    assert _names(_page(tmp_path, report)) == ["Ann Lee", ""]


def test_no_name_column_no_name(tmp_path: Path, mixed: list[Row]) -> None:
    page = _sheet(tmp_path, mixed, extra_column=True)  # "later_column" is not a name
    assert '<div class="name">' not in page


def test_our_own_columns_are_never_taken_for_a_name(tmp_path: Path) -> None:
    # A manifest column "User" is renamed manifest_user; "name" would be its own.
    rows = [("a@x.com", "uploaded", ("someone else",))]
    report = _written_report(tmp_path / "r.csv", ["User"], rows)
    assert _names(_page(tmp_path, report)) == [""]


@pytest.mark.parametrize(
    ("columns", "cells", "name"),
    [
        (["Name"], ["Ann Lee"], "Ann Lee"),
        (["  DISPLAY_NAME "], ["Ann"], "Ann"),
        (["full-name"], [" Ann \t Lee "], "Ann Lee"),
        (["Employee Name"], ["Ann"], "Ann"),
        (["Navn"], ["Åse Berg"], "Åse Berg"),
        (["Vorname", "Nachname"], ["Jörg", "Müller"], "Jörg Müller"),
        (["Nom", "Prénom"], ["Martin", "Chloé"], "Chloé Martin"),  # the pair beats "Nom" alone
        (["Nom"], ["Martin"], "Martin"),
        (["given name", "surname"], ["Ann", ""], "Ann"),
        (["Display name", "First name", "Last name"], ["", "Ann", "Lee"], "Ann Lee"),
        (["Name", "Display name"], ["Ann Lee", "Annie"], "Annie"),  # the display name first
        (["First name"], ["Ann"], ""),  # half a pair is not a name
        (["Department", "Manager name"], ["Sales", "Bob"], ""),
        (["Name"], [], ""),  # a short row
        ([], [], ""),
    ],
)
def test_name_finder(columns: list[str], cells: list[str], name: str) -> None:
    find = name_finder(columns)
    assert find(cells) == name


def test_the_header_shows_the_run_date(tmp_path: Path, mixed: list[Row]) -> None:
    report = _report(tmp_path / "report.csv", mixed)
    page = _page(tmp_path, report, date=run_date("2026-12-02T14:03:59Z"))
    assert '<h1>t</h1>\n<p class="date">Run of 2026-12-02 14:03 UTC</p>' in page
    assert "<title>t \u00b7 Run of 2026-12-02 14:03 UTC</title>" in page
    evil = _page(tmp_path, report, date="<script>x</script>")
    assert "<script>x" not in evil and "&lt;script&gt;x&lt;/script&gt;" in evil
    assert '<p class="date">' not in _page(tmp_path, report)


@pytest.mark.parametrize(
    ("started_at", "label"),
    [
        ("2026-12-02T14:03:59Z", "Run of 2026-12-02 14:03 UTC"),
        ("2026-12-02T15:03:00+01:00", "Run of 2026-12-02 14:03 UTC"),
        ("2026-12-02T14:03:00", "Run of 2026-12-02 14:03"),
        ("yesterday", "Run of yesterday"),
    ],
)
def test_run_date(started_at: str, label: str) -> None:
    assert run_date(started_at) == label


def test_a_workbook_report_gives_the_same_page(tmp_path: Path) -> None:
    for i in (1, 2, 3):
        _photo(tmp_path / f"u{i}.jpg", (60 * i, 100, 100))
    rows = [
        ("=a@x.com", "uploaded", ("Ann Lee",)),
        ("b@x.com", "failed", ("Bob",)),
        ("c@x.com", "skipped", ("",)),
    ]
    from_csv = _page(tmp_path, _written_report(tmp_path / "r.csv", ["Name"], rows))
    from_xlsx = _page(tmp_path, _written_report(tmp_path / "r.xlsx", ["Name"], rows))
    assert from_xlsx == from_csv
    assert _users(from_xlsx) == ["b@x.com", "=a@x.com", "c@x.com"]
    assert _names(from_xlsx) == ["Bob", "Ann Lee", ""]
    assert _pictured(from_xlsx) == 3


def test_a_name_finder_says_whether_there_is_a_name_column() -> None:
    assert name_finder(["E-mail", "Full name"])
    assert name_finder(["Vorname", "Nachname"])
    assert not name_finder(["E-mail", "First name", "Department"])
    assert not name_finder([])


# --- the sheet shows nothing the run would refuse to read (issue 18, items 7, 8, 10) ----------


def _cards(page: str) -> dict[str, str]:
    """Each card's HTML by its user."""
    return {
        re.search(r'<div class="user">(.*?)</div>', card).group(1): card  # type: ignore[union-attr]
        for card in re.findall(r"<article.*?</article>", page)
    }


def _bomb_png(path: Path, side: int) -> Path:
    """A real, decodable PNG of side x side white pixels: a few hundred KB for 12000 px."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    squeeze = zlib.compressobj(9)
    line = b"\0" + b"\xff" * side
    pixels = b"".join(squeeze.compress(line) for _ in range(side)) + squeeze.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
    path.write_bytes(png + chunk(b"IEND", b""))
    return path


def test_a_photo_outside_root_is_not_opened(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    _photo(tmp_path / "root" / "in.jpg", (10, 200, 10))
    _photo(tmp_path / "out.jpg", (200, 10, 10))
    (tmp_path / "root" / "link.jpg").symlink_to(tmp_path / "out.jpg")  # leads outside
    rows: list[Row] = [
        (1, "in@x.com", "root/in.jpg", "uploaded", ""),
        (2, "out@x.com", "out.jpg", "invalid", "outside"),
        (3, "link@x.com", "root/link.jpg", "invalid", "outside"),
    ]
    report = _report(tmp_path / "r.csv", rows)
    out = tmp_path / "s.html"
    write_contact_sheet(
        out, report, resolve=_resolver(tmp_path), title="t", counts={}, root=tmp_path / "root"
    )
    cards = _cards(out.read_text(encoding="utf-8"))
    assert "<img" in cards["in@x.com"]
    for user in ("out@x.com", "link@x.com"):
        assert "<img" not in cards[user]
        assert (
            '<div class="thumb ph ph-refused" role="img" aria-label="Outside --root">'
            in (cards[user])
        )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_real_12000_pixel_square_png_is_not_decoded(tmp_path: Path) -> None:
    """The check refuses it (144 megapixels); decoding it for the page took 16 s and 1.2 GB."""
    _bomb_png(tmp_path / "big.png", 12000)
    assert (tmp_path / "big.png").stat().st_size < 500_000
    page = _sheet(tmp_path, [(1, "a@x.com", "big.png", "invalid", "too large")])
    assert "<img" not in page
    assert 'aria-label="Not shown"' in page


async def test_root_applies_to_the_contact_sheet_of_a_run(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """Issue 18 item 7, through the CLI (waits on the runner passing root= to the sheet)."""
    (tmp_path / "root").mkdir()
    _photo(tmp_path / "root" / "in.jpg", (10, 200, 10))
    _photo(tmp_path / "out.jpg", (200, 10, 10))
    (tmp_path / "m.csv").write_text(
        "email,file\nin@example.com,root/in.jpg\nout@example.com,out.jpg\n", encoding="utf-8"
    )
    outcome = await cli(
        ["validate", "m.csv", "--root", "root", "--report", "v.csv", "--html", "v.html"]
    )
    assert outcome.code == 1  # the row outside the root is invalid
    cards = _cards((tmp_path / "v.html").read_text(encoding="utf-8"))
    assert "<img" in cards["in@example.com"]
    assert "<img" not in cards["out@example.com"]
    assert 'aria-label="Outside --root"' in cards["out@example.com"]


async def test_the_sheet_does_not_decode_what_the_check_refuses_as_too_large(
    tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18 item 8: the same pixel limit for the page as for the check. Pillow itself only
    warns up to twice its limit: a 1.44-megapixel PNG under a 1-megapixel limit decoded."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    _bomb_png(tmp_path / "big.png", 1200)
    _photo(tmp_path / "ok.jpg", (10, 200, 10))
    (tmp_path / "m.csv").write_text(
        "email,file\nbig@example.com,big.png\nok@example.com,ok.jpg\n", encoding="utf-8"
    )
    outcome = await cli(["validate", "m.csv", "--fit", "--report", "v.csv", "--html", "v.html"])
    assert outcome.code == 1
    big = next(r for r in csv.DictReader((tmp_path / "v.csv").open(encoding="utf-8-sig")))
    assert big["status"] == "invalid" and "too large to process safely" in big["message"]
    cards = _cards((tmp_path / "v.html").read_text(encoding="utf-8"))
    assert "<img" not in cards["big@example.com"]
    assert 'aria-label="Not shown"' in cards["big@example.com"]
    assert "<img" in cards["ok@example.com"]


async def test_a_megabyte_cell_with_html_neither_crashes_nor_is_quoted_whole(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """Issue 18 item 10: a file cell just under the manifest's 1 MB cell limit. Its message
    quoted it whole, and the page could not read its own report back (exit 70)."""
    from batch.manifest._csv import FIELD_LIMIT

    long_file = "photos/" + "x" * (FIELD_LIMIT - 100) + ".jpg"
    (tmp_path / "m.csv").write_text(f"email,file\na@example.com,{long_file}\n", encoding="utf-8")
    outcome = await cli(["validate", "m.csv", "--report", "v.csv", "--html", "v.html"])
    assert outcome.code == 1, outcome.err
    with (tmp_path / "v.csv").open(encoding="utf-8-sig", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["status"] == "invalid"
    assert len(row["message"]) < 600
    assert row["message"].startswith("file cannot be opened: photos/xxx")
    assert "…" in row["message"] and "xxx.jpg (File name too long)" in row["message"]
    assert (tmp_path / "v.html").stat().st_size > len(long_file)  # the card shows the cell
    assert csv.field_size_limit() == FIELD_LIMIT  # the reader's limit is back as it was


async def test_a_megabyte_user_cell_is_quoted_shortened(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    """Issue 18 item 10, for the user cell (waits on batch/_users.py quoting it shortened)."""
    from batch.manifest._csv import FIELD_LIMIT

    _photo(tmp_path / "a.jpg", (10, 200, 10))
    user = "x" * (FIELD_LIMIT - 100) + "@example.com"
    (tmp_path / "m.csv").write_text(f"email,file\n{user},a.jpg\n", encoding="utf-8")
    outcome = await cli(["validate", "m.csv", "--report", "v.csv", "--html", "v.html"])
    assert outcome.code == 1, outcome.err
    limit = csv.field_size_limit(2**31 - 1)  # to read what is there, whatever its size
    try:
        with (tmp_path / "v.csv").open(encoding="utf-8-sig", newline="") as handle:
            [row] = list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(limit)
    assert row["status"] == "invalid"
    assert len(row["message"]) < 600, f"the message quotes {len(row['message']):,} characters"


def test_the_report_is_read_back_with_no_tighter_cell_limit_than_it_was_written_with(
    tmp_path: Path, mixed: list[Row]
) -> None:
    limit = csv.field_size_limit()
    huge = "y" * (limit + 10)  # a message longer than the csv module's limit of the moment
    page = _sheet(tmp_path, [*mixed, (8, "z@x.com", "u1.jpg", "invalid", huge)])
    assert page.count("<article") == 8 and huge in page
    assert csv.field_size_limit() == limit


# --- --crop: the circle is what the check cut -------------------------------------------------


def _cropped_report(tmp_path: Path, rows: Sequence[tuple[str, str, str]]) -> Path:
    """A report as the run writes it: (user, file, sha256) per row, uploaded."""
    writer = ReportWriter(tmp_path / "r.csv", [])
    for number, (user, file, digest) in enumerate(rows, start=1):
        writer.add(
            RowResult(number, user, file, Status.UPLOADED, sha256=digest or None, crop="face")
        )
    writer.close()
    return tmp_path / "r.csv"


def test_after_crop_the_circle_is_the_preview_of_what_was_cut(tmp_path: Path) -> None:
    from batch.photos import Previews, prepare_image

    # A wide photo: red left, blue centre, green right; --crop center keeps the blue.
    wide = Image.new("RGB", (300, 100), (200, 20, 20))
    wide.paste((20, 20, 200), (100, 0, 200, 100))
    wide.paste((20, 200, 20), (200, 0, 300, 100))
    wide.save(tmp_path / "wide.jpg", "JPEG", quality=95)
    _photo(tmp_path / "plain.jpg", (120, 120, 120))
    image = prepare_image(
        (tmp_path / "wide.jpg").read_bytes(), filename="wide.jpg", fit=True, crop="center"
    )
    previews = Previews()
    previews.add(image)
    report = _cropped_report(
        tmp_path, [("a@x.com", "wide.jpg", image.sha256), ("b@x.com", "plain.jpg", "")]
    )
    out = tmp_path / "s.html"
    write_contact_sheet(
        out, report, resolve=_resolver(tmp_path), title="t", counts={}, previews=previews
    )
    previews.close()
    page = out.read_text(encoding="utf-8")
    cards = _cards(page)
    (circle,) = _thumbnails(cards["a@x.com"])
    assert circle.size == (96, 96)
    pixel = circle.convert("RGB").getpixel((48, 48))
    assert isinstance(pixel, tuple) and pixel[2] > 150 and pixel[0] < 80
    # Beside it, the whole photo, 96 px, with the square kept drawn on it.
    (whole,) = _wholes(cards["a@x.com"])
    assert whole.size == (96, 32)
    assert (
        '<span class="square" style="left:33.3%;top:0.0%;width:33.3%;height:100.0%">'
        in (cards["a@x.com"])
    )
    # A row the check never reached has no crop to show: the page says so, never guesses.
    assert 'aria-label="Not checked: no crop"' in cards["b@x.com"]
    assert _wholes(cards["b@x.com"]) and not _thumbnails(cards["b@x.com"])


def test_a_preview_needs_no_file_on_disk(tmp_path: Path) -> None:
    """A photo at a URL (or in a directory) was read by the run: its preview is shown alone."""
    from batch.photos import Previews, prepare_image

    _photo(tmp_path / "elsewhere.jpg", (20, 20, 200), size=(300, 200))
    data = (tmp_path / "elsewhere.jpg").read_bytes()
    image = prepare_image(data, filename="a.jpg", fit=True, crop="center")
    previews = Previews()
    previews.add(image)
    report = _cropped_report(tmp_path, [("a@x.com", "https://hr.test/a.jpg", image.sha256)])
    out = tmp_path / "s.html"
    write_contact_sheet(
        out, report, resolve=_resolver(tmp_path), title="t", counts={}, previews=previews
    )
    page = out.read_text(encoding="utf-8")
    assert len(_thumbnails(page)) == 1 and not _wholes(page)


def test_a_crop_that_fell_back_is_pointed_out(tmp_path: Path) -> None:
    from batch.photos import Previews, prepare_image

    _photo(tmp_path / "flat.jpg", (120, 160, 200), size=(200, 300))
    image = prepare_image(
        (tmp_path / "flat.jpg").read_bytes(), filename="flat.jpg", fit=True, crop="face"
    )
    previews = Previews()
    previews.add(image)
    report = _cropped_report(tmp_path, [("a@x.com", "flat.jpg", image.sha256)])
    out = tmp_path / "s.html"
    write_contact_sheet(
        out, report, resolve=_resolver(tmp_path), title="t", counts={}, previews=previews
    )
    assert '<div class="cropnote">cropped to the centre: no face found</div>' in out.read_text(
        encoding="utf-8"
    )


def test_the_crop_preview_renders_through_a_circle_in_a_real_browser(tmp_path: Path) -> None:
    from batch.photos import Previews, prepare_image

    wide = Image.new("RGB", (900, 300), (20, 20, 200))  # all blue: the circle is easy to find
    wide.save(tmp_path / "wide.jpg", "JPEG", quality=95)
    image = prepare_image(
        (tmp_path / "wide.jpg").read_bytes(), filename="wide.jpg", fit=True, crop="center"
    )
    previews = Previews()
    previews.add(image)
    report = _cropped_report(tmp_path, [("a@x.com", "wide.jpg", image.sha256)])
    write_contact_sheet(
        tmp_path / "s.html",
        report,
        resolve=_resolver(tmp_path),
        title="t",
        counts={},
        previews=previews,
    )
    png = tmp_path / "s.png"
    command = chromium_screenshot(tmp_path / "s.html", png, size=(800, 400))
    if command is None:
        if os.environ.get("ZOOM_BATCH_CI"):
            pytest.fail("CI must run this test, but Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed")
    subprocess.run(command, check=True, capture_output=True, timeout=90)
    with Image.open(png) as shot:
        rgb = shot.convert("RGB")
    blue = [
        (x, y)
        for y in range(rgb.height)
        for x in range(rgb.width)
        if _near(rgb.getpixel((x, y)), (20, 20, 200))
    ]
    xs, ys = [x for x, _ in blue], [y for _, y in blue]
    # The circle (96 across) and, right of it, the whole photo (96x32).
    left, right, top, bottom = min(xs), max(xs), min(ys), max(ys)
    assert 90 <= right - left <= 200 and 90 <= bottom - top <= 100, (left, right, top, bottom)
    circle = [(x, y) for x, y in blue if x < left + 100]
    cx = sum(x for x, _ in circle) / len(circle)
    cy = sum(y for _, y in circle) / len(circle)
    # Round, not square: a 96 px disc covers ~7,240 px (pi r^2), a square 9,216; its corners
    # are the card's white.
    assert 6500 < len(circle) < 8000, len(circle)
    assert not _near(rgb.getpixel((round(cx) - 46, round(cy) - 46)), (20, 20, 200))


def _near(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return sum(abs(a - b) for a, b in zip(pixel, colour, strict=False)) < 60
