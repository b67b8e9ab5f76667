"""Reading manifests: CSV and YAML from bytes, streamed, with errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch._exceptions import ManifestError
from batch.manifest import open_manifest


def rows_of(tmp_path: Path, name: str, data: bytes, fmt: str | None = None) -> list[tuple]:
    path = tmp_path / name
    path.write_bytes(data)
    manifest = open_manifest(path, format=fmt)
    rows = [(r.row, r.line, r.user, r.file) for r in manifest.rows()]
    assert manifest.total == len(rows)
    return rows


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"email,file\na@x.com,a.jpg\nb@x.com,b.png\n",
            [(1, 2, "a@x.com", "a.jpg"), (2, 3, "b@x.com", "b.png")],
            id="plain",
        ),
        pytest.param(
            b"\xef\xbb\xbfEmail,File\r\na@x.com,a.jpg\r\n",
            [(1, 2, "a@x.com", "a.jpg")],
            id="bom-crlf-case",
        ),
        pytest.param(
            b" User ID , Photo ,name\nKDcuGIm1QgePTO8WbOqwIQ,p.jpg,Ada\n",
            [],
            id="space-in-name-is-not-user_id",
        ),
        pytest.param(
            b" userId , Photo ,name\nKDcuGIm1QgePTO8WbOqwIQ,p.jpg,Ada\n",
            [(1, 2, "KDcuGIm1QgePTO8WbOqwIQ", "p.jpg")],
            id="userId-photo-extra-column",
        ),
        pytest.param(
            b'name,user,picture\n"Lovelace, Ada",  ada@x.com  ,"my photos/ada.jpg"\n',
            [(1, 2, "ada@x.com", "my photos/ada.jpg")],
            id="quoted-fields-trimmed",
        ),
        pytest.param(
            b'email,path,note\na@x.com,a.jpg,"two\nlines"\nb@x.com,b.jpg,x\n',
            [(1, 2, "a@x.com", "a.jpg"), (2, 4, "b@x.com", "b.jpg")],
            id="multiline-cell-keeps-line-numbers",
        ),
        pytest.param(
            b"email,file\n\na@x.com,a.jpg\n,,\n , \nb@x.com\n",
            [(1, 3, "a@x.com", "a.jpg"), (2, 6, "b@x.com", "")],
            id="blank-rows-skipped-short-row-kept",
        ),
        pytest.param(
            "email,file\njöhn@exämple.com,fotos/jöhn.jpg\n".encode(),
            [(1, 2, "jöhn@exämple.com", "fotos/jöhn.jpg")],
            id="utf8",
        ),
    ],
)
def test_csv_rows(tmp_path: Path, data: bytes, expected: list[tuple]) -> None:
    if not expected:
        with pytest.raises(ManifestError, match="no user column"):
            rows_of(tmp_path, "m.csv", data)
        return
    assert rows_of(tmp_path, "m.csv", data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"- email: a@x.com\n  file: a.jpg\n- email: b@x.com\n  file: b.png\n",
            [(1, 1, "a@x.com", "a.jpg"), (2, 3, "b@x.com", "b.png")],
            id="list",
        ),
        pytest.param(
            b"a@x.com: a.jpg\nb@x.com: b.png\n",
            [(1, 1, "a@x.com", "a.jpg"), (2, 2, "b@x.com", "b.png")],
            id="mapping",
        ),
        pytest.param(
            b"- User_ID: 0123\n  Photo: p.jpg\n  tags: [a, b]\n- {user: no, path: q.png}\n",
            [(1, 1, "0123", "p.jpg"), (2, 4, "no", "q.png")],
            id="scalars-stay-text-extra-keys-ignored",
        ),
        pytest.param(
            b"- email: a@x.com\n  file: ~\n",
            [(1, 1, "a@x.com", "")],
            id="null-file",
        ),
    ],
)
def test_yaml_rows(tmp_path: Path, data: bytes, expected: list[tuple]) -> None:
    assert rows_of(tmp_path, "m.yaml", data) == expected


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "m.csv"
    path.write_text(f"email,file\na@x.com,p/a.jpg\nb@x.com,{tmp_path}/b.jpg\n")
    rows = list(open_manifest(path).rows())
    assert rows[0].path == tmp_path / "sub" / "p" / "a.jpg"
    assert rows[1].path == tmp_path / "b.jpg"


def test_format_flag_overrides_extension(tmp_path: Path) -> None:
    assert rows_of(tmp_path, "m.txt", b"email,file\na@x.com,a.jpg\n", "csv") == [
        (1, 2, "a@x.com", "a.jpg")
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("m.csv", b"", "m.csv: the manifest is empty"),
        ("m.csv", b"\n\n  \n", "m.csv: the manifest is empty"),
        ("m.csv", b"email,file\n", "m.csv: the manifest has a header but no rows"),
        ("m.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "m.csv: not a text file"),
        ("m.csv", b"email,file\na@x.com,a.jpg\nb@x.com,caf\xe9.jpg\n", "m.csv: line 3: not UTF-8"),
        (
            "m.csv",
            b"name,photo\nAda,a.jpg\n",
            "m.csv: line 1: no user column — found columns: name, photo; accepted: email, user,",
        ),
        (
            "m.csv",
            b"email,name\na@x.com,Ada\n",
            "m.csv: line 1: no file column — found columns: email, name; accepted: file, photo,",
        ),
        ("m.yaml", b"- email: a@x.com\n  file: [a\n", "m.yaml: line 3: malformed YAML"),
        ("m.yaml", b"just text\n", "m.yaml: line 1: the manifest is a single value"),
        ("m.yaml", b"- a@x.com\n", "m.yaml: line 1: a list item is not a mapping"),
        ("m.yaml", b"- email: a@x.com\n", "m.yaml: line 1: no file key — found keys: email"),
        ("m.yaml", b"- email: [a]\n  file: x\n", "m.yaml: line 1: 'email' holds a list"),
        ("m.yaml", b"a: 1\n---\nb: 2\n", "m.yaml: line 2: more than one YAML document"),
        ("m.yaml", b"# nothing\n", "m.yaml: the manifest is empty"),
        ("m.txt", b"email,file\n", "m.txt: cannot tell the manifest format from the extension"),
    ],
)
def test_manifest_level_problems(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ManifestError) as caught:
        open_manifest(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(caught.value)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        open_manifest(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ManifestError, match="is a directory"):
        open_manifest(tmp_path / "dir.csv")


def test_rows_stream_without_reading_everything(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("email,file\n")
        for i in range(50_000):
            handle.write(f"u{i}@x.com,p{i}.jpg\n")
    manifest = open_manifest(path)
    assert manifest.total == 50_000
    rows = manifest.rows()
    first = next(rows)
    assert (first.row, first.user) == (1, "u0@x.com")
    # A generator: nothing beyond what was asked for has been built.
    assert sum(1 for _ in rows) == 49_999


def test_a_directory_is_named_as_such_whatever_its_extension(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(ManifestError, match="photos: is a directory, not a manifest file"):
        open_manifest(tmp_path / "photos")
