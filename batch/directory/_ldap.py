"""The one module that speaks to the LDAP library (ldap3): connecting, paged searches, reads.

ldap3's exceptions and result codes are translated here, and only here, into the package's
own (``_exceptions.py``): a setting the directory refuses is a :class:`ConfigError` naming the
flag or the environment variable; a directory that cannot be searched is a
:class:`ManifestError` naming the URL; a connection that failed or dropped is
:class:`Unreachable` (a ManifestError), which the callers may retry on a new connection. No
message holds the bind DN or the password: they are scrubbed from whatever the server says.

ldap3 is imported on first use (a plain run never loads it), with the deprecation warnings
of its own modules kept off the operator's terminal.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import ConfigError, ManifestError, one_line, redact
from ._url import BIND_DN_VARIABLE, PASSWORD_VARIABLE, DirectoryURL

if TYPE_CHECKING:
    from ldap3 import Connection

__all__ = [
    "Entry",
    "Settings",
    "Unreachable",
    "close",
    "connect",
    "read_value",
    "search_pages",
]

_PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696
#: Result codes that mean "this connection or this search cannot go on; a new one may".
_TRANSIENT = {51: "busy", 52: "unavailable", 80: "other"}
_NO_SUCH_OBJECT, _ADMIN_LIMIT, _CRITICAL_EXTENSION = 32, 11, 12
#: The smallest page asked for when the server refuses larger ones (adminLimitExceeded).
MIN_PAGE = 10

#: An entry as searched: its DN and its attributes' raw values by lower-case name.
Entry = tuple[str, dict[str, list[bytes]]]


class Unreachable(ManifestError):
    """The directory could not be reached, or the connection dropped: a new one may work."""


@dataclass(frozen=True)
class Settings:
    """How to reach and search a directory. Credentials never show in a repr or a message."""

    url: DirectoryURL
    bind_dn: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None  #: the CA certificates that sign the directory's (PEM)
    timeout: float = 30.0  #: seconds to connect, and to wait for each answer

    def scrub(self, text: str) -> str:
        """``text`` (something a server or the library said) without the credentials."""
        for secret in (self.password, self.bind_dn):
            if secret:
                text = text.replace(secret, "***")
        return one_line(redact(text))


def _library() -> Any:
    # ldap3 2.9 uses what its dependencies deprecate (pyasn1 0.6's old names, Python's
    # ssl.match_hostname): DeprecationWarnings raised in ldap3's own modules are not the
    # operator's business. Set on every call, as a test harness may reset the filters.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ldap3(\.|$)")
    try:
        import ldap3
    except ImportError:
        raise ConfigError(
            "reading users from a directory needs the ldap extra: pip install 'zoom-batch[ldap]'"
        ) from None
    return ldap3


def connect(settings: Settings) -> Connection:
    """A connection, opened (TLS as the URL says) and bound (anonymously without a bind DN).

    Raises :class:`Unreachable` when the server cannot be reached or the TLS handshake fails,
    ConfigError when the directory refuses the credentials.
    """
    ldap3 = _library()
    import ssl

    from ldap3.core.exceptions import LDAPException

    url = settings.url
    tls = None
    if url.tls:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
            sni=None if _is_ip(url.host) else url.host,
        )
    server = ldap3.Server(
        url.host,
        port=url.port,
        use_ssl=url.scheme == "ldaps",
        tls=tls,
        get_info=ldap3.NONE,  # no schema read: fewer rights needed, one round trip less
        connect_timeout=settings.timeout,
    )
    connection: Connection = ldap3.Connection(
        server,
        user=settings.bind_dn,
        password=settings.password,
        authentication=ldap3.SIMPLE if settings.bind_dn else ldap3.ANONYMOUS,
        client_strategy=ldap3.SYNC,
        read_only=True,
        auto_referrals=False,  # a referral would take the credentials to another server
        receive_timeout=max(1, math.ceil(settings.timeout)),  # whole seconds: SO_RCVTIMEO
        raise_exceptions=False,
        return_empty_attributes=False,
        auto_range=False,
    )
    try:
        connection.open()
        if url.starttls and not connection.start_tls():
            raise Unreachable(_failed(settings, "StartTLS", connection.result))
        bound = connection.bind()
    except LDAPException as exc:
        close(connection)
        raise Unreachable(_unreachable(settings, exc)) from None
    except BaseException:
        close(connection)
        raise
    if not bound:
        result = dict(connection.result or {})
        close(connection)
        if result.get("result") == 49:  # invalidCredentials
            raise ConfigError(
                f"{url.shown}: the directory refused the bind DN and password"
                f" ({BIND_DN_VARIABLE}, {PASSWORD_VARIABLE}) — check them"
            )
        raise ConfigError(_failed(settings, "the bind", result))
    return connection


def close(connection: Connection) -> None:
    """Unbind and close, whatever state the connection is in (a dead one has nothing to say)."""
    with contextlib.suppress(Exception):
        connection.unbind()


def search_pages(
    connection: Connection,
    settings: Settings,
    *,
    search_filter: str,
    attributes: Sequence[str],
    page_size: int,
    page_bytes: int | None = None,
) -> Iterator[list[Entry]]:
    """The search's entries, a page (RFC 2696 paged results) at a time, in search order.

    With ``page_bytes``, the pages are sized to hold about that many bytes of values: the
    first few entries are asked for first, then as many as fit (at most ``page_size``). A
    server that refuses the page size (adminLimitExceeded: OpenLDAP's ``size.pr``) is asked
    for smaller ones. Raises ConfigError (the filter), ManifestError (the base, the rights,
    a size limit) and :class:`Unreachable` (connection lost; a stale page cookie).
    """
    ldap3 = _library()
    from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError

    url = settings.url
    scope = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}[url.scope]
    size = min(page_size, 16) if page_bytes else page_size
    cookie: bytes | None = None
    first = True
    while True:
        try:
            connection.search(
                url.base,
                search_filter,
                scope,
                attributes=list(attributes),
                paged_size=size,
                paged_criticality=True,  # a server without paging must not cut the search short
                paged_cookie=cookie,
            )
        except LDAPInvalidFilterError:
            raise ConfigError(
                f"the LDAP filter {search_filter!r} is not valid — check --ldap-filter"
                " (for example (&(objectClass=person)(mail=*)))"
            ) from None
        except LDAPException as exc:
            raise Unreachable(_unreachable(settings, exc)) from None
        result = dict(connection.result or {})
        response = connection.response or []
        connection.response = None  # the page lives in ``page`` alone from here
        code = result.get("result")
        if code == _ADMIN_LIMIT and size > MIN_PAGE:
            # OpenLDAP's size.pr: this page size is refused; ask for smaller pages from now on.
            page_size = size = max(MIN_PAGE, size // 2)
            continue
        if code != 0:
            raise _search_failed(settings, result, first=first, filter_text=search_filter)
        page = [_entry(item) for item in response if item.get("type") == "searchResEntry"]
        del response
        cookie = _cookie(result)
        if page_bytes and page:
            held = sum(len(v) for _, values in page for vs in values.values() for v in vs)
            per_entry = max(1, held // len(page))
            size = max(1, min(page_size, page_bytes // per_entry))
        first = False
        yield page
        del page  # before the next page arrives: one page of photos in memory, not two
        if not cookie:
            return


def read_value(connection: Connection, settings: Settings, dn: str, attribute: str) -> bytes | None:
    """The first value of one entry's attribute (a base-scope read), None when it has none.

    Raises :class:`LookupError` when the entry is not there any more, :class:`Unreachable`
    when the connection failed.
    """
    ldap3 = _library()
    from ldap3.core.exceptions import LDAPException

    try:
        connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[attribute])
    except LDAPException as exc:
        raise Unreachable(_unreachable(settings, exc)) from None
    result = dict(connection.result or {})
    response = connection.response or []
    connection.response = None
    code = result.get("result")
    if code == _NO_SUCH_OBJECT:
        raise LookupError(dn)
    if code in _TRANSIENT:
        raise Unreachable(_failed(settings, "reading a photo", result))
    if code != 0:
        raise ManifestError(_failed(settings, "reading a photo", result))
    for item in response:
        if item.get("type") == "searchResEntry":
            for values in _entry(item)[1].values():
                if values:
                    return values[0]
    return None


def _entry(item: dict[str, Any]) -> Entry:
    """(DN, raw values by lower-case attribute name without options such as ``;binary``)."""
    values: dict[str, list[bytes]] = {}
    for name, raw in (item.get("raw_attributes") or {}).items():
        values.setdefault(name.split(";", 1)[0].lower(), []).extend(raw)
    return str(item.get("dn", "")), values


def _cookie(result: dict[str, Any]) -> bytes | None:
    control = (result.get("controls") or {}).get(_PAGED_RESULTS) or {}
    cookie = (control.get("value") or {}).get("cookie")
    return bytes(cookie) if cookie else None


def _search_failed(
    settings: Settings, result: dict[str, Any], *, first: bool, filter_text: str
) -> ManifestError | ConfigError:
    url, code = settings.url, result.get("result")
    if code == _NO_SUCH_OBJECT:
        hint = "check the DN after the host"
        if not settings.bind_dn:
            hint += f", or bind to see it: set {BIND_DN_VARIABLE} and {PASSWORD_VARIABLE}"
        return ManifestError(
            f"{url.shown}: the search base {url.base!r} is not in the directory (noSuchObject)"
            f" — {hint}"
        )
    if code == 87:  # filterError
        return ConfigError(
            f"the directory refused the LDAP filter {filter_text!r} — check --ldap-filter"
        )
    if code == _CRITICAL_EXTENSION:
        return ManifestError(
            f"{url.shown}: the directory does not support paged results (RFC 2696),"
            " which a search of many entries needs"
        )
    if code in (4, 3):  # sizeLimitExceeded, timeLimitExceeded despite paging
        limit = "size" if code == 4 else "time"
        return ManifestError(
            f"{url.shown}: the directory stopped the search at its {limit} limit, even paged"
            " — ask its administrator to lift the paged-results limit for the bind DN,"
            " or narrow --ldap-filter"
        )
    if code == 10:  # referral: the base is held by another server
        return ManifestError(_failed(settings, "the search", result, "use that server's URL"))
    if code in (1, 50) and not settings.bind_dn:  # AD refuses anonymous searches so
        hint = f"it may need a bind: set {BIND_DN_VARIABLE} and {PASSWORD_VARIABLE}"
        return ManifestError(_failed(settings, "the search", result, hint))
    if code in _TRANSIENT or (not first and code in (1, 2, 53)):  # 2, 53: a stale page cookie
        return Unreachable(_failed(settings, "the search", result))
    return ManifestError(_failed(settings, "the search", result))


def _failed(settings: Settings, what: str, result: dict[str, Any], hint: str = "") -> str:
    """``URL: the directory refused WHAT (description: its message) — hint``."""
    said = str(result.get("message") or "").strip()
    referrals = result.get("referrals") or []
    if referrals:
        said = (said + " " if said else "") + "referred to " + ", ".join(map(str, referrals))
    description = str(result.get("description") or f"result {result.get('result')}")
    text = f"{settings.url.shown}: the directory refused {what} ({description}"
    text += f": {said})" if said else ")"
    return settings.scrub(text + (f" — {hint}" if hint else ""))


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")


def _unreachable(settings: Settings, exc: BaseException) -> str:
    """A failed connection in words: which server, and what the library or the system said."""
    text = str(exc)
    lowered = text.lower()
    if "certificate_verify_failed" in lowered:
        reason = (
            "its TLS certificate is not signed by a CA this machine trusts"
            " — give the CA's certificate with --ldap-ca-file"
        )
    elif "doesn't match any name" in lowered:
        reason = (
            f"its TLS certificate does not name {settings.url.host}"
            " — use the host name the certificate holds"
        )
    elif "invalid server address" in lowered:
        reason = "the host name is not known — check the host in the URL"
    elif "timed out" in lowered or "timeout" in lowered:
        reason = "no answer in time — check the host, the port and the firewall"
    elif "terminated by server" in lowered:
        reason = "the server closed the connection"
    else:
        found = _ERRNO.search(text)
        detail = text[found.end() :] if found else text
        reason = detail.strip().rstrip("')\"]").strip() or type(exc).__name__
        if "refused" in reason.lower():
            reason = "connection refused — check the host and the port, and that it runs"
    return settings.scrub(f"cannot reach the directory {settings.url.server}: {reason}")


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
