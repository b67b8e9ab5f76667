"""What the operator sees and what cron logs: the events, the console, the logs, the wording.

``RunObserver`` declares a run's six events and ``NullObserver`` gives do-nothing defaults for
them; ``ConsoleProgress`` shows them to people, ``JsonLog`` and ``TextLog`` write them to
``--log-file``, and ``Observers`` passes them to several at once. rich loads only when
``ConsoleProgress`` draws a live display on a terminal. ``closing_text`` is what a run ends
with; ``ProblemRows`` and ``Slowdown`` are what it says of the rows to look at and of 429s.
"""

from __future__ import annotations

from ._closing import ProblemRows, Slowdown, closing_text
from ._console import ConsoleProgress
from ._events import RATE_LIMITED, NullObserver, Observers, RunObserver
from ._logs import JsonLog, TextLog, redact
from ._wording import forecast, format_duration

__all__ = [
    "RATE_LIMITED",
    "ConsoleProgress",
    "JsonLog",
    "NullObserver",
    "Observers",
    "ProblemRows",
    "RunObserver",
    "Slowdown",
    "TextLog",
    "closing_text",
    "forecast",
    "format_duration",
    "redact",
]
