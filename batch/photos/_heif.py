"""HEIC/HEIF support, when the optional ``heic`` extra (pillow-heif) is installed."""

from __future__ import annotations

import threading

__all__ = ["register_heif"]


class _Registration:
    """Registers pillow-heif's opener with Pillow once, on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._available: bool | None = None

    def __call__(self) -> bool:
        with self._lock:
            if self._available is None:
                try:
                    import pillow_heif
                except ImportError:
                    self._available = False
                else:
                    pillow_heif.register_heif_opener()
                    self._available = True
            return self._available


_REGISTRATION = _Registration()


def register_heif() -> bool:
    """Let Pillow open HEIC/HEIF pictures; say whether it can (pillow-heif is installed).

    Registers once per process, on the first call (importing pillow-heif takes a while, so
    not before a HEIC photo is met); cheap afterwards, and safe from any thread.
    """
    return _REGISTRATION()
