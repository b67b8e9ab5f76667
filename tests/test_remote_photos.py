"""Photos at URLs: downloaded under the photo policy, then checked and sent like local files;
unchanged ones not sent again, and not even downloaded again where the server says so.

The same real HTTP server and guarded sessions as ``test_fetch.py``; the upload job runs with
a real state store and the fake sender of ``test_jobs.py`` (the Zoom side is not the point).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from batch._exceptions import InvalidRow
from batch._fetch import Fetcher
from batch._models import ManifestRow, Status
from batch._pool import RunControl
from batch._state import StateStore
from batch._window import ByteBudget
from batch.jobs import JobContext, UploadJob
from batch.photos import LocalFiles, prepare_image
from batch.photos._remote import (
    MemoryValidators,
    RemotePhotos,
    RoutedPhotos,
    Validator,
    is_url,
    photo_policy,
)

from . import test_fetch
from .conftest import make_jpeg, make_png
from .test_fetch import QUICK, PhotoServer
from .test_jobs import FakeSender
from .test_location import gps_of, photo

ALLOWED = photo_policy(allow_hosts=["127.0.0.1", "hr.test"])
server = test_fetch.server  # the fixtures: a photo server on 127.0.0.1, a guarded session
session = test_fetch.session


def url_row(url: str, n: int = 1, user: str | None = None) -> ManifestRow:
    return ManifestRow(n, n + 1, user or f"user{n}@example.com", url, None)


def remote(
    session: aiohttp.ClientSession, budget: ByteBudget | None = None, **options: object
) -> RemotePhotos:
    return RemotePhotos(Fetcher(session, retry=QUICK, budget=budget), ALLOWED, **options)  # type: ignore[arg-type]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def invalid(source: RemotePhotos, row: ManifestRow) -> str:
    with pytest.raises(InvalidRow) as caught:
        await source.inspect(row)
    return str(caught.value)


# --- checked and sent like local files --------------------------------------------------------


async def test_a_url_photo_is_checked_like_a_file_and_loses_its_gps(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    located = photo("JPEG")
    server.photo("/photos/Jane Doe", located)
    budget = ByteBudget()
    photos = remote(session, budget)
    row = url_row(server.url("/photos/Jane%20Doe?size=large"))
    checked = await photos.inspect(row)
    expected = prepare_image(located, filename="Jane_Doe")
    assert checked.facts == expected.facts
    assert checked.facts.filename == "Jane_Doe.jpg" and checked.facts.content_type == "image/jpeg"
    image = await photos.load(row, checked)
    assert image.sha256 == sha256(image.data) and gps_of(image.data) == {}
    assert budget.held == 0 and budget.peak == len(located)
    photos.close()


async def test_what_is_not_a_photo_is_refused_in_the_same_words_as_a_file(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    server.photo("/login", page)
    with pytest.raises(InvalidRow) as local:
        prepare_image(page, filename="login")
    assert await invalid(remote(session), url_row(server.url("/login"))) == str(local.value)


async def test_fit_converts_a_downloaded_picture(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 200, 30)).save(buffer, "GIF")
    server.photo("/a.gif", buffer.getvalue())
    row = url_row(server.url("/a.gif"))
    assert "run with --fit" in await invalid(remote(session), row)
    checked = await remote(session, fit=True, fit_max_edge=100).inspect(row)
    assert checked.facts.content_type == "image/jpeg" and checked.facts.fitted
    assert (checked.facts.width, checked.facts.height) == (100, 67)
    assert checked.facts.original_size == len(buffer.getvalue())


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        ((404,), "the HR system answered 404 for this photo's URL"),
        ((410,), "the HR system answered 410 for this photo's URL"),
        (
            (401,),
            "the HR system answered 401 for this photo's URL (check photo_headers for hr.test)",
        ),
        (
            (503, 503, 503),
            "the HR system answered 503 for this photo's URL (3 attempts) — try again later",
        ),
    ],
)
async def test_the_hr_systems_answer_is_the_rows_refusal(
    server: PhotoServer, session: aiohttp.ClientSession, statuses: tuple[int, ...], message: str
) -> None:
    server.status("/a.jpg", *statuses)
    assert await invalid(remote(session), url_row(server.url("/a.jpg", "hr.test"))) == message


async def test_a_host_nobody_allowed_is_the_rows_refusal(session: aiohttp.ClientSession) -> None:
    row = url_row("https://hr.example.com/p/1.jpg")
    assert await invalid(remote(session), row) == (
        "photo URL host hr.example.com is not allowed — pass --allow-host hr.example.com"
    )


async def test_a_failed_download_in_digest_is_reported_by_inspect_without_retrying_again(
    server: PhotoServer, session: aiohttp.ClientSession
) -> None:
    server.status("/a.jpg", 503, 503, 503, 503, 503, 503)
    photos = remote(session)
    row = url_row(server.url("/a.jpg"))
    assert await photos.digest(row) is None
    assert (await invalid(photos, row)).endswith("(3 attempts) — try again later")
    assert len(server.seen) == 3


# --- mixing URLs and files --------------------------------------------------------------------


def test_what_counts_as_a_url() -> None:
    assert is_url("https://hr/p.jpg") and is_url(" HTTP://hr/p.jpg") and is_url("ftp://x/y")
    assert not is_url("photos/jane.jpg") and not is_url("C:\\photos\\jane.jpg")
    assert not is_url("/srv/photos/https:/x.jpg")


async def test_routed_photos_send_urls_to_the_remote_source_and_paths_to_files(
    server: PhotoServer, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    local_jpeg = make_jpeg(9)
    (tmp_path / "jane.jpg").write_bytes(local_jpeg)
    server.photo("/bob.png", make_png(2))
    photos = RoutedPhotos(LocalFiles(root=None), remote(session))
    by_file = await photos.inspect(
        ManifestRow(1, 2, "jane@x.test", "jane.jpg", tmp_path / "jane.jpg")
    )
    assert by_file.facts.sha256 == sha256(local_jpeg)
    assert await photos.digest(
        ManifestRow(1, 2, "j@x.test", "jane.jpg", tmp_path / "jane.jpg")
    ) == (
        len(local_jpeg),
        sha256(local_jpeg),
    )
    by_url = await photos.inspect(url_row(server.url("/bob.png")))
    assert by_url.facts.content_type == "image/png"
    with pytest.raises(InvalidRow, match="only http:// and https:// URLs are fetched"):
        await photos.inspect(url_row("ftp://hr.test/c.jpg"))
    photos.close()


# --- unchanged photos, through the upload job -------------------------------------------------


class Runs:
    """Upload runs one after another on one state store, as nightly imports are."""

    def __init__(self, tmp_path: Path, session: aiohttp.ClientSession) -> None:
        self.tmp_path = tmp_path
        self.session = session
        self.validators = MemoryValidators()
        self.sender = FakeSender()
        self.photos: RemotePhotos | None = None

    async def run(self, *rows: ManifestRow, fit: bool = False) -> list[tuple[Status, str]]:
        state = StateStore.open(self.tmp_path / "s.sqlite3", account_id="acct", run_id="r")
        budget = ByteBudget()
        context = JobContext(control=RunControl(), sender=self.sender, state=state, budget=budget)  # type: ignore[arg-type]
        fetcher = Fetcher(self.session, retry=QUICK, budget=budget)
        self.photos = RemotePhotos(fetcher, ALLOWED, validators=self.validators, fit=fit)
        job = UploadJob(context, self.photos, fit=fit)
        try:
            results = [await job.process(row) for row in rows]
        finally:
            job.close()
            state.close()
        assert budget.held == 0
        return [(r.status, r.message) for r in results]


def etag_server(server: PhotoServer, path: str, versions: list[bytes]) -> None:
    """Serves ``versions[-1]`` with its ETag, and 304 to a request that names it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        data = versions[-1]
        tag = f'"{sha256(data)[:12]}"'
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=data, headers={"ETag": tag})

    server.routes[path] = handler


async def test_an_unchanged_photo_is_neither_sent_nor_downloaded_again(
    server: PhotoServer, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """With an ETag: the second run's conditional GET gets a 304, and the row is skipped —
    here for a photo whose GPS is taken out, so the bytes sent are not the bytes served."""
    located = photo("JPEG")
    etag_server(server, "/jane.jpg", [located])
    runs = Runs(tmp_path, session)
    row = url_row(server.url("/jane.jpg"))
    assert (await runs.run(row))[0][0] is Status.UPLOADED
    assert runs.photos is not None and runs.photos.downloads == 1
    second = await runs.run(row)
    assert second[0][0] is Status.SKIPPED and second[0][1].startswith("unchanged since ")
    assert runs.photos.downloads == 0  # a 304: not downloaded
    assert "If-None-Match" in server.seen[-1].headers
    assert runs.sender.sent == [("upload", "user1@example.com")]


async def test_without_validators_the_same_bytes_are_downloaded_and_skipped_unchecked(
    server: PhotoServer, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    located = photo("JPEG")
    server.photo("/jane.jpg", located)  # no ETag, no Last-Modified
    runs = Runs(tmp_path, session)
    row = url_row(server.url("/jane.jpg"))
    await runs.run(row)
    [record] = runs.validators.records.values()
    assert (record.etag, record.last_modified, record.prepared) == (None, None, "as is")
    assert record.source_sha256 == sha256(located) != record.sha256
    assert (await runs.run(row))[0][0] is Status.SKIPPED
    assert runs.photos is not None and runs.photos.downloads == 1
    assert runs.sender.sent == [("upload", "user1@example.com")]


async def test_a_changed_photo_is_downloaded_once_and_sent(
    server: PhotoServer, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    versions = [make_jpeg(1)]
    etag_server(server, "/jane.jpg", versions)
    runs = Runs(tmp_path, session)
    row = url_row(server.url("/jane.jpg"))
    await runs.run(row)
    versions.append(make_jpeg(2))
    assert (await runs.run(row))[0][0] is Status.UPLOADED
    assert runs.photos is not None and runs.photos.downloads == 1  # digest's download, kept
    assert runs.validators.records[row.file].sha256 == sha256(make_jpeg(2))
    assert len(runs.sender.sent) == 2


async def test_a_photo_served_again_under_another_url_is_not_sent_again(
    server: PhotoServer, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server.photo("/v1/jane.jpg", photo("JPEG"))
    server.photo("/v2/jane.jpg", photo("JPEG"))
    runs = Runs(tmp_path, session)
    await runs.run(url_row(server.url("/v1/jane.jpg")))
    assert (await runs.run(url_row(server.url("/v2/jane.jpg"))))[0][0] is Status.SKIPPED
    assert len(runs.sender.sent) == 1


async def test_a_record_made_under_other_settings_is_not_trusted(
    server: PhotoServer, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    etag_server(server, "/jane.jpg", [make_jpeg(4)])
    runs = Runs(tmp_path, session)
    row = url_row(server.url("/jane.jpg"))
    await runs.run(row)
    # A record that says the photo became other bytes, under --fit: not used without --fit.
    record = runs.validators.records[row.file]
    runs.validators.records[row.file] = Validator(
        record.etag, None, "0" * 64, 1, record.source_sha256, "fit 1024"
    )
    assert (await runs.run(row))[0][0] is Status.SKIPPED  # checked again: the same bytes
    assert runs.photos is not None and runs.photos.downloads == 1  # not a 304
    assert runs.validators.records[row.file] == record
