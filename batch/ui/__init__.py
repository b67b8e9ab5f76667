"""What the operator sees and what cron logs: the events, the console, the logs, the wording.

``RunObserver`` declares a run's six events and ``NullObserver`` gives do-nothing defaults for
them; ``ConsoleProgress`` shows them to people, ``JsonLog`` and ``TextLog`` write them to
``--log-file``, and ``Observers`` passes them to several at once. rich loads only when
``ConsoleProgress`` draws a live display on a terminal.
"""

from __future__ import annotations

from ._console import ConsoleProgress
from ._events import NullObserver, Observers, RunObserver
from ._logs import JsonLog, TextLog, redact
from ._wording import closing_text, forecast, format_duration

__all__ = [
    "ConsoleProgress",
    "JsonLog",
    "NullObserver",
    "Observers",
    "RunObserver",
    "TextLog",
    "closing_text",
    "forecast",
    "format_duration",
    "redact",
]
