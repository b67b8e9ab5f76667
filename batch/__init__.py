"""zoom-batch: set Zoom users' profile pictures in bulk.

The command line is the usual way in (``zoom-batch run MANIFEST``); from Python::

    from batch import Config, run_manifest

    run = run_manifest(Config(plan="business"), Path("photos.csv"))  # job="remove" too
    summary = await run  # run.stop() from a signal handler stops it cleanly

The built-in simulator (``batch.Simulator``) plays Zoom for tests: start it and point a
``Config``'s ``api_url`` and ``oauth_url`` at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from ._config import Config, build_config
from ._exceptions import (
    AccessRefused,
    ApiError,
    ConfigError,
    CredentialsError,
    DailyLimitReached,
    FatalError,
    InvalidRow,
    ManifestError,
    MissingCredentials,
    PermanentError,
    RateLimited,
    RowError,
    SetupError,
    StateError,
    TokenExpired,
    TransientError,
    ZoomBatchError,
)
from ._models import ManifestRow, PreparedImage, RowResult, RunSummary, Status
from ._pacing import PacingPolicy
from ._retry import RetryPolicy
from ._runner import RunHandle, run_manifest
from .ui import NullObserver, RunObserver

if TYPE_CHECKING:
    from .simulator import Simulator, SimulatorOptions


def __getattr__(name: str) -> Any:
    # The simulator (and aiohttp's server half under it) loads on first use: a real run never
    # needs it, and importing it cost ~40 ms of every start-up (bench/scale.py).
    if name in ("Simulator", "SimulatorOptions"):
        from . import simulator

        return getattr(simulator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AccessRefused",
    "ApiError",
    "Config",
    "ConfigError",
    "CredentialsError",
    "DailyLimitReached",
    "FatalError",
    "InvalidRow",
    "ManifestError",
    "ManifestRow",
    "MissingCredentials",
    "NullObserver",
    "PacingPolicy",
    "PermanentError",
    "PreparedImage",
    "RateLimited",
    "RetryPolicy",
    "RowError",
    "RowResult",
    "RunHandle",
    "RunObserver",
    "RunSummary",
    "SetupError",
    "Simulator",
    "SimulatorOptions",
    "StateError",
    "Status",
    "TokenExpired",
    "TransientError",
    "ZoomBatchError",
    "__version__",
    "build_config",
    "run_manifest",
]
