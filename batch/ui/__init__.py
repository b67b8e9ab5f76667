"""What the operator sees and what cron logs: wording, the console, event logs, the events."""

from __future__ import annotations

from ._events import RunObserver
from ._progress import (
    ConsoleProgress,
    JsonLog,
    Observers,
    TextLog,
    closing_text,
    forecast,
    format_duration,
    redact,
)

__all__ = [
    "ConsoleProgress",
    "JsonLog",
    "Observers",
    "RunObserver",
    "TextLog",
    "closing_text",
    "forecast",
    "format_duration",
    "redact",
]
