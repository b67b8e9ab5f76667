"""The state store's lock: one run at a time per store, and a killed run leaves none behind.

An OS advisory lock on the sidecar file ``<path>.lock``, held for the store's lifetime; the
holder writes who it is into the file so that a second run can name it.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from pathlib import Path

from ._clock import now_iso
from ._exceptions import StateError

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

__all__ = ["StoreLock"]

# The lock file: the holder's details (JSON, space-padded) in the first bytes, and on Windows
# the locked byte just after them, because msvcrt locks are mandatory and would block reading.
_HOLDER_SIZE = 512


class StoreLock:
    """An exclusive, non-blocking OS advisory lock on ``<path>.lock``, naming its holder.

    ``flock`` (POSIX) and ``msvcrt.locking`` (Windows) locks die with the process holding
    them, so a killed run leaves no stale lock behind.
    """

    def __init__(self, fd: int | None) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path, *, run_id: str) -> StoreLock:
        lock_path = Path(f"{path}.lock")
        try:
            # O_BINARY: Windows would otherwise open in text mode.
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
            fd = os.open(lock_path, flags, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open the lock file {lock_path}: {exc.strerror}") from exc
        try:
            _try_lock(fd)
        except OSError as exc:
            os.close(fd)
            if not _is_contention(exc):
                raise StateError(f"cannot lock {lock_path}: {exc.strerror}") from exc
            raise StateError(
                f"{path} is in use by another zoom-batch run ({_describe_holder(lock_path)}) "
                "— wait for it to finish: one run at a time per Zoom account, since two would share"
                " and overrun the account's rate limit"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run_id": run_id,
            "since": now_iso(),
        }
        _write_holder(fd, json.dumps(holder))
        return cls(fd)

    @classmethod
    def none(cls) -> StoreLock:
        """No lock at all: for a store opened read-only, which a run may hold meanwhile."""
        return cls(None)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Blank the holder first, so nobody reads our details after we are gone.
            _write_holder(fd, "")
            _unlock(fd)
        finally:
            os.close(fd)


def _write_holder(fd: int, text: str) -> None:
    data = text.encode("utf-8")[:_HOLDER_SIZE].ljust(_HOLDER_SIZE)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _describe_holder(lock_path: Path) -> str:
    """``pid 123 on host, run r1, since 2026-11-27T02:00:00Z``, as far as the lock file says."""
    # The holder writes its details just after locking: give it a moment if they are not there.
    for _ in range(5):
        try:
            with lock_path.open("rb") as f:
                text = f.read(_HOLDER_SIZE).decode("utf-8", "replace").strip()
            info = json.loads(text) if text else None
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict):
            return (
                f"pid {info.get('pid', '?')} on {info.get('host', '?')}, "
                f"run {info.get('run_id', '?')}, since {info.get('since', '?')}"
            )
        time.sleep(0.01)
    return f"holder unknown; see {lock_path}"


if sys.platform == "win32":

    def _try_lock(fd: int) -> None:
        os.lseek(fd, _HOLDER_SIZE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _HOLDER_SIZE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _is_contention(exc: OSError) -> bool:
        # LK_NBLCK fails with EACCES (or EDEADLOCK) when another handle holds the byte.
        return exc.errno in (errno.EACCES, errno.EDEADLOCK)

else:

    def _try_lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _is_contention(exc: OSError) -> bool:
        return isinstance(exc, BlockingIOError)
