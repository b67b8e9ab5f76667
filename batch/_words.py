"""Numbers in words the operator reads: counts with their noun, sizes in KB and MB."""

from __future__ import annotations

__all__ = ["CELL_EXCERPT", "excerpt", "human_size", "plural"]

#: How much of a manifest cell a message quotes: more than any address (254) or file name (255).
CELL_EXCERPT = 400

# Decimal units: Zoom's "2M" is read as 2,000,000 bytes, and macOS's Finder and GNOME's Files
# count sizes so too, so the size a message gives is the one the operator's file manager shows.
_KB = 1000
_MB = 1000 * 1000


def plural(n: int, word: str) -> str:
    """``1 attempt``, ``3 attempts``, ``1,200 rows``."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def human_size(n: int, *, beside: int | None = None) -> str:
    """A file size as people say it: ``740 KB``, ``3.2 MB``.

    With ``beside`` (a limit the size is compared with), a size that would read the same as
    the limit is given in bytes, so that a file one byte over Zoom's 2 MB never reads as
    ``2.0 MB``.
    """
    if n < _MB:
        return f"{max(1, round(n / _KB))} KB"
    text = f"{n / _MB:.1f} MB"
    if beside is not None and n != beside and text == f"{beside / _MB:.1f} MB":
        return f"{n:,} bytes"
    return text


def excerpt(cell: str, limit: int = CELL_EXCERPT) -> str:
    """``cell`` as a message quotes it: whole when short, else its start and end around "…".

    A manifest cell may hold up to a megabyte (a broken export): quoted whole, it would make
    every message that names it, and the report and the page that hold the messages, as large.
    """
    if len(cell) <= limit:
        return cell
    tail = limit // 3  # a file's name and an address's domain are at the end
    return f"{cell[: limit - tail - 1]}…{cell[-tail:]}"
