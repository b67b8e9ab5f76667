"""zoom-batch scan: which photo file names map to which users, and the manifest it writes."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from batch._cli import main
from batch._exceptions import ConfigError
from batch._scan import CAMERA_NAME, ScanResult, scan_command, scan_folder, write_manifest


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
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
            ["jane.doe@example.com.txt", "notes.pdf", "README", "jane.doe@example.com", "a.jpg"],
            "example.com",
            [("a@example.com", "a.jpg")],
            [],
            id="non-photos-are-not-listed",
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
            ["a.heic", "b.webp", "c.tif", "d.tiff", "e.bmp", "f.gif", "g.jpeg", "h.heif", "i.avif"],
            "example.com",
            [
                ("a@example.com", "a.heic"),
                ("b@example.com", "b.webp"),
                ("c@example.com", "c.tif"),
                ("d@example.com", "d.tiff"),
                ("e@example.com", "e.bmp"),
                ("f@example.com", "f.gif"),
                ("g@example.com", "g.jpeg"),
                ("h@example.com", "h.heif"),
                ("i@example.com", "i.avif"),
            ],
            [],
            id="convertible-formats-mapped",
        ),
        pytest.param(
            ["a.jfif", "b.JPE"],
            "example.com",
            [("a@example.com", "a.jfif"), ("b@example.com", "b.JPE")],
            [],
            id="other-jpeg-extensions-mapped",
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


@pytest.mark.parametrize(
    "name",
    [
        "IMG_1234.JPG",
        "img-1234.jpg",
        "IMG_E1234.HEIC",
        "IMG_20240101_123456.jpg",
        "IMG_1234 (1).jpg",
        "MVIMG_20240101_123456.jpg",
        "DSC01234.JPG",
        "DSC_1234.jpg",
        "_DSC1234.jpg",
        "DSCN0001.JPG",
        "DSCF0001.JPG",
        "PXL_20240101_123456789.jpg",
        "PXL_20240101_123456789.PORTRAIT.jpg",
        "P1010001.JPG",
        "20240101_123456.jpg",
        "WhatsApp Image 2024-01-01 at 12.34.56.jpeg",
        "Screenshot 2024-01-01 at 12.34.56.png",
        "Screen Shot 2020-01-01 at 1.02.03 PM.png",
        "Screenshot_20240101-123456_Chrome.jpg",
        "0001.jpg",
        "12345.png",
        "DJI_0001.JPG",
        "GOPR0001.JPG",
    ],
)
@pytest.mark.parametrize("domain", ["example.com", None])
def test_camera_file_names_are_not_users(tmp_path: Path, name: str, domain: str | None) -> None:
    _touch(tmp_path, name)
    assert _names(scan_folder(tmp_path, domain=domain)) == ([], [(name, CAMERA_NAME)])
    assert CAMERA_NAME == "looks like a camera file name, not a person — rename it after the user"


@pytest.mark.parametrize(
    ("name", "user"),
    [
        ("jane2.jpg", "jane2@example.com"),
        ("anna-1.jpg", "anna-1@example.com"),
        ("imgard.jpg", "imgard@example.com"),
        ("dscott.jpg", "dscott@example.com"),
        ("p.smith.jpg", "p.smith@example.com"),
        ("IMG_1234@example.com.jpg", "img_1234@example.com"),  # a whole address is trusted
        ("12345@example.com.jpg", "12345@example.com"),
    ],
)
def test_names_like_camera_names_that_are_users(tmp_path: Path, name: str, user: str) -> None:
    _touch(tmp_path, name)
    assert _names(scan_folder(tmp_path, domain="example.com")) == ([(user, name)], [])


def test_a_hostile_name_is_judged_quickly(tmp_path: Path) -> None:
    # Patterns that backtrack badly would take minutes on these; each is ~1 ms.
    names = ["1_" * 120 + "x.jpg", "IMG_" + "1-" * 120 + "x.jpg", "(1)" * 80 + "x.jpg"]
    _touch(tmp_path, *names)
    result = scan_folder(tmp_path, domain="example.com")  # the test's timeout is the check
    assert len(result.mapped) + len(result.unmapped) == 3
    assert CAMERA_NAME not in [reason for _, reason in result.unmapped]


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


def test_files_that_are_not_photos_are_counted_not_listed(tmp_path: Path) -> None:
    _touch(tmp_path, "Thumbs.db", "desktop.ini", "notes.txt", "manifest.csv", "README", "a.jpg")
    result = scan_folder(tmp_path, domain="example.com")
    assert result.unmapped == []
    assert [p.name for p in result.ignored] == [
        "desktop.ini",
        "manifest.csv",
        "notes.txt",
        "README",
        "Thumbs.db",
    ]


# --- sub-folders ----------------------------------------------------------------------------


def test_sub_folders_are_skipped_not_scanned(tmp_path: Path) -> None:
    _touch(tmp_path, "archive/old@example.com.jpg", ".thumbs/x@example.com.jpg")
    (tmp_path / "Zoe").mkdir()
    _touch(tmp_path, "jane@example.com.jpg")
    result = scan_folder(tmp_path)
    assert _names(result) == ([("jane@example.com", "jane@example.com.jpg")], [])
    assert result.skipped == [tmp_path / "archive", tmp_path / "Zoe"]


def test_recursive_walks_sub_folders_files_first(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "zoe.jpg",
        "archive/amy.jpg",
        "archive/2019/bob.jpg",
        "b/carl.png",
        ".hidden/dan.jpg",
        "archive/.cache/eve.jpg",
        "archive/Thumbs.db",
    )
    result = scan_folder(tmp_path, domain="example.com", recursive=True)
    assert [(user, path.relative_to(tmp_path).as_posix()) for user, path in result.mapped] == [
        ("zoe@example.com", "zoe.jpg"),
        ("amy@example.com", "archive/amy.jpg"),
        ("bob@example.com", "archive/2019/bob.jpg"),
        ("carl@example.com", "b/carl.png"),
    ]
    assert result.unmapped == [] and result.skipped == []
    assert result.ignored == [tmp_path / "archive" / "Thumbs.db"]


def test_recursive_duplicate_names_the_first_by_its_path(tmp_path: Path) -> None:
    _touch(tmp_path, "archive/jane.jpg", "jane.png", "old/jane.gif")
    result = scan_folder(tmp_path, domain="example.com", recursive=True)
    assert result.mapped == [("jane@example.com", tmp_path / "jane.png")]
    assert [(p.relative_to(tmp_path).as_posix(), reason) for p, reason in result.unmapped] == [
        ("archive/jane.jpg", "duplicate of jane.png (both are jane@example.com)"),
        ("old/jane.gif", "duplicate of jane.png (both are jane@example.com)"),
    ]


def test_recursive_does_not_follow_links_to_folders(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    _touch(folder, "jane.jpg", "team/bob.jpg")
    _touch(tmp_path, "elsewhere/eve.jpg")
    (folder / "team" / "loop").symlink_to(folder, target_is_directory=True)
    (folder / "shared").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (folder / "amy.jpg").symlink_to(tmp_path / "elsewhere" / "eve.jpg")  # a link to a file: read
    result = scan_folder(folder, domain="example.com", recursive=True)
    assert [user for user, _ in result.mapped] == [
        "amy@example.com",
        "jane@example.com",
        "bob@example.com",
    ]
    assert result.skipped == [folder / "shared", folder / "team" / "loop"]
    assert result.unmapped == []


def test_an_unreadable_sub_folder_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(tmp_path, "jane.jpg", "locked/bob.jpg")
    real_scandir = os.scandir

    def scandir(path: Path) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan_folder(tmp_path, domain="example.com", recursive=True)
    assert [user for user, _ in result.mapped] == ["jane@example.com"]
    assert result.unmapped == [(tmp_path / "locked", "cannot read this folder: Permission denied")]


# --- the folder and the domain ----------------------------------------------------------------


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


def test_manifest_in_a_linked_folder_climbs_from_the_real_one(photos: Path) -> None:
    real = photos.parent / "deep" / "runs"
    real.mkdir(parents=True)
    (photos.parent / "runs").symlink_to(real, target_is_directory=True)
    out = photos.parent / "runs" / "manifest.csv"  # runs/.. is deep/, not the photos' parent
    write_manifest(scan_folder(photos, domain="example.com"), out)
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["file"] for row in rows] == [
        "../../photos/bob.png",
        "../../photos/jane.doe@example.com.jpg",
    ]
    assert all((out.parent / row["file"]).is_file() for row in rows)


def test_recursive_manifest_paths_resolve_from_the_manifest(tmp_path: Path) -> None:
    _touch(tmp_path, "export/jane.jpg", "export/2019/bob.png")
    out = tmp_path / "runs" / "m.csv"
    out.parent.mkdir()
    write_manifest(scan_folder(tmp_path / "export", domain="example.com", recursive=True), out)
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["file"] for row in rows] == ["../export/jane.jpg", "../export/2019/bob.png"]
    assert all((out.parent / row["file"]).is_file() for row in rows)


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


# --- the command --------------------------------------------------------------------------
# Each case runs twice: through `zoom-batch scan` (main) and through scan_command, which the
# CLI calls; the function's ConfigError is shown as main shows it.


@dataclass
class Outcome:
    code: int
    out: str
    err: str


Scan = Callable[..., Outcome]


@pytest.fixture(params=["cli", "function"])
def scan(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Scan:
    monkeypatch.chdir(tmp_path)

    def via_cli(
        folder: str,
        *,
        domain: str | None = None,
        output: str | None = None,
        force: bool = False,
        recursive: bool = False,
    ) -> Outcome:
        argv = ["scan", folder]
        argv += ["--domain", domain] if domain is not None else []
        argv += ["--output", output] if output is not None else []
        argv += ["--force"] if force else []
        argv += ["--recursive"] if recursive else []
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    def via_function(
        folder: str,
        *,
        domain: str | None = None,
        output: str = "manifest.csv",
        force: bool = False,
        recursive: bool = False,
    ) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        try:
            code = scan_command(
                Path(folder),
                domain=domain,
                output=output,
                force=force,
                recursive=recursive,
                out=out,
                err=err,
            )
        except ConfigError as exc:
            return Outcome(2, out.getvalue(), f"zoom-batch: {exc}\n")
        return Outcome(code, out.getvalue(), err.getvalue())

    return via_cli if request.param == "cli" else via_function


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """An HR export as it comes: photos, a camera name, Windows' and macOS' files, a folder."""
    _touch(
        tmp_path,
        "hr-export/jane.doe.jpg",
        "hr-export/Bob@Example.com.JPG",
        "hr-export/JANE.DOE.png",
        "hr-export/carol.gif",
        "hr-export/IMG_1234.JPG",
        "hr-export/Thumbs.db",
        "hr-export/desktop.ini",
        "hr-export/notes.txt",
        "hr-export/.DS_Store",
        "hr-export/archive/old.jpg",
    )
    return tmp_path / "hr-export"


def test_scan_says_what_it_mapped_and_what_it_left_out(scan: Scan, export: Path) -> None:
    outcome = scan("hr-export", domain="example.com", output="m.csv")
    assert (outcome.code, outcome.err) == (1, "")
    assert outcome.out.splitlines() == [
        "mapped 3 files → m.csv",
        "1 to convert:",
        "  hr-export/carol.gif: GIF is not JPEG or PNG: upload it with --fit",
        "ignored 3 files that are not photos",
        "skipped 1 sub-folder (pass --recursive to scan it): hr-export/archive",
        "2 not mapped:",
        "  hr-export/IMG_1234.JPG: " + CAMERA_NAME,
        "  hr-export/JANE.DOE.png: duplicate of jane.doe.jpg (both are jane.doe@example.com)",
    ]
    assert (export.parent / "m.csv").read_text(encoding="utf-8").splitlines() == [
        "email,file",
        "bob@example.com,hr-export/Bob@Example.com.JPG",
        "carol@example.com,hr-export/carol.gif",
        "jane.doe@example.com,hr-export/jane.doe.jpg",
    ]


def test_only_non_photos_and_folders_left_out_is_success(scan: Scan, export: Path) -> None:
    for name in ("IMG_1234.JPG", "JANE.DOE.png"):
        (export / name).unlink()
    outcome = scan("hr-export", domain="example.com")
    assert (outcome.code, outcome.err) == (0, "")
    assert outcome.out.splitlines()[0] == "mapped 3 files → manifest.csv"
    assert "not mapped" not in outcome.out
    assert (export.parent / "manifest.csv").is_file()


def test_recursive_scan(scan: Scan, export: Path) -> None:
    (export / "IMG_1234.JPG").unlink()
    (export / "JANE.DOE.png").unlink()
    (export / "team").symlink_to(export / "archive", target_is_directory=True)
    outcome = scan("hr-export", domain="example.com", output="m.csv", recursive=True)
    assert (outcome.code, outcome.err) == (0, "")
    assert outcome.out.splitlines() == [
        "mapped 4 files → m.csv",
        "1 to convert:",
        "  hr-export/carol.gif: GIF is not JPEG or PNG: upload it with --fit",
        "ignored 3 files that are not photos",
        "skipped 1 link to a folder, not followed: hr-export/team",
    ]
    assert (export.parent / "m.csv").read_text(encoding="utf-8").splitlines()[-1] == (
        "old@example.com,hr-export/archive/old.jpg"
    )


def test_an_existing_manifest_is_never_replaced_without_force(scan: Scan, export: Path) -> None:
    hand_edited = export / "manifest.csv"
    hand_edited.write_text("email,file\nceo@example.com,ceo-final-v2.jpg\n", encoding="utf-8")
    outcome = scan("hr-export", domain="example.com", output="hr-export/manifest.csv")
    assert outcome == Outcome(
        2,
        "",
        "zoom-batch: hr-export/manifest.csv exists — pass --force to replace it,"
        " or --output another path\n",
    )
    assert (
        hand_edited.read_text(encoding="utf-8") == "email,file\nceo@example.com,ceo-final-v2.jpg\n"
    )
    assert sorted(p.name for p in export.iterdir() if p.name.startswith(".")) == [".DS_Store"]


def test_the_default_output_is_not_replaced_either(scan: Scan, export: Path) -> None:
    (export.parent / "manifest.csv").write_text("mine\n", encoding="utf-8")
    outcome = scan("hr-export", domain="example.com")
    assert outcome.code == 2
    assert outcome.err == (
        "zoom-batch: manifest.csv exists — pass --force to replace it, or --output another path\n"
    )
    assert (export.parent / "manifest.csv").read_text(encoding="utf-8") == "mine\n"


def test_force_replaces_and_the_old_manifest_is_not_a_photo(scan: Scan, export: Path) -> None:
    (export / "manifest.csv").write_text("old\n", encoding="utf-8")
    outcome = scan("hr-export", domain="example.com", output="hr-export/manifest.csv", force=True)
    assert outcome.code == 1
    assert "ignored 4 files that are not photos" in outcome.out.splitlines()
    lines = (export / "manifest.csv").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["email,file", "bob@example.com,Bob@Example.com.JPG"]


def test_dash_writes_the_csv_to_stdout_and_the_notes_to_stderr(scan: Scan, export: Path) -> None:
    outcome = scan("hr-export", domain="example.com", output="-")
    assert outcome.code == 1
    base = export.resolve().as_posix()
    assert outcome.out == (
        "email,file\n"
        f"bob@example.com,{base}/Bob@Example.com.JPG\n"
        f"carol@example.com,{base}/carol.gif\n"
        f"jane.doe@example.com,{base}/jane.doe.jpg\n"
    )
    assert outcome.err.splitlines()[0] == "mapped 3 files → standard output"
    assert "  hr-export/IMG_1234.JPG: " + CAMERA_NAME in outcome.err.splitlines()
    assert not (export.parent / "-").exists()
    assert not (export.parent / "manifest.csv").exists()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("hr-export", "--output: hr-export is a folder: give a file path in it"),
        ("", "--output: give a file path, or - for standard output"),
        ("no/such/m.csv", "--output: cannot write no/such/m.csv: No such file or directory"),
    ],
)
def test_an_output_that_cannot_be_written(
    scan: Scan, export: Path, output: str, message: str
) -> None:
    outcome = scan("hr-export", domain="example.com", output=output, force=True)
    assert outcome == Outcome(2, "", f"zoom-batch: {message}\n")
    assert not (export.parent / "no").exists()


def test_a_bad_folder_writes_nothing(scan: Scan, tmp_path: Path) -> None:
    outcome = scan("nope", domain="example.com")
    assert outcome == Outcome(2, "", "zoom-batch: scan: folder not found: nope\n")
    assert not (tmp_path / "manifest.csv").exists()


def test_many_sub_folders_stay_one_line(scan: Scan, tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d", "e"):
        (tmp_path / "photos" / name).mkdir(parents=True)
    _touch(tmp_path, "photos/jane@example.com.jpg")
    outcome = scan("photos")
    assert outcome.code == 0
    assert outcome.out.splitlines() == [
        "mapped 1 file → manifest.csv",
        "skipped 5 sub-folders (pass --recursive to scan them): photos/a, photos/b, photos/c"
        " and 2 more",
    ]
