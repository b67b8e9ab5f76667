"""How a run is put into words: durations, paces, counts, holds, the dry run's forecast.

Plain text only, no markup: the console (live or plain lines), the text log and ``--dry-run``
all say the same thing the same way, so a line read on a terminal and in a cron log agree.
The text a run ends with is :mod:`batch.ui._closing`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .._models import Status
from .._words import plural

__all__ = [
    "counts_line",
    "forecast",
    "format_duration",
    "holding_text",
    "pace",
    "status_label",
]


def format_duration(seconds: float, *, compact: bool = False) -> str:
    """Say a duration the way a person reads it: ``45 s``, ``3 min 31 s``, ``2 h 05 min``.

    ``compact=True`` gives the same units without spaces (``3m31s``) for one-line progress.
    Under half a second reads ``<1 s``; negative durations count as zero.
    """
    if not math.isfinite(seconds):
        return "for ever" if seconds > 0 else f"<1{' ' if not compact else ''}s"
    whole = int(max(seconds, 0.0) + 0.5)  # half up; round() would make 2.5 s into 2 s
    space = "" if compact else " "

    def part(n: int, unit: str, width: int = 1) -> str:
        return f"{n:0{width}d}{space}{unit}"

    if whole == 0:
        return f"<1{space}s"
    if whole < 60:
        return part(whole, "s")
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return space.join((part(minutes, "m" if compact else "min"), part(secs, "s", 2)))
    hours, minutes = divmod(int(whole / 60 + 0.5), 60)
    return space.join((part(hours, "h"), part(minutes, "m" if compact else "min", 2)))


def forecast(valid: int, rate: float, plan: str | None, *, skipped: int = 0) -> str:
    """Say how long sending ``valid`` rows takes at ``rate`` requests/s (``--dry-run``).

    ``plan`` is the Zoom account type as configured (``"pro"``, ``"Enterprise"``) or None;
    with no rows or no rate only the count is said. ``skipped`` rows (unchanged since the
    state store saw them, or done in the ``--retry-failed`` report) would send nothing: they
    are said apart and take no time.
    """
    if skipped:
        text = f"{plural(valid + skipped, 'row')}: {skipped:,} already done (would be skipped), "
        text += f"{valid:,} to send" if valid else "nothing to send"
    else:
        text = plural(valid, "valid row")
    if valid > 0 and rate > 0:
        text += f" ≈ {format_duration(valid / rate)} at {pace(rate)}"
        if plan:
            name = plan[:1].upper() + plan[1:]
            article = "an" if name[:1] in "AEIOU" else "a"
            text += f" on {article} {name} account"
    return text


def pace(rate: float) -> str:
    """A rate in requests or rows per second: ``19.4/s``, ``1,200.0/s``."""
    return f"{rate:,.1f}/s"


def status_label(status: Status) -> str:
    """A status as the operator reads it: ``not attempted``, not ``not_attempted``."""
    return status.value.replace("_", " ")


def counts_line(counts: Mapping[Status, int]) -> str:
    """``uploaded 1,150 skipped 40 failed 10``: the non-zero counts, in the report's order.

    Empty when every count is zero; callers decide what to say instead.
    """
    return " ".join(f"{status_label(s)} {counts[s]:,}" for s in Status if counts.get(s, 0))


def holding_text(seconds: float, reason: str, rate: float) -> str:
    """``holding back 1.0 s: rate limited (429) — pace now 12.0/s``; ``reason`` is the pool's.

    Short holds are said to a tenth of a second; the hours-long wait for a daily quota reads
    as a duration (``8 h 20 min``).
    """
    wait = f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)
    return f"holding back {wait}: {reason} — pace now {pace(rate)}"
