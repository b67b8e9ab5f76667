"""The picture's whole life end to end against the simulator: back up, undo, remove, audit,
check users — asserting what the simulator holds afterwards."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from batch._report import read_report

from .conftest import make_jpeg, make_png, sim_args, sim_env, write_manifest

OUT = ("--report", "a.xlsx", "--html", "a.html")


def users(n: int, domain: str = "example.com") -> list[str]:
    return [f"user{i:04d}@{domain}" for i in range(n)]


def photo_manifest(
    tmp_path: Path, people: list[str], seed: int = 100
) -> tuple[Path, dict[str, bytes]]:
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    files, rows = {}, []
    for i, user in enumerate(people):
        data = make_jpeg(seed + i)
        (folder / f"{i}.jpg").write_bytes(data)
        files[user] = data
        rows.append((user, f"photos/{i}.jpg"))
    return write_manifest(tmp_path / "manifest.csv", rows), files


async def test_backup_then_undo_puts_every_picture_back_byte_for_byte(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    people = users(8)
    before = {u: (make_png(i) if i % 2 else make_jpeg(50 + i)) for i, u in enumerate(people[:4])}
    sim = await simulator(rate_limit=0, users=frozenset(people), pictures=before)
    manifest, sent = photo_manifest(tmp_path, people)
    common = [*sim_args(sim), "--state", str(tmp_path / "s.sqlite3"), "--quiet"]
    backup = tmp_path / "backup"

    run = await cli(
        ["run", str(manifest), "--backup", str(backup), *common, "--report", "r.csv"],
        sim_env(sim),
    )
    assert run.code == 0, run.err
    assert sim.pictures == {u: sent[u] for u in people}
    assert sim.stats.user_reads == 8 and sim.stats.picture_downloads == 4
    with (backup / "backup.csv").open(encoding="utf-8", newline="") as handle:
        kept = list(csv.DictReader(handle))
    assert [r["user"] for r in kept] == people  # one line each, in order (one at a time here)
    assert [r["had_picture"] for r in kept] == ["yes"] * 4 + ["no"] * 4
    for row in kept[:4]:
        assert (backup / row["file"]).read_bytes() == before[row["user"]]
    assert all(r["file"] == r["sha256"] == "" for r in kept[4:])

    # A second run (a resume) never backs up our own upload: the first backup wins.
    again = await cli(
        ["run", str(manifest), "--backup", str(backup), *common, "--force", "--report", "r2.csv"],
        sim_env(sim),
    )
    assert again.code == 0, again.err
    assert (backup / "backup.csv").read_text().count("\n") == 9

    undo = await cli(["undo", str(backup), *common, "--report", "u.csv"], sim_env(sim))
    assert undo.code == 0, undo.err
    assert sim.pictures == before  # byte for byte; those who had none have none
    report = {r["user"]: r["status"] for r in read_report(tmp_path / "u.csv")}
    assert report == {u: ("restored" if u in before else "removed") for u in people}

    # The state store followed: the original manifest uploads every row again.
    rerun = await cli(["run", str(manifest), *common, "--report", "r3.csv"], sim_env(sim))
    assert rerun.code == 0, rerun.err
    assert {r["status"] for r in read_report(tmp_path / "r3.csv")} == {"uploaded"}


async def test_a_backup_that_fails_fails_its_row_and_nothing_is_uploaded(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    people = users(3)
    sim = await simulator(rate_limit=0, users=frozenset(people[:2]))
    manifest, _ = photo_manifest(tmp_path, people)
    outcome = await cli(
        [
            "run",
            str(manifest),
            "--backup",
            str(tmp_path / "b"),
            *sim_args(sim),
            "--no-state",
            "--quiet",
            "--report",
            "r.csv",
        ],
        sim_env(sim),
    )
    assert outcome.code == 1
    last = list(read_report(tmp_path / "r.csv"))[2]
    assert last["status"] == "failed"
    assert last["message"].startswith("not uploaded: the current picture could not be backed up")
    assert "no such user in this Zoom account" in last["message"]
    assert sim.stats.uploads == 2


async def test_audit_lists_every_user_of_every_status_with_has_picture(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    account = users(40)
    pictures = {u: make_jpeg(i) for i, u in enumerate(account[:10])}
    sim = await simulator(
        rate_limit=0,
        users=frozenset(account),
        pictures=pictures,
        user_statuses={account[39]: "pending", account[38]: "inactive"},
    )
    strangers = users(5, "elsewhere.com")
    listed = account[5:35] + strangers  # 35 rows, 5 of them not in Zoom
    manifest = write_manifest(tmp_path / "m.csv", [(u, "") for u in listed])
    outcome = await cli(
        ["audit", str(manifest), *sim_args(sim), "--quiet", "--report", "a.csv"], sim_env(sim)
    )
    assert outcome.code == 0, outcome.err
    rows = list(read_report(tmp_path / "a.csv"))
    assert len(rows) == 45
    found = {r["user"]: r for r in rows}
    for user in account:
        row = found[user]
        assert row["in_zoom"] == "yes"
        assert row["in_manifest"] == ("yes" if user in listed else "no")
        assert row["has_picture"] == ("yes" if user in pictures else "no")
    assert found[account[39]]["zoom_status"] == "pending"
    assert found[account[38]]["zoom_status"] == "inactive"
    assert found[account[0]]["zoom_status"] == "active"
    for user in strangers:
        assert (found[user]["in_zoom"], found[user]["in_manifest"]) == ("no", "yes")
    assert [r["user"] for r in rows[:35]] == listed  # the manifest's rows first, in its order
    assert sim.stats.uploads == 0 and sim.stats.user_reads == 40


async def test_audit_pages_through_large_accounts_and_writes_a_workbook(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    account = users(305)
    sim = await simulator(rate_limit=0, light_rate_limit=0, users=frozenset(account))
    manifest = write_manifest(tmp_path / "m.csv", [(account[0], "")])
    outcome = await cli(
        ["audit", str(manifest), *sim_args(sim), "--plan", "business", "--quiet", *OUT],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    assert sim.stats.user_lists == 2 + 2  # 300 + 5 active; one empty page for the others
    assert len(list(read_report(tmp_path / "a.xlsx"))) == 305
    assert (tmp_path / "a.html").is_file()


async def test_check_users_spends_no_upload_on_strangers(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    account = users(30)
    strangers = users(5, "elsewhere.com")
    sim = await simulator(
        rate_limit=0, users=frozenset(account), user_statuses={account[3]: "pending"}
    )
    manifest, _ = photo_manifest(tmp_path, account[:15] + strangers + account[15:])
    outcome = await cli(
        [
            "run",
            str(manifest),
            "--check-users",
            *sim_args(sim),
            "--no-state",
            "--quiet",
            "--report",
            "r.csv",
        ],
        sim_env(sim),
    )
    assert outcome.code == 1
    assert sim.stats.uploads == 30 and sim.stats.not_found == 0
    rows = {r["user"]: r for r in read_report(tmp_path / "r.csv")}
    for user in strangers:
        assert rows[user]["status"] == "invalid"
        assert rows[user]["message"].startswith("not a user of this Zoom account")
    assert "pending" in rows[account[3]]["message"]
