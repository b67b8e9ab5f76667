"""The lifecycle jobs under the strains uploads are tested under: Ctrl-C and SIGTERM, kill -9
and resume, injected faults, 429s from both budgets, and their exit codes.

``run --backup``, ``undo``, ``remove`` and ``audit`` run through the real command line against
the in-process simulator; signals go to a spawned ``python -m batch`` (as in test_resume),
once rows show in the ``.partial`` report. Every test checks what the simulator holds after.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from batch._report import COLUMNS

from .conftest import Outcome, make_jpeg, make_png, sim_args, sim_env, spawn, write_manifest
from .test_resume import Spawn, by_status, finish, partial_of

#: Slow enough to signal mid-run, fast enough to keep each test near a second or two.
LATENCY_MS = 80.0
SIGNALS = [
    pytest.param(signal.SIGINT, 130, "interrupted (Ctrl-C)", id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, "terminated (SIGTERM)", id="SIGTERM"),
]
#: What a row the job did ends as.
DONE = {
    "backup": {"uploaded"},
    "undo": {"restored", "removed"},
    "remove": {"removed"},
    "audit": {"valid"},
}


@pytest.fixture
async def zoom_batch() -> AsyncIterator[Spawn]:
    """``await zoom_batch(args, env, cwd)``: a spawned run, killed at the end if still going."""
    started: list[Any] = []

    async def start(args: Any, env: dict[str, str], cwd: Path) -> Any:
        process = await spawn(args, env, cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.communicate()


def read_report(path: Path) -> list[dict[str, str]]:
    """A report's rows; its columns are the usual ones, then the job's own (backup.csv's,
    the audit's findings)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ())[: len(COLUMNS)] == COLUMNS
        return list(reader)


async def wait_for_rows(process: Any, report: Path, count: int, limit: float = 15) -> list[str]:
    """Poll the ``.partial`` report until ``count`` complete rows are in; their users."""
    deadline = time.monotonic() + limit
    while True:
        text = partial_of(report).read_text("utf-8-sig") if partial_of(report).exists() else ""
        rows = list(csv.reader(io.StringIO(text[: text.rfind("\n") + 1], newline="")))[1:]
        if len(rows) >= count:
            return [row[1] for row in rows]
        if process.returncode is not None:
            outcome = await finish(process)
            pytest.fail(f"the run ended (exit {outcome.code}) before {count} rows: {outcome.err}")
        assert time.monotonic() < deadline, f"only {len(rows)} rows after {limit} s"
        await asyncio.sleep(0.02)


def people(n: int, domain: str = "example.com") -> list[str]:
    return [f"user{i:04d}@{domain}" for i in range(n)]


def before_pictures(users: list[str]) -> dict[str, bytes]:
    """Every other user starts with a picture (JPEG and PNG alternating); the rest have none."""
    return {u: (make_png(i) if i % 4 else make_jpeg(500 + i)) for i, u in enumerate(users[::2])}


def photo_manifest(tmp_path: Path, users: list[str]) -> tuple[Path, dict[str, bytes]]:
    (tmp_path / "photos").mkdir(exist_ok=True)
    files, rows = {}, []
    for i, user in enumerate(users):
        files[user] = data = make_jpeg(100 + i)
        (tmp_path / "photos" / f"{i}.jpg").write_bytes(data)
        rows.append((user, f"photos/{i}.jpg"))
    return write_manifest(tmp_path / "manifest.csv", rows), files


def write_backup(folder: Path, users: list[str], kept: dict[str, bytes]) -> Path:
    """A backup folder as ``run --backup`` leaves it: ``kept`` had pictures, the rest none."""
    (folder / "pictures").mkdir(parents=True)
    with (folder / "backup.csv").open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("user", "file", "had_picture", "sha256", "backed_up_at"))
        for user in users:
            if user in kept:
                (folder / "pictures" / f"{user}.bin").write_bytes(kept[user])
                digest = hashlib.sha256(kept[user]).hexdigest()
                out.writerow((user, f"pictures/{user}.bin", "yes", digest, "2026-03-01T00:00:00Z"))
            else:
                out.writerow((user, "", "no", "", "2026-03-01T00:00:00Z"))
    return folder


def backed_up(folder: Path) -> dict[str, bytes | None]:
    """What ``backup.csv`` holds, each user once: the picture kept, or None (had none)."""
    with (folder / "backup.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found: dict[str, bytes | None] = {}
    for row in rows:
        assert row["user"] not in found, f"{row['user']} backed up twice"
        if row["had_picture"] == "yes":
            data = (folder / row["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row["sha256"]
            found[row["user"]] = data
        else:
            assert row["had_picture"] == "no" and row["file"] == ""
            found[row["user"]] = None
    return found


def common(sim: Any, tmp_path: Path, *extra: str) -> list[str]:
    return [*sim_args(sim), "--state", str(tmp_path / "state.sqlite3"), "--quiet", *extra]


def no_problem(outcome: Outcome, report: Path, *done: str) -> list[dict[str, str]]:
    """Exit 0 and every row of the report done (or skipped): none failed."""
    assert outcome.code == 0, outcome.err
    rows = read_report(report)
    assert {r["status"] for r in rows} <= {*done, "skipped"}, rows
    return rows


# -- SIGINT / SIGTERM, then the command that finishes the job ----------------------------------


def _signal_case(command: str, tmp_path: Path) -> tuple[dict[str, Any], list[str], list[str]]:
    """The simulator's options, the users, and the command's own words for ``command``."""
    users = people(16)
    if command == "backup":
        manifest, _ = photo_manifest(tmp_path, users)
        options = {"pictures": before_pictures(users)}
        words = ["run", str(manifest), "--backup", str(tmp_path / "backup")]
    elif command == "undo":
        kept = before_pictures(users)
        folder = write_backup(tmp_path / "backup", users, kept)
        options = {"pictures": {u: make_jpeg(900 + i) for i, u in enumerate(users)}}
        words = ["undo", str(folder)]
    elif command == "remove":
        manifest = write_manifest(tmp_path / "leavers.csv", [(u, "") for u in users])
        options = {"pictures": {u: make_jpeg(900 + i) for i, u in enumerate(users)}}
        words = ["remove", str(manifest)]
    else:  # audit: 12 of the manifest's rows in Zoom, 4 not; 4 Zoom users not in it
        account = people(16)[4:] + people(4, "other.example.com")
        manifest = write_manifest(tmp_path / "m.csv", [(u, "") for u in users])
        options = {"users": frozenset(account), "pictures": before_pictures(account)}
        words = ["audit", str(manifest)]
    return options, users, words


@pytest.mark.parametrize("command", ["backup", "undo", "remove", "audit"])
@pytest.mark.parametrize(("number", "code", "reason"), SIGNALS)
async def test_a_signal_mid_job_reports_every_row_and_the_next_run_finishes_it(
    tmp_path: Path,
    simulator: Any,
    zoom_batch: Spawn,
    cli: Any,
    command: str,
    number: signal.Signals,
    code: int,
    reason: str,
) -> None:
    options, users, words = _signal_case(command, tmp_path)
    sim = await simulator(rate_limit=0, light_rate_limit=0, latency_ms=LATENCY_MS, **options)
    start = dict(sim.pictures)
    report = tmp_path / "first.csv"
    args = [*words, *common(sim, tmp_path, "--concurrency", "2", "--report", str(report))]
    process = await zoom_batch(args, sim_env(sim), tmp_path)
    await wait_for_rows(process, report, 4)
    process.send_signal(number)
    outcome = await finish(process)
    assert outcome.code == code, outcome.err
    assert f"zoom-batch: {reason}: finishing" in outcome.err
    assert "Traceback" not in outcome.err

    rows = read_report(report)
    total = 20 if command == "audit" else 16
    assert [int(r["row"]) for r in rows] == list(range(1, total + 1))  # every row, once
    assert {r["status"] for r in rows} - DONE[command] == {"not_attempted"}, rows
    done = {r["user"] for r in rows if r["status"] in DONE[command]}
    left = by_status(rows, "not_attempted")
    assert len(done) >= 4 and len(left) >= 4
    for row in rows:
        if row["status"] == "not_attempted":
            assert row["message"].startswith(f"not sent: the run was {reason}"), row
    summary = json.loads(report.with_suffix(".json").read_text())
    assert summary["interrupted"] is True and summary["exit_code"] == code
    assert sum(summary["counts"].get(status, 0) for status in DONE[command]) == len(done)
    assert summary["counts"]["not_attempted"] == len(left)
    assert not partial_of(report).exists()
    if command == "remove":  # done means done at Zoom; untouched means untouched
        assert set(sim.pictures) == set(users) - done
    if command == "backup":  # rows not attempted were not uploaded; backups are originals
        kept = backed_up(tmp_path / "backup")
        assert done <= set(kept) and kept == {u: start.get(u) for u in kept}
        assert {u for u in users if sim.pictures.get(u) != start.get(u)} <= done

    # The documented way to finish: the same command (remove: --retry-failed that report).
    again = tmp_path / "again.csv"
    extra = ["--retry-failed", str(report)] if command == "remove" else []
    finished = await cli(
        [*words, *common(sim, tmp_path, "--concurrency", "8", "--report", str(again), *extra)],
        sim_env(sim),
    )
    rows = no_problem(finished, again, *DONE[command])
    assert len(rows) == total
    if command == "backup":
        # Rows done before are unchanged now; the backups are the pictures from before the
        # first run, the first backup of each user winning — never our own upload.
        assert by_status(rows, "skipped") == done
        assert backed_up(tmp_path / "backup") == {u: start.get(u) for u in users}
        _, sent = photo_manifest(tmp_path, users)
        assert sim.pictures == sent
    elif command == "undo":
        assert sim.pictures == {u: data for u, data in before_pictures(users).items()}
    elif command == "remove":
        assert by_status(rows, "skipped") == done
        assert by_status(rows, "removed") == left
        assert sim.pictures == {}
    else:
        everyone = [*users, *people(4, "other.example.com")]
        assert {r["user"]: r["has_picture"] for r in rows} == {
            u: ("yes" if u in start else "no") for u in everyone
        }
        assert {r["user"] for r in rows if r["in_zoom"] == "no"} == set(users[:4])


# -- kill -9 of run --backup, then the same command --------------------------------------------


async def test_kill_9_mid_backup_run_then_the_same_command_skips_the_done_and_keeps_originals(
    tmp_path: Path, simulator: Any, zoom_batch: Spawn, cli: Any
) -> None:
    users = people(20)
    before = before_pictures(users)
    sim = await simulator(rate_limit=0, light_rate_limit=0, latency_ms=LATENCY_MS, pictures=before)
    manifest, sent = photo_manifest(tmp_path, users)
    report, backup = tmp_path / "r.csv", tmp_path / "backup"
    args = ["run", str(manifest), "--backup", str(backup), "--concurrency", "3", "--report"]
    args = [*args, str(report), *common(sim, tmp_path)]
    process = await zoom_batch(args, sim_env(sim), tmp_path)
    killed = await wait_for_rows(process, report, 6)
    process.kill()
    assert await process.wait() == -signal.SIGKILL
    await finish(process)
    assert not report.exists()
    reported = set(killed)
    assert len(reported) == len(killed) < len(users)
    # What the killed run backed up is what was there before it: and no line is torn.
    kept = backed_up(backup)
    assert reported <= set(kept)
    assert kept == {u: before.get(u) for u in kept}

    again = await cli(args, sim_env(sim))
    rows = no_problem(again, report, "uploaded")
    assert [int(r["row"]) for r in rows] == list(range(1, len(users) + 1))
    assert reported <= by_status(rows, "skipped")
    # Users in flight at the kill are uploaded again, but never backed up again.
    assert backed_up(backup) == {u: before.get(u) for u in users}
    assert sim.pictures == sent
    # Undo from that folder puts the account back as it was before the first run.
    undo = await cli(
        ["undo", str(backup), *common(sim, tmp_path, "--report", str(tmp_path / "u.csv"))],
        sim_env(sim),
    )
    assert undo.code == 0, undo.err
    assert sim.pictures == before


# -- faults and 429s ---------------------------------------------------------------------------


async def _whole_life(sim: Any, tmp_path: Path, cli: Any, users: list[str], *extra: str) -> None:
    """``run --backup``, ``undo``, ``audit``, ``remove``: each exit 0, no row failed, and the
    simulator holding what each should leave."""
    before = dict(sim.pictures)
    manifest, sent = photo_manifest(tmp_path, users)
    backup = tmp_path / "backup"

    async def go(*words: str, report: str) -> Outcome:
        args = [*words, *common(sim, tmp_path, *extra, "--report", str(tmp_path / report))]
        return await cli(args, sim_env(sim))  # type: ignore[no-any-return]

    run = await go("run", str(manifest), "--backup", str(backup), report="run.csv")
    no_problem(run, tmp_path / "run.csv", "uploaded")
    assert sim.pictures == sent
    assert backed_up(backup) == {u: before.get(u) for u in users}

    undo = await go("undo", str(backup), report="undo.csv")
    rows = no_problem(undo, tmp_path / "undo.csv", "restored", "removed")
    assert by_status(rows, "removed") == set(users) - set(before)
    assert sim.pictures == before

    audit = await go("audit", str(manifest), report="audit.csv")
    rows = no_problem(audit, tmp_path / "audit.csv", "valid")
    assert {r["user"]: r["has_picture"] for r in rows} == {
        u: ("yes" if u in before else "no") for u in users
    }

    remove = await go("remove", str(manifest), report="remove.csv")
    no_problem(remove, tmp_path / "remove.csv", "removed")
    assert sim.pictures == {}


async def test_faults_are_retried_and_every_lifecycle_job_ends_done(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    users = people(8)
    sim = await simulator(
        rate_limit=0,
        light_rate_limit=0,
        fail_rate=0.15,
        drop_rate=0.1,
        seed=7,
        pictures=before_pictures(users),
    )
    # More tries than the default: with 1 call in 4 failing, 5 in a row would be a flake.
    await _whole_life(sim, tmp_path, cli, users, "--max-attempts", "12")
    assert sim.stats.server_errors > 0 and sim.stats.dropped > 0
    assert sim.stats.light_refused > 0  # the Light reads of the backup and the audit too


async def test_429s_of_both_budgets_hold_the_pace_and_no_row_fails(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    users = people(8)
    # Zoom allows far less than the plan (pro: 20/s Medium, 30/s Light) says.
    sim = await simulator(rate_limit=5, light_rate_limit=5, pictures=before_pictures(users))
    await _whole_life(sim, tmp_path, cli, users)
    assert sim.stats.rate_limited > 0
    assert sim.stats.light_rate_limited > 0


# -- exit codes --------------------------------------------------------------------------------


async def test_undo_of_a_folder_without_backup_csv_is_exit_2_one_line(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    sim = await simulator(rate_limit=0)
    (tmp_path / "empty").mkdir()
    outcome = await cli(["undo", str(tmp_path / "empty"), *common(sim, tmp_path)], sim_env(sim))
    assert outcome.code == 2
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1 and "backup.csv" in lines[0], lines
    assert sim.stats.picture_requests == sim.stats.light_requests == 0


async def test_run_with_a_backup_folder_that_cannot_be_made_is_exit_2_one_line(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    sim = await simulator(rate_limit=0)
    manifest, _ = photo_manifest(tmp_path, people(2))
    (tmp_path / "taken").write_text("a file, not a folder")
    args = ["run", str(manifest), "--backup", str(tmp_path / "taken"), *common(sim, tmp_path)]
    outcome = await cli(args, sim_env(sim))
    assert outcome.code == 2
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoom-batch: --backup: cannot use"), lines
    assert sim.stats.uploads == 0


async def test_audit_with_a_user_that_cannot_be_read_is_exit_1(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    users = people(6)
    sim = await simulator(rate_limit=0, light_rate_limit=0, users=frozenset(users))
    find = sim.accounts.find
    # Listed in Zoom, then gone when read (deleted between the listing and the read).
    sim.accounts.find = lambda user: None if user == users[2] else find(user)
    manifest = write_manifest(tmp_path / "m.csv", [(u, "") for u in users])
    outcome = await cli(
        ["audit", str(manifest), *common(sim, tmp_path, "--report", "a.csv")], sim_env(sim)
    )
    assert outcome.code == 1, outcome.err
    rows = {r["user"]: r for r in read_report(tmp_path / "a.csv")}
    assert rows[users[2]]["status"] == "failed"
    assert {r["status"] for u, r in rows.items() if u != users[2]} == {"valid"}
    assert json.loads((tmp_path / "a.json").read_text())["exit_code"] == 1


@pytest.mark.parametrize("command", ["remove", "undo"])
async def test_remove_and_undo_of_a_user_zoom_does_not_know_is_exit_1(
    tmp_path: Path, simulator: Any, cli: Any, command: str
) -> None:
    users = people(4)
    sim = await simulator(rate_limit=0, users=frozenset(users[:3]))
    if command == "remove":
        source = write_manifest(tmp_path / "m.csv", [(u, "") for u in users])
    else:
        source = write_backup(tmp_path / "backup", users, {users[0]: make_jpeg(1)})
    outcome = await cli(
        [command, str(source), *common(sim, tmp_path, "--report", "r.csv")], sim_env(sim)
    )
    assert outcome.code == 1, outcome.err
    rows = {r["user"]: r["status"] for r in read_report(tmp_path / "r.csv")}
    assert rows[users[3]] == "failed"
    assert rows[users[0]] == ("removed" if command == "remove" else "restored")


def test_help_of_each_lifecycle_command_shows_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from batch._cli import main

    for command, example in [
        ("run", "--backup backups/"),
        ("undo", "zoom-batch undo backups/"),
        ("remove", "zoom-batch remove leavers.csv"),
        ("audit", "zoom-batch audit photos.csv"),
    ]:
        assert main([command, "--help"]) == 0
        assert example in capsys.readouterr().out, command
