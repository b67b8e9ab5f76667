"""The HTML contact sheet (``--html``): one card per report row, faces next to names.

Each card shows the photo as Zoom will: through a circle, cropped to the centre square (Zoom
draws avatars as circles), with the whole photo small beneath it, and the person's name when
the manifest has a name column (``_people.py``).

The page is one self-contained file: inline CSS, thumbnails as ``data:`` URIs, and a
Content-Security-Policy that forbids every other source, so opening it never makes a request.
It is streamed: the report is read once to count, once for the problem rows and once for the
others, and each thumbnail is written as soon as it is made. A workbook report (``.xlsx``) is
read once into a temporary CSV for that: reading a workbook costs some thirty times more.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import html
import io
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from PIL import Image, ImageOps

from ._files import atomic_write
from ._models import PROBLEM_STATUSES
from ._people import name_finder
from ._report import COLUMNS, is_workbook, read_rows
from .photos import register_heif, to_srgb_on_white

#: Edge of the round thumbnail (the centre square, as Zoom crops it), in pixels; also its
#: displayed size in CSS pixels.
THUMBNAIL_PX = 96
#: Longest edge of the whole photo shown small beneath it.
WHOLE_PX = 48
#: JPEG quality of the thumbnails: small enough for thousands in one page.
THUMBNAIL_QUALITY = 80

#: Statuses shown first, in the "Needs attention" section: the one set of problem statuses.
_PROBLEMS = frozenset(status.value for status in PROBLEM_STATUSES)

# status -> (label, symbol, css class); the symbol keeps a black-and-white print readable.
# Symbols are ones common fonts have (a missing glyph prints as an empty box).
_STATUS_LOOK: dict[str, tuple[str, str, str]] = {
    "failed": ("Failed", "\u2717", "st-failed"),
    "invalid": ("Invalid", "!", "st-invalid"),
    "deferred": ("Deferred", "\u00bb", "st-deferred"),
    "not_attempted": ("Not attempted", "\u2013", "st-not-attempted"),
    "uploaded": ("Uploaded", "\u2713", "st-uploaded"),
    "removed": ("Removed", "\u2205", "st-removed"),
    "skipped": ("Skipped", "=", "st-skipped"),
    "valid": ("Valid", "\u2713", "st-valid"),
}
_UNKNOWN_LOOK = ("", "?", "st-other")


@dataclass(frozen=True, slots=True)
class _Card:
    """The fields of one report row that the page shows."""

    row: str
    user: str
    name: str  #: the person's name from the manifest's columns; "" when it has none
    file: str
    status: str
    message: str
    http_status: str
    zoom_code: str

    @property
    def order(self) -> int:
        """Manifest order; rows without a number go last."""
        try:
            return int(self.row)
        except ValueError:
            return 2**63


@dataclass(frozen=True, slots=True)
class _Census:
    """What the counting pass learnt about the report."""

    rows: int
    problems: int
    in_order: bool  #: the ``row`` column never goes down, so the file order is manifest order


def write_contact_sheet(
    out: Path,
    report: Path,
    *,
    resolve: Callable[[str], Path | None],
    title: str,
    counts: Mapping[str, int],
    max_thumbnails: int = 2000,
    date: str | None = None,
) -> None:
    """Write the contact sheet for ``report`` (CSV or ``.xlsx``) to ``out``, atomically.

    ``resolve`` maps a row's ``file`` column to the photo's path (None when there is none).
    ``date`` is shown under the title (:func:`run_date` makes one from the run's start).
    Problem rows (failed, invalid, deferred, not_attempted) come first, then the others,
    each in manifest order. After ``max_thumbnails`` thumbnails the remaining cards show a
    placeholder instead, and the page says so. Blocking: from async code, run it in a thread.
    """
    if max_thumbnails < 0:
        raise ValueError(f"max_thumbnails must be >= 0, got {max_thumbnails}")
    with _readable(report) as rows:
        census = _census(rows)
        thumbs = _Thumbnails(resolve, max_thumbnails)
        with atomic_write(out, newline="\n") as page:
            head = _Head(title=title, date=date, counts=counts, census=census, cap=max_thumbnails)
            _write_head(page, head)
            cap_noted = False
            sections = (
                (True, "Needs attention", census.problems),
                (False, "Done", census.rows - census.problems),
            )
            for problems, heading, n in sections:
                if n == 0:
                    continue
                kind = "problems" if problems else "others"
                page.write(
                    f'<section class="{kind}"><h2>{heading} <span class="n">({n:,})</span></h2>\n'
                    '<div class="grid">\n'
                )
                for card in _cards(rows, problems=problems, in_order=census.in_order):
                    thumb = thumbs.html(card)
                    if thumbs.capped and not cap_noted:
                        page.write(_cap_notice(max_thumbnails))
                        cap_noted = True
                    page.write(_card_html(card, thumb))
                page.write("</div></section>\n")
            if census.rows == 0:
                page.write('<p class="empty">The report has no rows.</p>\n')
            page.write("</main>\n</body>\n</html>\n")


def run_date(started_at: str) -> str:
    """``"Run of 2026-12-02 14:03 UTC"`` from an ISO-8601 time such as ``RunSummary.started_at``."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return f"Run of {started_at}"
    if moment.tzinfo is None:
        return f"Run of {moment:%Y-%m-%d %H:%M}"
    return f"Run of {moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


Rows = Callable[[], Iterator[dict[str, str]]]  #: reads the report's rows again from the start


@contextlib.contextmanager
def _readable(report: Path) -> Iterator[Rows]:
    """The report's rows, to be read several times; a workbook is read once, into a temp CSV."""
    if not is_workbook(report):
        yield lambda: read_rows(report)
        return
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spill:
        writer: csv.DictWriter[str] | None = None
        for record in read_rows(report):
            if writer is None:
                writer = csv.DictWriter(spill, fieldnames=list(record))
                writer.writeheader()
            writer.writerow(record)

        def again() -> Iterator[dict[str, str]]:
            spill.seek(0)
            # The spill holds cells as read, guards already off: read them as they are.
            yield from csv.DictReader(spill)

        yield again


class _Thumbnails:
    """Makes thumbnails until the cap is reached, then placeholders that say why."""

    def __init__(self, resolve: Callable[[str], Path | None], cap: int) -> None:
        self._resolve = resolve
        self._cap = cap
        self.made = 0
        self.capped = False  #: a row has gone without its picture because of the cap

    def html(self, card: _Card) -> str:
        """The round thumbnail and the whole photo, or a placeholder naming what is wrong."""
        path = self._resolve(card.file) if card.file else None
        if path is None:
            return _placeholder("No file", "missing")
        try:
            found = path.is_file()
        except OSError:  # e.g. a name too long for the file system
            found = False
        if not found:
            return _placeholder("File not found", "missing")
        if self.made >= self._cap:
            self.capped = True
            return _placeholder("Picture not shown (limit)", "capped")
        pictures = _thumbnail_jpegs(path)
        if pictures is None:
            return _placeholder("Not an image", "missing")
        self.made += 1
        round_, whole = (_data_uri(data) for data in pictures)
        alt = html.escape(f"Photo of {card.name or card.user}, as Zoom shows it")
        return (
            '<div class="pics">'
            f'<img class="thumb avatar" src="{round_}" alt="{alt}">'
            f'<img class="whole" src="{whole}" alt="The whole photo" title="The whole photo">'
            "</div>"
        )


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _thumbnail_jpegs(path: Path) -> tuple[bytes, bytes] | None:
    """Two small upright JPEGs of ``path``: its centre square, at most THUMBNAIL_PX a side,
    and the whole photo, at most WHOLE_PX on its longest edge. None if unreadable."""
    register_heif()
    try:
        with Image.open(path) as im:
            # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: far faster for
            # camera-sized photos, and the result is still at least the requested size.
            im.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            rgb = to_srgb_on_white(ImageOps.exif_transpose(im))
            side = min(THUMBNAIL_PX, *rgb.size)  # never enlarged
            square = ImageOps.fit(rgb, (side, side), Image.Resampling.LANCZOS)
            whole = rgb.copy()
            whole.thumbnail((WHOLE_PX, WHOLE_PX))
            return _jpeg(square), _jpeg(whole)
    # A preview is best effort: a truncated, exotic or hostile file must only lose its picture,
    # never the page, and Pillow raises many types (OSError, ValueError, SyntaxError, bomb...).
    except Exception:
        return None


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buf.getvalue()


def _placeholder(text: str, kind: str) -> str:
    return f'<div class="thumb ph ph-{kind}" role="img" aria-label="{text}">{text}</div>'


def _census(rows: Rows) -> _Census:
    count = problems = 0
    in_order = True
    last = -1
    for card in _read(rows):
        count += 1
        problems += card.status in _PROBLEMS
        order = card.order
        in_order = in_order and order >= last
        last = order
    return _Census(rows=count, problems=problems, in_order=in_order)


def _cards(rows: Rows, *, problems: bool, in_order: bool) -> Iterator[_Card]:
    """The rows of one section in manifest order, streamed when the file is already in order."""
    wanted = (c for c in _read(rows) if (c.status in _PROBLEMS) == problems)
    if in_order:
        yield from wanted
    else:
        # A report written in completion order: only the text fields are held, never images.
        yield from sorted(wanted, key=lambda c: c.order)


def _read(rows: Rows) -> Iterator[_Card]:
    extra: list[str] | None = None  # the manifest's own columns: only they can hold a name
    find_name = name_finder(())
    for rec in rows():  # formula guards are off: the apostrophe is the spreadsheet's
        if extra is None:
            extra = [column for column in rec if column not in COLUMNS]
            find_name = name_finder(extra)
        yield _Card(
            row=(rec.get("row") or "").strip(),
            user=rec.get("user") or "",
            name=find_name([rec.get(column) or "" for column in extra]),
            file=rec.get("file") or "",
            status=(rec.get("status") or "").strip().lower(),
            message=rec.get("message") or "",
            http_status=(rec.get("http_status") or "").strip(),
            zoom_code=(rec.get("zoom_code") or "").strip(),
        )


def _cap_notice(cap: int) -> str:
    return (
        f'<p class="note cap">{cap:,} pictures shown: the limit for one page. '
        "The rows below are listed without their picture.</p>\n"
    )


def _card_html(card: _Card, thumb: str) -> str:
    e = html.escape
    label, symbol, css = _STATUS_LOOK.get(card.status, _UNKNOWN_LOOK)
    label = label or card.status or "unknown"
    codes = " ".join(
        part
        for part in (
            f"HTTP {card.http_status}" if card.http_status else "",
            f"Zoom code {card.zoom_code}" if card.zoom_code else "",
        )
        if part
    )
    message = e(card.message) if card.message else ""
    if codes:
        message = f'{message} <span class="codes">{e(codes)}</span>'.strip()
    return (
        f'<article class="card {css}">'
        f"{thumb}"
        '<div class="info">'
        + (f'<div class="name">{e(card.name)}</div>' if card.name else "")
        + f'<div class="user">{e(card.user) or "<em>(no user)</em>"}</div>'
        f'<div class="file">{e(card.file) or "<em>(no file)</em>"}</div>'
        f'<div class="status"><span class="badge">{e(symbol)} {e(label)}</span>'
        + (f'<span class="row">row {e(card.row)}</span>' if card.row else "")
        + "</div>"
        + (f'<div class="msg">{message}</div>' if message else "")
        + "</div></article>\n"
    )


@dataclass(frozen=True, slots=True)
class _Head:
    """What the page's header shows."""

    title: str
    date: str | None
    counts: Mapping[str, int]
    census: _Census
    cap: int


def _write_head(page: TextIO, head: _Head) -> None:
    e = html.escape
    full_title = f"{head.title} \u00b7 {head.date}" if head.date else head.title
    page.write(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # No source but this file: a stray reference can never leak a request.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{e(full_title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>{e(head.title)}</h1>\n"
        + (f'<p class="date">{e(head.date)}</p>\n' if head.date else "")
    )
    counts = head.counts
    known = [s for s in _STATUS_LOOK if counts.get(s)]
    others = sorted(str(k) for k, n in counts.items() if n and str(k) not in _STATUS_LOOK)
    chips = []
    for status in known + others:
        label, symbol, css = _STATUS_LOOK.get(status, _UNKNOWN_LOOK)
        chips.append(
            f'<li class="{css}"><span class="badge">{e(symbol)} {e(label or status)}</span> '
            f"<b>{counts[status]:,}</b></li>"
        )
    total = sum(counts.values())
    page.write(
        f'<ul class="counts"><li class="total">Total <b>{total:,}</b></li>{"".join(chips)}</ul>\n'
    )
    if head.census.rows > head.cap:
        page.write(
            f'<p class="note">This report has {head.census.rows:,} rows: to keep the page light, '
            f"pictures are shown for at most {head.cap:,} of them (problems first). "
            "The other rows are listed without a picture.</p>\n"
        )
    page.write("</header>\n<main>\n")


_CSS = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#f4f6f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--ink);background:var(--bg)}
header{padding:20px 28px 14px;background:var(--card);border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:22px;font-weight:600}
.date{margin:0 0 10px;color:var(--muted)}
h2{margin:22px 0 10px;font-size:16px;font-weight:600}
h2 .n{color:var(--muted);font-weight:400}
main{padding:0 28px 28px}
.counts{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:8px}
.counts li{display:flex;align-items:center;gap:6px;padding:4px 10px 4px 4px;
border:1px solid var(--line);border-radius:999px;background:var(--card)}
.counts li.total{padding-left:10px}
.note.cap{grid-column:1/-1;margin:4px 0}
.note{margin:12px 0 0;padding:8px 12px;border-left:4px solid #8a6d00;background:#fff8e1}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.card{display:flex;gap:12px;padding:10px;background:var(--card);border:1px solid var(--line);
border-left:6px solid var(--accent,#8a93a6);border-radius:6px;
break-inside:avoid;page-break-inside:avoid}
.pics{flex:none;display:flex;flex-direction:column;align-items:center;gap:4px;width:96px}
.thumb{flex:none;width:96px;height:96px;border-radius:50%;background:#eef0f4}
.avatar{object-fit:cover}
.whole{max-width:48px;max-height:48px;border:1px solid var(--line)}
.ph{display:flex;align-items:center;justify-content:center;text-align:center;padding:14px;
font-size:11px;color:var(--muted);border:2px dashed #b7bdc9}
.ph-capped{border-style:dotted}
.info{min-width:0;display:flex;flex-direction:column;gap:3px}
.name{font-weight:600;font-size:15px;overflow-wrap:anywhere}
.user{font-weight:600;overflow-wrap:anywhere}
.name+.user{font-weight:400}
.file{font:12px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:var(--muted);
overflow-wrap:anywhere}
.status{display:flex;align-items:center;gap:8px;flex-wrap:wrap}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff;background:var(--accent,#8a93a6);white-space:nowrap}
.row{font-size:11px;color:var(--muted)}
.msg{font-size:12px;overflow-wrap:anywhere}
.codes{color:var(--muted);white-space:nowrap}
.empty{color:var(--muted)}
em{color:var(--muted);font-weight:400}
.st-failed{--accent:#c62828}.st-invalid{--accent:#d84315}.st-deferred{--accent:#8a6d00}
.st-not-attempted{--accent:#6b7280}.st-uploaded{--accent:#2e7d32}.st-removed{--accent:#6b7280}.st-skipped{--accent:#1565c0}
.st-valid{--accent:#00796b}.st-other{--accent:#6a1b9a}
@media print{
body{background:#fff;font-size:11px}header{border:0;padding:0 0 8px}main{padding:0}
.grid{grid-template-columns:repeat(2,1fr);gap:6px}
.card{border-color:#999}
.badge{color:#000;background:#fff;border:1px solid #000}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""
