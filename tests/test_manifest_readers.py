"""The readers, from bytes: what each format reads, the errors it gives, the stream it leaves.

A reader is ``reader_for(format)(stream, source)``: a binary stream in, ``(line, values,
extras, problem)`` rows out, one value per column of the table in ``batch/manifest/_columns.py``
(user, then file), the row's other cells, and why the row cannot be used (None when it can).
Every message starts with ``source`` (the path as given, or a label for a stream) and, where
there is one, the line. What HR systems' own files bring (delimiters, workbooks, extra
columns) is in test_hr_manifests.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pytest

from batch._exceptions import ManifestError
from batch.manifest import FORMAT_NAMES, FORMATS, Layout, Record, reader_for
from batch.manifest._columns import COLUMNS, Column
from batch.manifest._registry import format_of
from batch.manifest._text import first_bad_utf8_line, line_at

from .conftest import ROOT

SOURCE = "upload/staff list"  # what a message starts with
UTF8 = "not UTF-8 text — save the manifest as UTF-8 (in Excel: CSV UTF-8) and try again"
SHAPE = " — expected a list of mappings with 'email' and 'file' keys, or a mapping of user: file"
NOT_A_MAPPING = "a list item is not a mapping" + SHAPE
USERS = (
    "accepted: email, e-mail, email address, mail, user, user_id, userId, login,"
    " userPrincipalName, upn (or name it with --user-column)"
)
FILES = (
    "accepted: file, photo, picture, path, image, photo file, photo path, file name, foto, bild"
    " (or name it with --file-column)"
)
TEXT_FORMATS = ("csv", "yaml")


def rec(line: int, user: str, file: str, *extras: str, problem: str | None = None) -> Record:
    """A record as a reader gives it."""
    return line, (user, file), extras, problem


def read_from(fmt: str, stream: BytesIO) -> list[Record]:
    return list(reader_for(fmt)(stream, SOURCE))


def read(fmt: str, data: bytes) -> list[Record]:
    return read_from(fmt, BytesIO(data))


def workbook(*rows: Sequence[object]) -> bytes:
    """An .xlsx holding ``rows`` from A1, as openpyxl writes it."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def error(fmt: str, data: bytes) -> str:
    with pytest.raises(ManifestError) as caught:
        read(fmt, data)
    return str(caught.value)


# -- what each format reads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "data", "expected"),
    [
        pytest.param(
            "csv",
            b"email,file\na@x.com,a.jpg\nb@x.com,b.png\n",
            [rec(2, "a@x.com", "a.jpg"), rec(3, "b@x.com", "b.png")],
            id="csv-plain",
        ),
        pytest.param(
            "csv",
            b"\xef\xbb\xbfEmail,File\r\na@x.com,a.jpg\r\n",
            [rec(2, "a@x.com", "a.jpg")],
            id="csv-bom-crlf-any-case",
        ),
        pytest.param(
            "csv",
            b"email,file\ra@x.com,a.jpg\rb@x.com,b.jpg",
            [rec(2, "a@x.com", "a.jpg"), rec(3, "b@x.com", "b.jpg")],
            id="csv-old-mac-line-endings-no-final-newline",
        ),
        pytest.param(
            "csv",
            b" userId , Photo ,name\nKDcuGIm1QgePTO8WbOqwIQ,p.jpg,Ada\n",
            [rec(2, "KDcuGIm1QgePTO8WbOqwIQ", "p.jpg", "Ada")],
            id="csv-header-spaces-trimmed-other-column-carried",
        ),
        pytest.param(
            "csv",
            b'name,user,picture\n"Lovelace, Ada",  ada@x.com  ,"my photos/ada.jpg"\n',
            [rec(2, "ada@x.com", "my photos/ada.jpg", "Lovelace, Ada")],
            id="csv-quoted-cells-values-trimmed",
        ),
        pytest.param(
            "csv",
            b'email,path,note\na@x.com,a.jpg,"two\nlines"\nb@x.com,b.jpg,x\n',
            [rec(2, "a@x.com", "a.jpg", "two\nlines"), rec(4, "b@x.com", "b.jpg", "x")],
            id="csv-multiline-cell-keeps-line-numbers",
        ),
        pytest.param(
            "csv",
            b"\n,,\nemail,file\n\na@x.com,a.jpg\n,,\n , \nb@x.com\n",
            [rec(5, "a@x.com", "a.jpg"), rec(8, "b@x.com", "")],
            id="csv-blank-records-skipped-short-row-padded",
        ),
        pytest.param(
            "csv",
            b"email,file\na@x.com,a.jpg,extra,cells\n",
            [rec(2, "a@x.com", "a.jpg")],
            id="csv-cells-beyond-the-header-ignored",
        ),
        pytest.param(
            "csv",
            b"user,file,email\nu1,a.jpg,a@x.com\n",
            [rec(2, "a@x.com", "a.jpg", "u1")],
            id="csv-alias-earlier-in-the-table-wins-wherever-it-stands",
        ),
        pytest.param(
            "csv",
            b"email,file,FILE\na@x.com,first.jpg,second.jpg\n",
            [rec(2, "a@x.com", "first.jpg", "second.jpg")],
            id="csv-first-of-two-same-name-columns-wins",
        ),
        pytest.param(
            "csv",
            "email,file\njöhn@exämple.com,fotos/jöhn.jpg\n".encode(),
            [rec(2, "jöhn@exämple.com", "fotos/jöhn.jpg")],
            id="csv-utf8",
        ),
        pytest.param(
            "yaml",
            b"- email: a@x.com\n  file: a.jpg\n- email: b@x.com\n  file: b.png\n",
            [rec(1, "a@x.com", "a.jpg"), rec(3, "b@x.com", "b.png")],
            id="yaml-list",
        ),
        pytest.param(
            "yaml",
            b"a@x.com: a.jpg\nb@x.com: b.png\n",
            [rec(1, "a@x.com", "a.jpg"), rec(2, "b@x.com", "b.png")],
            id="yaml-mapping-of-user-to-file",
        ),
        pytest.param(
            "yaml",
            b"- User_ID: 0123\n  Photo: p.jpg\n  tags: [a, b]\n- {user: no, path: q.png}\n",
            # tags holds a list: no text to carry, and no problem for a column not read
            [rec(1, "0123", "p.jpg", ""), rec(4, "no", "q.png", "")],
            id="yaml-scalars-stay-text-other-keys-carried",
        ),
        pytest.param(
            "yaml",
            b"- email: a@x.com\n  file: ~\n- email: 'null'\n  file: null\n",
            [rec(1, "a@x.com", ""), rec(3, "null", "")],
            id="yaml-unquoted-null-is-empty-quoted-is-text",
        ),
        pytest.param(
            "yaml",
            b"- user: u1\n  ' EMAIL ': a@x.com\n  file: a.jpg\n  File: b.jpg\n",
            [rec(1, "a@x.com", "a.jpg", "u1", "b.jpg")],
            id="yaml-keys-any-case-table-order-then-first-wins",
        ),
        pytest.param(
            "yaml",
            b"\xef\xbb\xbf---\na@x.com: a.jpg\n...\n",
            [rec(2, "a@x.com", "a.jpg")],
            id="yaml-bom-explicit-document",
        ),
        pytest.param(
            "xlsx",
            workbook(["email", "file"], ["a@x.com", "a.jpg"], [None, None], ["b@x.com", "b.png"]),
            [rec(2, "a@x.com", "a.jpg"), rec(4, "b@x.com", "b.png")],
            id="xlsx-line-is-excel-row-blank-rows-skipped",
        ),
    ],
)
def test_rows_read(fmt: str, data: bytes, expected: list[Record]) -> None:
    assert read(fmt, data) == expected


def _named(column: Column, alias: str) -> list[str]:
    """One name per column: ``alias`` for ``column`` (spaced and upper-cased), the first
    alias for the others."""
    return [f" {alias.upper()} " if c is column else c.aliases[0] for c in COLUMNS]


ALIAS_CASES = [
    pytest.param(fmt, column, alias, id=f"{fmt}-{alias}")
    for fmt in FORMAT_NAMES
    for column in COLUMNS
    for alias in column.aliases
]


def _manifest(fmt: str, rows: list[list[str]]) -> bytes:
    """``rows`` (the first the header) in ``fmt``: a YAML list holds one mapping per row."""
    if fmt == "csv":
        return "".join(f"{','.join(row)}\n" for row in rows).encode()
    if fmt == "xlsx":
        return workbook(*rows)
    header, *data = rows
    items = (
        "- " + "\n  ".join(f"'{n}': {v}" for n, v in zip(header, row, strict=True)) for row in data
    )
    return "\n".join(items).encode()


@pytest.mark.parametrize(("fmt", "column", "alias"), ALIAS_CASES)
def test_every_alias_in_the_table_is_read_by_every_reader(
    fmt: str, column: Column, alias: str
) -> None:
    values = [f"value {i}" for i in range(len(COLUMNS))]
    data = _manifest(fmt, [_named(column, alias), values])
    assert read(fmt, data) == [(1 if fmt == "yaml" else 2, tuple(values), (), None)]


@pytest.mark.parametrize(
    ("fmt", "column"),
    [
        pytest.param(fmt, column, id=f"{fmt}-{column.key}")
        for fmt in FORMAT_NAMES
        for column in COLUMNS
        if column.required
    ],
)
def test_a_missing_column_is_named_with_what_the_table_accepts(fmt: str, column: Column) -> None:
    others = [c.aliases[0] for c in COLUMNS if c is not column]
    data = _manifest(fmt, [[*others, "name"], ["x"] * (len(others) + 1)])
    noun = "key" if fmt == "yaml" else "column"
    missing = (
        f"no {column.key} {noun} — found {noun}s: {', '.join(others)}, name;"
        f" accepted: {column.accepted} (or name it with --{column.key}-column)"
    )
    if fmt == "yaml":  # one item: a row of its own that cannot be used, not a manifest error
        (row,) = read(fmt, data)
        assert row[3] == f"line 1: {missing}"
    else:
        where = "row 1 (Excel)" if fmt == "xlsx" else "line 1"
        assert error(fmt, data) == f"{SOURCE}: {where}: {missing}"


# -- what each format refuses --------------------------------------------------------------------


TEXT_PROBLEMS = [
    ("empty", b"", "the manifest is empty"),
    ("blank-lines", b"\n \r\n\t\n", "the manifest is empty"),
    ("bom-only", b"\xef\xbb\xbf\n", "the manifest is empty"),
    (
        "utf-16",
        "email,file\n".encode("utf-16"),
        "line 1: not UTF-8 text (it is UTF-16) — save the manifest as UTF-8"
        " (in Excel: CSV UTF-8) and try again",
    ),
    (
        "nul-byte",
        b"email,file\na,b\x00\n",
        "not a text file (it holds binary data) — export it as CSV",
    ),
    ("latin-1", "email: a\nb: café\n".encode("latin-1"), f"line 2: {UTF8}"),
    ("latin-1-after-bom", b"\xef\xbb\xbfa: b\n\xe9: c\n", f"line 2: {UTF8}"),
]

PROBLEMS = [
    # The text checks every text format shares.
    *[
        pytest.param(fmt, data, message, id=f"{fmt}-{name}")
        for fmt in TEXT_FORMATS
        for name, data, message in TEXT_PROBLEMS
    ],
    # CSV (a header and no rows is no problem: see test_a_header_alone_is_no_rows)
    ("csv", b"\n,,\n", "the manifest is empty"),
    (
        "csv",
        b"email,file\n" + b"a,b\n" * 20_000 + b"c,\xe9\n",
        f"line 20002: {UTF8}",
    ),
    (
        "csv",
        b"name,photo\nAda,a.jpg\n",
        f"line 1: no user column — found columns: name, photo; {USERS}",
    ),
    (
        "csv",
        b"\n\nEmail,Name\na,Ada\n",
        f"line 3: no file column — found columns: Email, Name; {FILES}",
    ),
    pytest.param(
        "csv",
        b" Users ID ,file\nu,p.jpg\n",
        f"line 1: no user column — found columns: Users ID, file; {USERS}",
        id="csv-a-name-near-an-alias-is-another-name",
    ),
    pytest.param(
        "csv",
        b"email,file\na@x.com," + b"x" * (1 << 20) + b"y\n",
        "line 2: field larger than field limit (1048576)",
        id="csv-cell-over-1-mb",
    ),
    # YAML
    ("yaml", b"# nothing\n", "the manifest is empty"),
    ("yaml", b"a: b\n" * 20_000 + b"c: \xe9\n", f"line 20001: {UTF8}"),
    (
        "yaml",
        b"- email: a@x.com\n  file: [a\n",
        "line 3: malformed YAML (did not find expected ',' or ']')",
    ),
    (
        "yaml",
        b"- email: a\n\tfile: b\n",
        "line 2: malformed YAML (found a tab character that violates indentation)",
    ),
    (
        "yaml",
        b"a: b\nc: d\x01\n",
        "line 2: malformed YAML (control characters are not allowed: U+0001)"
        " — remove that character",
    ),
    ("yaml", b"just text\n", "line 1: the manifest is a single value" + SHAPE),
    ("yaml", b"a: 1\n---\nb: 2\n", "line 2: more than one YAML document" + SHAPE),
]


@pytest.mark.parametrize(("fmt", "data", "message"), PROBLEMS)
def test_problems_are_named_with_source_and_line(fmt: str, data: bytes, message: str) -> None:
    assert error(fmt, data) == f"{SOURCE}: {message}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            b"- a@x.com\n", [rec(1, "", "", problem=f"line 1: {NOT_A_MAPPING}")], id="text"
        ),
        pytest.param(
            b"- [a@x.com, a.jpg]\n", [rec(1, "", "", problem=f"line 1: {NOT_A_MAPPING}")], id="list"
        ),
        pytest.param(
            b"- &x a\n- *x\n",
            [rec(n, "", "", problem=f"line {n}: {NOT_A_MAPPING}") for n in (1, 2)],
            id="alias-item",
        ),
        pytest.param(
            b"- {}\n",
            [rec(1, "", "", problem=f"line 1: no user key — found keys: none; {USERS}")],
            id="no-keys",
        ),
        pytest.param(
            b"- email: a@x.com\n  name: A\n",
            [
                rec(
                    1,
                    "a@x.com",
                    "",
                    "A",
                    problem=f"line 1: no file key — found keys: email, name; {FILES}",
                )
            ],
            id="no-file-key",
        ),
        pytest.param(
            b"- email: [a]\n  file: x\n",
            [rec(1, "", "x", problem="line 1: 'email' holds a list or mapping, not text" + SHAPE)],
            id="list-value",
        ),
        pytest.param(
            b"a: &p a.jpg\nb: *p\n",
            [
                rec(1, "a", "a.jpg"),
                rec(2, "b", "", problem="line 2: 'b' is an alias; write the value out" + SHAPE),
            ],
            id="alias-value",
        ),
        pytest.param(
            b"? {a: b}\n: a.jpg\nc: c.jpg\n",
            [rec(1, "", "", problem="line 1: a key is not text" + SHAPE), rec(3, "c", "c.jpg")],
            id="mapping-key",
        ),
        pytest.param(
            b"- ? [k]\n  : v\n  email: a\n  file: f\n",
            [rec(1, "a", "f", problem="line 1: a key is not text" + SHAPE)],
            id="list-key",
        ),
    ],
)
def test_a_yaml_item_that_cannot_be_a_row_is_a_row_with_its_problem(
    data: bytes, expected: list[Record]
) -> None:
    """One bad entry must not stop the others: the run reports it invalid and goes on."""
    good = b"- email: z@x.com\n  file: z.jpg\n"
    if data.startswith(b"-"):  # a list: a good item after the bad one is still read
        last = read("yaml", data + good)[-1]
        assert (last[0], last[1], last[3]) == (data.count(b"\n") + 1, ("z@x.com", "z.jpg"), None)
    assert read("yaml", data) == expected


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b"email,file\n"),
        ("csv", b"email,file\n,\n \n"),
        ("xlsx", workbook(["email", "file"])),
        ("yaml", b"[]\n"),
        ("yaml", b"{}\n"),
    ],
)
def test_a_header_alone_is_no_rows(fmt: str, data: bytes) -> None:
    """A quiet day (no new hires) is nothing to do, not a broken manifest."""
    assert read(fmt, data) == []


@pytest.mark.parametrize(
    ("fmt", "head", "row", "first"),
    [
        ("csv", b"email,file\n", b"a@x.com,a.jpg\n", rec(2, "a@x.com", "a.jpg")),
        ("yaml", b"", b"- email: a@x.com\n  file: a.jpg\n", rec(1, "a@x.com", "a.jpg")),
    ],
)
def test_rows_stream_and_a_problem_comes_where_it_is(
    fmt: str, head: bytes, row: bytes, first: Record
) -> None:
    data = head + row * 20_000 + b"\xe9\n"
    stream = BytesIO(data)
    rows = reader_for(fmt)(stream, SOURCE)
    assert stream.tell() == 0  # nothing is read before the first row is asked for
    assert next(rows) == first
    assert stream.tell() < len(data) // 10  # nor much beyond it
    bad_line = data.count(b"\n")
    with pytest.raises(ManifestError, match=f"^{SOURCE}: line {bad_line}: not UTF-8 text"):
        for _ in rows:
            pass


@pytest.mark.parametrize(
    ("fmt", "data"),
    [("csv", b"email,file\n\na@x.com,a.jpg\n"), ("yaml", b"\n\na@x.com: a.jpg\n")],
)
def test_the_stream_is_read_from_where_it_stands_and_left_open(fmt: str, data: bytes) -> None:
    prefix = b"not this\n\xff\n"
    stream = BytesIO(prefix + data)
    stream.seek(len(prefix))
    assert read_from(fmt, stream) == [rec(3, "a@x.com", "a.jpg")]
    assert not stream.closed
    stream = BytesIO(prefix + data + b"\xff")
    stream.seek(len(prefix))
    with pytest.raises(ManifestError, match=f"^{SOURCE}: line 4: not UTF-8 text"):
        read_from(fmt, stream)  # the line counted from where the reader started


# -- the text helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"\xff", 1),
        (b"a\nb\n\xffc\n", 3),
        (b"a\r\nb\r\nc\xe9\r\n", 3),
        # a two-byte character split across the 64 KiB reads is not an error; a bad byte later is
        (b"\n" * 65535 + "é".encode() + b"\nx\n\xff", 65538),
        (b"\n" * 70000 + b"\xc3", 70001),  # cut off mid-character at the end
    ],
)
def test_first_bad_utf8_line(data: bytes, line: int) -> None:
    assert first_bad_utf8_line(BytesIO(data)) == line


def test_line_at_counts_lines_before_an_offset_from_a_start() -> None:
    stream = BytesIO(b"skip\nab\ncd\n" + b"\n" * 100_000)
    assert [line_at(stream, offset, start=5) for offset in (0, 2, 3, 6, 100_006)] == [
        1,
        1,
        2,
        3,
        100_003,
    ]


# -- the registry --------------------------------------------------------------------------------


def test_known_formats_and_their_suffixes() -> None:
    assert FORMATS == {
        ".csv": "csv",
        ".yaml": "yaml",
        ".yml": "yaml",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
    }
    assert FORMAT_NAMES == ("csv", "yaml", "xlsx")
    assert all(callable(reader_for(name)) for name in FORMAT_NAMES)


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("m.csv", None, "csv"),
        ("M.CSV", None, "csv"),
        ("m.yml", None, "yaml"),
        ("m.Yaml", "", "yaml"),  # an empty --format is no --format
        ("m.txt", "CSV", "csv"),
        ("m.csv", "yaml", "yaml"),
    ],
)
def test_format_from_flag_else_extension(name: str, given: str | None, expected: str) -> None:
    assert format_of(Path(name), given) == expected


@pytest.mark.parametrize(
    ("name", "given", "message"),
    [
        (
            "dir/m.txt",
            None,
            "dir/m.txt: cannot tell the manifest format from the extension '.txt'"
            " — name it .csv, .yaml, .yml, .xlsx or .xlsm, or pass --format csv|yaml|xlsx",
        ),
        (
            "manifest",
            None,
            "manifest: cannot tell the manifest format from the extension ''"
            " — name it .csv, .yaml, .yml, .xlsx or .xlsm, or pass --format csv|yaml|xlsx",
        ),
        ("m.csv", "xls", "--format: expected csv, yaml or xlsx, got 'xls'"),
        (
            "m.XLS",
            None,
            "m.XLS: an old Excel workbook (.XLS) is not read — save it as .xlsx or CSV UTF-8",
        ),
    ],
)
def test_unknown_formats(name: str, given: str | None, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        format_of(Path(name), given)
    assert str(caught.value) == message


def test_pyyaml_loads_only_for_a_yaml_manifest(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("email,file\na@x.com,a.jpg\n")
    (tmp_path / "m.yaml").write_text("a@x.com: a.jpg\n")
    probe = (
        "import sys; from pathlib import Path; from batch.manifest import open_manifest;"
        "seen = [];"
        "[(list(open_manifest(Path(p)).rows()), seen.append('yaml' in sys.modules))"
        f" for p in ({str(tmp_path / 'm.csv')!r}, {str(tmp_path / 'm.yaml')!r})];"
        "print(seen)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[False, True]"


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_a_job_may_leave_a_column_optional(fmt: str) -> None:
    """``remove`` reads users alone: a manifest without a file column is one for it."""
    from batch.manifest import columns_for

    text = _manifest(fmt, [["email"], ["a@x.com"]])
    rows = list(reader_for(fmt)(BytesIO(text), "m", columns_for(optional=frozenset({"file"}))))
    assert rows == [rec(1 if fmt == "yaml" else 2, "a@x.com", "")]
    if fmt == "yaml":  # the item is a row with its problem
        assert "no file key" in str(read(fmt, text)[0][3])
    else:
        with pytest.raises(ManifestError, match="no file"):
            list(reader_for(fmt)(BytesIO(text), "m"))


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b"Name,email,file,Dept\nAda,a@x.com,a.jpg,HR\n"),
        ("xlsx", workbook(["Name", "email", "file", "Dept"], ["Ada", "a@x.com", "a.jpg", "HR"])),
        ("yaml", b"- {Name: Ada, email: a@x.com, file: a.jpg, Dept: HR}\n"),
    ],
)
def test_a_reader_fills_in_the_layout_with_the_other_columns(fmt: str, data: bytes) -> None:
    layout = Layout()
    rows = list(reader_for(fmt)(BytesIO(data), SOURCE, COLUMNS, layout=layout))
    assert rows == [rec(1 if fmt == "yaml" else 2, "a@x.com", "a.jpg", "Ada", "HR")]
    assert layout.extra_columns == ["Name", "Dept"]
