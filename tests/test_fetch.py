"""The one fetcher: allowed hosts, refused addresses (through redirects and DNS), headers that
stay with their host, the size cap, classified retries, and validators.

Real HTTP: an aiohttp server on 127.0.0.1, and sessions built on the run's guarded connector.
Names such as ``hr.test`` reach that server through a resolver of the test's own (a fake DNS),
so a name can be made to point at loopback on purpose.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from batch._exceptions import ConfigError, InvalidRow, PermanentError, TransientError
from batch._fetch import (
    DEFAULT_MAX_BYTES,
    Fetcher,
    FetchPolicy,
    address_kind,
    guarded_connector,
    zoom_picture_policy,
)
from batch._retry import RetryPolicy
from batch._window import ByteBudget
from batch.photos._remote import (
    PHOTO_WORDS,
    check_allow_hosts,
    check_photo_headers,
    host_rules,
    normalize_host,
    photo_policy,
)

from .conftest import make_jpeg

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
QUICK = RetryPolicy(max_attempts=3, max_retry_time=10.0, backoff=0.01, backoff_max=0.02)
JPEG = make_jpeg(3)


@dataclass
class Seen:
    host: str
    path: str
    headers: dict[str, str]


@dataclass
class PhotoServer:
    """An HTTP server on 127.0.0.1 answering each path with the handler set for it."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def photo(self, path: str, data: bytes = JPEG, **headers: str) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=data, content_type="image/jpeg", headers=headers)

        self.routes[path] = handler

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": to})

        self.routes[path] = handler

    def status(self, path: str, *statuses: int, then: bytes = JPEG) -> None:
        """Answer ``statuses`` in turn, then the photo."""
        left = list(statuses)

        async def handler(request: web.Request) -> web.StreamResponse:
            if left:
                return web.Response(status=left.pop(0), text="nope")
            return web.Response(body=then, content_type="image/jpeg")

        self.routes[path] = handler

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.host.split(":")[0], request.path, dict(request.headers)))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404)
        return await handler(request)


class FakeDNS(AbstractResolver):
    """A resolver of the test's own: each name to the address given."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(socket.EAI_NONAME, f"{host} not found")
        address = self.names[host]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def server() -> AsyncIterator[PhotoServer]:
    photos = PhotoServer()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", photos.handle)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    assert test_server.port is not None
    photos.port = test_server.port
    yield photos
    await test_server.close()


DNS = {"hr.test": "127.0.0.1", "cdn.test": "127.0.0.1", "img.cdn.test": "127.0.0.1"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=guarded_connector(resolver=FakeDNS(DNS))) as s:
        yield s


def fetcher(session: aiohttp.ClientSession, **options: Any) -> Fetcher:
    return Fetcher(session, retry=QUICK, **options)


async def refused(call: Awaitable[Any]) -> str:
    with pytest.raises(InvalidRow) as caught:
        await call
    return str(caught.value)


# --- hosts nobody allowed ---------------------------------------------------------------------


async def test_a_photo_from_an_allowed_host_is_fetched(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.photo("/p/jane.jpg", ETag='"v1"', **{"Last-Modified": "Tue, 01 Jul 2025 10:00:00 GMT"})
    got = await fetcher(session).fetch(
        server.url("/p/jane.jpg"), photo_policy(allow_hosts=["127.0.0.1"])
    )
    assert (got.status, got.data, got.etag) == (200, JPEG, '"v1"')
    assert got.last_modified == "Tue, 01 Jul 2025 10:00:00 GMT"
    assert server.seen[0].headers["Accept-Encoding"] == "identity"


async def test_a_host_nobody_allowed_is_refused_naming_the_host_and_the_flag(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    message = await refused(
        fetcher(session).fetch(server.url("/a.jpg", "hr.test"), photo_policy(allow_hosts=[]))
    )
    assert message == "photo URL host hr.test is not allowed — pass --allow-host hr.test"
    assert server.seen == []


async def test_loopback_is_refused_without_allow_host(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.photo("/a.jpg")
    policy = photo_policy(allow_hosts=["hr.test"])
    message = await refused(fetcher(session).fetch(server.url("/a.jpg"), policy))
    assert message == (
        "photo URL host 127.0.0.1 (a loopback address) is not allowed — pass --allow-host 127.0.0.1"
    )
    assert server.seen == []


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 (a link-local address)"),
        ("http://[::ffff:127.0.0.1]/x", "::ffff:7f00:1 (a loopback address)"),
        ("http://localhost/x", "localhost"),
        ("https://elsewhere.example.com/x", "elsewhere.example.com"),
    ],
)
async def test_a_redirect_to_a_host_not_allowed_is_refused(
    server: PhotoServer, session: aiohttp.ClientSession, target: str, shown: str
) -> None:
    server.redirect("/a.jpg", target)
    policy = photo_policy(allow_hosts=["hr.test"])
    message = await refused(fetcher(session).fetch(server.url("/a.jpg", "hr.test"), policy))
    host = shown.split(" ")[0]
    assert message == (
        f"photo URL redirects to host {shown}, which is not allowed — pass --allow-host {host}"
    )
    assert [s.path for s in server.seen] == ["/a.jpg"]


async def test_a_redirect_to_loopback_is_refused_even_from_an_allowed_loopback_host(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    """hr.test may be private because it was named; 127.0.0.1 was not."""
    server.redirect("/a.jpg", server.url("/b.jpg"))
    server.photo("/b.jpg")
    policy = photo_policy(allow_hosts=["hr.test"])
    message = await refused(fetcher(session).fetch(server.url("/a.jpg", "hr.test"), policy))
    assert message.startswith("photo URL redirects to host 127.0.0.1 (a loopback address)")
    assert [s.path for s in server.seen] == ["/a.jpg"]


async def test_a_name_that_resolves_to_a_private_address_is_refused_unless_named_exactly(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.photo("/a.jpg")
    url = server.url("/a.jpg", "img.cdn.test")
    by_domain = photo_policy(allow_hosts=["*.cdn.test"])
    message = await refused(fetcher(session).fetch(url, by_domain))
    assert message == (
        "photo URL host img.cdn.test is on a loopback address (127.0.0.1), refused unless"
        " that exact host is allowed — pass --allow-host img.cdn.test"
    )
    assert server.seen == []  # refused before connecting: no request reached it
    named = photo_policy(allow_hosts=["*.cdn.test", "img.cdn.test"])
    assert (await fetcher(session).fetch(url, named)).data == JPEG


async def test_dns_pointing_a_redirect_at_loopback_is_refused_at_connection_time(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    """The check is on the address connected to: a name allowed by domain that resolves to
    loopback (DNS rebinding) is refused, redirect or not."""
    server.redirect("/a.jpg", server.url("/b.jpg", "img.cdn.test"))
    server.photo("/b.jpg")
    policy = photo_policy(allow_hosts=["hr.test", "*.cdn.test"])
    message = await refused(fetcher(session).fetch(server.url("/a.jpg", "hr.test"), policy))
    assert "img.cdn.test is on a loopback address (127.0.0.1)" in message
    assert [s.path for s in server.seen] == ["/a.jpg"]


async def test_the_check_holds_on_a_connection_made_by_aiohttps_own_resolver(
    server: PhotoServer,
) -> None:
    """With the default resolver too: localhost by domain rule is never private-allowed."""
    server.photo("/a.jpg")
    async with aiohttp.ClientSession(connector=guarded_connector()) as plain:
        policy = FetchPolicy(hosts=host_rules(["localhost"]), words=PHOTO_WORDS)  # not private
        message = await refused(
            Fetcher(plain, retry=QUICK).fetch(server.url("/a.jpg", "localhost"), policy)
        )
    assert "localhost is on a loopback address" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://hr.test/a.jpg", "photo URL is ftp://; only http:// and https:// URLs are fetched"),
        ("hr.test/a.jpg", "photo URL is no scheme; only http:// and https:// URLs are fetched"),
        (
            "https://jane:secret@hr.test/a.jpg",
            "photo URL is a URL with a user name or password in it; put credentials in"
            " photo_headers in the config, never in the manifest",
        ),
    ],
)
async def test_only_plain_http_urls_are_fetched(
    session: aiohttp.ClientSession, url: str, expected: str
) -> None:
    policy = photo_policy(allow_hosts=["hr.test"])
    assert await refused(fetcher(session).fetch(url, policy)) == expected


async def test_a_redirect_to_another_scheme_is_refused(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.redirect("/a.jpg", "file:///etc/passwd")
    policy = photo_policy(allow_hosts=["hr.test"])
    message = await refused(fetcher(session).fetch(server.url("/a.jpg", "hr.test"), policy))
    assert message == "photo URL redirects to file://; only http:// and https:// URLs are fetched"


async def test_redirects_are_followed_a_few_times_only(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    for i in range(7):
        server.redirect(f"/r{i}", f"/r{i + 1}", status=301 if i % 2 else 307)
    server.photo("/r7")
    policy = photo_policy(allow_hosts=["hr.test"])
    message = await refused(fetcher(session).fetch(server.url("/r0", "hr.test"), policy))
    assert message == "photo URL redirects more than 5 times — give the photo's final URL"
    server.redirect("/r0", "/r3")  # 4 redirects, then the photo
    assert (await fetcher(session).fetch(server.url("/r0", "hr.test"), policy)).data == JPEG


async def test_a_fetcher_needs_the_guarded_connector() -> None:
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(ValueError, match="guarded_connector"):
            Fetcher(plain)


# --- headers stay with their host -------------------------------------------------------------


async def test_headers_go_to_their_host_only_never_across_a_redirect(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.redirect("/a.jpg", "/b.jpg")  # the same host: the headers go again
    server.redirect("/b.jpg", server.url("/c.jpg", "cdn.test"))
    server.photo("/c.jpg")
    policy = photo_policy(
        allow_hosts=["hr.test", "cdn.test"],
        headers={"HR.test": {"Authorization": "Bearer s3cret-token", "X-Tenant": "acme"}},
    )
    got = await fetcher(session).fetch(server.url("/a.jpg", "hr.test"), policy)
    assert got.data == JPEG
    sent = [(s.host, s.path, s.headers.get("Authorization")) for s in server.seen]
    assert sent == [
        ("hr.test", "/a.jpg", "Bearer s3cret-token"),
        ("hr.test", "/b.jpg", "Bearer s3cret-token"),
        ("cdn.test", "/c.jpg", None),
    ]
    assert "X-Tenant" not in server.seen[2].headers


def test_headers_are_not_sent_over_http_after_https() -> None:
    policy = photo_policy(allow_hosts=["hr.test"], headers={"hr.test": {"X-Key": "k"}})
    assert policy.headers_for("hr.test", downgraded=False) == {"X-Key": "k"}
    assert policy.headers_for("hr.test", downgraded=True) == {}
    assert policy.headers_for("cdn.test", downgraded=False) == {}


def test_no_message_shows_a_header_value() -> None:
    policy = photo_policy(headers={"hr.test": {"X-Api-Key": "k3y-1234", "Authorization": "x"}})
    text = "proxy said: X-Api-Key: k3y-1234, Authorization: Bearer abc.def\nagain"
    assert policy.mask(text) == "proxy said: X-Api-Key: ***, Authorization: Bearer ***\\nagain"


async def test_a_403_names_the_headers_to_check_and_never_their_value(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.status("/a.jpg", 403)
    policy = photo_policy(
        allow_hosts=["hr.test"], headers={"hr.test": {"Authorization": "Bearer s3cret"}}
    )
    with pytest.raises(PermanentError) as caught:
        await fetcher(session).fetch(server.url("/a.jpg", "hr.test"), policy)
    assert caught.value.message == (
        "the HR system answered 403 for this photo's URL (check photo_headers for hr.test)"
    )
    assert caught.value.http_status == 403 and len(server.seen) == 1  # not retried


async def test_a_404_is_the_hr_systems_answer_not_retried(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    policy = photo_policy(allow_hosts=["127.0.0.1"])
    with pytest.raises(PermanentError) as caught:
        await fetcher(session).fetch(server.url("/gone.jpg"), policy)
    assert caught.value.message == "the HR system answered 404 for this photo's URL"
    assert len(server.seen) == 1


# --- the size cap and the byte budget ---------------------------------------------------------


async def test_a_photo_too_large_is_refused_from_its_content_length(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "31000000"})
        await response.prepare(request)
        await response.write(b"\xff\xd8" + b"\0" * 1000)
        await asyncio.sleep(5)  # the client hangs up long before
        return response

    server.routes["/huge.jpg"] = huge
    budget = ByteBudget(1000)
    get = fetcher(session, budget=budget).fetch
    message = await refused(get(server.url("/huge.jpg"), photo_policy(allow_hosts=["127.0.0.1"])))
    assert message == "photo at URL is 31.0 MB; the limit is 20.0 MB"
    assert (budget.held, budget.peak) == (0, 0)  # refused before a byte was held


async def test_a_body_without_length_stops_being_read_past_the_cap(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    sent, done = 0, asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(1000):  # 65 MB
                await response.write(b"\0" * 65536)
                sent += 65536
        except (ConnectionError, RuntimeError):
            pass
        finally:
            done.set()
        return response

    server.routes["/endless"] = endless
    budget = ByteBudget()
    policy = photo_policy(allow_hosts=["127.0.0.1"], max_bytes=300_000)
    message = await refused(fetcher(session, budget=budget).fetch(server.url("/endless"), policy))
    assert message == "photo at URL is larger than 300 KB, the limit"
    assert budget.held == 0 and budget.peak == 300_000  # the cap was held while it was read
    await asyncio.wait_for(done.wait(), 10)
    assert sent < 1000 * 65536  # the client hung up (what was sent filled the socket buffers)


async def test_a_download_holds_its_size_of_the_budget_until_released(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.photo("/a.jpg")
    budget = ByteBudget()
    got = await fetcher(session, budget=budget).fetch(
        server.url("/a.jpg"), photo_policy(allow_hosts=["127.0.0.1"])
    )
    assert budget.held == len(JPEG) == got.held
    got.release()
    got.release()
    assert budget.held == 0


# --- classified retries -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_a_server_error_is_retried(
    server: PhotoServer, session: aiohttp.ClientSession, status: int
) -> None:
    server.status("/a.jpg", status)
    got = await fetcher(session).fetch(
        server.url("/a.jpg"), photo_policy(allow_hosts=["127.0.0.1"])
    )
    assert got.data == JPEG and len(server.seen) == 2


async def test_a_server_down_for_good_fails_after_the_attempts(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.status("/a.jpg", 503, 503, 503, 503)
    with pytest.raises(TransientError) as caught:
        await fetcher(session).fetch(server.url("/a.jpg"), photo_policy(allow_hosts=["127.0.0.1"]))
    assert caught.value.message == "the HR system answered 503 for this photo's URL (3 attempts)"
    assert len(server.seen) == 3


async def test_a_host_that_refuses_connections_is_a_transient_fault(
    session: aiohttp.ClientSession,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(TransientError) as caught:
        await fetcher(session).fetch(
            f"http://127.0.0.1:{port}/a.jpg", photo_policy(allow_hosts=["127.0.0.1"])
        )
    assert caught.value.message.startswith("cannot connect to 127.0.0.1: ")
    assert caught.value.message.endswith("(3 attempts)")


async def test_a_stalled_server_times_out_and_is_retried(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    calls = 0

    async def slow_once(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(2)
        return web.Response(body=JPEG)

    server.routes["/a.jpg"] = slow_once
    timeout = aiohttp.ClientTimeout(total=0.3)
    got = await fetcher(session, timeout=timeout).fetch(
        server.url("/a.jpg"), photo_policy(allow_hosts=["127.0.0.1"])
    )
    assert got.data == JPEG and calls == 2


# --- validators -------------------------------------------------------------------------------


async def test_validators_make_an_unchanged_photo_a_304(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    async def conditional(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=JPEG, headers={"ETag": '"v1"'})

    server.routes["/a.jpg"] = conditional
    budget = ByteBudget()
    get = fetcher(session, budget=budget).fetch
    policy = photo_policy(allow_hosts=["127.0.0.1"])
    got = await get(server.url("/a.jpg"), policy, etag='"v1"', last_modified="yesterday")
    assert (got.unchanged, got.data, budget.peak) == (True, b"", 0)
    assert server.seen[0].headers["If-Modified-Since"] == "yesterday"
    changed = await get(server.url("/a.jpg"), policy, etag='"v0"')
    assert (changed.unchanged, changed.data) == (False, JPEG)


# --- the policies and the config checks -------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1%eth0", "link-local"),
        ("fd00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert address_kind(address) == kind


def test_host_rules() -> None:
    rules = host_rules(["HR.Example.com.", "*.cdn.example.com", "[::1]", "bücher.test"])
    assert rules.exact == {"hr.example.com", "::1", "xn--bcher-kva.test"}
    assert rules.allows("img.cdn.example.com") and rules.allows("a.b.cdn.example.com")
    assert not rules.allows("cdn.example.com") and not rules.allows("evilcdn.example.com")
    assert not rules.allows("example.com")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("hr.example.com", "allow_hosts: expected a list of host names, got 'hr.example.com'"),
        (["https://hr.example.com"], "give a host name, not a URL: 'https://hr.example.com'"),
        (["hr.example.com:8443"], "give the host without a port: 'hr.example.com:8443'"),
        (["*.com"], "a * rule needs a domain such as *.example.com: '*.com'"),
        (["bad host"], "not a host name: 'bad host'"),
        ([3], "allow_hosts: expected a host name, got 3"),
    ],
)
def test_allow_hosts_are_checked(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_allow_hosts(value)
    assert message in str(caught.value)


def test_photo_headers_are_checked_without_quoting_a_value() -> None:
    good = {"HR.example.com": {"Authorization": "Bearer abc"}}
    assert check_photo_headers(good) == {"hr.example.com": {"Authorization": "Bearer abc"}}
    bad = [
        ({"hr": {"Host": "x"}}, "photo_headers.hr.Host: zoom-batch sets this header itself"),
        ({"hr": {"Bad Name": "x"}}, "photo_headers.hr: 'Bad Name' is not a header name"),
        ({"hr": {"X-Key": "s3cret\r\nX: y"}}, "photo_headers.hr.X-Key: expected one line"),
        ({"hr": "Bearer s3cret"}, "photo_headers.hr: expected a mapping of header name"),
        ("x", "photo_headers: expected a mapping of host to headers"),
    ]
    for value, message in bad:
        with pytest.raises(ConfigError) as caught:
            check_photo_headers(value)
        assert message in str(caught.value) and "s3cret" not in str(caught.value)


def test_normalize_host() -> None:
    assert normalize_host(" [0:0::1] ") == "::1"
    assert normalize_host("Files.Zoom.US.") == "files.zoom.us"


def test_the_zoom_picture_policy() -> None:
    """A backup's pic_url: the API's host and Zoom's domains; the token to the API host only."""
    policy = zoom_picture_policy(api_host="127.0.0.1", token="tok")
    for host in ("127.0.0.1", "zoom.us", "us05web.zoom.us", "file.zoomgov.com"):
        assert policy.hosts.allows(host)
    assert not policy.hosts.allows("zoom.us.evil.test") and not policy.hosts.allows("10.0.0.1")
    assert policy.private_hosts == {"127.0.0.1"}
    assert policy.headers_for("127.0.0.1", downgraded=False) == {"Authorization": "Bearer tok"}
    assert policy.headers_for("us05web.zoom.us", downgraded=False) == {}
    assert policy.max_bytes == DEFAULT_MAX_BYTES


async def test_a_pic_url_on_the_api_host_gets_the_token(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.redirect("/p/u1", server.url("/x", "cdn.test"))
    policy = zoom_picture_policy(api_host="127.0.0.1", token="tok")
    message = await refused(fetcher(session).fetch(server.url("/p/u1"), policy))
    assert message == (
        "picture URL redirects to host cdn.test, which is not allowed"
        " — users' pictures are fetched only from the API's host and Zoom's domains"
    )
    assert server.seen[0].headers["Authorization"] == "Bearer tok"
