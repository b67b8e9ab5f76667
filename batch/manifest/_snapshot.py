"""The manifest's bytes, read once: a private copy taken as the file is first read.

A run checks the whole manifest before its first upload and then streams its rows for as long
as the run lasts, minutes or hours: the file may be rewritten, truncated or deleted meanwhile
(a nightly export, an editor's save). Reading it twice would check one file and run another,
so :func:`take` opens it once, and every byte read from it is first copied into an anonymous
temporary file (deleted when closed; on disk, not in memory, so that memory stays bounded
however large the manifest). Every read after that — the check's, then each pass over the
rows — is of that copy. The copy is made as the check reads, so a file refused on its first
line is not copied to its end.

Only a regular file is opened: :func:`take` looks at the path with ``stat`` first (which
never blocks), because opening a FIFO waits for a writer, deaf to signals, and reading a pipe
or a device takes what it holds from whoever else reads it.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import IO

from .._exceptions import ManifestError

#: How much of the file one read copies. Measured on a 100,000-row CSV manifest (4.2 MB),
#: open_manifest then every row, best of 9 in three interleaved rounds on a 2-core VM: 1.57 s
#: before the snapshot, 1.71 s with it (+9%; YAML, 5.9 MB: 5.2 s both). Copying and hashing
#: the 4.2 MB and reading it back take 6 ms of that; the rest is TextIOWrapper reading through
#: a stream of Python's rather than a plain FileIO (~0.3 us a row a pass, as with any
#: io.RawIOBase subclass, even of FileIO): nothing next to a row's upload or image check.
COPY_CHUNK = 256 * 1024
#: The read buffer of each pass over the copy.
READ_BUFFER = 64 * 1024

_NOT_A_FILE = "not a manifest file — save the manifest to a file first"
# Where open() would refuse, block, or read what another reader should have had.
_KINDS = (
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)
# O_NONBLOCK: should the path become a FIFO between stat() and open(), open() still returns.
_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)


def take(path: Path) -> Snapshot:
    """Open the regular file at ``path`` for a :class:`Snapshot` of it.

    Raises :class:`ManifestError` naming ``path`` (as given) when it is missing, unreadable,
    a directory, a pipe, a device or a socket: nothing but a regular file is opened.
    """
    try:
        _check_kind(path, os.stat(path).st_mode)
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise unreadable(path, exc) from None
    try:
        _check_kind(path, os.fstat(fd).st_mode)  # what was opened, whatever the path is now
        if _FLAGS & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        source = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    try:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - the Snapshot owns it and closes it
    except OSError as exc:
        source.close()
        raise _cannot_copy(path, exc) from None
    return Snapshot(path, source, spool)


def _check_kind(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ManifestError(f"{path}: is a directory, not a manifest file")
    kind = next((what for test, what in _KINDS if test(mode)), None)
    if kind is None:
        raise ManifestError(f"{path}: is not a regular file, {_NOT_A_FILE}")
    raise ManifestError(f"{path}: is {kind}, {_NOT_A_FILE}")


def unreadable(path: Path, exc: OSError) -> ManifestError:
    """The message for ``path`` that cannot be opened or read."""
    if isinstance(exc, FileNotFoundError):
        return ManifestError(f"{path}: manifest not found")
    if isinstance(exc, IsADirectoryError):
        return ManifestError(f"{path}: is a directory, not a manifest file")
    if isinstance(exc, PermissionError):
        return ManifestError(f"{path}: permission denied reading the manifest")
    return ManifestError(f"{path}: cannot read the manifest ({exc.strerror or exc})")


def _cannot_copy(path: Path, exc: OSError) -> ManifestError:
    folder = tempfile.gettempdir()
    return ManifestError(
        f"{path}: cannot copy the manifest to a temporary file in {folder}"
        f" ({exc.strerror or exc}) — free some space there, or set TMPDIR to another folder"
    )


class Snapshot:
    """A file's bytes as read so far, kept in a temporary file; :meth:`reader` reads them.

    Bytes are copied from the file the first time a reader asks for them, in order, so the
    copy is the file as it was read, once. Readers read the copy only, each from its own
    place. :meth:`finish` copies the rest and closes the file; :meth:`close` drops the copy.
    Safe to read from several threads.
    """

    def __init__(self, path: Path, source: IO[bytes], spool: IO[bytes]) -> None:
        self.path = path  #: the file, as given: messages name it
        self._source: IO[bytes] | None = source
        self._spool = spool
        self._hash = hashlib.sha256()
        self._lock = threading.Lock()
        self.size = 0  #: bytes copied so far; the file's size once finished

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the bytes copied: of the whole file once finished."""
        return self._hash.hexdigest()

    @property
    def closed(self) -> bool:
        return self._spool.closed

    def reader(self) -> io.BufferedReader:
        """A new binary, seekable stream over the copy, from its start; closing it leaves the
        snapshot open. Reading past what was copied copies more of the file first."""
        return io.BufferedReader(_Cursor(self), READ_BUFFER)

    def finish(self) -> int:
        """Copy the rest of the file, close it, and return its size."""
        with self._lock:
            while self._source is not None:
                self._copy()
        return self.size

    def close(self) -> None:
        """Close the file (if still open) and delete the copy. Reading afterwards raises
        ValueError."""
        with self._lock:
            if self._source is not None:
                self._source.close()
                self._source = None
            self._spool.close()

    def read_at(self, offset: int, buffer: memoryview) -> int:
        """Fill ``buffer`` from the copy at ``offset``; the number of bytes read, 0 at the end."""
        with self._lock:
            if self._spool.closed:
                raise ValueError("I/O operation on a closed manifest snapshot")
            while self._source is not None and self.size < offset + len(buffer):
                self._copy()
            try:
                self._spool.seek(offset)
                return self._spool.readinto(buffer)  # type: ignore[attr-defined, no-any-return]
            except OSError as exc:
                raise ManifestError(
                    f"{self.path}: cannot read the manifest's copy in {tempfile.gettempdir()}"
                    f" ({exc.strerror or exc})"
                ) from None

    def _copy(self) -> None:
        """Copy the file's next chunk (the lock is held); at its end, close it."""
        assert self._source is not None
        try:
            chunk = self._source.read(COPY_CHUNK)
        except OSError as exc:
            raise unreadable(self.path, exc) from None
        if not chunk:
            self._source.close()
            self._source = None
            return
        try:
            self._spool.seek(0, os.SEEK_END)
            self._spool.write(chunk)
        except OSError as exc:
            raise _cannot_copy(self.path, exc) from None
        self._hash.update(chunk)
        self.size += len(chunk)


class _Cursor(io.RawIOBase):
    """One reader's place in a :class:`Snapshot`."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self._snapshot.read_at(self._position, buffer)
        self._position += count
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self._snapshot.finish() + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        return self._position
