"""Directory URLs (``ldap://host:port/BASE?…``, RFC 4516) and the names of attributes.

Parsed without the LDAP library, so that telling a directory from a manifest file, and
checking the settings, costs a plain run nothing. Supported::

    ldap://HOST[:PORT]/BASE[?ATTRIBUTES[?SCOPE[?FILTER[?EXTENSIONS]]]]
    ldaps://HOST[:PORT]/BASE…                       TLS from the first byte (port 636)
    ldap://HOST/BASE?starttls                       StartTLS before the bind (shorthand)
    ldap://HOST/BASE????starttls                    the same, as an RFC 4516 extension

SCOPE is ``base``, ``one`` or ``sub`` (the default); FILTER stands in for ``--ldap-filter``.
The ATTRIBUTES part stays empty: ``--ldap-user-attr`` and ``--ldap-photo-attr`` say what is
read. Credentials are never part of the URL (they would show in ``ps`` and in shell history):
a ``user:password@`` or a ``bindname`` extension is refused, naming the environment variables.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple
from urllib.parse import unquote

from .._exceptions import ConfigError

__all__ = [
    "BIND_DN_VARIABLE",
    "PASSWORD_VARIABLE",
    "DirectoryURL",
    "Scope",
    "check_attribute",
    "check_attributes",
    "is_directory_url",
    "parse_url",
]

#: The environment variables the bind DN and its password come from (anonymous without).
BIND_DN_VARIABLE = "ZOOM_BATCH_LDAP_BIND_DN"
PASSWORD_VARIABLE = "ZOOM_BATCH_LDAP_PASSWORD"

Scope = Literal["base", "one", "sub"]
_SCOPES: dict[str, Scope] = {"base": "base", "one": "one", "sub": "sub"}
_DEFAULT_PORTS = {"ldap": 389, "ldaps": 636}
_SCHEME = re.compile(r"(?i)(ldaps?)://")
_HOST = re.compile(r"\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+)")
#: An attribute description (RFC 4512): a name or an OID, and options such as ``;binary``.
_ATTRIBUTE = re.compile(r"(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*")
_CREDENTIALS = (
    f"put the bind DN in {BIND_DN_VARIABLE} and the password in {PASSWORD_VARIABLE} instead"
)


def is_directory_url(text: str) -> bool:
    """True when a manifest argument names a directory (``ldap://``, ``ldaps://``)."""
    return _SCHEME.match(text.strip()) is not None


class DirectoryURL(NamedTuple):
    """A parsed directory URL: where to connect, what to search."""

    scheme: Literal["ldap", "ldaps"]
    host: str  #: a name, or an IP address (IPv6 without brackets)
    port: int
    base: str  #: the search base DN, percent-decoded
    scope: Scope = "sub"
    filter: str | None = None  #: the URL's own filter, percent-decoded
    starttls: bool = False
    port_given: bool = False  #: written in the URL (then shown in messages)

    @property
    def tls(self) -> bool:
        """True when the connection is encrypted (``ldaps://``, or StartTLS)."""
        return self.scheme == "ldaps" or self.starttls

    @property
    def server(self) -> str:
        """``scheme://host[:port]``, as written, for messages and identifiers."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port_given else "")

    @property
    def shown(self) -> str:
        """The URL for messages: server, base and StartTLS; never a credential (it has none)."""
        return f"{self.server}/{self.base}" + ("?starttls" if self.starttls else "")

    def __str__(self) -> str:
        return self.shown


def parse_url(text: str) -> DirectoryURL:
    """Parse a directory URL; ConfigError, in words for the operator, when it is not one.

    A message quotes the URL only as far as it is safe: never a ``user:password@`` part.
    """
    url = text.strip()
    match = _SCHEME.match(url)
    if match is None:
        raise ConfigError(f"not an LDAP URL (ldap://host/BASE or ldaps://host/BASE): {url!r}")
    scheme: Literal["ldap", "ldaps"] = "ldaps" if match.group(1).lower() == "ldaps" else "ldap"
    rest = url[match.end() :]
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        raise ConfigError(f"the LDAP URL must not hold a user name or password: {_CREDENTIALS}")
    host, port, port_given = _authority(authority, scheme)
    path, _, query = tail.partition("?")
    base = unquote(path).strip()
    where = DirectoryURL(scheme, host, port, base)  # for messages: server and base only
    if not slash or not base:
        raise ConfigError(
            f"the LDAP URL names no search base: {where.server}/ — add it, as in"
            f" {where.server}/dc=example,dc=com"
        )
    parts = query.split("?") if query else []
    if len(parts) > 4:
        raise ConfigError(f"{where.shown}: an LDAP URL has at most four ?-separated parts")
    parts += [""] * (4 - len(parts))
    attributes, scope_text, filter_text, extensions = parts
    starttls = False
    if attributes.strip().lower() in ("starttls", "!starttls") and not any(parts[1:]):
        attributes, starttls = "", True  # the shorthand: ldap://host/BASE?starttls
    if attributes.strip():
        raise ConfigError(
            f"{where.shown}: the URL's attribute list is not used — name the attributes with"
            " --ldap-user-attr and --ldap-photo-attr"
        )
    scope_name = scope_text.strip().lower() or "sub"
    if scope_name not in _SCOPES:
        raise ConfigError(
            f"{where.shown}: scope {scope_text!r} in the URL — expected base, one or sub"
        )
    starttls = _extensions(extensions, where) or starttls
    if starttls and scheme == "ldaps":
        raise ConfigError(
            f"{where.shown}: ldaps:// is encrypted already — drop starttls, or use ldap://"
        )
    search_filter = unquote(filter_text).strip() or None
    return DirectoryURL(
        scheme, host, port, base, _SCOPES[scope_name], search_filter, starttls, port_given
    )


def _authority(authority: str, scheme: str) -> tuple[str, int, bool]:
    match = _HOST.match(authority)
    if match is None or not authority:
        raise ConfigError(f"the LDAP URL names no host: {scheme}://{authority}/")
    host = match.group("v6") or match.group("name")
    rest = authority[match.end() :]
    if not rest:
        return host, _DEFAULT_PORTS[scheme], False
    port_text = rest[1:] if rest.startswith(":") else ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"the LDAP URL has a bad host or port: {scheme}://{authority}/")
    return host, int(port_text), True


def _extensions(text: str, where: DirectoryURL) -> bool:
    """True when the extensions ask for StartTLS; ConfigError for any other one."""
    starttls = False
    for raw in filter(None, (part.strip() for part in text.split(","))):
        name = unquote(raw).lstrip("!").split("=", 1)[0].strip().lower()
        if name in ("starttls", "1.3.6.1.4.1.1466.20037"):
            starttls = True
        elif name == "bindname":
            raise ConfigError(f"{where.shown}: the URL must not name the bind DN: {_CREDENTIALS}")
        else:
            raise ConfigError(
                f"{where.shown}: unknown URL extension {name!r} (the one known is starttls)"
            )
    return starttls


def check_attribute(value: object, *, key: str) -> str:
    """One attribute name (``mail``, ``userPrincipalName``); ConfigError names ``key``."""
    if not isinstance(value, str) or not _ATTRIBUTE.fullmatch(value.strip()):
        raise ConfigError(f"{key}: expected an LDAP attribute name such as mail, got {value!r}")
    return value.strip()


def check_attributes(value: object, *, key: str) -> tuple[str, ...]:
    """Attribute names, as a list or as ``thumbnailPhoto,jpegPhoto``; ConfigError names ``key``."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(f"{key}: expected attribute names such as thumbnailPhoto,jpegPhoto")
    names: list[str] = []
    for item in items:
        name = check_attribute(item, key=key)
        if name.lower() not in (n.lower() for n in names):
            names.append(name)
    return tuple(names)
