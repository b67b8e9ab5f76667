"""A stand-in for Zoom's API and OAuth server, for trying the tool and for tests.

Shipped with the package as httpx ships ``MockTransport``: ``zoom-batch run --simulate`` starts
one in-process and points an ordinary :class:`~batch.Config` at it. The run path itself never
knows it is talking to a simulator.
"""

from __future__ import annotations

from ._app import Simulator, serve
from ._directory import load_pictures, load_user_statuses
from ._limits import max_in_window
from ._options import MAX_PICTURE_BYTES, SimulatorOptions, load_users_file
from ._stats import ReceivedPicture, Refusal, SimulatorStats

__all__ = [
    "MAX_PICTURE_BYTES",
    "ReceivedPicture",
    "Refusal",
    "Simulator",
    "SimulatorOptions",
    "SimulatorStats",
    "load_pictures",
    "load_user_statuses",
    "load_users_file",
    "max_in_window",
    "serve",
]
