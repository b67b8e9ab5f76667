"""Users and photos from a directory (issue 16, "LDAP and Active Directory"), against a real
OpenLDAP slapd (``tests/_slapd.py``), never a mock: started once for the module on a loopback
port, with 1,200 people (more than its per-search size limit, so only paging reads them all),
entries without photos or without mail, entries only a bound reader sees, and photos as large
as Active Directory allows.

Where slapd is missing these tests skip, saying so; CI (ZOOM_BATCH_CI=1) fails them instead.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch._exceptions import ConfigError, FatalError, InvalidRow, ManifestError
from batch._models import ManifestRow, RowResult, Status
from batch._pool import RunControl, WorkerPool
from batch._state import StateStore
from batch.directory import (
    DirectoryManifest,
    DirectoryPhotos,
    DirectoryURL,
    _ldap,
    _manifest,
    check_attributes,
    default_filter,
    is_directory_url,
    open_directory,
    parse_url,
)
from batch.jobs import JobContext, UploadJob
from batch.photos import MemoryValidators

from . import _slapd
from ._slapd import PASSWORD, READER, Slapd
from .conftest import ROOT, report_rows, sim_args, sim_env, status_counts
from .test_jobs import FakeSender

PEOPLE = {p.dn: p for p in _slapd.people()}
SPECIAL = {p.dn: p for p in _slapd.special()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    with _slapd.running(tmp_path_factory.mktemp("slapd")) as running:
        yield running


@pytest.fixture
def quick_reconnects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_manifest, "RECONNECT_DELAYS", (0.05, 0.05, 0.05))


def people(server: Slapd, **options: Any) -> DirectoryManifest:
    options.setdefault("bind_dn", READER)
    options.setdefault("password", PASSWORD)
    return open_directory(f"{server.url}/{_slapd.PEOPLE_BASE}", **options)


def special(server: Slapd, **options: Any) -> DirectoryManifest:
    options.setdefault("filter", "(objectClass=person)")  # the entries without photos too
    options.setdefault("bind_dn", READER)
    options.setdefault("password", PASSWORD)
    return open_directory(f"{server.url}/{_slapd.SPECIAL_BASE}", **options)


def by_uid(rows: list[ManifestRow]) -> dict[str, ManifestRow]:
    return {(row.dn or "").split(",")[0].split("=")[1]: row for row in rows}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- URLs and settings: checked before anything connects --------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ldap://dc1.example.com/DC=corp,DC=example,DC=com",
            DirectoryURL("ldap", "dc1.example.com", 389, "DC=corp,DC=example,DC=com"),
        ),
        (
            "LDAPS://dc1.example.com:3269/dc=example,dc=com",
            DirectoryURL("ldaps", "dc1.example.com", 3269, "dc=example,dc=com", port_given=True),
        ),
        (
            "ldap://dc1/ou=People%20Here,dc=example,dc=com?starttls",
            DirectoryURL("ldap", "dc1", 389, "ou=People Here,dc=example,dc=com", starttls=True),
        ),
        (
            "ldap://dc1/dc=example,dc=com????!StartTLS",
            DirectoryURL("ldap", "dc1", 389, "dc=example,dc=com", starttls=True),
        ),
        (
            "ldap://[::1]:1389/dc=example,dc=com??one?(mail=*%40example.com)",
            DirectoryURL(
                "ldap", "::1", 1389, "dc=example,dc=com", "one", "(mail=*@example.com)",
                port_given=True,
            ),
        ),
    ],
)  # fmt: skip
def test_directory_urls_say_where_and_what_to_search(url: str, expected: DirectoryURL) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ldap://dc1", "the LDAP URL names no search base: ldap://dc1/ — add it, as in"
         " ldap://dc1/dc=example,dc=com"),
        ("ldap:///dc=example,dc=com", "the LDAP URL names no host: ldap:///"),
        ("ldap://dc1:99999/dc=x", "the LDAP URL has a bad host or port: ldap://dc1:99999/"),
        ("ldap://dc1/dc=x?mail", "ldap://dc1/dc=x: the URL's attribute list is not used — name"
         " the attributes with --ldap-user-attr and --ldap-photo-attr"),
        ("ldap://dc1/dc=x??subtree", "ldap://dc1/dc=x: scope 'subtree' in the URL — expected"
         " base, one or sub"),
        ("ldaps://dc1/dc=x?starttls", "ldaps://dc1/dc=x: ldaps:// is encrypted already — drop"
         " starttls, or use ldap://"),
        ("ldap://dc1/dc=x????tls", "ldap://dc1/dc=x: unknown URL extension 'tls' (the one known"
         " is starttls)"),
        ("http://dc1/dc=x", "not an LDAP URL (ldap://host/BASE or ldaps://host/BASE):"
         " 'http://dc1/dc=x'"),
    ],
)  # fmt: skip
def test_a_bad_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url(url)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "url",
    [
        "ldap://admin:hunter2@dc1/dc=x",
        "ldap://dc1/dc=x????bindname=cn%3Dadmin%2Cdc%3Dx",
    ],
)
def test_credentials_in_the_url_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url(url)
    message = str(caught.value)
    assert "ZOOM_BATCH_LDAP_BIND_DN" in message and "ZOOM_BATCH_LDAP_PASSWORD" in message
    assert "hunter2" not in message and "admin" not in message


def test_a_directory_argument_is_told_from_a_manifest_file() -> None:
    assert is_directory_url("ldap://dc1/dc=x") and is_directory_url(" LDAPS://dc1/dc=x")
    assert not is_directory_url("people.csv") and not is_directory_url("ldap.csv")


def test_attribute_names_and_the_default_filter() -> None:
    assert check_attributes("thumbnailPhoto, jpegPhoto;binary", key="k") == (
        "thumbnailPhoto",
        "jpegPhoto;binary",
    )
    assert check_attributes(["photo", "Photo"], key="k") == ("photo",)
    with pytest.raises(ConfigError, match=r"^--ldap-user-attr: expected an LDAP attribute name"):
        open_directory("ldap://127.0.0.1:1/dc=x", user_attr="e mail")
    assert default_filter() == "(&(objectClass=person)(|(thumbnailPhoto=*)(jpegPhoto=*)))"
    assert default_filter(["photo;binary"]) == "(&(objectClass=person)(|(photo=*)))"


@pytest.mark.parametrize(
    ("bind_dn", "password", "message"),
    [
        (READER, "", "ZOOM_BATCH_LDAP_BIND_DN is set but ZOOM_BATCH_LDAP_PASSWORD is empty"
         " — set both, or neither for an anonymous bind"),
        (None, PASSWORD, "ZOOM_BATCH_LDAP_PASSWORD is set without ZOOM_BATCH_LDAP_BIND_DN"
         " — set both"),
    ],
)  # fmt: skip
def test_a_bind_needs_both_the_dn_and_the_password(
    bind_dn: str | None, password: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        open_directory("ldap://127.0.0.1:1/dc=x", bind_dn=bind_dn, password=password)
    assert str(caught.value) == message  # refused before any connection: nothing listens there


def test_ldap3_loads_without_its_warnings_reaching_the_operator() -> None:
    # pyasn1 0.6 deprecates names ldap3 2.9 imports: as errors, the import itself would fail.
    probe = "from batch.directory import _ldap; print(_ldap._library().__name__)"
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ldap3"), done.stderr


def test_a_plain_run_loads_no_ldap_library() -> None:
    probe = (
        "import sys, batch._cli, batch._runner, batch.directory;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ldap3', 'pyasn1')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- rows: every entry, in search order, paged -----------------------------------------------


def test_rows_are_the_entries_in_search_order_with_their_dn_and_photo_attribute(
    server: Slapd,
) -> None:
    with people(server) as directory:
        rows = list(directory.rows())
    assert directory.total == len(rows) == _slapd.PEOPLE
    assert [row.dn for row in rows] == list(PEOPLE)
    assert [(row.row, row.line) for row in rows[:3]] == [(1, 1), (2, 2), (3, 3)]
    first, second = rows[0], rows[1]
    assert first == ManifestRow(
        1, 1, "user0000@example.com", "jpegPhoto", None, ("User 0000",), None,
        f"uid=user0000,{_slapd.PEOPLE_BASE}",
    )  # fmt: skip
    assert (second.user, second.file) == ("user0001@example.com", "thumbnailPhoto")
    assert directory.extra_columns == ("name",)
    assert directory.path == f"{server.url}/{_slapd.PEOPLE_BASE}"
    assert directory.resolve("jpegPhoto") is None


def test_paging_reads_past_the_directorys_size_limit(server: Slapd) -> None:
    ldap3 = _ldap._library()
    plain = ldap3.Connection(
        ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
        user=READER,
        password=PASSWORD,
        auto_bind=True,
    )
    plain.search(_slapd.PEOPLE_BASE, "(objectClass=person)", attributes=["1.1"])
    assert plain.result["description"] == "sizeLimitExceeded"  # a search that does not page
    assert len(plain.response) == _slapd.SIZE_LIMIT
    plain.unbind()
    directory = people(server, page_size=300)
    assert directory.total == sum(1 for _ in directory.rows()) == _slapd.PEOPLE


def test_a_directory_that_refuses_large_pages_is_asked_for_smaller_ones(server: Slapd) -> None:
    # slapd's size.pr refuses pages above 200 entries (adminLimitExceeded) for this reader.
    directory = people(server, bind_dn=_slapd.SMALL_READER)
    assert directory.total == _slapd.PEOPLE
    assert [row.dn for row in directory.rows()] == list(PEOPLE)


def test_pages_with_photos_hold_about_page_bytes(server: Slapd) -> None:
    settings = _ldap.Settings(parse_url(f"{server.url}/{_slapd.BIG_BASE}"), READER, PASSWORD)
    connection = _ldap.connect(settings)
    try:
        pages = list(
            _ldap.search_pages(
                connection,
                settings,
                search_filter="(objectClass=person)",
                attributes=["mail", "jpegPhoto"],
                page_size=500,
                page_bytes=1024 * 1024,
            )
        )
    finally:
        _ldap.close(connection)
    sizes = [len(page) for page in pages]
    assert sum(sizes) == _slapd.BIG
    assert sizes[0] == 16  # a few first, to measure them
    assert set(sizes[1:-1]) == {10}  # then what fits in 1 MB: 10 photos of 100 KB


def test_memory_stays_flat_however_large_the_photos(server: Slapd) -> None:
    """200 photos of 100 KB (20 MB): rows() holds about one page of them, never the lot.

    Measured (tracemalloc peak, the run's Python allocations): 4.6 MB with PAGE_BYTES at 2 MB,
    as ldap3 holds a page's bytes as received and as decoded; one page of them all (no byte
    cap) 38.6 MB, and Active Directory's pages of 1,000 such photos would hold ~200 MB.
    """
    directory = open_directory(f"{server.url}/{_slapd.BIG_BASE}", bind_dn=READER, password=PASSWORD)
    tracemalloc.start()
    try:
        count = sum(1 for _ in directory.rows())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == _slapd.BIG
    assert peak < 3 * _manifest.PAGE_BYTES < _slapd.BIG * _slapd.BIG_PHOTO / 3


def test_anonymous_searches_see_what_the_directory_shows_anyone(server: Slapd) -> None:
    everyone = f"{server.url}/{_slapd.SUFFIX}"
    anonymous = open_directory(everyone)
    bound = open_directory(everyone, bind_dn=READER, password=PASSWORD)
    visible = _slapd.PEOPLE + len(SPECIAL) - 1 + _slapd.BIG  # "nophoto" has none
    assert anonymous.total == visible
    assert bound.total == visible + _slapd.PRIVATE  # ou=private is for bound readers
    private = f"{server.url}/{_slapd.PRIVATE_BASE}"
    with pytest.raises(ManifestError) as caught:
        open_directory(private)  # slapd hides the base itself from anonymous searches
    assert str(caught.value) == (
        f"{private}: the search base '{_slapd.PRIVATE_BASE}' is not in the directory"
        " (noSuchObject) — check the DN after the host, or bind to see it: set"
        " ZOOM_BATCH_LDAP_BIND_DN and ZOOM_BATCH_LDAP_PASSWORD"
    )
    rows = list(open_directory(private, bind_dn=READER, password=PASSWORD).rows())
    assert [row.user for row in rows] == [f"secret{i}@example.com" for i in range(_slapd.PRIVATE)]


# --- what the operator sees when something is wrong ------------------------------------------


def test_a_wrong_password_is_one_line_that_shows_no_credential(server: Slapd) -> None:
    with pytest.raises(ConfigError) as caught:
        open_directory(f"{server.url}/{_slapd.PEOPLE_BASE}", bind_dn=READER, password="wrong-pw")
    assert str(caught.value) == (
        f"{server.url}/{_slapd.PEOPLE_BASE}: the directory refused the bind DN and password"
        " (ZOOM_BATCH_LDAP_BIND_DN, ZOOM_BATCH_LDAP_PASSWORD) — check them"
    )


@pytest.mark.parametrize(
    ("base", "options", "kind", "message"),
    [
        ("ou=nobody,dc=example,dc=com", {}, ManifestError,
         "{url}/ou=nobody,dc=example,dc=com: the search base 'ou=nobody,dc=example,dc=com' is"
         " not in the directory (noSuchObject) — check the DN after the host"),
        (_slapd.PEOPLE_BASE, {"filter": "(objectClass=person"}, ConfigError,
         "the LDAP filter '(objectClass=person' is not valid — check --ldap-filter (for example"
         " (&(objectClass=person)(mail=*)))"),
        (_slapd.PEOPLE_BASE + "??sub?(mail=*)", {"filter": "(cn=*)"}, ConfigError,
         "{url}/" + _slapd.PEOPLE_BASE + ": the URL has a filter and --ldap-filter gives one"
         " too — keep one"),
    ],
)  # fmt: skip
def test_a_bad_base_or_filter_stops_before_anything_is_sent(
    server: Slapd, base: str, options: dict[str, str], kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind) as caught:
        open_directory(f"{server.url}/{base}", bind_dn=READER, password=PASSWORD, **options)
    assert str(caught.value) == message.format(url=server.url)


def test_a_directory_that_is_not_there_is_named(server: Slapd) -> None:
    port = _slapd.free_port()
    with pytest.raises(ManifestError) as caught:
        open_directory(f"ldap://127.0.0.1:{port}/dc=x", bind_dn=READER, password=PASSWORD)
    assert str(caught.value) == (
        f"cannot reach the directory ldap://127.0.0.1:{port}: connection refused — check the"
        " host and the port, and that it runs"
    )


def test_credentials_never_show_in_a_repr(server: Slapd) -> None:
    directory = people(server)
    for text in (repr(directory), repr(directory.settings), str(directory.settings.url)):
        assert PASSWORD not in text and READER not in text


# --- problem rows, and which photo -----------------------------------------------------------


def test_entries_without_the_user_or_a_photo_are_rows_with_a_problem(server: Slapd) -> None:
    rows = by_uid(list(special(server).rows()))
    no_mail = (
        "entry has no mail attribute — set --ldap-user-attr to the one that holds the Zoom user"
        " (userPrincipalName in Active Directory)"
    )
    assert {uid: (row.user, row.file, row.problem) for uid, row in rows.items()} == {
        "both": ("both@example.com", "thumbnailPhoto", None),
        "nophoto": ("nophoto@example.com", "", "entry has no thumbnailPhoto or jpegPhoto"),
        "nomail": ("", "jpegPhoto", no_mail),
        "notimage": ("notimage@example.com", "jpegPhoto", None),
        "ad": ("", "thumbnailPhoto", no_mail),
    }
    ad = by_uid(list(special(server, user_attr="userPrincipalName").rows()))
    assert (ad["ad"].user, ad["ad"].problem) == ("ad.user@corp.example.com", None)
    assert ad["nophoto"].problem == (
        "entry has no userPrincipalName attribute — set --ldap-user-attr to the one that holds"
        " the Zoom user (userPrincipalName in Active Directory); entry has no thumbnailPhoto"
        " or jpegPhoto"
    )


def test_the_first_photo_attribute_present_wins(server: Slapd) -> None:
    both = by_uid(list(special(server).rows()))["both"]
    assert both.file == "thumbnailPhoto"
    reverse = special(server, photo_attrs="jpegPhoto,thumbnailPhoto")
    assert by_uid(list(reverse.rows()))["both"].file == "jpegPhoto"


# --- photos: read, checked, and not read again when unchanged ---------------------------------


async def test_photos_are_the_attribute_values_checked(server: Slapd) -> None:
    directory = special(server)
    rows = by_uid(list(directory.rows()))
    photos = DirectoryPhotos(directory)
    try:
        both = rows["both"]
        stored = SPECIAL[both.dn or ""].photos["thumbnailPhoto"]
        assert await photos.digest(both) == (len(stored), sha256(stored))
        checked = await photos.inspect(both)
        assert (checked.facts.content_type, checked.facts.sha256) == ("image/png", sha256(stored))
        assert (await photos.load(both, checked)).data == stored
        with pytest.raises(InvalidRow, match=r"^file is not a picture"):
            await photos.inspect(rows["notimage"])
        assert photos.reads == 2
    finally:
        photos.close()


async def test_a_photo_gone_since_the_search_is_refused_for_its_row(server: Slapd) -> None:
    ldap3 = _ldap._library()
    connection = ldap3.Connection(  # zoom-batch's own connections are read-only
        ldap3.Server("127.0.0.1", port=server.port, get_info=ldap3.NONE),
        user=_slapd.ADMIN,
        password=_slapd.ADMIN_PASSWORD,
        auto_bind=True,
    )
    dn = f"uid=temp,{_slapd.SPECIAL_BASE}"
    photo = _slapd.jpeg(4242)
    connection.add(
        dn,
        ["inetOrgPerson"],
        {"uid": "temp", "cn": "Temp", "sn": "temp", "mail": "temp@example.com", "jpegPhoto": photo},
    )
    directory = special(server)
    photos = DirectoryPhotos(directory)
    try:
        rows = by_uid(list(directory.rows()))
        connection.modify(dn, {"jpegPhoto": [(ldap3.MODIFY_DELETE, [])]})
        with pytest.raises(InvalidRow) as caught:
            await photos.inspect(rows["temp"])
        assert str(caught.value) == (
            "entry has no jpegPhoto any more (it was removed after the search) — run again to"
            " read the directory as it is"
        )
        connection.delete(dn)
        with pytest.raises(InvalidRow) as caught:
            await photos.inspect(rows["temp"])
        assert str(caught.value) == (
            "entry is no longer in the directory (removed or renamed after the search)"
        )
    finally:
        photos.close()
        connection.delete(dn)
        connection.unbind()


async def run_upload(
    directory: DirectoryManifest, state: StateStore, validators: MemoryValidators, *, fit: bool
) -> tuple[list[RowResult], FakeSender, DirectoryPhotos]:
    """The upload job over the directory's rows, through the real pool (rows read in a
    thread), with the fake sender of test_jobs.py: the directory is the point here."""
    sender, control = FakeSender(), RunControl()
    context = JobContext(control=control, sender=sender, state=state)  # type: ignore[arg-type]
    photos = DirectoryPhotos(directory, fit=fit, validators=validators)
    job = UploadJob(context, photos, fit=fit)
    results: list[RowResult] = []
    pool = WorkerPool(job, workers=20, control=control, sink=results.append)
    try:
        await pool.run(directory.rows())
    finally:
        job.close()
    return results, sender, photos


@pytest.mark.parametrize("fit", [False, True])
async def test_a_rerun_with_nothing_changed_reads_no_photo_again(
    server: Slapd, tmp_path: Path, fit: bool
) -> None:
    directory = people(server)
    state = StateStore.open(tmp_path / "state.sqlite3", account_id="acct", run_id="r1")
    validators = MemoryValidators()
    try:
        first, sender, photos = await run_upload(directory, state, validators, fit=fit)
        assert status_counts([{"status": r.status} for r in first]) == {"uploaded": 1200}
        assert len(sender.sent) == photos.reads == _slapd.PEOPLE
        assert {r.dn for r in first} == set(PEOPLE)
        again, sender, photos = await run_upload(directory, state, validators, fit=fit)
    finally:
        state.close()
    assert {r.status for r in again} == {Status.SKIPPED}
    assert sender.sent == [] and photos.reads == 0  # what the search measured was enough


# --- a directory lost mid-run -----------------------------------------------------------------


def test_a_connection_lost_mid_search_is_opened_again_where_it_was(
    server: Slapd, quick_reconnects: None
) -> None:
    directory = people(server)
    rows = directory.rows()
    seen = [next(rows).dn for _ in range(600)]  # into the third page
    server.stop()
    server.start()  # every connection dropped, the page cookie with them
    seen += [row.dn for row in rows]
    assert seen == list(PEOPLE)  # each entry once, in order
    assert directory.reconnects == 1


def test_a_directory_gone_for_good_ends_the_rows_with_one_line(
    server: Slapd, quick_reconnects: None
) -> None:
    directory = people(server)
    rows = directory.rows()
    read = [next(rows) for _ in range(600)]
    server.stop()
    try:
        with pytest.raises(ManifestError) as caught:
            for row in rows:  # those of the page already read, then the error
                read.append(row)
    finally:
        server.start()
    message = str(caught.value)
    assert re.fullmatch(
        rf"cannot reach the directory {server.url}: connection refused — check the host and"
        rf" the port, and that it runs — lost after {len(read):,} of 1,200 entries, and 3 new"
        r" connections failed; run again",
        message,
    ), message
    assert 600 <= len(read) < _slapd.PEOPLE


async def test_a_photo_read_when_the_directory_is_gone_stops_the_run(server: Slapd) -> None:
    directory = special(server)
    row = by_uid(list(directory.rows()))["both"]
    photos = DirectoryPhotos(directory)
    await photos.inspect(row)  # a connection is open on a reading thread
    server.stop()
    try:
        with pytest.raises(FatalError) as caught:
            await photos.inspect(row)
    finally:
        server.start()
        photos.close()
    assert str(caught.value) == (
        f"cannot reach the directory {server.url}: connection refused — check the host and the"
        " port, and that it runs — run again when the directory is back"
    )


# --- TLS ---------------------------------------------------------------------------------------


def tls(server: Slapd) -> tuple[str, Path]:
    if server.ldaps_url is None or server.ca is None:
        _slapd.needs("the openssl command is needed to make the test certificates")
    assert server.ldaps_url is not None and server.ca is not None
    return server.ldaps_url, server.ca


@pytest.mark.parametrize("how", ["ldaps", "starttls"])
def test_ldaps_and_starttls_with_the_directorys_ca(server: Slapd, how: str) -> None:
    ldaps, ca = tls(server)
    url = f"{ldaps}/{_slapd.SPECIAL_BASE}"
    if how == "starttls":
        url = f"{server.url}/{_slapd.SPECIAL_BASE}?starttls"
    directory = open_directory(url, bind_dn=READER, password=PASSWORD, ca_file=ca)
    assert directory.total == len(list(directory.rows())) == len(SPECIAL) - 1
    assert directory.notes == ()


def test_a_certificate_not_trusted_or_for_another_name_is_refused(server: Slapd) -> None:
    _, ca = tls(server)
    with pytest.raises(ManifestError) as caught:
        open_directory(f"{server.url}/{_slapd.SUFFIX}?starttls")  # the system's CAs only
    assert str(caught.value) == (
        f"cannot reach the directory {server.url}: its TLS certificate is not signed by a CA"
        " this machine trusts — give the CA's certificate with --ldap-ca-file"
    )
    assert server.unnamed_url is not None
    with pytest.raises(ManifestError) as caught:
        open_directory(f"{server.unnamed_url}/{_slapd.SUFFIX}", ca_file=ca)
    assert str(caught.value) == (
        f"cannot reach the directory {server.unnamed_url}: its TLS certificate does not name"
        " 127.0.0.2 — use the host name the certificate holds"
    )


# --- the command line (the lead wires ldap:// into the runner) --------------------------------


def ldap_env(sim: Any, password: str = PASSWORD) -> dict[str, str]:
    return sim_env(sim, ZOOM_BATCH_LDAP_BIND_DN=READER, ZOOM_BATCH_LDAP_PASSWORD=password)


async def test_cli_runs_a_directory_import_then_sends_nothing_unchanged(
    server: Slapd, simulator: Any, cli: Any, tmp_path: Path
) -> None:
    sim = await simulator(rate_limit=0)
    url = f"{server.url}/{_slapd.PEOPLE_BASE}"
    args = ["run", url, *sim_args(sim), "--rate", "2000", "--concurrency", "50", "--quiet"]
    first = await cli([*args, "--report", str(tmp_path / "first.csv")], ldap_env(sim))
    assert first.code == 0, first.err
    rows = report_rows(tmp_path / "first.csv")
    assert status_counts(rows) == {"uploaded": _slapd.PEOPLE}  # past three pages
    assert [(r["dn"], r["file"], r["name"]) for r in rows[:2]] == [
        (f"uid=user0000,{_slapd.PEOPLE_BASE}", "jpegPhoto", "User 0000"),
        (f"uid=user0001,{_slapd.PEOPLE_BASE}", "thumbnailPhoto", "User 0001"),
    ]
    assert sim.stats.uploads == _slapd.PEOPLE
    again = await cli([*args, "--report", str(tmp_path / "again.csv")], ldap_env(sim))
    assert again.code == 0, again.err
    assert status_counts(report_rows(tmp_path / "again.csv")) == {"skipped": _slapd.PEOPLE}
    assert sim.stats.uploads == _slapd.PEOPLE  # nothing sent the second time


async def test_cli_reports_entries_without_photo_or_user_as_invalid(
    server: Slapd, simulator: Any, cli: Any, tmp_path: Path
) -> None:
    sim = await simulator(rate_limit=0)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", f"{server.url}/{_slapd.SPECIAL_BASE}", *sim_args(sim), "--quiet",
         "--ldap-filter", "(objectClass=person)", "--report", str(report)],
        ldap_env(sim),
    )  # fmt: skip
    assert outcome.code == 1, outcome.err
    found = {r["dn"].split(",")[0]: (r["status"], r["file"]) for r in report_rows(report)}
    assert found == {
        "uid=both": ("uploaded", "thumbnailPhoto"),
        "uid=nophoto": ("invalid", ""),
        "uid=nomail": ("invalid", "jpegPhoto"),
        "uid=notimage": ("invalid", "jpegPhoto"),
        "uid=ad": ("invalid", "thumbnailPhoto"),
    }


async def test_cli_wrong_bind_password_exits_2_with_one_line(
    server: Slapd, simulator: Any, cli: Any, tmp_path: Path
) -> None:
    sim = await simulator(rate_limit=0)
    url = f"{server.url}/{_slapd.PEOPLE_BASE}"
    outcome = await cli(
        ["run", url, *sim_args(sim), "--report", str(tmp_path / "r.csv")],
        ldap_env(sim, password="wrong-pw"),
    )
    assert outcome.code == 2
    assert outcome.err == (
        f"zoom-batch: {url}: the directory refused the bind DN and password"
        " (ZOOM_BATCH_LDAP_BIND_DN, ZOOM_BATCH_LDAP_PASSWORD) — check them\n"
    )
    assert "wrong-pw" not in outcome.out + outcome.err and READER not in outcome.err
    assert sim.stats.uploads == 0 and not (tmp_path / "r.csv").exists()


def test_a_job_without_photos_reads_every_person_and_no_photo(server: Slapd) -> None:
    # zoom-batch remove reads only the user column: an entry without a photo is no problem.
    directory = open_directory(
        f"{server.url}/{_slapd.SPECIAL_BASE}", bind_dn=READER, password=PASSWORD, photos=False
    )
    assert directory.filter == "(objectClass=person)" and directory.photo_attrs == ()
    rows = by_uid(list(directory.rows()))
    assert (rows["nophoto"].problem, rows["nophoto"].file) == (None, "")
    assert rows["both"].file == "" and directory.seen(rows["both"]) is None
    assert rows["nomail"].problem is not None and rows["nomail"].problem.startswith(
        "entry has no mail attribute"
    )
