"""Photos at http(s) URLs (an HR system's export), and the source that routes rows by their cell.

:class:`RemotePhotos` downloads a row's photo with the run's :class:`~batch._fetch.Fetcher`
under the photos' policy (:func:`photo_policy`: ``--allow-host``/``allow_hosts`` and
``photo_headers``, checked by :func:`check_allow_hosts` and :func:`check_photo_headers`), then
checks it and applies ``--fit`` exactly as local files are (:func:`prepare_image`).

Unchanged photos. The upload job asks :meth:`RemotePhotos.digest` only when the state store
holds a last upload for the user, and skips the row when the digest is that upload's sha256
(the bytes sent). A :class:`Validators` store remembers, per URL, the server's ``ETag`` and
``Last-Modified``, the sha256 of the bytes downloaded and of the bytes they became:

* the server answers 304 to a conditional GET → the photo is not downloaded again, and the
  digest is the stored sha256 of the bytes they became, which the job compares;
* it sends the same bytes (a server without validators) → the same, without checking them again;
* anything else → the digest is None, and what was downloaded is kept for :meth:`inspect`, which
  the job calls next: a photo is downloaded once per row. (The job still skips the row when the
  checked bytes are those Zoom has.)

This module does not import aiohttp: the runner imports it in a dry run too.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import posixpath
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import unquote, urlsplit

from .._exceptions import ApiError, ConfigError, InvalidRow, RowError, TransientError
from .._fetch import DEFAULT_MAX_BYTES, FetchPolicy, FetchWords, HostRules
from .._models import ManifestRow, PreparedImage
from ._check import DEFAULT_FIT_MAX_EDGE, prepare_image
from ._faces import NONE
from ._preview import Previews
from ._source import Checked, PhotoSource

if TYPE_CHECKING:
    from .._fetch import Download, Fetcher, NoFetcher

__all__ = [
    "PHOTO_WORDS",
    "MemoryValidators",
    "RemotePhotos",
    "RoutedPhotos",
    "Validator",
    "Validators",
    "check_allow_hosts",
    "check_photo_headers",
    "host_rules",
    "is_url",
    "normalize_host",
    "photo_policy",
]

#: Downloads up to this size are checked on the loop (as ``_local``: a thread hop costs more).
_CHECK_INLINE_LIMIT = 32 * 1024
#: Downloads kept from :meth:`RemotePhotos.digest` for the row's :meth:`~RemotePhotos.inspect`;
#: only a row stopped between the two leaves one behind, and the oldest go first.
_KEPT = 256
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers zoom-batch sets itself, or that belong to the connection.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding", "upgrade"}
)

PHOTO_WORDS = FetchWords(
    thing="photo",
    server="the HR system",
    allow_hint="pass --allow-host {host}",
    auth_hint="check photo_headers for {host}",
)


def normalize_host(text: str) -> str:
    """A host as URLs carry it: lower case, IDNA-encoded, no trailing dot, an IP compressed.

    Raises ValueError, in words for the operator, for a URL, a port or no host name at all.
    """
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if "://" in host or "/" in host:
        raise ValueError(f"give a host name, not a URL: {host!r}")
    if ":" in host:
        raise ValueError(f"give the host without a port: {host!r}")
    from yarl import URL  # the IDNA encoding of the URLs it is compared with

    try:
        encoded = (URL.build(scheme="http", host=host.rstrip(".")).raw_host or "").lower()
    except (ValueError, UnicodeError):
        encoded = ""
    if not encoded or len(encoded) > 253 or not all(map(_LABEL.fullmatch, encoded.split("."))):
        raise ValueError(f"not a host name: {host!r}")
    return encoded


def host_rules(entries: Iterable[str]) -> HostRules:
    """Rules from ``hr.example.com``, ``10.1.2.3``, ``*.example.com`` (every name under
    ``example.com``); ValueError, in words for the operator, for a bad one."""
    exact, domains = set(), set()
    for entry in entries:
        text = entry.strip()
        if not text.startswith("*."):
            exact.add(normalize_host(text))
            continue
        domain = normalize_host(text[2:])
        if "." not in domain or domain.rsplit(".", 1)[1].isdigit():
            raise ValueError(f"a * rule needs a domain such as *.example.com: {text!r}")
        domains.add("." + domain)
    return HostRules(frozenset(exact), frozenset(domains))


def photo_policy(
    *,
    allow_hosts: Iterable[str] = (),
    headers: Mapping[str, Mapping[str, str]] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FetchPolicy:
    """The policy of photo URLs, from ``allow_hosts`` and ``photo_headers``.

    Hosts named exactly may be on private addresses (an HR system inside the network); hosts
    matched by a ``*.domain`` rule may not.
    """
    rules = host_rules(allow_hosts)
    sent = {normalize_host(host): dict(values) for host, values in (headers or {}).items()}
    return FetchPolicy(
        hosts=rules, words=PHOTO_WORDS, private_hosts=rules.exact, headers=sent, max_bytes=max_bytes
    )


def check_allow_hosts(values: object, *, key: str = "allow_hosts") -> tuple[str, ...]:
    """``allow_hosts`` (or the ``--allow-host`` values) checked; ConfigError names ``key``."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigError(f"{key}: expected a list of host names, got {values!r}")
    hosts = []
    for value in values:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a host name, got {value!r}")
        try:
            host_rules([value])
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        hosts.append(value.strip())
    return tuple(hosts)


def check_photo_headers(value: object, *, key: str = "photo_headers") -> dict[str, dict[str, str]]:
    """``photo_headers: {HOST: {Header: value}}`` checked (after ``${VAR}`` substitution);
    ConfigError names the key and the header, never a value."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping of host to headers")
    checked: dict[str, dict[str, str]] = {}
    for host, headers in value.items():
        try:
            name = normalize_host(str(host))
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        if not isinstance(headers, Mapping):
            raise ConfigError(f"{key}.{host}: expected a mapping of header name to value")
        for header, text in headers.items():
            where = f"{key}.{host}.{header}"
            if not isinstance(header, str) or not _TOKEN.fullmatch(header):
                raise ConfigError(f"{key}.{host}: {header!r} is not a header name")
            if header.lower() in _RESERVED_HEADERS:
                raise ConfigError(f"{where}: zoom-batch sets this header itself")
            if not isinstance(text, str) or any(c in text for c in "\r\n\0"):
                raise ConfigError(f"{where}: expected one line of text")
            checked.setdefault(name, {})[header] = text
    return checked


def is_url(file: str) -> bool:
    """True when a manifest's file cell is a URL (``https://…``; other schemes too, so that
    ``ftp://`` is refused as a URL rather than looked for as a file)."""
    return _URL.match(file.strip()) is not None


class Validator(NamedTuple):
    """What the state store remembers of one photo URL (one row per URL)."""

    etag: str | None  #: the server's ``ETag`` (sent back as ``If-None-Match``)
    last_modified: str | None  #: its ``Last-Modified`` (sent back as ``If-Modified-Since``)
    sha256: str  #: of the bytes the download became: checked, GPS taken out, ``--fit``
    size: int  #: of those bytes
    source_sha256: str  #: of the bytes downloaded
    #: The settings that made ``sha256`` from them (``"as is"``, ``"fit 1024"``,
    #: ``"fit 1024 crop face"``): a record made under other settings is not trusted.
    prepared: str


class Validators(Protocol):
    """The state store's memory of photo URLs (implemented by ``batch._state`` later)."""

    def get(self, url: str) -> Validator | None: ...

    def put(self, url: str, validator: Validator) -> None: ...


class MemoryValidators:
    """:class:`Validators` in a dict: for tests, and runs without a state store."""

    def __init__(self) -> None:
        self.records: dict[str, Validator] = {}

    def get(self, url: str) -> Validator | None:
        return self.records.get(url)

    def put(self, url: str, validator: Validator) -> None:
        self.records[url] = validator


class RemotePhotos:
    """The :class:`~batch.photos.PhotoSource` of photos at http(s) URLs; see the module
    docstring. The fetcher holds the run's byte budget: a download holds its size of it."""

    def __init__(
        self,
        fetcher: Fetcher | NoFetcher,
        policy: FetchPolicy,
        *,
        fit: bool = False,
        fit_max_edge: int = DEFAULT_FIT_MAX_EDGE,
        validators: Validators | None = None,
        crop: str = NONE,
        previews: Previews | None = None,
    ) -> None:
        if crop != NONE and not fit:
            raise ValueError("crop needs fit: only what --fit re-encodes is cropped")
        self._fetcher = fetcher
        self._policy = policy
        self._fit = fit
        self._max_edge = fit_max_edge
        self._crop = crop
        self._previews = previews  #: thumbnails for the contact sheet, as LocalFiles
        self._validators = validators
        self._prepared = f"fit {fit_max_edge}" if fit else "as is"
        if crop != NONE:  # "fit 1024 crop face": a record made without the crop is not trusted
            self._prepared += f" crop {crop}"
        self._kept: OrderedDict[ManifestRow, Download | RowError] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self.downloads = 0  #: photos downloaded (200 answers), for tests and benchmarks

    def close(self) -> None:
        while self._kept:
            _, kept = self._kept.popitem()
            if not isinstance(kept, RowError):
                kept.release()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        url = row.file.strip()
        record = self._validators.get(url) if self._validators is not None else None
        if record is not None and record.prepared != self._prepared:
            record = None
        try:
            download = await self._download(url, record)
        except RowError as exc:
            self._keep(row, exc)  # inspect reports it: the retries are not run twice
            return None
        if download.unchanged:
            assert record is not None
            return record.size, record.sha256
        if record is not None and await _sha256(download.data) == record.source_sha256:
            download.release()
            if (download.etag, download.last_modified) != (record.etag, record.last_modified):
                self._put(
                    url, record._replace(etag=download.etag, last_modified=download.last_modified)
                )
            return record.size, record.sha256
        self._keep(row, download)
        return None

    async def inspect(self, row: ManifestRow) -> Checked:
        url = row.file.strip()
        kept = self._kept.pop(row, None)
        if isinstance(kept, RowError):
            raise _invalid(kept)
        download = kept if kept is not None else await self._fetch(url)
        try:
            image, source = await self._prepare(download.data, _filename(url))
        finally:
            download.release()
        self._put(
            url,
            Validator(
                download.etag,
                download.last_modified,
                image.sha256,
                image.size,
                source,
                self._prepared,
            ),
        )
        return Checked(image.facts, image)

    async def load(self, row: ManifestRow, checked: Checked) -> PreparedImage:
        if checked.image is not None:
            return checked.image
        image = (await self.inspect(row)).image
        assert image is not None
        return image

    async def _fetch(self, url: str) -> Download:
        try:
            return await self._download(url, None)
        except RowError as exc:
            raise _invalid(exc) from None

    async def _download(self, url: str, record: Validator | None) -> Download:
        download = await self._fetcher.fetch(
            url,
            self._policy,
            etag=record.etag if record else None,
            last_modified=record.last_modified if record else None,
        )
        if not download.unchanged:
            self.downloads += 1
        return download

    def _keep(self, row: ManifestRow, kept: Download | RowError) -> None:
        self._kept[row] = kept
        while len(self._kept) > _KEPT:
            _, old = self._kept.popitem(last=False)
            if not isinstance(old, RowError):
                old.release()

    def _put(self, url: str, validator: Validator) -> None:
        if self._validators is not None:
            self._validators.put(url, validator)

    async def _prepare(self, data: bytes, filename: str) -> tuple[PreparedImage, str]:
        """The image to send and the sha256 of the download; a large one off the loop, on one
        thread per core (as local files: the photos decoded at once are bounded by the cores)."""
        if len(data) <= _CHECK_INLINE_LIMIT and not self._fit and self._previews is None:
            return self._prepare_now(data, filename)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="zoom-batch-url-photo"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._prepare_now, data, filename)

    def _prepare_now(self, data: bytes, filename: str) -> tuple[PreparedImage, str]:
        image = prepare_image(
            data, filename=filename, fit=self._fit, max_edge=self._max_edge, crop=self._crop
        )
        if self._previews is not None:
            self._previews.add(image)
        return image, hashlib.sha256(data).hexdigest()


class RoutedPhotos:
    """One :class:`~batch.photos.PhotoSource` for a manifest that mixes URLs and files: a file
    cell that is a URL goes to ``remote``, any other to ``local``."""

    def __init__(self, local: PhotoSource, remote: PhotoSource) -> None:
        self.local = local
        self.remote = remote

    def _source(self, row: ManifestRow) -> PhotoSource:
        return self.remote if is_url(row.file) else self.local

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        return await self._source(row).digest(row)

    async def inspect(self, row: ManifestRow) -> Checked:
        return await self._source(row).inspect(row)

    async def load(self, row: ManifestRow, checked: Checked) -> PreparedImage:
        return await self._source(row).load(row, checked)

    def close(self) -> None:
        try:
            self.local.close()
        finally:
            self.remote.close()


def _invalid(exc: RowError) -> InvalidRow:
    """A failed download as the row's refusal (nothing was sent to Zoom for it)."""
    if isinstance(exc, InvalidRow):
        return exc
    message = exc.message if isinstance(exc, ApiError) else str(exc)
    if isinstance(exc, TransientError):
        message += " — try again later"
    return InvalidRow(message)


def _filename(url: str) -> str:
    """The name the photo is sent under: the URL's last path segment, made safe."""
    name = posixpath.basename(unquote(urlsplit(url).path))
    name = _UNSAFE_NAME.sub("_", name).strip("._")[:100]
    return name or "photo"


async def _sha256(data: bytes) -> str:
    if len(data) <= _CHECK_INLINE_LIMIT:
        return hashlib.sha256(data).hexdigest()
    return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
