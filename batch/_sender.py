"""Sending one row's API call: a send slot from the pacer, a token, retries, and the reactions.

Every job that calls Zoom sends through the run's one :class:`Sender`, so all of them share one
request budget, one token and one retry policy. Per attempt::

    wait for the daily quota (--wait-for-quota) → pacer slot → token → request
      429 per second  → the pacer cuts the pace and holds every sender (not the row's fault)
                        for at most min(60 s, the row's retry time left), whatever Retry-After says
      401/124         → the token source renews or resends (``_auth.py``), and the row goes again
      daily quota     → stop the run (rows deferred), or wait for it with --wait-for-quota
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from ._auth import Token
from ._client import ZoomClient
from ._clock import next_midnight_utc, utc_now
from ._exceptions import DailyLimitReached, RateLimited, TokenExpired, TransientError
from ._pacing import Pacer, Ticket
from ._pool import RunControl, Stopped
from ._retry import MAX_HOLD, RetryPolicy, Tries, send_with_retries

__all__ = ["QuotaListener", "Request", "Sender"]

Request = Callable[[ZoomClient, Token], Awaitable[None]]
"""One API call, e.g. ``lambda client, token: client.delete_picture(user, token)``."""

QuotaListener = Callable[[float, float], None]
"""Called as ``on_quota_wait(seconds, rate)`` when ``--wait-for-quota`` starts waiting."""


class Sender:
    """Sends the requests of every row of a run; see the module docstring."""

    def __init__(
        self,
        client: ZoomClient,
        pacer: Pacer,
        control: RunControl,
        *,
        retry: RetryPolicy,
        wait_for_quota: bool = False,
        on_quota_wait: QuotaListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.pacer = pacer
        self._control = control
        self._retry = retry
        self._wait_for_quota = wait_for_quota
        self._on_quota_wait = on_quota_wait
        self._clock = clock
        self._quota_until: float | None = None

    async def send(self, request: Request, tries: Tries) -> None:
        """Send with retries. Raises :class:`Stopped` when the run stops before it is sent,
        else the row's last :class:`~batch.ApiError` when it fails for good."""
        try:
            await send_with_retries(
                lambda: self._attempt(request, tries),
                policy=self._retry,
                tries=tries,
                clock=self._clock,
                sleep=self._control.sleep,
                cancelled=lambda: self._control.stopping,
            )
        except (TransientError, TokenExpired):
            if self._control.stopping:
                raise Stopped from None
            raise

    async def _gate(self, tries: Tries) -> Ticket:
        """Wait for a send slot; raise :class:`Stopped` if the run stops meanwhile."""
        control = self._control
        while True:
            if control.stopping:
                raise Stopped
            if self._quota_until is not None:
                wait = self._quota_until - self._clock()
                if wait > 0:
                    await control.sleep(wait)
                    tries.paused += wait
                    continue
                self._quota_until = None
            asked = self._clock()
            with control.releasable():
                ticket = await self.pacer.acquire()
            tries.queued += self._clock() - asked
            if control.stopping:
                raise Stopped
            return ticket

    async def _attempt(self, request: Request, tries: Tries) -> None:
        """One request for the row, through the pacer, with the pool-wide reactions to it."""
        client = self.client
        ticket = await self._gate(tries)
        token = await client.token()
        tries.sent += 1
        try:
            await request(client, token)
        except RateLimited as exc:
            hold = exc.retry_after
            if hold is not None:
                left = self._retry.max_retry_time - tries.elapsed(self._clock())
                hold = max(0.0, min(hold, MAX_HOLD, left))
            self.pacer.on_rate_limited(ticket, hold)
            raise
        except TokenExpired as exc:
            self.pacer.on_success(ticket)
            exc.counted = False  # the token's fault, not the row's
            await client.renew(token)  # raises AccessRefused when Zoom refuses the app
            raise
        except DailyLimitReached as exc:
            if not self._wait_for_quota:
                raise
            self._wait_until(exc.resets_at or next_midnight_utc())
            # Retried once the quota returns; the wait is not the row's fault.
            again = TransientError(exc.message, http_status=429, zoom_code=429)
            again.counted = False
            raise again from None
        self.pacer.on_success(ticket)

    def _wait_until(self, resets: datetime) -> None:
        seconds = max(1.0, (resets - utc_now()).total_seconds())
        until = self._clock() + seconds
        if self._quota_until is None or until > self._quota_until:
            self._quota_until = until
            if self._on_quota_wait is not None:
                self._on_quota_wait(seconds, self.pacer.rate)
