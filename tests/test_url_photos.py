"""Photos at URLs from an HR system, end to end through the CLI: a real photo server on
127.0.0.1, the simulator playing Zoom, the run's own state store.

Nothing is fetched from a host nobody allowed; headers go to their host only and never into
the output; an unchanged photo is not sent again, and not even downloaded again where the
server gives an ETag; HR's words for what went wrong.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web

from batch._report import COLUMNS

from . import test_fetch
from .conftest import make_jpeg, report_rows, sim_args, sim_env
from .test_fetch import PhotoServer

server = test_fetch.server  # a photo server on 127.0.0.1

SECRET = "hr-token-7f3a9c-do-not-print"


def write_manifest(tmp_path: Path, *rows: tuple[str, str]) -> None:
    lines = ["email,file,name", *(f"{user},{file},Someone" for user, file in rows)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")


def config(tmp_path: Path, host: str = "127.0.0.1") -> list[str]:
    """A config file with the HR system's header, its value from the environment."""
    (tmp_path / "c.yaml").write_text(
        f"photo_headers:\n  {host}:\n    Authorization: Bearer ${{HR_TOKEN}}\n"
    )
    return ["--config", "c.yaml", "--allow-host", host]


def reports(folder: Path) -> list[str]:
    return [path.read_text(encoding="utf-8-sig") for path in sorted(folder.glob("*.csv"))]


def with_etag(server: PhotoServer, path: str, data: bytes, needs: str | None = None) -> None:
    """Serve ``data`` at ``path`` with an ETag; 304 when the client already has it; 401
    without the ``Authorization`` value ``needs``."""
    etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'

    async def handler(request: web.Request) -> web.StreamResponse:
        if needs is not None and request.headers.get("Authorization") != needs:
            return web.Response(status=401, text="who are you")
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=data, content_type="image/jpeg", headers={"ETag": etag})

    server.routes[path] = handler


async def test_a_url_from_a_host_nobody_allowed_is_refused_and_never_fetched(
    server: PhotoServer, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    server.photo("/p/ada.jpg", make_jpeg(1))
    (tmp_path / "bo.jpg").write_bytes(make_jpeg(2))
    write_manifest(
        tmp_path, ("ada@example.com", server.url("/p/ada.jpg")), ("bo@example.com", "bo.jpg")
    )
    sim = await simulator(rate_limit=0)
    outcome = await cli(["run", "m.csv", *sim_args(sim), "--report", "r.csv"], sim_env(sim))
    assert outcome.code == 1, outcome.err
    ada, bo = report_rows(tmp_path / "r.csv")
    assert (ada["status"], ada["message"]) == (
        "invalid",
        "photo URL host 127.0.0.1 (a loopback address) is not allowed"
        " — pass --allow-host 127.0.0.1",
    )
    assert bo["status"] == "uploaded"  # a file beside a URL in one manifest
    assert server.seen == []


async def test_an_allowed_hr_system_photo_is_uploaded_then_not_even_downloaded_again(
    server: PhotoServer, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    data = make_jpeg(3)
    with_etag(server, "/p/ada.jpg", data, needs=f"Bearer {SECRET}")
    write_manifest(tmp_path, ("ada@example.com", server.url("/p/ada.jpg")))
    sim = await simulator(rate_limit=0)
    env = sim_env(sim, HR_TOKEN=SECRET)
    args = ["run", "m.csv", *sim_args(sim), *config(tmp_path), "--state", "s.db"]

    first = await cli([*args, "--report", "1.csv"], env)
    assert first.code == 0, first.err
    (row,) = report_rows(tmp_path / "1.csv")
    assert row["status"] == "uploaded", row
    assert sim.received["ada@example.com"].sha256 == row["sha256"]
    assert len(server.seen) == 1

    second = await cli([*args, "--report", "2.csv"], env)
    assert second.code == 0, second.err
    (row,) = report_rows(tmp_path / "2.csv")
    assert row["status"] == "skipped" and row["message"].startswith("unchanged since"), row
    # Asked with If-None-Match, answered 304: no body crossed the wire, nothing was sent.
    assert server.seen[-1].headers.get("If-None-Match")
    assert sim.stats.uploads == 1

    # The header's value is nowhere the operator or HR can see it.
    for text in (first.err, second.err, *reports(tmp_path)):
        assert SECRET not in text


async def test_what_the_hr_system_answered_is_said_in_hrs_words(
    server: PhotoServer, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    server.status("/p/gone.jpg", 404, 404, 404, 404)
    with_etag(server, "/p/locked.jpg", make_jpeg(4), needs="Bearer right")
    write_manifest(
        tmp_path,
        ("ada@example.com", server.url("/p/gone.jpg")),
        ("bo@example.com", server.url("/p/locked.jpg")),
    )
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", "m.csv", *sim_args(sim), *config(tmp_path), "--report", "r.csv"],
        sim_env(sim, HR_TOKEN="wrong"),
    )
    assert outcome.code == 1, outcome.err
    gone, locked = report_rows(tmp_path / "r.csv")
    assert gone["status"] == locked["status"] == "invalid"
    assert gone["message"].startswith("the HR system answered 404 for this photo's URL")
    assert locked["message"].startswith("the HR system answered 401 for this photo's URL")
    assert "photo_headers" in locked["message"]
    assert "wrong" not in locked["message"]
    assert sim.stats.uploads == 0
    assert list(report_rows(tmp_path / "r.csv")[0])[: len(COLUMNS)] == list(COLUMNS)


async def test_a_redirect_to_another_host_is_checked_again_and_gets_no_headers(
    server: PhotoServer, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    """An allowed HR system that redirects elsewhere (here: "localhost", not allowed) cannot
    make the run read it, nor hand it the HR system's token."""
    server.redirect("/p/ada.jpg", server.url("/internal/admin", host="localhost"))
    write_manifest(tmp_path, ("ada@example.com", server.url("/p/ada.jpg")))
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", "m.csv", *sim_args(sim), *config(tmp_path), "--report", "r.csv"],
        sim_env(sim, HR_TOKEN=SECRET),
    )
    assert outcome.code == 1, outcome.err
    (row,) = report_rows(tmp_path / "r.csv")
    assert row["status"] == "invalid"
    assert "redirects to host localhost, which is not allowed" in row["message"]
    assert [seen.path for seen in server.seen] == ["/p/ada.jpg"]


async def test_validate_downloads_and_checks_a_url_photo_and_writes_no_state(
    server: PhotoServer, cli: Any, tmp_path: Path
) -> None:
    server.photo("/p/ada.jpg", make_jpeg(5))
    server.photo("/p/page.html", b"<html>not a photo</html>")
    write_manifest(
        tmp_path,
        ("ada@example.com", server.url("/p/ada.jpg")),
        ("bo@example.com", server.url("/p/page.html")),
    )
    outcome = await cli(
        ["validate", "m.csv", "--allow-host", "127.0.0.1", "--report", "v.csv"],
    )
    assert outcome.code == 1, outcome.err
    ada, bo = report_rows(tmp_path / "v.csv")
    assert ada["status"] == "valid"
    assert bo["status"] == "invalid" and "web page" in bo["message"], bo


async def test_photo_headers_for_a_host_not_allowed_are_refused_at_start(
    cli: Any, tmp_path: Path
) -> None:
    write_manifest(tmp_path, ("ada@example.com", "https://hr.example.com/p/ada.jpg"))
    config(tmp_path, host="hr.example.com")
    outcome = await cli(["validate", "m.csv", "--config", "c.yaml"], {"HR_TOKEN": SECRET})
    assert outcome.code == 2
    assert outcome.err.strip() == (
        "zoom-batch: c.yaml: photo_headers: hr.example.com is not an allowed host, so its"
        " headers would never be sent — add it to allow_hosts (--allow-host hr.example.com)"
    )
    assert SECRET not in outcome.err


async def test_a_photo_over_the_size_cap_is_refused_without_reading_it(
    server: PhotoServer, cli: Any, simulator: Any, tmp_path: Path
) -> None:
    """An HR system that serves a 31 MB "photo" (by its Content-Length) is not read past it."""

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.content_length = 31_000_000
        await response.prepare(request)
        await response.write(b"\xff\xd8" + b"\0" * 65536)
        return response

    server.routes["/p/huge.jpg"] = huge
    write_manifest(tmp_path, ("ada@example.com", server.url("/p/huge.jpg")))
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        ["run", "m.csv", *sim_args(sim), "--allow-host", "127.0.0.1", "--report", "r.csv"],
        sim_env(sim),
    )
    assert outcome.code == 1, outcome.err
    (row,) = report_rows(tmp_path / "r.csv")
    assert (row["status"], row["message"]) == (
        "invalid",
        "photo at URL is 31.0 MB; the limit is 20.0 MB",
    )
    assert sim.stats.uploads == 0
