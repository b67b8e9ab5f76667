"""What a fetch may do: the hosts it may reach, which of them may be private, the headers each
gets, the size cap and the words of its messages (:class:`FetchPolicy`), and the check of a URL
against it (:func:`check_url`). :mod:`._fetch` does the fetching; its connector checks the
addresses connected to with :func:`address_kind`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._exceptions import InvalidRow, one_line, redact

if TYPE_CHECKING:
    from yarl import URL

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ZOOM_DOMAINS",
    "FetchPolicy",
    "FetchWords",
    "HostRules",
    "address_kind",
    "check_url",
    "host_of",
    "zoom_picture_policy",
]

DEFAULT_MAX_BYTES = 20_000_000
#: Where Zoom serves users' pictures from (``pic_url``), besides the API's own host.
ZOOM_DOMAINS = ("zoom.us", "zoom.com", "zoomgov.com")


def _ip(host: str) -> str | None:
    """``host`` as a compressed IP address; None when it is a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HostRules:
    """Hosts by exact name or IP address, and domains (``.example.com``: every name under
    ``example.com``, not ``example.com`` itself). Operators write them as ``--allow-host``
    values, read by ``batch.photos._remote.host_rules``."""

    exact: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()  #: as suffixes: ``.example.com``

    def allows(self, host: str) -> bool:
        return host in self.exact or any(host.endswith(domain) for domain in self.domains)


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


def address_kind(address: str) -> str | None:
    """The kind of a non-public address ("loopback", "private"…); None when it is public.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, 6to4, NAT64) are judged
    by the IPv4 address inside.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unreadable"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return address_kind(str(inner))
    kinds = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("shared (CGNAT)", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    )
    return next((kind for kind, found in kinds if found), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchWords:
    """How a policy's messages name things (``{host}`` in a hint is the host concerned)."""

    thing: str  #: "photo": "photo URL host … is not allowed", "photo at URL is 31 MB"
    server: str  #: "the HR system": "the HR system answered 404 for this photo's URL"
    allow_hint: str  #: after a host that is not allowed: "pass --allow-host {host}"
    auth_hint: str  #: after a 401 or 403: "check photo_headers for {host}"


@dataclass(frozen=True, kw_only=True, slots=True)
class FetchPolicy:
    """What one call may fetch, and what it sends; see the module docstring."""

    hosts: HostRules  #: hosts that may be fetched; any other is refused before connecting
    words: FetchWords
    #: Hosts (exact) whose addresses may be loopback, private or link-local.
    private_hosts: frozenset[str] = frozenset()
    #: Headers per exact host, e.g. ``{"hr.example.com": {"Authorization": "Bearer …"}}``.
    headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    max_bytes: int = DEFAULT_MAX_BYTES
    max_redirects: int = 5

    def headers_for(self, host: str, *, downgraded: bool) -> Mapping[str, str]:
        """The headers for one hop to ``host``; none over http:// after an https:// hop."""
        return {} if downgraded else self.headers.get(host, {})

    def mask(self, text: str) -> str:
        """``text`` on one line, without a configured header value or what looks like one."""
        for values in self.headers.values():
            for value in values.values():
                text = text.replace(value, "***") if len(value) >= 4 else text
        return one_line(redact(text))


ZOOM_WORDS = FetchWords(
    thing="picture",
    server="Zoom",
    allow_hint="users' pictures are fetched only from the API's host and Zoom's domains",
    auth_hint="check the app's scopes",
)


def zoom_picture_policy(
    *, api_host: str, token: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> FetchPolicy:
    """The policy of a user's ``pic_url``: the API's own host and Zoom's domains; the bearer
    token only to the API's host, which alone may be private (a simulator on loopback)."""
    return FetchPolicy(
        hosts=HostRules(
            frozenset({api_host, *ZOOM_DOMAINS}), frozenset(f".{d}" for d in ZOOM_DOMAINS)
        ),
        words=ZOOM_WORDS,
        private_hosts=frozenset({api_host}),
        headers={api_host: {"Authorization": f"Bearer {token}"}} if token else {},
        max_bytes=max_bytes,
    )


def check_url(text: str, policy: FetchPolicy, *, redirected: bool) -> URL:
    """The URL to request, or InvalidRow when the policy does not let it be fetched."""
    from yarl import URL

    words = policy.words
    what = f"{words.thing} URL redirects to" if redirected else f"{words.thing} URL is"
    try:
        url = URL(text.strip())
    except (ValueError, TypeError):
        raise InvalidRow(policy.mask(f"{what} not a valid URL: {text}")) from None
    if url.scheme not in ("http", "https"):
        shown = f"{url.scheme}://" if url.scheme else "no scheme"
        raise InvalidRow(f"{what} {shown}; only http:// and https:// URLs are fetched")
    if url.user is not None or url.password is not None:
        raise InvalidRow(
            f"{what} a URL with a user name or password in it; put credentials in"
            " photo_headers in the config, never in the manifest"
        )
    if not url.raw_host:
        raise InvalidRow(policy.mask(f"{what} a URL without a host: {text}"))
    host = host_of(url)
    if not policy.hosts.allows(host):
        kind = address_kind(host) if _ip(host) else None
        shown = f"{host} (a {kind} address)" if kind else host
        hint = words.allow_hint.format(host=host)
        where = f"redirects to host {shown}, which" if redirected else f"host {shown}"
        raise InvalidRow(policy.mask(f"{words.thing} URL {where} is not allowed — {hint}"))
    return url


def host_of(url: URL) -> str:
    host = (url.raw_host or "").lower().rstrip(".")
    return _ip(host.strip("[]")) or host
