"""One HTTP exchange with aiohttp's errors translated: the one place they become ours.

:func:`exchange` sends a request on the run's shared session (which carries the timeouts) and
returns the whole :class:`Answer`; whatever aiohttp or the socket raises on the way becomes a
:class:`~batch._exceptions.TransientError` in plain words. What an answer *means* is the
caller's business: Zoom's API answers are classified in ``_client.py``, the OAuth server's in
``_auth.py``; the retry policy (``_retry.py``) speaks only our own types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp
from yarl import URL

from ._exceptions import TransientError

__all__ = ["Answer", "exchange"]


class Answer(NamedTuple):
    """The parts of an HTTP answer that the classifiers read."""

    status: int
    headers: Mapping[str, str]
    body: bytes


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str | URL,
    *,
    server: str = "Zoom",
    **options: Any,
) -> Answer:
    """Send one request and read its answer; network faults raise :class:`TransientError`.

    ``server`` names the other side in messages ("no answer from Zoom in time"). ``options``
    go to :meth:`aiohttp.ClientSession.request` as they are.
    """
    try:
        async with session.request(method, url, **options) as response:
            return Answer(response.status, response.headers, await response.read())
    except TimeoutError:
        raise TransientError(f"no answer from {server} in time (timeout)") from None
    except aiohttp.ServerDisconnectedError:
        raise TransientError(f"{server} closed the connection without answering") from None
    except aiohttp.ClientConnectorError as exc:
        raise TransientError(f"cannot connect to {exc.host}: {exc.os_error}") from None
    except aiohttp.ClientPayloadError:
        raise TransientError(f"the connection broke while reading {server}'s answer") from None
    except aiohttp.ClientError as exc:
        raise TransientError(f"network error: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise TransientError(f"network error: {exc.strerror or exc}") from None
