"""The HTML contact sheet (``--html``): one card per report row, faces next to names.

The page is one self-contained file: inline CSS, thumbnails as ``data:`` URIs, and a
Content-Security-Policy that forbids every other source, so opening it never makes a request.
It is streamed: the report CSV is read once to count, once for the problem rows and once for
the others, and each thumbnail is written as soon as it is made.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from PIL import Image, ImageOps

from ._files import atomic_write
from ._models import PROBLEM_STATUSES
from ._report import uncell
from .photos import register_heif, to_srgb_on_white

#: Longest edge of a thumbnail, in pixels; also its displayed size in CSS pixels.
THUMBNAIL_PX = 96
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
    report_csv: Path,
    *,
    resolve: Callable[[str], Path | None],
    title: str,
    counts: Mapping[str, int],
    max_thumbnails: int = 2000,
) -> None:
    """Write the contact sheet for ``report_csv`` to ``out``, atomically.

    ``resolve`` maps a row's ``file`` column to the photo's path (None when there is none).
    Problem rows (failed, invalid, deferred, not_attempted) come first, then the others,
    each in manifest order. After ``max_thumbnails`` thumbnails the remaining cards show a
    placeholder instead, and the page says so. Blocking: from async code, run it in a thread.
    """
    if max_thumbnails < 0:
        raise ValueError(f"max_thumbnails must be >= 0, got {max_thumbnails}")
    census = _census(report_csv)
    thumbs = _Thumbnails(resolve, max_thumbnails)
    with atomic_write(out, newline="\n") as page:
        _write_head(page, title=title, counts=counts, census=census, cap=max_thumbnails)
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
            for card in _cards(report_csv, problems=problems, in_order=census.in_order):
                thumb = thumbs.html(card)
                if thumbs.capped and not cap_noted:
                    page.write(_cap_notice(max_thumbnails))
                    cap_noted = True
                page.write(_card_html(card, thumb))
            page.write("</div></section>\n")
        if census.rows == 0:
            page.write('<p class="empty">The report has no rows.</p>\n')
        page.write("</main>\n</body>\n</html>\n")


class _Thumbnails:
    """Makes thumbnails until the cap is reached, then placeholders that say why."""

    def __init__(self, resolve: Callable[[str], Path | None], cap: int) -> None:
        self._resolve = resolve
        self._cap = cap
        self.made = 0
        self.capped = False  #: a row has gone without its picture because of the cap

    def html(self, card: _Card) -> str:
        """An ``<img>`` with the thumbnail, or a placeholder box naming what is wrong."""
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
        data = _thumbnail_jpeg(path)
        if data is None:
            return _placeholder("Not an image", "missing")
        self.made += 1
        uri = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
        alt = html.escape(f"Photo of {card.user}")
        return f'<img class="thumb" src="{uri}" alt="{alt}">'


def _thumbnail_jpeg(path: Path) -> bytes | None:
    """A JPEG of ``path`` at most THUMBNAIL_PX on its longest edge, upright; None if unreadable."""
    register_heif()
    try:
        with Image.open(path) as im:
            # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: far faster for
            # camera-sized photos, and the result is still at least the requested size.
            im.draft("RGB", (THUMBNAIL_PX, THUMBNAIL_PX))
            upright = ImageOps.exif_transpose(im)
            upright.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            rgb = to_srgb_on_white(upright)
            buf = io.BytesIO()
            rgb.save(buf, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
            return buf.getvalue()
    # A preview is best effort: a truncated, exotic or hostile file must only lose its picture,
    # never the page, and Pillow raises many types (OSError, ValueError, SyntaxError, bomb...).
    except Exception:
        return None


def _placeholder(text: str, kind: str) -> str:
    return f'<div class="thumb ph ph-{kind}" role="img" aria-label="{text}">{text}</div>'


def _census(report_csv: Path) -> _Census:
    rows = problems = 0
    in_order = True
    last = -1
    for card in _read(report_csv):
        rows += 1
        problems += card.status in _PROBLEMS
        order = card.order
        in_order = in_order and order >= last
        last = order
    return _Census(rows=rows, problems=problems, in_order=in_order)


def _cards(report_csv: Path, *, problems: bool, in_order: bool) -> Iterator[_Card]:
    """The rows of one section in manifest order, streamed when the file is already in order."""
    wanted = (c for c in _read(report_csv) if (c.status in _PROBLEMS) == problems)
    if in_order:
        yield from wanted
    else:
        # A report written in completion order: only the text fields are held, never images.
        yield from sorted(wanted, key=lambda c: c.order)


def _read(report_csv: Path) -> Iterator[_Card]:
    # utf-8-sig: a report saved again by a spreadsheet may have gained a BOM.
    with open(report_csv, encoding="utf-8-sig", newline="") as f:
        for raw in csv.DictReader(f):
            # The apostrophe before a formula-like cell is the spreadsheet's, not the page's.
            rec = {k: uncell(v or "") for k, v in raw.items() if k is not None}
            yield _Card(
                row=(rec.get("row") or "").strip(),
                user=rec.get("user") or "",
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
        f'<div class="user">{e(card.user) or "<em>(no user)</em>"}</div>'
        f'<div class="file">{e(card.file) or "<em>(no file)</em>"}</div>'
        f'<div class="status"><span class="badge">{e(symbol)} {e(label)}</span>'
        + (f'<span class="row">row {e(card.row)}</span>' if card.row else "")
        + "</div>"
        + (f'<div class="msg">{message}</div>' if message else "")
        + "</div></article>\n"
    )


def _write_head(
    page: TextIO, *, title: str, counts: Mapping[str, int], census: _Census, cap: int
) -> None:
    e = html.escape
    page.write(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # No source but this file: a stray reference can never leak a request.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>{e(title)}</h1>\n"
    )
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
    if census.rows > cap:
        page.write(
            f'<p class="note">This report has {census.rows:,} rows: to keep the page light, '
            f"pictures are shown for at most {cap:,} of them (problems first). "
            "The other rows are listed without a picture.</p>\n"
        )
    page.write("</header>\n<main>\n")


_CSS = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#f4f6f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--ink);background:var(--bg)}
header{padding:20px 28px 14px;background:var(--card);border-bottom:1px solid var(--line)}
h1{margin:0 0 10px;font-size:22px;font-weight:600}
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
.thumb{flex:none;width:96px;height:96px;object-fit:contain;border-radius:4px;background:#eef0f4}
.ph{display:flex;align-items:center;justify-content:center;text-align:center;padding:6px;
font-size:11px;color:var(--muted);border:2px dashed #b7bdc9}
.ph-capped{border-style:dotted}
.info{min-width:0;display:flex;flex-direction:column;gap:3px}
.user{font-weight:600;overflow-wrap:anywhere}
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
