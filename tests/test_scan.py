"""zoom-batch scan: which photo file names map to which users, and the manifest it writes."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from batch._exceptions import ConfigError
from batch._scan import ScanResult, scan_folder, write_manifest


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"\xff\xd8\xff")  # content is never read by the scan


def _names(result: ScanResult) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        [(user, path.name) for user, path in result.mapped],
        [(path.name, reason) for path, reason in result.unmapped],
    )


@pytest.mark.parametrize(
    ("files", "domain", "mapped", "unmapped"),
    [
        pytest.param(
            ["jane.doe@example.com.jpg"],
            None,
            [("jane.doe@example.com", "jane.doe@example.com.jpg")],
            [],
            id="whole-address",
        ),
        pytest.param(
            ["jane.doe.jpg"],
            "example.com",
            [("jane.doe@example.com", "jane.doe.jpg")],
            [],
            id="local-part-with-domain",
        ),
        pytest.param(
            ["jane.doe.jpg"],
            None,
            [],
            [("jane.doe.jpg", "no domain given: use --domain to map the local part 'jane.doe'")],
            id="local-part-without-domain",
        ),
        pytest.param(
            ["Jane.Doe@Example.COM.JPG", "BOB.Jpeg"],
            "Example.ORG",
            [("bob@example.org", "BOB.Jpeg"), ("jane.doe@example.com", "Jane.Doe@Example.COM.JPG")],
            [],
            id="upper-case-lowered",
        ),
        pytest.param(
            ["jane+photos@example.com.png", "bob+hr.jpg"],
            "example.com",
            [
                ("bob+hr@example.com", "bob+hr.jpg"),
                ("jane+photos@example.com", "jane+photos@example.com.png"),
            ],
            [],
            id="plus-addresses",
        ),
        pytest.param(
            ["jane.doe@example.com.txt", "notes.pdf", "README", "jane.doe@example.com"],
            "example.com",
            [],
            [
                ("jane.doe@example.com", "not an image extension (.com)"),
                ("jane.doe@example.com.txt", "not an image extension (.txt)"),
                ("notes.pdf", "not an image extension (.pdf)"),
                ("README", "not an image: no file extension"),
            ],
            id="non-image-files",
        ),
        pytest.param(
            [".DS_Store", ".jane.jpg", "._bob@example.com.jpg", "amy.png"],
            "example.com",
            [("amy@example.com", "amy.png")],
            [],
            id="hidden-files-ignored",
        ),
        pytest.param(
            ["jane.png", "jane.jpg"],
            "example.com",
            [("jane@example.com", "jane.jpg")],
            [("jane.png", "duplicate of jane.jpg (both are jane@example.com)")],
            id="duplicate-extensions",
        ),
        pytest.param(
            ["JANE@example.com.png", "jane.jpg", "Jane.gif"],
            "example.com",
            [("jane@example.com", "Jane.gif")],
            [
                ("jane.jpg", "duplicate of Jane.gif (both are jane@example.com)"),
                ("JANE@example.com.png", "duplicate of Jane.gif (both are jane@example.com)"),
            ],
            id="duplicate-across-spellings",
        ),
        pytest.param(
            ["jane..doe.jpg"],
            "example.com",
            [],
            [
                (
                    "jane..doe.jpg",
                    "invalid address 'jane..doe@example.com': "
                    "An email address cannot have two periods in a row.",
                )
            ],
            id="double-dot",
        ),
        pytest.param(
            ["jane doe.jpg", "a@b@example.com.jpg", "bob@localhost.jpg"],
            "example.com",
            [],
            [
                (
                    "a@b@example.com.jpg",
                    "invalid address 'a@b@example.com': "
                    "The part after the @-sign contains invalid characters: '@'.",
                ),
                (
                    "bob@localhost.jpg",
                    "invalid address 'bob@localhost': "
                    "The part after the @-sign is not valid. It should have a period.",
                ),
                (
                    "jane doe.jpg",
                    "invalid address 'jane doe@example.com': "
                    "The email address contains invalid characters before the @-sign: SPACE.",
                ),
            ],
            id="invalid-addresses",
        ),
        pytest.param(
            ["a.heic", "b.webp", "c.tif", "d.tiff", "e.bmp", "f.gif", "g.jpeg"],
            "example.com",
            [
                ("a@example.com", "a.heic"),
                ("b@example.com", "b.webp"),
                ("c@example.com", "c.tif"),
                ("d@example.com", "d.tiff"),
                ("e@example.com", "e.bmp"),
                ("f@example.com", "f.gif"),
                ("g@example.com", "g.jpeg"),
            ],
            [],
            id="convertible-formats-mapped",
        ),
    ],
)
def test_mapping(
    tmp_path: Path,
    files: list[str],
    domain: str | None,
    mapped: list[tuple[str, str]],
    unmapped: list[tuple[str, str]],
) -> None:
    _touch(tmp_path, *files)
    assert _names(scan_folder(tmp_path, domain=domain)) == (mapped, unmapped)


def test_mapped_paths_are_inside_the_folder(tmp_path: Path) -> None:
    _touch(tmp_path, "jane.jpg")
    result = scan_folder(tmp_path, domain="example.com")
    assert result.mapped == [("jane@example.com", tmp_path / "jane.jpg")]


def test_formats_zoom_does_not_take_are_noted(tmp_path: Path) -> None:
    _touch(tmp_path, "b.heic", "a.jpg", "c.png", "d.webp")
    result = scan_folder(tmp_path, domain="example.com")
    assert [(p.name, note) for p, note in result.notes] == [
        ("b.heic", "HEIC is not JPEG or PNG: upload it with --fit"),
        ("d.webp", "WEBP is not JPEG or PNG: upload it with --fit"),
    ]


def test_sub_folders_are_listed_not_scanned(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    _touch(tmp_path / "archive", "old@example.com.jpg")
    (tmp_path / ".thumbs").mkdir()
    _touch(tmp_path, "jane@example.com.jpg")
    assert _names(scan_folder(tmp_path)) == (
        [("jane@example.com", "jane@example.com.jpg")],
        [("archive", "a folder: sub-folders are not scanned")],
    )


def test_order_is_sorted_whatever_the_creation_order(tmp_path: Path) -> None:
    _touch(tmp_path, "zoe.jpg", "Bob.jpg", "amy.jpg", "carl.png")
    users = [user for user, _ in scan_folder(tmp_path, domain="example.com").mapped]
    assert users == ["amy@example.com", "bob@example.com", "carl@example.com", "zoe@example.com"]


@pytest.mark.parametrize(
    ("given", "user"),
    [("@Example.COM", "jane@example.com"), (" example.com ", "jane@example.com")],
)
def test_domain_is_normalised(tmp_path: Path, given: str, user: str) -> None:
    _touch(tmp_path, "jane.jpg")
    assert scan_folder(tmp_path, domain=given).mapped[0][0] == user


@pytest.mark.parametrize("domain", ["localhost", "exa mple.com", "example..com", ""])
def test_bad_domain_is_a_config_error(tmp_path: Path, domain: str) -> None:
    with pytest.raises(ConfigError, match=r"^--domain: "):
        scan_folder(tmp_path, domain=domain)


def test_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^scan: folder not found: .*nope$"):
        scan_folder(tmp_path / "nope")


def test_file_instead_of_folder_is_a_config_error(tmp_path: Path) -> None:
    _touch(tmp_path, "jane.jpg")
    with pytest.raises(ConfigError, match=r"^scan: not a folder: .*jane\.jpg$"):
        scan_folder(tmp_path / "jane.jpg")


# --- the manifest -------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    _touch(folder, "jane.doe@example.com.jpg", "bob.png", "notes.txt")
    return folder


def test_manifest_beside_the_photos(photos: Path) -> None:
    out = photos / "manifest.csv"
    write_manifest(scan_folder(photos, domain="example.com"), out)
    assert out.read_bytes() == (
        b"email,file\r\n"
        b"bob@example.com,bob.png\r\n"
        b"jane.doe@example.com,jane.doe@example.com.jpg\r\n"
    )


def test_manifest_above_the_photos(photos: Path) -> None:
    out = photos.parent / "manifest.csv"
    write_manifest(scan_folder(photos, domain="example.com"), out)
    assert out.read_bytes() == (
        b"email,file\r\n"
        b"bob@example.com,photos/bob.png\r\n"
        b"jane.doe@example.com,photos/jane.doe@example.com.jpg\r\n"
    )


def test_manifest_elsewhere_uses_dot_dot(photos: Path) -> None:
    elsewhere = photos.parent / "runs" / "monday"
    elsewhere.mkdir(parents=True)
    out = elsewhere / "manifest.csv"
    write_manifest(scan_folder(photos, domain="example.com"), out)
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [
        {"email": "bob@example.com", "file": "../../photos/bob.png"},
        {"email": "jane.doe@example.com", "file": "../../photos/jane.doe@example.com.jpg"},
    ]
    # The manifest's paths work from the manifest's own folder.
    assert all((elsewhere / row["file"]).is_file() for row in rows)


def test_manifest_of_nothing_is_just_the_header(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    write_manifest(scan_folder(tmp_path), out)
    assert out.read_bytes() == b"email,file\r\n"


def test_manifest_replaces_atomically_and_leaves_no_temp_file(photos: Path) -> None:
    out = photos / "manifest.csv"
    out.write_text("old content", encoding="utf-8")
    write_manifest(scan_folder(photos, domain="example.com"), out)
    assert out.read_bytes().startswith(b"email,file\r\nbob@example.com,bob.png\r\n")
    assert sorted(p.name for p in photos.iterdir() if p.name.startswith(".")) == []


def test_manifest_permissions_follow_the_umask(photos: Path) -> None:
    old = os.umask(0o022)
    try:
        write_manifest(scan_folder(photos, domain="example.com"), photos / "m.csv")
    finally:
        os.umask(old)
    assert (photos / "m.csv").stat().st_mode & 0o777 == 0o644


def test_manifest_into_missing_folder_fails_cleanly(photos: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_manifest(scan_folder(photos, domain="example.com"), photos / "no" / "m.csv")
    assert not (photos / "no").exists()
