"""The HTML contact sheet (``--html``): one card per report row, faces next to names.

Each card shows the photo as Zoom will: through a circle, cropped to the centre square (Zoom
draws avatars as circles), with the whole photo small beneath it, and the person's name when
the manifest has a name column (``_people.py``). After ``--crop`` the circle is the square the
check cut — a preview of the very bytes sent, kept by the run (:class:`~batch.photos.Previews`)
and found by the row's ``sha256`` — beside the whole photo with that square drawn on it.

The page shows nothing the run would refuse to read: a photo outside ``--root`` is not
opened, and a file is opened with the upload check's own limits (size, formats, pixels:
:func:`~batch.photos.open_picture`), so a decompression bomb the check refuses is not decoded
here either.

The page is one self-contained file: inline CSS, thumbnails as ``data:`` URIs, and a
Content-Security-Policy that forbids every other source, so opening it never makes a request.
It is streamed: the report is read once to count, once for the problem rows and once for the
others, and each thumbnail is written as soon as it is made. A workbook report (``.xlsx``) is
read once into a temporary CSV for that: reading a workbook costs some thirty times more.
"""

from __future__ import annotations

import contextlib
import csv
import html
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ._files import atomic_write
from ._html_pictures import Thumbnails
from ._models import PROBLEM_STATUSES
from ._people import name_finder
from ._report import COLUMNS, is_workbook, read_rows
from .photos import Previews

#: The csv module's field limit while the sheet reads its report back. The limit is the
#: process's, and the manifest reader sets 1 MB; the report repeats such cells (with a
#: formula guard, one character more) and messages quote them, so the report the run has
#: just written may hold larger ones: it is read back with no tighter limit than it was
#: written with (none).
REPORT_FIELD_LIMIT = 2**31 - 1

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
    sha256: str = ""  #: of the bytes checked (sent): the key of the row's ``--crop`` preview

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
    root: Path | None = None,
    previews: Previews | None = None,
) -> None:
    """Write the contact sheet for ``report`` (CSV or ``.xlsx``) to ``out``, atomically.

    ``resolve`` maps a row's ``file`` column to the photo's path (None when there is none).
    ``date`` is shown under the title (:func:`run_date` makes one from the run's start).
    ``root`` is the run's ``--root``: a photo outside it is not shown. ``previews`` are the
    run's previews of the photos it checked (a ``--crop`` run): each row's circle is then its
    preview, and a row without one says it was not checked.
    Problem rows (failed, invalid, deferred, not_attempted) come first, then the others,
    each in manifest order. After ``max_thumbnails`` thumbnails the remaining cards show a
    placeholder instead, and the page says so. Blocking: from async code, run it in a thread.
    """
    if max_thumbnails < 0:
        raise ValueError(f"max_thumbnails must be >= 0, got {max_thumbnails}")
    with _loose_csv_fields(), _readable(report) as rows:
        census = _census(rows)
        thumbs = Thumbnails(resolve, max_thumbnails, root=root, previews=previews)
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
                    thumb = thumbs.html(
                        card.file, sha256=card.sha256, person=card.name or card.user
                    )
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


@contextlib.contextmanager
def _loose_csv_fields() -> Iterator[None]:
    """The csv module's field limit at :data:`REPORT_FIELD_LIMIT` meanwhile (see there).

    The limit is global: a manifest read in another thread meanwhile would have it too.
    """
    before = csv.field_size_limit(max(csv.field_size_limit(), REPORT_FIELD_LIMIT))
    try:
        yield
    finally:
        csv.field_size_limit(before)


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
            sha256=(rec.get("sha256") or "").strip(),
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
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:10px}
.card{display:flex;gap:12px;padding:10px;background:var(--card);border:1px solid var(--line);
border-left:6px solid var(--accent,#8a93a6);border-radius:6px;
break-inside:avoid;page-break-inside:avoid}
.pics{flex:none;display:flex;flex-direction:column;align-items:center;gap:4px;width:96px}
.pics.cropped{flex-direction:row;flex-wrap:wrap;align-items:flex-start;width:196px}
.orig{position:relative;line-height:0}
.cropped .whole{max-width:96px;max-height:96px}
.square{position:absolute;box-sizing:border-box;border:2px solid #fff;border-radius:50%;
box-shadow:0 0 0 1px rgba(0,0,0,.7)}
.cropnote{flex-basis:100%;font-size:11px;color:#8a6d00}
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
