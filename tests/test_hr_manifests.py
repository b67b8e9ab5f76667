"""HR's own files: what an export from an HR system or Excel brings, read as it is.

Semicolon- and tab-separated CSV (Excel where the decimal mark is a comma, "Text (Tab
delimited)"), Excel's ``sep=;`` line, .xlsx workbooks, the headers HR systems write ("E-Mail",
"Foto", "User ID"), the columns we do not read (a Name, a department) carried along, a quiet
day's file with a header and no rows, one bad YAML entry among good ones, and paths written on
Windows. Each is a real file in ``tmp_path``, read through ``open_manifest(...).rows()``, and
where the CLI reads it too, through ``zoom-batch validate``.
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped, unused-ignore]
import pytest

from batch._cli import main
from batch._exceptions import ManifestError
from batch._models import ManifestRow
from batch.manifest import ReadOptions, open_manifest, resolve_file
from batch.manifest._yaml import MAX_EXTRA_COLUMNS

from .conftest import ROOT, make_jpeg, report_rows

SHAPE = "expected a list of mappings with 'email' and 'file' keys, or a mapping of user: file"
USERS = (
    "accepted: email, e-mail, email address, mail, user, user_id, userId, login,"
    " userPrincipalName, upn (or name it with --user-column)"
)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def rows_of(path: Path, **options: str) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """(line, user, file, extras) of every row, read as ``open_manifest`` then ``rows()`` do."""
    read = ReadOptions(**options) if options else None
    with open_manifest(path, options=read) as manifest:
        return [(r.line, r.user, r.file, r.extras) for r in manifest.rows()]


def error_of(path: Path, **options: str) -> str:
    with pytest.raises(ManifestError) as caught:
        open_manifest(path, options=ReadOptions(**options) if options else None)
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix(f"{path.parent}/")


def save_workbook(
    path: Path, *rows: list[Any], sheets: dict[str, list[list[Any]]] | None = None
) -> Path:
    """An .xlsx at ``path``, written by openpyxl: ``rows`` from A1 of its first sheet, "Staff"."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    for row in rows:
        sheet.append(row)
    for title, more in (sheets or {}).items():
        extra = book.create_sheet(title)
        for row in more:
            extra.append(row)
    book.save(path)
    return path


# -- delimiters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "note"),
    [
        pytest.param(
            b"\xef\xbb\xbfName;E-Mail;Foto\r\nLovelace, Ada;ada@x.com;ada.jpg\r\n"
            b'"Bo; the second";bo@x.com;bo.jpg\r\n',
            "read as semicolon-separated (detected from the header)",
            id="semicolon-bom-crlf",
        ),
        pytest.param(
            b"Name\tEmail\tPhoto\nLovelace, Ada\tada@x.com\tada.jpg\n"
            b'"Bo; the second"\tbo@x.com\tbo.jpg\n',
            "read as tab-separated (detected from the header)",
            id="tab",
        ),
        pytest.param(
            b'Name,Email,Photo\n"Lovelace, Ada",ada@x.com,ada.jpg\n'
            b'"Bo; the second",bo@x.com,bo.jpg\n',
            None,
            id="comma",
        ),
    ],
)
def test_the_delimiter_is_found_from_the_header(
    tmp_path: Path, data: bytes, note: str | None
) -> None:
    path = write(tmp_path / "people.csv", data)
    assert rows_of(path) == [
        (2, "ada@x.com", "ada.jpg", ("Lovelace, Ada",)),
        (3, "bo@x.com", "bo.jpg", ("Bo; the second",)),
    ]
    with open_manifest(path) as manifest:
        assert manifest.notes == (() if note is None else (note,))
        assert manifest.extra_columns == ("Name",)


def test_blank_lines_before_the_header_do_not_hide_its_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", b"\r\n;;\r\nE-Mail;Foto\r\n\r\nada@x.com;ada.jpg\r\n")
    assert rows_of(path) == [(5, "ada@x.com", "ada.jpg", ())]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_excels_sep_line_names_the_delimiter_and_is_no_row(tmp_path: Path, bom: bytes) -> None:
    # The header's commas would win the detection; the sep= line says otherwise.
    data = bom + b"sep=;\r\nemail;file;note\r\nada@x.com;ada.jpg;a, b, c\r\n"
    path = write(tmp_path / "people.csv", data)
    assert rows_of(path) == [(3, "ada@x.com", "ada.jpg", ("a, b, c",))]  # lines count it
    with open_manifest(path) as manifest:
        assert manifest.notes == ("read as semicolon-separated (as its sep= line says)",)
    assert error_of(write(tmp_path / "only.csv", bom + b"sep=;\r\n")) == (
        "only.csv: the manifest is empty"
    )


def test_the_delimiter_option_overrides_both(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", b"sep=;\nemail|file\nada@x.com|a;b.jpg\n")
    assert rows_of(path, delimiter="|") == [(3, "ada@x.com", "a;b.jpg", ())]
    path = write(tmp_path / "pipes.csv", b"email|file\nada@x.com|a.jpg\n")
    assert rows_of(path, delimiter="|") == [(2, "ada@x.com", "a.jpg", ())]
    with open_manifest(path, options=ReadOptions(delimiter="|")) as manifest:
        assert manifest.notes == ()  # the operator knows what they asked for


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        pytest.param(
            "Name;Email;Foto",
            {"delimiter": ","},
            "no user column — found columns: Name;Email;Foto"
            f" (read as comma-separated, as --delimiter says; the header also holds ';'); {USERS}",
            id="told-comma-but-semicolons",
        ),
        pytest.param(
            "email,photo;file",  # both delimiters find one column: a tie, settled for commas
            {},
            "no file column — found columns: email, photo;file (read as comma-separated; if the"
            " file uses ';', pass --delimiter ';'); accepted: file, photo, picture, path, image,"
            " photo file, photo path, file name, foto, bild (or name it with --file-column)",
            id="both-recognised",
        ),
        pytest.param(
            "Nachname;Vorname,Titel",  # no name either way: a tie, settled for commas
            {},
            "no user column — found columns: Nachname;Vorname, Titel"
            f" (read as comma-separated; if the file uses ';', pass --delimiter ';'); {USERS}",
            id="none-recognised",
        ),
        pytest.param(
            "Nachname;Vorname;Bildpfad",
            {},
            "no user column — found columns: Nachname, Vorname, Bildpfad"
            f" (read as semicolon-separated); {USERS}",
            id="none-recognised-one-delimiter",
        ),
        pytest.param(
            "Nachname\tVorname\tMitarbeiter;Nr",
            {},
            "no user column — found columns: Nachname, Vorname, Mitarbeiter;Nr"
            f" (read as tab-separated; if the file uses ';', pass --delimiter ';'); {USERS}",
            id="tab-guessed-semicolon-also-there",
        ),
    ],
)
def test_a_missing_column_says_how_the_file_was_split(
    tmp_path: Path, header: str, options: dict[str, str], message: str
) -> None:
    path = write(tmp_path / "people.csv", f"{header}\r\nx;y,z\r\n")
    assert error_of(path, **options) == f"people.csv: line 1: {message}"
    assert "UTF-8" not in message  # the encoding is fine: the delimiter is the problem


def test_a_plain_comma_file_needs_no_word_on_delimiters(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "Name,Mail Adresse\nAda,ada@x.com\n")
    assert error_of(path) == (
        f"people.csv: line 1: no user column — found columns: Name, Mail Adresse; {USERS}"
    )


def test_a_header_line_over_a_megabyte_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", b"email," + b"x" * (1 << 20) + b"\na,b\n")
    assert error_of(path) == "people.csv: line 1: the header line is over 1 MB"


@pytest.mark.parametrize("bad", ["", ";;", '"', "\n"])
def test_a_delimiter_option_is_one_character(bad: str) -> None:
    with pytest.raises(ValueError, match="delimiter: expected one character"):
        ReadOptions(delimiter=bad)


def test_a_column_option_names_a_header() -> None:
    with pytest.raises(ValueError, match="user_column: expected a header name, got ' '"):
        ReadOptions(user_column=" ")


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "file"),
    [
        ("E-Mail", "Foto"),
        ("Email Address", "Photo File"),
        ("e_mail", "file_name"),
        ("USER ID", "FileName"),
        ("user-id", "Picture"),
        ("Login", "Image"),
        ("userPrincipalName", "Photo Path"),
        ("\u00a0Mail\u00a0", "Bild"),  # no-break spaces, as pasted from a web page
    ],
)
def test_hr_systems_headers_are_read(tmp_path: Path, user: str, file: str) -> None:
    path = write(tmp_path / "people.csv", f"{user};{file}\nada@x.com;ada.jpg\n")
    assert rows_of(path) == [(2, "ada@x.com", "ada.jpg", ())]


def test_the_operator_may_name_the_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "people.csv",
        "Email,Work  email,Photo,HR photo\nada@home.org,ada@x.com,old.jpg,new.jpg\n",
    )
    rows = rows_of(path, user_column=" work email ", file_column="hr_photo")
    assert rows == [(2, "ada@x.com", "new.jpg", ("ada@home.org", "old.jpg"))]
    assert error_of(path, user_column="Staff Mail") == (
        "people.csv: line 1: no column 'Staff Mail' (the user column, as --user-column says)"
        " — found columns: Email, Work  email, Photo, HR photo"
    )


def test_a_yaml_list_reads_the_named_keys_too(tmp_path: Path) -> None:
    path = write(tmp_path / "people.yaml", "- Work Email: ada@x.com\n  file: a.jpg\n")
    assert rows_of(path, user_column="work email") == [(1, "ada@x.com", "a.jpg", ())]


# -- extra columns ------------------------------------------------------------------------------


def test_every_other_column_is_carried_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "people.csv",
        # an unnamed column, a duplicate, trailing empty cells (Excel's ";;"): as they are
        "Name,email,,Dept,file,Dept,,\nAda, ada@x.com ,x,Sales,a.jpg,EMEA,,\nBo,bo@x.com\n",
    )
    with open_manifest(path) as manifest:
        assert manifest.extra_columns == ("Name", "column_3", "Dept", "Dept")
        assert [(r.user, r.file, r.extras) for r in manifest.rows()] == [
            ("ada@x.com", "a.jpg", ("Ada", "x", "Sales", "EMEA")),
            ("bo@x.com", "", ("Bo", "", "", "")),  # what the row lacks is ""
        ]


def test_a_yaml_lists_extra_keys_are_their_union_in_order_of_first_appearance(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "people.yaml",
        "- {email: a@x.com, file: a.jpg}\n"
        "- {name: Bo, email: b@x.com, file: b.jpg, tags: [x]}\n"
        "- {email: c@x.com, dept: Ops, name: Cy, file: c.jpg}\n",
    )
    with open_manifest(path) as manifest:
        assert manifest.extra_columns == ("name", "tags", "dept")
        # every row has every column, found in the check before the first row
        assert [r.extras for r in manifest.rows()] == [
            ("", "", ""),
            ("Bo", "", ""),
            ("Cy", "", "Ops"),
        ]


def test_a_yaml_lists_extra_keys_are_capped(tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(MAX_EXTRA_COLUMNS + 5)]
    item = ", ".join(f"{k}: v{i}" for i, k in enumerate(keys))
    path = write(tmp_path / "wide.yaml", f"- {{email: a@x.com, file: a.jpg, {item}}}\n")
    with open_manifest(path) as manifest:
        assert manifest.extra_columns == tuple(keys[:MAX_EXTRA_COLUMNS])
        assert manifest.notes == (
            f"keys beyond the first {MAX_EXTRA_COLUMNS} extra ones are not carried to the report:"
            f" 'k{MAX_EXTRA_COLUMNS}' and 4 more",
        )
        (row,) = manifest.rows()
        assert row.extras == tuple(f"v{i}" for i in range(MAX_EXTRA_COLUMNS))


def test_a_user_to_file_mapping_has_no_extras(tmp_path: Path) -> None:
    path = write(tmp_path / "people.yaml", "a@x.com: a.jpg\n")
    with open_manifest(path) as manifest:
        assert manifest.extra_columns == ()
        assert [r.extras for r in manifest.rows()] == [()]


# -- a header and no rows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("people.csv", b"email,file\n"),
        ("people.csv", b"\xef\xbb\xbfE-Mail;Foto;Name\r\n;;\r\n"),
        ("people.yaml", b"[]\n"),
        ("people.yaml", b"# nobody today\n[]\n"),
    ],
)
def test_a_quiet_day_is_nothing_to_do(tmp_path: Path, name: str, data: bytes) -> None:
    with open_manifest(write(tmp_path / name, data)) as manifest:
        assert manifest.total == 0
        assert list(manifest.rows()) == []


@pytest.mark.parametrize(
    ("name", "data"), [("people.csv", b""), ("people.csv", b"\n\n"), ("people.yaml", b"# x\n")]
)
def test_a_file_with_nothing_in_it_is_still_empty(tmp_path: Path, name: str, data: bytes) -> None:
    assert error_of(write(tmp_path / name, data)) == f"{name}: the manifest is empty"


# -- YAML: one bad entry among good ones --------------------------------------------------------


def test_a_bad_yaml_entry_is_a_row_with_its_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path / "people.yaml",
        "- email: a@x.com\n"
        "  file: a.jpg\n"
        "- email: b@x.com\n"
        "  file: [b.jpg, c.jpg]\n"
        "- just text\n"
        "- name: Cy\n"
        "  file: c.jpg\n"
        "- email: d@x.com\n"
        "  file: d.jpg\n",
    )
    with open_manifest(path) as manifest:
        assert manifest.total == 5
        rows = list(manifest.rows())
    assert [(r.row, r.line, r.user, r.file, r.problem) for r in rows] == [
        (1, 1, "a@x.com", "a.jpg", None),
        (2, 3, "b@x.com", "", f"line 4: 'file' holds a list or mapping, not text — {SHAPE}"),
        (3, 5, "", "", f"line 5: a list item is not a mapping — {SHAPE}"),
        (4, 6, "", "c.jpg", f"line 6: no user key — found keys: name, file; {USERS}"),
        (5, 8, "d@x.com", "d.jpg", None),
    ]
    assert rows[3].extras == ("Cy",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"- email: a@x.com\n  file: [a\n", "line 3: malformed YAML"),
        (b"a@x.com: \xe9.jpg\n", "line 1: not UTF-8 text"),
        (b"a: b\n---\nc: d\n", "line 2: more than one YAML document"),
        (b"just text\n", "line 1: the manifest is a single value"),
    ],
)
def test_a_yaml_document_that_cannot_be_read_still_stops_the_run(
    tmp_path: Path, data: bytes, message: str
) -> None:
    assert error_of(write(tmp_path / "people.yaml", data)).startswith(f"people.yaml: {message}")


# -- .xlsx ----------------------------------------------------------------------------------------


def test_a_workbook_is_read_with_excels_row_numbers_and_cells_as_shown(tmp_path: Path) -> None:
    path = save_workbook(
        tmp_path / "people.xlsx",
        [None],
        [None, None],
        ["Name", "Email", "Photo", "ID", "Start", "Rate", "Active", "Badge"],
        ["Ada", " ada@x.com ", "ada.jpg", 123, dt.date(2024, 3, 1), 1.5, True, 7.0],
        [],
        ["Bo", "bo@x.com", "bo.jpg", None, dt.datetime(2024, 3, 1, 9, 30), 2, False, None],
    )
    with open_manifest(path) as manifest:
        assert (manifest.format, manifest.total) == ("xlsx", 2)
        assert manifest.extra_columns == ("Name", "ID", "Start", "Rate", "Active", "Badge")
        assert manifest.notes == ()
        rows = list(manifest.rows())
    assert rows == [
        ManifestRow(
            1,
            4,
            "ada@x.com",
            "ada.jpg",
            tmp_path / "ada.jpg",
            ("Ada", "123", "2024-03-01", "1.5", "TRUE", "7"),
        ),
        ManifestRow(
            2,
            6,
            "bo@x.com",
            "bo.jpg",
            tmp_path / "bo.jpg",
            ("Bo", "", "2024-03-01T09:30:00", "2", "FALSE", ""),
        ),
    ]


def test_a_user_id_typed_as_a_number_reads_as_text(tmp_path: Path) -> None:
    path = save_workbook(tmp_path / "ids.xlsx", ["user_id", "file"], [123.0, "a.jpg"], [4.5, "b"])
    assert [(user, file) for _, user, file, _ in rows_of(path)] == [("123", "a.jpg"), ("4.5", "b")]


def test_a_workbooks_sheet_may_be_named(tmp_path: Path) -> None:
    path = save_workbook(
        tmp_path / "people.xlsx",
        ["Summary"],
        sheets={"New Hires": [["email", "file"], ["ada@x.com", "ada.jpg"]]},
    )
    assert rows_of(path, sheet="new hires") == [(2, "ada@x.com", "ada.jpg", ())]
    assert error_of(path, sheet="Leavers") == (
        "people.xlsx: no sheet 'Leavers' — the workbook's sheets: 'Staff', 'New Hires'"
    )
    assert error_of(path) == (  # the first sheet is read unless told: here, not a manifest
        f"people.xlsx: row 1 (Excel): no user column — found columns: Summary; {USERS}"
    )
    with open_manifest(path, options=ReadOptions(sheet="New Hires")) as manifest:
        assert manifest.notes == ()


def test_a_workbook_with_several_sheets_says_which_it_read(tmp_path: Path) -> None:
    path = save_workbook(
        tmp_path / "people.xlsx", ["email", "file"], sheets={"Notes": [["anything"]]}
    )
    with open_manifest(path) as manifest:
        assert manifest.notes == ("read sheet 'Staff', the first of 2 (--sheet names another)",)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "people.xlsx: the manifest is empty"),
        ([[None], [None, None]], "people.xlsx: the manifest is empty"),
        (
            [[], ["Name", "Foto"], ["Ada", "a.jpg"]],
            f"people.xlsx: row 2 (Excel): no user column — found columns: Name, Foto; {USERS}",
        ),
    ],
)
def test_workbook_level_problems_quote_excels_row(
    tmp_path: Path, rows: list[list[Any]], message: str
) -> None:
    assert error_of(save_workbook(tmp_path / "people.xlsx", *rows)) == message


def test_a_workbook_with_a_header_and_no_rows_is_nothing_to_do(tmp_path: Path) -> None:
    with open_manifest(save_workbook(tmp_path / "p.xlsm", ["email", "file"])) as manifest:
        assert (manifest.format, manifest.total, list(manifest.rows())) == ("xlsx", 0, [])


def _zip(**members: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _ole2(*names: str) -> bytes:
    """The start of an OLE2 compound file whose directory names ``names`` (UTF-16LE)."""
    body = b"".join(name.encode("utf-16-le").ljust(128, b"\0") for name in names)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + b"\0" * 2048 + body


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "people.xlsx",
            _ole2("Root Entry", "Workbook"),
            "people.xlsx: an old Excel workbook (.xls), not .xlsx — save it as .xlsx or CSV UTF-8",
        ),
        (
            "people.xlsx",
            _ole2("Root Entry", "EncryptionInfo", "EncryptedPackage"),
            "people.xlsx: the workbook is password-protected — remove its password in Excel"
            " (File > Info > Protect Workbook), or save it as CSV UTF-8",
        ),
        (
            "people.xlsx",
            b"email,file\na@x.com,a.jpg\n",
            "people.xlsx: not an Excel workbook (.xlsx): it is text — name it .csv, or pass"
            " --format csv",
        ),
        (
            "people.xlsx",
            b"\x89PNG\r\n\x1a\n\0\0\0",
            "people.xlsx: not an Excel workbook (.xlsx) — save it as .xlsx or CSV UTF-8",
        ),
        (
            "people.xlsx",
            _zip(**{"notes.txt": b"hello"}),
            "people.xlsx: not an Excel workbook (.xlsx), or a damaged one (",
        ),
        (
            "people.xls",
            _ole2("Root Entry", "Workbook"),
            "people.xls: not a text file (it is an old Excel workbook, .xls, or a"
            " password-protected one) — save it as .xlsx or CSV UTF-8",
        ),
        (
            "people.xls",
            b"<table><tr><td>email</td></tr></table>",  # a web page some systems call .xls
            "people.xls: an old Excel workbook (.xls) is not read — save it as .xlsx or CSV UTF-8",
        ),
    ],
)
def test_what_is_not_an_xlsx_says_what_it_is(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    assert error_of(write(tmp_path / name, data)).startswith(message)


def test_a_damaged_workbook_is_one_line_never_a_traceback(tmp_path: Path) -> None:
    whole = save_workbook(tmp_path / "whole.xlsx", ["email", "file"], ["a@x.com", "a.jpg"])
    data = whole.read_bytes()
    for cut in (len(data) // 3, len(data) - 30):
        message = error_of(write(tmp_path / "cut.xlsx", data[:cut]))
        assert message.startswith("cut.xlsx: not an Excel workbook (.xlsx), or a damaged one (")


def test_an_xlsx_named_csv_says_so(tmp_path: Path) -> None:
    whole = save_workbook(tmp_path / "whole.xlsx", ["email", "file"])
    path = write(tmp_path / "people.csv", whole.read_bytes())
    assert error_of(path) == (
        "people.csv: not a text file (it is an Excel workbook) — name it .xlsx, or pass"
        " --format xlsx"
    )
    with open_manifest(path, format="xlsx") as manifest:
        assert manifest.total == 0


def _peak(read: Any) -> int:
    tracemalloc.start()
    try:
        read()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_workbook_streams_its_rows(tmp_path: Path) -> None:
    """Rows stream: the reader holds nothing per row beyond what openpyxl itself holds (~100
    bytes a row: the emptied <row> elements its read-only parser leaves in the tree, plus the
    shared-strings table it loads whole)."""
    ours, openpyxls = [], []
    for count in (500, 5_000):
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(["user_id", "file", "Dept"])
        for i in range(count):
            sheet.append([i, "p.jpg", "Sales"])
        path = tmp_path / f"{count}.xlsx"
        book.save(path)

        def read_ours(path: Path = path, count: int = count) -> None:
            with open_manifest(path) as manifest:
                assert sum(1 for _ in manifest.rows()) == count

        def read_openpyxl(path: Path = path) -> None:
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
            for _ in workbook.worksheets[0].iter_rows(values_only=True):
                pass
            workbook.close()

        ours.append(_peak(read_ours))
        openpyxls.append(_peak(read_openpyxl))
    growth, floor = ours[1] - ours[0], openpyxls[1] - openpyxls[0]
    # Holding the 4,500 more rows would take 1 MB or more.
    assert growth < floor + 256 * 1024, (ours, openpyxls)


def test_openpyxl_loads_only_for_a_workbook(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("E-Mail;Foto\na@x.com;a.jpg\n")
    save_workbook(tmp_path / "m.xlsx", ["email", "file"], ["a@x.com", "a.jpg"])
    probe = (
        "import sys; from pathlib import Path; from batch.manifest import open_manifest;"
        "seen = [];"
        "[(list(open_manifest(Path(p)).rows()), seen.append('openpyxl' in sys.modules))"
        f" for p in ({str(tmp_path / 'm.csv')!r}, {str(tmp_path / 'm.xlsx')!r})];"
        "print(seen)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert (result.stdout.strip(), result.stderr) == ("[False, True]", "")  # no warnings either


# -- paths written on Windows -------------------------------------------------------------------


def test_backslashes_are_separators_where_nothing_has_the_name_as_written(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "ada.jpg").write_bytes(b"x")
    assert resolve_file(r"photos\ada.jpg", tmp_path) == tmp_path / "photos" / "ada.jpg"
    assert resolve_file(r"photos\nobody.jpg", tmp_path) == tmp_path / "photos" / "nobody.jpg"
    # A file whose name holds a backslash (legal on POSIX) is what the cell names.
    (tmp_path / r"odd\name.jpg").write_bytes(b"x")
    assert resolve_file(r"odd\name.jpg", tmp_path) == tmp_path / r"odd\name.jpg"


@pytest.mark.parametrize("cell", [r"C:\Photos\ada.jpg", "c:/Photos/ada.jpg", r"\\hr\photos\a.jpg"])
def test_a_windows_drive_or_share_is_left_as_written(tmp_path: Path, cell: str) -> None:
    assert resolve_file(cell, tmp_path) == tmp_path / cell


# -- through the CLI ----------------------------------------------------------------------------


def validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manifest: Path, *args: str
) -> tuple[int, list[dict[str, str]], str]:
    report = tmp_path / "report.csv"
    capsys.readouterr()
    code = main(["validate", str(manifest), "--report", str(report), "--quiet", *args])
    err = capsys.readouterr().err
    return code, report_rows(report) if report.exists() else [], err


@pytest.fixture
def folder(tmp_path: Path, clean_env: None) -> Path:
    """The manifest's folder, with the photos it names; the current directory."""
    for name in ("ada.jpg", "bo.jpg"):
        (tmp_path / name).write_bytes(make_jpeg(1))
    return tmp_path


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda folder: write(
                folder / "people.csv",
                b"\xef\xbb\xbfName;E-Mail;Foto\r\nAda;ada@example.com;ada.jpg\r\n"
                b"Bo;bo@example.com;bo.jpg\r\n",
            ),
            id="semicolon-csv",
        ),
        pytest.param(
            lambda folder: write(
                folder / "people.csv",
                b"sep=;\r\nName;Email Address;Photo File\r\nAda;ada@example.com;ada.jpg\r\n"
                b"Bo;bo@example.com;bo.jpg\r\n",
            ),
            id="sep-line-and-aliases",
        ),
        pytest.param(
            lambda folder: save_workbook(
                folder / "people.xlsx",
                ["Name", "Email", "Photo"],
                ["Ada", "ada@example.com", "ada.jpg"],
                ["Bo", "bo@example.com", "bo.jpg"],
            ),
            id="xlsx",
        ),
    ],
)
def test_validate_reads_hr_files(
    folder: Path, capsys: pytest.CaptureFixture[str], make: Any
) -> None:
    code, rows, err = validate(folder, capsys, make(folder))
    assert code == 0, err
    assert [(r["user"], r["file"], r["status"]) for r in rows] == [
        ("ada@example.com", "ada.jpg", "valid"),
        ("bo@example.com", "bo.jpg", "valid"),
    ]


def test_validate_carries_the_extra_columns_to_the_report(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DECISIONS.md, Names: the manifest's own columns come after ours."""
    manifest = write(
        folder / "people.csv", "Name;Email;Foto;Dept\nAda;ada@example.com;ada.jpg;HR\n"
    )
    code, rows, err = validate(folder, capsys, manifest)
    assert code == 0, err
    (row,) = rows
    assert list(row)[-2:] == ["Name", "Dept"]
    assert (row["Name"], row["Dept"]) == ("Ada", "HR")


def test_validate_on_a_quiet_day(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows, err = validate(folder, capsys, write(folder / "people.csv", "E-Mail;Foto\r\n"))
    assert (code, rows) == (0, []), err


def test_validate_reports_a_bad_yaml_entry_invalid_and_checks_the_rest(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write(
        folder / "people.yaml",
        "- email: ada@example.com\n  file: ada.jpg\n"
        "- email: [bo@example.com]\n  file: bo.jpg\n"
        "- email: bo@example.com\n  file: bo.jpg\n",
    )
    code, rows, err = validate(folder, capsys, manifest)
    assert code == 1, err
    assert [(r["line"], r["status"], r["message"]) for r in rows] == [
        ("1", "valid", "ready to upload"),
        ("3", "invalid", f"line 3: 'email' holds a list or mapping, not text — {SHAPE}"),
        ("5", "valid", "ready to upload"),
    ]


def test_validate_names_the_delimiter_it_guessed(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write(folder / "people.csv", "Nachname;Vorname,Titel\r\nx;y,z\r\n")
    code, rows, err = validate(folder, capsys, manifest)
    assert (code, rows) == (2, [])
    assert err.splitlines() == [
        f"zoom-batch: {manifest}: line 1: no user column — found columns: Nachname;Vorname, Titel"
        f" (read as comma-separated; if the file uses ';', pass --delimiter ';'); {USERS}"
    ]
