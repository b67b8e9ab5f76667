"""Where a run's rows come from: a manifest file (CSV, Excel, YAML), or a directory searched
over LDAP (an ``ldap://`` or ``ldaps://`` argument), and the photo source that goes with it.

The runner asks :func:`open_source` for the rows and :func:`directory_photos` for the photos
of a directory's rows; the LDAP client loads only for a directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from ._config import Config
from ._outputs import check_outputs
from ._state import StateStore
from ._window import ByteBudget
from .manifest import COLUMNS, Manifest, ReadOptions, open_manifest
from .photos import PhotoSource, Validator, Validators

if TYPE_CHECKING:
    from .directory import DirectoryManifest

__all__ = ["Source", "StateValidators", "directory_photos", "open_source"]

#: What the rows of a run come from.
Source: TypeAlias = "Manifest | DirectoryManifest"


async def open_source(
    config: Config, where: Path | str, *, format: str | None, reads: frozenset[str]
) -> Source:
    """The checked manifest at ``where``, or the directory a URL names (connected, bound and
    its entries counted, off the event loop); ``reads`` are the columns the job reads."""
    if isinstance(where, str):  # ldap:// or ldaps:// (see _arguments.py)
        from .directory import open_directory

        check_outputs(config, None)
        return await asyncio.to_thread(
            open_directory,
            where,
            filter=config.ldap_filter,
            user_attr=config.ldap_user_attr,
            photo_attrs=config.ldap_photo_attrs,
            bind_dn=config.ldap_bind_dn,
            password=config.ldap_password,
            ca_file=config.ldap_ca_file,
            photos="file" in reads,
        )
    check_outputs(config, where)
    options = ReadOptions(
        delimiter=config.delimiter,
        sheet=config.sheet,
        user_column=config.user_column,
        file_column=config.file_column,
    )
    optional = frozenset(c.key for c in COLUMNS) - reads
    return open_manifest(where, format=format, optional=optional, options=options)


def directory_photos(
    source: Source, config: Config, budget: ByteBudget | None, validators: Validators | None
) -> PhotoSource | None:
    """The photos of a directory's entries; None for a manifest file's rows."""
    if isinstance(source, Manifest):
        return None
    from .directory import DirectoryPhotos

    return DirectoryPhotos(
        source,
        fit=config.fit,
        fit_max_edge=config.fit_max_edge,
        budget=budget,
        validators=validators,
    )


class StateValidators:
    """The state store's memory of photo URLs (ETag, Last-Modified, what they became), as the
    URL photo source asks for it; a forecast's store is read, not written."""

    def __init__(self, state: StateStore, *, read_only: bool) -> None:
        self._state, self._read_only = state, read_only

    def get(self, url: str) -> Validator | None:
        found = self._state.url_record(url)
        return None if found is None else Validator(*found)

    def put(self, url: str, validator: Validator) -> None:
        if not self._read_only:
            self._state.record_url(url, tuple(validator))  # type: ignore[arg-type]
