"""A stand-in for Zoom's API and OAuth server, for trying the tool and for tests.

Shipped with the package as httpx ships ``MockTransport``: ``zoom-batch run --simulate`` starts
one in-process and points an ordinary :class:`~batch.Config` at it. The run path itself never
knows it is talking to a simulator.
"""

from __future__ import annotations

from ._app import (
    MAX_PICTURE_BYTES,
    ReceivedPicture,
    Refusal,
    Simulator,
    SimulatorOptions,
    SimulatorStats,
    load_users_file,
    max_in_window,
    serve,
)

__all__ = [
    "MAX_PICTURE_BYTES",
    "ReceivedPicture",
    "Refusal",
    "Simulator",
    "SimulatorOptions",
    "SimulatorStats",
    "load_users_file",
    "max_in_window",
    "serve",
]
