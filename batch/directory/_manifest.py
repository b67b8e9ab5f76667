"""A directory as a manifest: :func:`open_directory` checks and counts, :meth:`rows` streams.

:func:`open_directory` connects, binds and counts the entries the search finds (DNs only, no
photos), so that a bad URL, refused credentials, a missing base or a bad filter stop the run
before anything is sent, and the run knows its total. :meth:`DirectoryManifest.rows` then
searches again, paged, and streams one :class:`~batch._models.ManifestRow` per entry in search
order: ``user`` from the user attribute, ``file`` the photo attribute found (the first of the
photo attributes the entry has), ``dn`` the entry, ``extras`` its name (displayName, else cn).
An entry without the user attribute or without a photo is a row with its ``problem``.

Memory stays flat: the pages that carry photos are sized to about :data:`PAGE_BYTES` of
values (a page of 1,000 Active Directory thumbnails of 100 KB would be 100 MB), each page is
turned into rows before the first is handed on, and the rows keep no photo — only the size
and sha256 of each, which :class:`~batch.directory.DirectoryPhotos` compares with the state
store so that an unchanged photo is not read again.

A connection lost mid-search (a directory restarted; Active Directory drops a connection idle
for 15 minutes, as a run waiting for Zoom's daily quota leaves it) is opened again and the
search started again, skipping the entries already handed on (up to the last one's DN); after
:data:`RECONNECT_DELAYS` tries, :meth:`rows` raises :class:`~batch.ManifestError`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from .._exceptions import ConfigError, ManifestError
from .._models import ManifestRow
from ._ldap import Entry, Settings, Unreachable, close, connect, search_pages
from ._url import (
    BIND_DN_VARIABLE,
    PASSWORD_VARIABLE,
    check_attribute,
    check_attributes,
    parse_url,
)

__all__ = [
    "DEFAULT_PHOTO_ATTRS",
    "DEFAULT_USER_ATTR",
    "PAGE_BYTES",
    "PAGE_SIZE",
    "RECONNECT_DELAYS",
    "DirectoryManifest",
    "default_filter",
    "open_directory",
]

DEFAULT_USER_ATTR = "mail"
#: Active Directory's small picture first, then inetOrgPerson's photo: the first present wins.
DEFAULT_PHOTO_ATTRS = ("thumbnailPhoto", "jpegPhoto")
#: Entries per page when no photos come with them (Active Directory sends at most 1,000).
PAGE_SIZE = 500
#: About this many bytes of values per page that brings photos.
PAGE_BYTES = 2 * 1024 * 1024
#: Seconds to wait before each new connection after one was lost mid-search.
RECONNECT_DELAYS = (1.0, 5.0, 15.0)
#: Photo digests kept for the rows handed on and not yet checked: the pool holds a batch of
#: rows read ahead plus the rows in progress (at most ``--concurrency``, 1,000), far fewer.
_SEEN = 4096
#: Columns each row carries to the report, after the report's own.
EXTRA_COLUMNS = ("name",)
_NAME_ATTRS = ("displayName", "cn")


class _Found(NamedTuple):
    """What a row is made of, read from an entry; its photo only as a size and a digest."""

    dn: str
    user: str
    file: str  #: the photo attribute found, "" when none
    name: str
    problem: str | None
    digest: tuple[int, str] | None


def default_filter(photo_attrs: Sequence[str] = DEFAULT_PHOTO_ATTRS) -> str:
    """People with a photo: ``(&(objectClass=person)(|(thumbnailPhoto=*)(jpegPhoto=*)))``;
    every person, ``(objectClass=person)``, when no photo is wanted (``photo_attrs`` empty)."""
    if not photo_attrs:
        return "(objectClass=person)"
    present = "".join(f"({name.split(';', 1)[0]}=*)" for name in photo_attrs)
    return f"(&(objectClass=person)(|{present}))"


class DirectoryManifest:
    """The entries of a directory search, read like a manifest (see the module docstring).

    What the runner uses of :class:`~batch.manifest.Manifest`: :attr:`total`, :meth:`rows`,
    :attr:`extra_columns`, :attr:`path` (printable: the URL without credentials), :meth:`resolve`
    and :meth:`close`. Credentials are kept for the searches, never shown (not in its repr).
    """

    format = "ldap"

    def __init__(
        self,
        settings: Settings,
        *,
        search_filter: str,
        user_attr: str,
        photo_attrs: tuple[str, ...],
        total: int,
        page_size: int = PAGE_SIZE,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.filter = search_filter
        self.user_attr = user_attr
        self.photo_attrs = photo_attrs
        self.total = total  #: entries the first search counted (the second may differ)
        self.page_size = page_size
        #: One-line notes for the CLI to print (a password sent unencrypted).
        self.notes = notes
        self.extra_columns = EXTRA_COLUMNS
        self.reconnects = 0  #: connections opened again after one was lost, for tests
        self._seen: OrderedDict[ManifestRow, tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()
        names = [user_attr, *_NAME_ATTRS, *photo_attrs]
        self._attributes = list(dict.fromkeys(names))  # in order, once each

    @property
    def path(self) -> str:
        """The URL for messages (scheme, host, port as written, base; never a credential)."""
        return self.settings.url.shown

    name = path  #: what a title shows (a manifest file's ``path.name``)

    def __repr__(self) -> str:
        return f"DirectoryManifest({self.path!r}, total={self.total})"

    def resolve(self, file: str) -> Path | None:
        """No row names a file on disk: the photos are in the directory."""
        return None

    def rows(self) -> Iterator[ManifestRow]:
        """Search again and stream a row per entry, numbered from 1 (``line`` is the same
        number); blocking, so read it off the event loop (the pool reads in a thread).

        Raises ManifestError when the directory is lost for good (see the module docstring),
        ConfigError when it refuses the credentials it took before.
        """
        produced, last_dn, failures = 0, "", 0
        while True:
            skipping = last_dn.lower() if last_dn else None
            connection = None
            try:
                connection = connect(self.settings)
                pages = search_pages(
                    connection,
                    self.settings,
                    search_filter=self.filter,
                    attributes=self._attributes,
                    page_size=self.page_size,
                    page_bytes=PAGE_BYTES if self.photo_attrs else None,
                )
                for page in pages:
                    found = []
                    for entry in page:
                        if skipping is not None:
                            if entry[0].lower() == skipping:
                                skipping = None
                            continue
                        found.append(self._read(entry))
                    del page  # the photos go; the rows and digests stay
                    for item in found:
                        produced += 1
                        row = ManifestRow(
                            produced, produced, item.user, item.file, None, (item.name,),
                            item.problem, item.dn,
                        )  # fmt: skip
                        if item.digest is not None:
                            self._remember(row, item.digest)
                        yield row
                        last_dn, failures = item.dn, 0
                if skipping is not None:
                    raise ManifestError(
                        f"{self.path}: the connection was lost after {produced:,} entries, and"
                        f" the last one read ({last_dn}) is gone from the search since"
                        " — the entries after it were not read; run again"
                    )
                return
            except Unreachable as exc:
                failures += 1
                if failures > len(RECONNECT_DELAYS):
                    raise ManifestError(
                        f"{exc} — lost after {produced:,} of {self.total:,} entries, and"
                        f" {len(RECONNECT_DELAYS)} new connections failed; run again"
                    ) from None
                time.sleep(RECONNECT_DELAYS[failures - 1])
                self.reconnects += 1
            finally:
                if connection is not None:
                    close(connection)

    def _read(self, entry: Entry) -> _Found:
        """What the entry's row holds, and its photo's size and sha256."""
        dn, values = entry
        user = _text(values.get(_key(self.user_attr)))
        name = _text(values.get("displayname")) or _text(values.get("cn"))
        attribute, photo = "", None
        for candidate in self.photo_attrs:
            found = values.get(_key(candidate))
            if found:
                attribute, photo = candidate, found[0]
                break
        problems = []
        if not user:
            problems.append(
                f"entry has no {self.user_attr} attribute — set --ldap-user-attr to the one that"
                " holds the Zoom user (userPrincipalName in Active Directory)"
            )
        if photo is None and self.photo_attrs:
            problems.append(f"entry has no {_either(self.photo_attrs)}")
        digest = None if photo is None else (len(photo), hashlib.sha256(photo).hexdigest())
        return _Found(dn, user, attribute, name, "; ".join(problems) or None, digest)

    def _remember(self, row: ManifestRow, digest: tuple[int, str]) -> None:
        with self._lock:
            self._seen[row] = digest
            if len(self._seen) > _SEEN:
                self._seen.popitem(last=False)

    def seen(self, row: ManifestRow) -> tuple[int, str] | None:
        """Size and sha256 of the row's photo as the search found it; None once forgotten."""
        with self._lock:
            return self._seen.get(row)

    def forget(self, row: ManifestRow) -> tuple[int, str] | None:
        """:meth:`seen`, and forget it (the row's photo is being read)."""
        with self._lock:
            return self._seen.pop(row, None)

    def close(self) -> None:
        """Forget what the rows left behind. Safe to call more than once."""
        with self._lock:
            self._seen.clear()

    def __enter__(self) -> DirectoryManifest:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def open_directory(
    url: str,
    *,
    filter: str | None = None,
    user_attr: str | None = None,
    photo_attrs: Sequence[str] | str | None = None,
    bind_dn: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    timeout: float = 30.0,
    page_size: int = PAGE_SIZE,
    photos: bool = True,
) -> DirectoryManifest:
    """Connect to the directory at ``url``, bind, and count the entries the search finds.

    ``photos=False`` for a job that reads only the user (``remove``): no photo is read, an
    entry without one is no problem, and the default filter is every person.

    ``filter`` (``--ldap-filter``; else the URL's own; else :func:`default_filter`),
    ``user_attr`` (``--ldap-user-attr``, default ``mail``), ``photo_attrs``
    (``--ldap-photo-attr``, default ``thumbnailPhoto,jpegPhoto``), ``bind_dn`` and
    ``password`` (from ``ZOOM_BATCH_LDAP_BIND_DN`` and ``ZOOM_BATCH_LDAP_PASSWORD``; an
    anonymous bind without them), ``ca_file`` (PEM: the CAs for ``ldaps://`` and StartTLS,
    else the system's). Blocking: call it off the event loop. Raises ConfigError (a setting)
    or ManifestError (the directory cannot be reached or searched), naming the URL and never
    the credentials.
    """
    if not 1 <= page_size <= 10_000:
        raise ValueError(f"page_size must be between 1 and 10,000, got {page_size}")
    where = parse_url(url)
    users = check_attribute(user_attr or DEFAULT_USER_ATTR, key="--ldap-user-attr")
    wanted = check_attributes(photo_attrs or DEFAULT_PHOTO_ATTRS, key="--ldap-photo-attr")
    wanted = wanted if photos else ()
    given = (filter or "").strip() or None
    if given and where.filter:
        raise ConfigError(
            f"{where.shown}: the URL has a filter and --ldap-filter gives one too — keep one"
        )
    search_filter = given or where.filter or default_filter(wanted)
    if bind_dn and not password:
        raise ConfigError(
            f"{BIND_DN_VARIABLE} is set but {PASSWORD_VARIABLE} is empty — set both, or"
            " neither for an anonymous bind"
        )  # a bind DN without a password is an "unauthenticated" bind (RFC 4513): anonymous
    if password and not bind_dn:
        raise ConfigError(f"{PASSWORD_VARIABLE} is set without {BIND_DN_VARIABLE} — set both")
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"--ldap-ca-file: no such file: {ca_file}")
    settings = Settings(where, bind_dn or None, password or None, ca_file, timeout)
    notes: tuple[str, ...] = ()
    if password and not where.tls and not _loopback(where.host):
        notes = (
            f"{where.server}: the bind password crosses the network unencrypted"
            " — use ldaps:// or add ?starttls to the URL",
        )
    connection = connect(settings)
    try:
        # DNs only ("1.1": no attributes): the count costs no photo.
        pages = search_pages(
            connection, settings, search_filter=search_filter, attributes=["1.1"],
            page_size=page_size,
        )  # fmt: skip
        total = sum(len(page) for page in pages)
    finally:
        close(connection)
    return DirectoryManifest(
        settings,
        search_filter=search_filter,
        user_attr=users,
        photo_attrs=wanted,
        total=total,
        page_size=page_size,
        notes=notes,
    )


def _key(attribute: str) -> str:
    return attribute.split(";", 1)[0].lower()


def _text(values: list[bytes] | None) -> str:
    """The first value as text (UTF-8, as LDAP strings are), trimmed; "" when none."""
    if not values:
        return ""
    return values[0].decode("utf-8", "replace").strip()


def _either(names: Sequence[str]) -> str:
    """``thumbnailPhoto or jpegPhoto``; ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
