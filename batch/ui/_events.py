"""What a run tells the outside world while it goes: the events, and passing them to several.

:class:`RunObserver` is the one place the six events are declared. An observer is any object
with those methods; one that subclasses :class:`NullObserver` writes only the ones it uses.
:class:`Observers` hands each event to several observers, so one that breaks (a full disk under
``--log-file``) never stops the run nor the others.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol

from .._models import RowResult, RunSummary

__all__ = ["RATE_LIMITED", "NullObserver", "Observers", "RunObserver"]

#: ``backoff_started``'s reason when a 429 cut the pace (the console counts these cuts).
RATE_LIMITED = "rate limited (429)"

_log = logging.getLogger(__name__)

_P = ParamSpec("_P")


class RunObserver(Protocol):
    """Receives a run's events. Called on the event loop; must not block.

    Any object with these six methods will do. Subclass :class:`NullObserver` (or this class)
    to inherit a do-nothing default for the events an observer has no use for.
    """

    # The bodies say `return None`, not `...`: mypy counts an empty protocol method as
    # abstract, and these are real defaults that a subclass inherits.

    def run_started(self, *, total: int, rate: float, dry_run: bool) -> None:
        """The run begins: ``total`` rows, paced at ``rate`` requests/s (a dry run sends none)."""
        return None

    def row_finished(self, result: RowResult) -> None:
        """A row has its final status for this run, as it will appear in the report."""
        return None

    def backoff_started(self, *, seconds: float, reason: str, rate: float) -> None:
        """The pool holds back ``seconds`` (429 seen, quota spent); ``rate`` is the new pace.

        ``reason`` is :data:`RATE_LIMITED` when a 429 cut the pace.
        """
        return None

    def backoff_ended(self, *, rate: float) -> None:
        """The hold is over; requests go out again at ``rate`` requests/s."""
        return None

    def token_renewed(self) -> None:
        """The OAuth access token was renewed mid-run: routine, nothing to act on."""
        return None

    def run_finished(self, summary: RunSummary) -> None:
        """The run is over and its reports are written; the last event of a run."""
        return None


class NullObserver(RunObserver):
    """An observer that ignores every event: subclass it and override only what you use.

    Subclassing also lets mypy check each override against the event's signature.
    """


def _fan_out(
    event: Callable[Concatenate[RunObserver, _P], None],
) -> Callable[Concatenate[Observers, _P], None]:
    """An :class:`Observers` method that passes ``event``'s arguments to every observer.

    Typed from the protocol's own method, so the fan-out takes exactly the event's arguments
    without writing them out again.
    """
    name = event.__name__

    def forward(self: Observers, /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        self._each(name, args, kwargs)

    # The protocol's name, docstring and (through __wrapped__) signature, for help() and tracebacks.
    functools.update_wrapper(forward, event)
    forward.__qualname__ = f"Observers.{name}"
    return forward


class Observers:
    """Passes each event to several observers, in order; one that raises never breaks the run.

    The first failure of each observer is logged (with its traceback) to the
    ``batch.ui._events`` logger, which reaches stderr when logging is not configured; later
    ones are silent so a broken log file does not print a line per row. The observer keeps
    receiving events. Call :meth:`close` in a ``finally`` (e.g. after Ctrl-C).
    """

    def __init__(self, *observers: RunObserver) -> None:
        self._observers = observers
        self._failed: set[int] = set()

    # Not inherited from NullObserver: an event added to RunObserver and not forwarded here
    # must be a mypy error (see the check below), not an event silently dropped.
    run_started = _fan_out(RunObserver.run_started)
    row_finished = _fan_out(RunObserver.row_finished)
    backoff_started = _fan_out(RunObserver.backoff_started)
    backoff_ended = _fan_out(RunObserver.backoff_ended)
    token_renewed = _fan_out(RunObserver.token_renewed)
    run_finished = _fan_out(RunObserver.run_finished)

    def close(self) -> None:
        """Close the observers that can be closed (the live display); the others are skipped."""
        self._each("close", (), {}, optional=True)

    def _each(
        self,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        optional: bool = False,
    ) -> None:
        # The event's arguments come packed so that none of them can clash with ``optional``.
        for index, observer in enumerate(self._observers):
            if optional and not hasattr(observer, method):
                continue
            try:
                getattr(observer, method)(*args, **kwargs)
            except Exception:
                if index not in self._failed:
                    self._failed.add(index)
                    _log.error(
                        "%s failed in %s; the run goes on, later failures are not shown",
                        type(observer).__name__,
                        method,
                        exc_info=True,
                    )


if TYPE_CHECKING:
    # Fails type-checking as soon as Observers lacks an event or forwards it with other arguments.
    _forwards_every_event: type[RunObserver] = Observers
