"""Photos in local files, named by the manifest's file column (``--root`` confines them).

Checks are cached per unchanged file (same inode, size and mtime), so a photo used by many rows
is read and decoded once per run; the cache is bounded, so memory stays flat on any manifest.
A photo above :data:`STREAM_ABOVE` sent as it is (or with its GPS taken out of its head) is not
kept in memory after its check: it is streamed from disk when sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import stat
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import aiofiles

from .._exceptions import InvalidRow
from .._models import ImageFacts, ManifestRow, PreparedImage
from .._window import ByteBudget
from ._check import DEFAULT_FIT_MAX_EDGE, check_file, excerpt, not_found, prepare_image
from ._faces import NONE
from ._preview import Previews
from ._source import Checked

__all__ = ["IMAGE_CACHE_SIZE", "LocalFiles", "cannot_read", "within_root"]

#: Files up to this size are read and hashed on the event loop; larger ones in a thread
#: (measured: inline is faster below ~200 KB, a thread above ~400 KB).
_INLINE_LIMIT = 256 * 1024
#: Photos up to this size are checked on the loop. The check decodes (at 1/8 scale for JPEG):
#: ~0.2 ms for a 1 KB avatar, ~1 ms at 32 KB, ~5 ms at 256 KB — too long to hold the loop.
_CHECK_INLINE_LIMIT = 32 * 1024
IMAGE_CACHE_SIZE = 4096
#: Photos above this are streamed from disk when sent, not held in memory until then.
STREAM_ABOVE = _INLINE_LIMIT


async def _read(path: Path, size: int) -> bytes:
    """A file's bytes: read on the loop when small, else off it."""
    # 10,000 photos of 1-3 KB (bench/skip_unchanged.py): aiofiles' three thread hops (open,
    # read, close) cost ~0.6 ms of CPU per file, a plain read ~0.03 ms.
    if size <= _INLINE_LIMIT:
        return path.read_bytes()  # noqa: ASYNC240 - deliberate, see above
    async with aiofiles.open(path, "rb") as handle:
        return await handle.read()


async def _sha256(data: bytes) -> str:
    if len(data) <= _INLINE_LIMIT:
        return hashlib.sha256(data).hexdigest()
    return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())


def cannot_read(shown: str, exc: OSError) -> str:
    """The message for a photo whose reading failed after its checks passed."""
    return f"cannot read {shown}: {exc.strerror or exc} — check the file and try again"


class _Identity(NamedTuple):
    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int


class LocalFiles:
    """The :class:`~batch.photos.PhotoSource` of photos on disk.

    ``crop`` (``center``, ``face``; with ``fit``) cuts each photo to a square
    (:mod:`._faces`), on the photo pool's threads like the rest of the check. ``previews``,
    when given, receives every photo prepared, for the contact sheet.
    """

    def __init__(
        self,
        *,
        fit: bool = False,
        fit_max_edge: int = DEFAULT_FIT_MAX_EDGE,
        root: Path | None,
        budget: ByteBudget | None = None,
        crop: str = NONE,
        previews: Previews | None = None,
    ) -> None:
        if crop != NONE and not fit:
            raise ValueError("crop needs fit: only what --fit re-encodes is cropped")
        self._fit = fit
        self._max_edge = fit_max_edge
        self._crop = crop
        #: Where each photo prepared leaves a thumbnail for the contact sheet (``--html``).
        self._previews = previews
        self._root = root.resolve() if root is not None else None
        self._cache: OrderedDict[_Identity, ImageFacts | InvalidRow] = OrderedDict()
        self.decoded = 0  #: images decoded (cache misses), for tests and benchmarks
        self._executor: ThreadPoolExecutor | None = None
        #: The run's byte budget: a photo being checked holds its size of it.
        self._budget = budget

    def close(self) -> None:
        self._cache.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _path_of(self, row: ManifestRow) -> Path:
        if row.path is None:
            raise InvalidRow("no file on this row — add the photo's file name")
        if not within_root(row.path, self._root):
            raise InvalidRow(
                f"file {excerpt(row.file)} is outside the allowed folder {self._root} (--root)"
                " — move the photo into that folder or fix the path"
            )
        return row.path

    async def inspect(self, row: ManifestRow) -> Checked:
        path = self._path_of(row)
        try:
            info = os.stat(path)
        except OSError:
            info = None
        identity = None
        if info is not None and stat.S_ISREG(info.st_mode):
            identity = _Identity(
                str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns
            )
            cached = self._cache.get(identity)
            if cached is not None:
                self._cache.move_to_end(identity)
                if isinstance(cached, InvalidRow):
                    raise InvalidRow(str(cached))
                return Checked(cached)
        try:
            image = await self._prepare(path, row.file)
        except InvalidRow as exc:
            self._remember(identity, exc)
            raise
        self._remember(identity, image.facts)
        return Checked(image.facts, _streamed(image, path))

    def _remember(self, identity: _Identity | None, value: ImageFacts | InvalidRow) -> None:
        if identity is None:
            return
        self._cache[identity] = value
        if len(self._cache) > IMAGE_CACHE_SIZE:
            self._cache.popitem(last=False)

    async def _prepare(self, path: Path, shown: str) -> PreparedImage:
        shown = excerpt(shown)
        size = check_file(path, shown=shown, fit=self._fit)
        if size <= _CHECK_INLINE_LIMIT and not self._fit and self._previews is None:
            # A small photo checks in well under a millisecond; a thread hop costs as much.
            return prepare_image(self._read_photo(path, shown), filename=path.name)
        # Checking, re-encoding and hashing a large file is CPU work: off the loop, on one thread
        # per core, each reading its photo only once its turn comes, so the photos alive in
        # memory (bytes and decoded pixels) are bounded by the cores, not by the rows waiting.
        # Few threads also keep few malloc arenas: with asyncio's default executor (cores + 4
        # threads) bench/fit.py's peak RSS was ~100 MB higher.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="zoom-batch-photo"
            )
        loop = asyncio.get_running_loop()
        if self._budget is not None:
            await self._budget.take(size)
        try:
            return await loop.run_in_executor(self._executor, self._read_and_prepare, path, shown)
        finally:
            if self._budget is not None:
                self._budget.give(size)

    def _read_and_prepare(self, path: Path, shown: str) -> PreparedImage:
        data = self._read_photo(path, shown)
        image = prepare_image(
            data, filename=path.name, fit=self._fit, max_edge=self._max_edge, crop=self._crop
        )
        if self._previews is not None:
            self._previews.add(image)  # here, in the pool's thread: a preview is a decode
        return image

    def _read_photo(self, path: Path, shown: str) -> bytes:
        """The photo's bytes to check, its reading failures as the row's; blocking, so called
        on the loop only for photos small enough that a thread hop would cost more."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InvalidRow(not_found(shown)) from None
        except OSError as exc:
            raise InvalidRow(cannot_read(shown, exc)) from None
        self.decoded += 1
        return data

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        try:
            path = self._path_of(row)
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode):
                return None  # reading a named pipe would block the loop: the checks refuse it
            data = await _read(path, info.st_size)
        except (OSError, InvalidRow):
            return None
        return len(data), await _sha256(data)

    async def load(self, row: ManifestRow, checked: Checked) -> PreparedImage:
        if checked.image is not None:
            return checked.image
        facts = checked.facts
        path = self._path_of(row)
        if facts.fitted:
            return await self._prepare(path, row.file)
        try:
            data = await _read(path, facts.size)
        except OSError as exc:
            raise InvalidRow(cannot_read(excerpt(row.file), exc)) from None
        if len(data) != facts.size or await _sha256(data) != facts.sha256:
            # Changed since it was checked, or what is sent is not the file as it is (its GPS
            # metadata taken out): check it again.
            return _streamed(await self._prepare(path, row.file), path)
        image = PreparedImage(
            data,
            facts.filename,
            facts.content_type,
            facts.sha256,
            facts.width,
            facts.height,
            source_offset=0,
        )
        return _streamed(image, path)


def within_root(path: Path, root: Path | None) -> bool:
    """True when ``path`` (links followed) lies inside ``root`` (already resolved), or no root.

    The one test of ``--root``: the photo sources and the contact sheet both ask it, so the
    sheet shows nothing a run would refuse to read.
    """
    if root is None:
        return True
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        real = path
    return real.is_relative_to(root)


def _streamed(image: PreparedImage, path: Path) -> PreparedImage:
    """``image`` to be streamed from ``path`` when it is large and the file's own bytes."""
    offset = image.source_offset
    if offset is None or image.size <= STREAM_ABOVE:
        return image
    return dataclasses.replace(
        image,
        data=image.data[: image.head_size],
        path=path,
        streamed=image.size - image.head_size,
    )
