"""The state store: what it remembers, across a kill -9, and what it refuses to open."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch._exceptions import StateError
from batch._state import (
    SCHEMA_VERSION,
    StateStore,
    UploadRecord,
    default_state_path,
    user_key,
)

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "Acct_123-xyz"
SHA_A = "a" * 64
SHA_B = "b" * 64


def sha(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "acct.sqlite3"


@pytest.fixture
def store(state_path: Path) -> Iterator[StateStore]:
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="run-1") as s:
        yield s


def child(code: str) -> subprocess.Popen[str]:
    """Run ``code`` in a fresh Python that can import ``batch``; its stdout is a pipe."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        assert proc.stderr is not None
        pytest.fail(f"child exited early ({proc.returncode}): {proc.stderr.read()}")
    return line.rstrip("\n")


# --- what it remembers --------------------------------------------------------------------------


def test_round_trip_survives_reopening(state_path: Path) -> None:
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="run-1") as s:
        assert s.last_upload("ada@example.com") is None
        s.record_upload("ada@example.com", SHA_A, uploaded_at="2026-11-27T02:00:00Z")
        assert s.path == state_path
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="run-2") as s:
        assert s.last_upload("ada@example.com") == UploadRecord(
            sha256=SHA_A, uploaded_at="2026-11-27T02:00:00Z", run_id="run-1"
        )
        assert s.last_upload("bob@example.com") is None


def test_record_overwrites_the_previous_upload(state_path: Path) -> None:
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="run-1") as s:
        s.record_upload("ada@example.com", SHA_A, uploaded_at="2026-11-26T02:00:00Z")
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="run-2") as s:
        s.record_upload("ada@example.com", SHA_B, uploaded_at="2026-11-27T02:00:00Z")
        assert s.last_upload("ada@example.com") == UploadRecord(
            SHA_B, "2026-11-27T02:00:00Z", "run-2"
        )
    with sqlite3.connect(state_path) as db:
        assert db.execute("SELECT count(*) FROM uploads").fetchone() == (1,)


def test_uploaded_at_defaults_to_now_in_utc_seconds(store: StateStore) -> None:
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.record_upload("ada@example.com", SHA_A)
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = store.last_upload("ada@example.com")
    assert record is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record.uploaded_at)
    assert before <= record.uploaded_at <= after


@pytest.mark.parametrize(
    ("sha256", "uploaded_at", "message"),
    [
        ("A" * 64, None, "sha256 must be 64 lowercase hex digits, got 'AAAA"),
        ("a" * 63, None, "sha256 must be 64 lowercase hex digits"),
        (SHA_A, "2026-11-27 02:00:00", "uploaded_at must be like 2026-11-27T02:00:00Z"),
    ],
)
def test_record_refuses_malformed_values(
    store: StateStore, sha256: str, uploaded_at: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        store.record_upload("ada@example.com", sha256, uploaded_at=uploaded_at)
    assert store.last_upload("ada@example.com") is None


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("  ada@example.com\t", "ada@example.com"),
        ("AbC-12_xYz", "AbC-12_xYz"),
        (" KdYKjnimT4KPd8FFgQt9FQ ", "KdYKjnimT4KPd8FFgQt9FQ"),
    ],
)
def test_user_key(user: str, key: str) -> None:
    assert user_key(user) == key


def test_user_key_refuses_an_empty_user() -> None:
    with pytest.raises(ValueError, match="user is empty"):
        user_key("   ")


def test_emails_match_case_insensitively_user_ids_do_not(store: StateStore) -> None:
    store.record_upload(" Ada@Example.COM", SHA_A, uploaded_at="2026-11-27T02:00:00Z")
    store.record_upload("KdYKjnimT4KPd8FFgQt9FQ", SHA_B, uploaded_at="2026-11-27T02:00:00Z")
    assert store.last_upload("ada@example.com") == UploadRecord(
        SHA_A, "2026-11-27T02:00:00Z", "run-1"
    )
    assert store.last_upload("kdykjnimt4kpd8ffgqt9fq") is None
    assert store.last_upload("KdYKjnimT4KPd8FFgQt9FQ") is not None


def test_unchanged_10000_row_manifest_looks_up_well_under_a_second(store: StateStore) -> None:
    users = [f"user{i}@example.com" for i in range(10_000)]
    for i, user in enumerate(users):
        store.record_upload(user, sha(i), uploaded_at="2026-11-27T02:00:00Z")
    start = time.perf_counter()
    found = [store.last_upload(user) for user in users]
    elapsed = time.perf_counter() - start
    assert [r.sha256 if r else None for r in found] == [sha(i) for i in range(10_000)]
    assert elapsed < 0.5, f"10,000 lookups took {elapsed:.3f} s"


def test_records_survive_kill_9(state_path: Path) -> None:
    proc = child(
        "import sys\n"
        "from pathlib import Path\n"
        "from batch._state import StateStore\n"
        f"s = StateStore.open(Path({str(state_path)!r}), account_id={ACCOUNT!r}, run_id='r')\n"
        "for i in range(1_000_000):\n"
        "    s.record_upload(f'u{i}@example.com', f'{i:064x}')\n"
        "    print(i, flush=True)\n"
    )
    k = 200
    try:
        printed = [read_line(proc) for _ in range(k)]
    finally:
        proc.kill()
        proc.wait()
    assert printed == [str(i) for i in range(k)]
    # Killed mid-run, not finished: otherwise the test proves nothing.
    assert proc.returncode == (-9 if os.name == "posix" else 1)

    with StateStore.open(state_path, account_id=ACCOUNT, run_id="resume") as s:
        for i in range(k):
            record = s.last_upload(f"u{i}@example.com")
            assert record is not None and record.sha256 == sha(i), i
    with sqlite3.connect(state_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM uploads").fetchone()[0] >= k


# --- one run at a time --------------------------------------------------------------------------


def test_second_open_in_the_same_process_names_the_holder(state_path: Path) -> None:
    first = StateStore.open(state_path, account_id=ACCOUNT, run_id="run-first")
    first.record_upload("ada@example.com", SHA_A, uploaded_at="2026-11-27T02:00:00Z")
    with pytest.raises(StateError) as caught:
        StateStore.open(state_path, account_id=ACCOUNT, run_id="run-second")
    message = str(caught.value)
    pattern = (
        re.escape(f"{state_path} is in use by another zoom-batch run (pid {os.getpid()} on ")
        + re.escape(f"{socket.gethostname()}, run run-first, since ")
        + r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
        + re.escape(
            ") — wait for it to finish: one run at a time per Zoom account, since two would"
            " share and overrun the account's rate limit"
        )
    )
    assert re.fullmatch(pattern, message), message
    # The refused run did not disturb the holder.
    assert first.last_upload("ada@example.com") is not None
    first.close()
    first.close()  # twice is harmless
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="run-second") as second:
        assert second.last_upload("ada@example.com") == UploadRecord(
            SHA_A, "2026-11-27T02:00:00Z", "run-first"
        )


def test_lock_held_by_another_process_is_freed_when_it_is_killed(state_path: Path) -> None:
    proc = child(
        "import os, time\n"
        "from pathlib import Path\n"
        "from batch._state import StateStore\n"
        f"s = StateStore.open(Path({str(state_path)!r}), account_id={ACCOUNT!r}, run_id='held')\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    try:
        pid = int(read_line(proc))
        with pytest.raises(StateError, match=re.escape(f"(pid {pid} on ")) as caught:
            StateStore.open(state_path, account_id=ACCOUNT, run_id="mine")
        assert ", run held, since " in str(caught.value)
    finally:
        proc.kill()
        proc.wait()
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="mine") as s:
        assert s.last_upload("ada@example.com") is None


def test_closed_store_refuses_calls(state_path: Path) -> None:
    s = StateStore.open(state_path, account_id=ACCOUNT, run_id="run-1")
    s.close()
    with pytest.raises(StateError, match=re.escape(f"{state_path} is closed")):
        s.last_upload("ada@example.com")


# --- files it refuses ---------------------------------------------------------------------------


def not_ours(path: Path, reason: str) -> str:
    return f"{path} is not a zoom-batch state file ({reason}) — move it away or pass --state"


def test_random_bytes_are_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    junk = bytes(range(256)) * 64
    path.write_bytes(junk)
    with pytest.raises(StateError) as caught:
        StateStore.open(path, account_id=ACCOUNT, run_id="r")
    assert str(caught.value) == not_ours(path, "file is not a database")
    assert path.read_bytes() == junk


def test_damaged_database_is_refused(state_path: Path) -> None:
    with StateStore.open(state_path, account_id=ACCOUNT, run_id="r") as s:
        for i in range(300):
            s.record_upload(f"u{i}@example.com", sha(i))
    data = bytearray(state_path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size + 100 : page_size * 2] = b"\xff" * (page_size - 100)  # wreck page 2
    state_path.write_bytes(bytes(data))
    with pytest.raises(StateError) as caught:
        StateStore.open(state_path, account_id=ACCOUNT, run_id="r")
    message = str(caught.value)
    assert message.startswith(f"{state_path} is not a zoom-batch state file (")
    assert message.endswith(") — move it away or pass --state")
    assert "\n" not in message


def test_another_applications_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "music.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
        db.execute("INSERT INTO songs VALUES ('So What')")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StateError) as caught:
        StateStore.open(path, account_id=ACCOUNT, run_id="r")
    assert str(caught.value) == not_ours(path, "it holds other tables: songs")
    assert path.read_bytes() == before  # not even switched to WAL


def test_another_accounts_store_is_refused(state_path: Path) -> None:
    StateStore.open(state_path, account_id="OtherAcct", run_id="r").close()
    with pytest.raises(StateError) as caught:
        StateStore.open(state_path, account_id=ACCOUNT, run_id="r")
    assert str(caught.value) == (
        f"{state_path} belongs to Zoom account OtherAcct, not {ACCOUNT} "
        "— pass --state to use another file"
    )
    # The refusal released the lock: the rightful account opens it at once.
    StateStore.open(state_path, account_id="OtherAcct", run_id="r").close()


def test_store_from_a_newer_zoom_batch_is_refused(state_path: Path) -> None:
    StateStore.open(state_path, account_id=ACCOUNT, run_id="r").close()
    with sqlite3.connect(state_path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(StateError) as caught:
        StateStore.open(state_path, account_id=ACCOUNT, run_id="r")
    assert str(caught.value) == (
        f"{state_path} was written by a newer zoom-batch (state schema 99; this one reads up to "
        f"{SCHEMA_VERSION}) — upgrade zoom-batch or pass --state"
    )


def test_new_store_creates_its_folders_with_private_permissions(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "s.sqlite3"
    StateStore.open(path, account_id=ACCOUNT, run_id="r").close()
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.close()
    assert meta["account_id"] == ACCOUNT
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert mode == "wal"
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600


# --- where it lives -----------------------------------------------------------------------------


def test_default_path_honours_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_path("Acct_123-xyz", platform="linux") == (
        tmp_path / "xdg" / "zoom-batch" / "Acct_123-xyz.sqlite3"
    )


@pytest.mark.parametrize("xdg", ["", "relative/state"])
def test_default_path_falls_back_to_local_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", xdg)
    assert default_state_path("A1", platform="linux") == (
        tmp_path / ".local" / "state" / "zoom-batch" / "A1.sqlite3"
    )


def test_default_path_on_macos_and_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_path("A1", platform="darwin") == (
        tmp_path / "Library" / "Application Support" / "zoom-batch" / "A1.sqlite3"
    )
    env = {"LOCALAPPDATA": str(tmp_path / "Local")}
    assert default_state_path("A1", environ=env, platform="win32") == (
        tmp_path / "Local" / "zoom-batch" / "A1.sqlite3"
    )


@pytest.mark.parametrize(
    ("account_id", "stem"),
    [
        ("../../etc/passwd", "etc_passwd-"),
        ("acct id/é", "acct_id-"),
        ("CON", "CON-"),
        ("-leading", "leading-"),
        ("...", "account-"),
    ],
)
def test_unsafe_account_ids_become_readable_part_plus_hash(account_id: str, stem: str) -> None:
    name = default_state_path(account_id, environ={}, platform="linux").name
    assert re.fullmatch(re.escape(stem) + r"[0-9a-f]{16}\.sqlite3", name), name
    # Different ids never share a file.
    other = default_state_path(account_id + "x", environ={}, platform="linux").name
    assert other != name


# -- schema 2: one migration for URL validators and removal records ---------------------------


def _schema_1_store(path: Path) -> None:
    """A store as zoom-batch 0.1 wrote it (schema 1), with one upload."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE uploads (user_key TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
        " uploaded_at TEXT NOT NULL, run_id TEXT NOT NULL) WITHOUT ROWID;"
        f"INSERT INTO meta VALUES ('schema_version', '1'), ('account_id', '{ACCOUNT}');"
        f"INSERT INTO uploads VALUES ('ada@example.com', '{SHA_A}', '2026-11-27T02:00:00Z', 'r0');"
    )
    conn.commit()
    conn.close()


def _schema_version(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    finally:
        conn.close()
    return str(version[0])


def test_a_schema_1_store_upgrades_in_place_and_keeps_its_uploads(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _schema_1_store(path)
    # A forecast reads it as it is, and leaves it so.
    peeked = StateStore.peek(path)
    assert peeked is not None
    assert peeked.url_record("https://hr.example.com/a.jpg") is None
    assert peeked.last_upload("ada@example.com") is not None
    peeked.close()
    assert _schema_version(path) == "1"

    with StateStore.open(path, account_id=ACCOUNT, run_id="r1") as store:
        record = store.last_upload("ada@example.com")
        assert record is not None and record.sha256 == SHA_A
        store.record_url("https://hr.example.com/a.jpg", ('"e1"', None, SHA_A, 10, SHA_A, "as is"))
        store.forget_upload("ada@example.com")
        assert store.last_upload("ada@example.com") is None
        assert store.removed_at("ada@example.com") is not None
    assert _schema_version(path) == "2"
    with StateStore.open(path, account_id=ACCOUNT, run_id="r2") as store:
        assert store.url_record("https://hr.example.com/a.jpg") == (
            '"e1"',
            None,
            SHA_A,
            10,
            SHA_A,
            "as is",
        )
