"""Users and photos straight from a directory: LDAP, and Active Directory's LDAP face.

``zoom-batch run ldap://dc1.example.com/DC=example,DC=com`` reads the entries a search finds
as a manifest's rows, and their photo attributes as the photos::

    directory = open_directory(url, filter=None, user_attr="userPrincipalName",
                               photo_attrs=("thumbnailPhoto", "jpegPhoto"),
                               bind_dn=os.environ.get(BIND_DN_VARIABLE),
                               password=os.environ.get(PASSWORD_VARIABLE))
    photos = DirectoryPhotos(directory, fit=config.fit, budget=budget)

:func:`open_directory` (blocking: run it off the event loop) checks the settings, connects,
binds and counts; :class:`DirectoryManifest` streams the rows (paged, in flat memory);
:class:`DirectoryPhotos` reads and checks each row's photo. :func:`parse_url` documents the
URLs (``ldaps://``, StartTLS with ``?starttls``); :func:`is_directory_url` tells one from a
manifest file. Only ``_ldap.py`` speaks to the LDAP library (ldap3, the ``ldap`` extra),
loaded on first use; importing this package loads ``_url.py`` alone (the rest on first use), so
telling a directory from a manifest file costs a plain run nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._url import (
    BIND_DN_VARIABLE,
    PASSWORD_VARIABLE,
    DirectoryURL,
    check_attribute,
    check_attributes,
    is_directory_url,
    parse_url,
)

if TYPE_CHECKING:
    from ._manifest import (
        DEFAULT_PHOTO_ATTRS,
        DEFAULT_USER_ATTR,
        PAGE_SIZE,
        DirectoryManifest,
        default_filter,
        open_directory,
    )
    from ._photos import DirectoryPhotos

__all__ = [
    "BIND_DN_VARIABLE",
    "DEFAULT_PHOTO_ATTRS",
    "DEFAULT_USER_ATTR",
    "PAGE_SIZE",
    "PASSWORD_VARIABLE",
    "DirectoryManifest",
    "DirectoryPhotos",
    "DirectoryURL",
    "check_attribute",
    "check_attributes",
    "default_filter",
    "is_directory_url",
    "open_directory",
    "parse_url",
]

_LATER = {
    "DEFAULT_PHOTO_ATTRS": "_manifest",
    "DEFAULT_USER_ATTR": "_manifest",
    "PAGE_SIZE": "_manifest",
    "DirectoryManifest": "_manifest",
    "default_filter": "_manifest",
    "open_directory": "_manifest",
    "DirectoryPhotos": "_photos",
}


def __getattr__(name: str) -> Any:
    # The searching half loads when a run reads a directory: telling a URL from a manifest
    # file (the CLI does it for every run) needs only _url.py.
    if name in _LATER:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LATER[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
