"""Photos in directory entries: the :class:`~batch.photos.PhotoSource` of a directory's rows.

The search that made the rows measured each photo (size and sha256) and let it go;
:meth:`DirectoryPhotos.inspect` reads the row's photo again, by a base-scope read of the
row's entry and attribute, then checks it (and applies ``--fit``) exactly as a local file's
(:func:`~batch.photos.prepare_image`). The reads run on a few threads of their own, each with
its own connection (ldap3 is synchronous; the event loop never waits on the directory).

Unchanged photos: :meth:`~DirectoryPhotos.digest` answers from what the search measured, so a
re-run with nothing changed reads no photo a second time and checks none. Where the bytes sent
were not the attribute's own (GPS taken out, turned upright, ``--fit``), a
:class:`~batch.photos.Validators` store remembers what they became, keyed by an LDAP URL of the
entry's attribute, as the URL source does for photo URLs.

A read that fails because the directory is gone is tried once more on a new connection; then
the row fails with a :class:`~batch.FatalError`, which stops the run (the rows left are
reported as not sent).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import quote

from .._exceptions import ConfigError, FatalError, InvalidRow, ManifestError
from .._models import ManifestRow, PreparedImage
from .._window import ByteBudget
from ..photos import DEFAULT_FIT_MAX_EDGE, Checked, Validator, Validators, prepare_image
from ._ldap import Unreachable, close, connect, read_value
from ._manifest import DirectoryManifest

if TYPE_CHECKING:
    from ldap3 import Connection

__all__ = ["READ_THREADS", "DirectoryPhotos"]

#: Photos read from the directory at once (each thread has its own connection): at a
#: 30 ms round trip, ~130 a second, twice Zoom's fastest pace.
READ_THREADS = 4
#: Photos up to this size are not counted in the run's byte budget while checked.
_SMALL = 32 * 1024


class DirectoryPhotos:
    """The photos of a :class:`DirectoryManifest`'s rows; see the module docstring."""

    def __init__(
        self,
        directory: DirectoryManifest,
        *,
        fit: bool = False,
        fit_max_edge: int = DEFAULT_FIT_MAX_EDGE,
        budget: ByteBudget | None = None,
        validators: Validators | None = None,
        threads: int = READ_THREADS,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._directory = directory
        self._settings = directory.settings
        self._fit = fit
        self._max_edge = fit_max_edge
        self._budget = budget
        self._validators = validators
        self._prepared = f"fit {fit_max_edge}" if fit else "as is"
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self.reads = 0  #: photos read from the directory, for tests and benchmarks

    def key(self, row: ManifestRow) -> str:
        """The row's photo as an LDAP URL (RFC 4516): what the validators store is keyed by."""
        dn = quote(row.dn or "", safe="=,+ ")
        return f"{self._settings.url.server}/{dn}?{quote(row.file)}?base"

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        seen = self._directory.seen(row)
        if seen is None:
            return None
        record = self._validators.get(self.key(row)) if self._validators is not None else None
        if record is not None and (record.prepared, record.source_sha256) == (
            self._prepared,
            seen[1],
        ):
            return record.size, record.sha256  # what these very bytes became last time
        return seen

    async def inspect(self, row: ManifestRow) -> Checked:
        if not row.dn or not row.file:
            raise InvalidRow("no photo attribute on this row")
        seen = self._directory.forget(row)
        size = seen[0] if seen is not None and seen[0] > _SMALL else 0
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._threads, thread_name_prefix="zoom-batch-ldap-photo"
            )
        loop = asyncio.get_running_loop()
        if self._budget is not None:
            await self._budget.take(size)
        try:
            image, source = await loop.run_in_executor(
                self._executor, self._read_and_prepare, row.dn, row.file
            )
        finally:
            if self._budget is not None:
                self._budget.give(size)
        if self._validators is not None:
            self._validators.put(
                self.key(row),
                Validator(None, None, image.sha256, image.size, source, self._prepared),
            )
        return Checked(image.facts, image)

    async def load(self, row: ManifestRow, checked: Checked) -> PreparedImage:
        if checked.image is not None:
            return checked.image
        image = (await self.inspect(row)).image
        assert image is not None
        return image

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            close(connection)

    # -- on the reading threads ------------------------------------------------------------

    def _read_and_prepare(self, dn: str, attribute: str) -> tuple[PreparedImage, str]:
        data = self._read(dn, attribute)
        if data is None:
            raise InvalidRow(
                f"entry has no {attribute} any more (it was removed after the search)"
                " — run again to read the directory as it is"
            )
        self.reads += 1
        image = prepare_image(data, filename=attribute, fit=self._fit, max_edge=self._max_edge)
        return image, hashlib.sha256(data).hexdigest()

    def _read(self, dn: str, attribute: str) -> bytes | None:
        """The photo's bytes, on this thread's connection: a lost one is opened again once."""
        for attempt in (1, 2):
            try:
                return read_value(self._connection(), self._settings, dn, attribute)
            except LookupError:
                raise InvalidRow(
                    "entry is no longer in the directory (removed or renamed after the search)"
                ) from None
            except Unreachable as exc:
                self._drop()
                if attempt == 2:
                    raise FatalError(f"{exc} — run again when the directory is back") from None
            except (ConfigError, ManifestError) as exc:  # the bind refused now, say
                self._drop()
                raise FatalError(str(exc)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self._settings)
            self._local.connection = connection
            with self._lock:
                self._connections.add(connection)
        return connection

    def _drop(self) -> None:
        connection: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._connections.discard(connection)
            close(connection)
