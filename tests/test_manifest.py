"""Opening a manifest file: checked end to end before any row, then streamed, row by row.

What each format reads from bytes, and its messages, is in test_manifest_readers.py; this is
what ``open_manifest`` and ``Manifest`` add: the file, its format, the row count, paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from batch._exceptions import ManifestError
from batch._models import ManifestRow
from batch.manifest import Manifest, open_manifest, resolve_file


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "fmt", "rows"),
    [
        pytest.param(
            "m.csv",
            b"email,file\na@x.com,a.jpg\n\nb@x.com, \n",
            "csv",
            [(1, 2, "a@x.com", "a.jpg", "a.jpg"), (2, 4, "b@x.com", "", None)],
            id="csv",
        ),
        pytest.param(
            "M.YML",
            b"- email: a@x.com\n  file: p/a.jpg\n- {email: b@x.com, file: /abs/b.png}\n",
            "yaml",
            [
                (1, 1, "a@x.com", "p/a.jpg", "p/a.jpg"),
                (2, 3, "b@x.com", "/abs/b.png", "/abs/b.png"),
            ],
            id="yaml",
        ),
    ],
)
def test_a_manifest_counts_then_streams_its_rows(
    tmp_path: Path, name: str, data: bytes, fmt: str, rows: list[tuple[object, ...]]
) -> None:
    path = write(tmp_path / name, data)
    manifest = open_manifest(path)
    assert (manifest.path, manifest.format, manifest.total, manifest.folder) == (
        path,
        fmt,
        len(rows),
        tmp_path,
    )
    expected = [
        ManifestRow(n, line, user, file, None if to is None else tmp_path / to)
        for n, line, user, file, to in rows
    ]
    assert list(manifest.rows()) == expected
    assert list(manifest.rows()) == expected  # each call reads the snapshot again
    assert (manifest.size, manifest.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    manifest.close()


def test_a_manifest_holds_what_it_says_and_nothing_else() -> None:
    fields = [field.name for field in dataclasses.fields(Manifest)]
    assert fields == [
        "path",
        "format",
        "total",
        "columns",
        "extra_columns",
        "options",
        "notes",
        "snapshot",
    ]


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("m.txt", "csv", "csv"),
        ("m.txt", "CSV", "csv"),
        ("m.csv", "yaml", "yaml"),
        ("m.CSV", None, "csv"),
        ("m.csv", "", "csv"),
    ],
)
def test_the_format_flag_overrides_the_extension(
    tmp_path: Path, name: str, fmt: str | None, expected: str
) -> None:
    data = b"a@x.com: a.jpg\n" if expected == "yaml" else b"email,file\na@x.com,a.jpg\n"
    with open_manifest(write(tmp_path / name, data), format=fmt) as manifest:
        assert manifest.format == expected
        assert [(r.user, r.file) for r in manifest.rows()] == [("a@x.com", "a.jpg")]


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("p/a.jpg", "FOLDER/p/a.jpg"),
        ("  my photos/a.jpg ", "FOLDER/my photos/a.jpg"),
        ("/abs/b.jpg", "/abs/b.jpg"),
        ("~/c.jpg", "HOME/c.jpg"),
        ("~no-such-user-here/d.jpg", "FOLDER/~no-such-user-here/d.jpg"),  # left as written
        ("", None),
        ("   ", None),
    ],
)
def test_resolve_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, expected: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "folder"
    want = expected and Path(
        expected.replace("FOLDER", str(folder)).replace("HOME", str(tmp_path / "home"))
    )
    assert resolve_file(file, folder) == want
    manifest = Manifest(folder / "m.csv", "csv", 1)
    assert manifest.resolve(file) == want


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("m.csv", b"", "m.csv: the manifest is empty"),
        ("m.csv", b"\n\n  \n", "m.csv: the manifest is empty"),
        ("m.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "m.csv: not a text file"),
        ("m.csv", b"email,file\na@x.com,a.jpg\nb@x.com,caf\xe9.jpg\n", "m.csv: line 3: not UTF-8"),
        (
            "m.csv",
            b"name,photo\nAda,a.jpg\n",
            "m.csv: line 1: no user column — found columns: name, photo; accepted: email, e-mail,",
        ),
        (
            "m.csv",
            b"email,name\na@x.com,Ada\n",
            "m.csv: line 1: no file column — found columns: email, name; accepted: file, photo,",
        ),
        ("m.yaml", b"- email: a@x.com\n  file: [a\n", "m.yaml: line 3: malformed YAML"),
        ("m.yaml", b"just text\n", "m.yaml: line 1: the manifest is a single value"),
        ("m.yaml", b"a: 1\n---\nb: 2\n", "m.yaml: line 2: more than one YAML document"),
        ("m.yaml", b"# nothing\n", "m.yaml: the manifest is empty"),
        ("m.txt", b"email,file\n", "m.txt: cannot tell the manifest format from the extension"),
        # Whatever its name, an empty or binary file says so first.
        ("m.txt", b"\n", "m.txt: the manifest is empty"),
        (
            "m.xls",
            b"\xd0\xcf\x11\xe0\x00\x00",
            "m.xls: not a text file (it is an old Excel workbook",
        ),
        ("m.xls", b"<table>", "m.xls: an old Excel workbook (.xls) is not read — save it as .xlsx"),
        ("m.xlsx", b"", "m.xlsx: the manifest is empty"),
        ("m.xlsx", b"email,file\n", "m.xlsx: not an Excel workbook (.xlsx): it is text"),
    ],
)
def test_manifest_level_problems(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    """What stops a run before its first row. No longer among them (test_hr_manifests.py): a
    header with no rows (a quiet day is nothing to do), and a YAML item of the wrong shape
    (a row of its own, reported invalid, while the others go on)."""
    path = write(tmp_path / name, data)
    with pytest.raises(ManifestError) as caught:
        open_manifest(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(caught.value)


def test_an_unknown_format_flag(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", b"email,file\na@x.com,a.jpg\n")
    with pytest.raises(ManifestError) as caught:
        open_manifest(path, format="xls")
    assert str(caught.value) == "--format: expected csv, yaml or xlsx, got 'xls'"


def test_messages_name_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "m.csv", b"email,file\n\xff\n")
    with pytest.raises(ManifestError) as caught:
        open_manifest(Path("in/m.csv"))
    assert str(caught.value).startswith("in/m.csv: line 2: not UTF-8 text")


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        open_manifest(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ManifestError, match="is a directory"):
        open_manifest(tmp_path / "dir.csv")


def test_a_directory_is_named_as_such_whatever_its_extension(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(ManifestError, match="photos: is a directory, not a manifest file"):
        open_manifest(tmp_path / "photos")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", b"email,file\na@x.com,a.jpg\n")
    path.chmod(0)
    with pytest.raises(ManifestError) as caught:
        open_manifest(path)
    assert str(caught.value) == f"{path}: permission denied reading the manifest"


def test_a_file_changed_after_the_check_changes_nothing(tmp_path: Path) -> None:
    """The rows are read from the snapshot the check read: the file is never read again."""
    path = write(tmp_path / "m.csv", b"email,file\na@x.com,a.jpg\nb@x.com,b.jpg\n")
    with open_manifest(path) as manifest:
        write(path, b"email,file\na@x.com,a.jpg\nb@x.com,caf\xe9.jpg\n")
        assert [(r.line, r.file) for r in manifest.rows()] == [(2, "a.jpg"), (3, "b.jpg")]


def test_a_manifest_built_by_hand_reads_its_file_at_each_pass(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", b"email,file\na@x.com,a.jpg\n")
    manifest = Manifest(path, "csv", 1)
    assert [r.user for r in manifest.rows()] == ["a@x.com"]
    write(path, b"email,file\nb@x.com,b.jpg\n")
    assert [r.user for r in manifest.rows()] == ["b@x.com"]
    assert (manifest.size, manifest.sha256) == (None, None)
    manifest.close()  # nothing to close: harmless
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(ManifestError, match=r"m\.csv: is a pipe, not a manifest file"):
        next(manifest.rows())


def test_rows_stream_without_reading_everything(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("email,file\n")
        for i in range(50_000):
            handle.write(f"u{i}@x.com,p{i}.jpg\n")
    with open_manifest(path) as manifest:
        assert manifest.total == 50_000
        rows = manifest.rows()
        first = next(rows)
        assert (first.row, first.user) == (1, "u0@x.com")
        # A generator: nothing beyond what was asked for has been built.
        assert sum(1 for _ in rows) == 49_999


def _peak_bytes(path: Path) -> int:
    """The most memory Python held while checking the manifest and reading every row."""
    tracemalloc.start()
    try:
        with open_manifest(path) as manifest:
            for _row in manifest.rows():
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("name", "header", "row"),
    [
        ("m.csv", "email,file\n", "u{i}@x.com,p/{i}.jpg\n"),
        ("m.yaml", "", "u{i}@x.com: p/{i}.jpg\n"),
    ],
)
def test_memory_stays_flat_however_many_rows(
    tmp_path: Path, name: str, header: str, row: str
) -> None:
    peaks = []
    for rows in (1_000, 15_000):
        path = tmp_path / f"{rows}-{name}"
        path.write_text(header + "".join(row.format(i=i) for i in range(rows)))
        peaks.append(_peak_bytes(path))
    # Holding the 14,000 extra rows would take some 5 MB. (The margin is for the interpreter's
    # own tables: pathlib interns every file name, and that table grows in steps.)
    assert peaks[1] < peaks[0] + 2 * 1024 * 1024, peaks
