"""The whole job through the real CLI and HTTP stack, against the in-process simulator."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch._report import COLUMNS

from .conftest import (
    ROOT,
    Outcome,
    Photos,
    make_jpeg,
    run_subprocess,
    sha256,
    sim_args,
    sim_env,
    write_manifest,
)

SECRET = "sim-client-secret"


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        # Our columns first; the manifest's own (the samples' name, department) after them.
        assert tuple(reader.fieldnames or ())[: len(COLUMNS)] == COLUMNS
        return list(reader)


def assert_no_secret(outcome: Outcome, *paths: Path) -> None:
    texts = [outcome.out, outcome.err] + [p.read_text(encoding="utf-8-sig") for p in paths]
    for text in texts:
        assert SECRET not in text
        assert "Bearer " not in text


async def test_sixty_rows_with_unknown_users_and_missing_files(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(60)
    unknown = {f"user{i:04d}@example.com" for i in (5, 17, 42)}
    missing = {f"user{i:04d}@example.com" for i in (8, 33)}
    for user in missing:
        index = int(user[4:8])
        ext = "jpg" if index % 2 == 0 else "png"
        (tmp_path / f"photos/u{index:04d}.{ext}").unlink()
    sim = await simulator(users=frozenset(set(batch.files) - unknown), rate_limit=0)
    report = tmp_path / "out" / "report.csv"
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim), "--report", str(report), "--quiet"],
        sim_env(sim),
    )
    assert outcome.code == 1
    rows = read_report(report)
    assert [int(r["row"]) for r in rows] == list(range(1, 61))
    by_user = {r["user"]: r for r in rows}
    for user, data in batch.files.items():
        row = by_user[user]
        if user in unknown:
            assert row["status"] == "failed"
            assert (row["http_status"], row["zoom_code"]) == ("404", "1001")
            assert "no such user in this Zoom account" in row["message"]
            assert row["message"].endswith("(1 attempt)")
            assert user not in sim.received
        elif user in missing:
            assert row["status"] == "invalid"
            assert row["message"].startswith("file not found: photos/u")
            assert row["attempts"] == "0"
        else:
            assert row["status"] == "uploaded", row
            got = sim.received[user]
            assert got.sha256 == sha256(data) == row["sha256"]
            assert got.content_type == ("image/jpeg" if data[:2] == b"\xff\xd8" else "image/png")
            assert got.count == 1
    assert sim.stats.uploads == 55
    assert sim.stats.picture_requests == 58  # no request for a missing file
    summary = json.loads(report.with_suffix(".json").read_text())
    assert summary["counts"]["uploaded"] == 55
    assert summary["counts"]["failed"] == 3
    assert summary["counts"]["invalid"] == 2
    assert summary["requests_sent"] == 58
    assert summary["exit_code"] == 1
    assert_no_secret(outcome, report, report.with_suffix(".json"))
    assert not report.with_name("report.csv.partial").exists()


async def test_the_samples_run_with_simulate(cli: Any, tmp_path: Path) -> None:
    report = tmp_path / "samples.csv"
    outcome = await cli(
        ["run", str(ROOT / "samples" / "manifest.csv"), "--simulate", "--report", str(report)]
    )
    assert outcome.code == 1, outcome.err
    rows = read_report(report)
    assert len(rows) == 12
    statuses = [r["status"] for r in rows]
    assert statuses.count("uploaded") == 10
    failed = {r["user"]: r["message"] for r in rows if r["status"] != "uploaded"}
    assert "User does not exist" in failed["former.employee@example.com"]
    assert any("web page (HTML)" in m for m in failed.values())
    assert str(report) in outcome.err  # the closing text names the report
    assert_no_secret(outcome, report)


async def test_yaml_samples_give_the_same_rows(cli: Any, tmp_path: Path) -> None:
    report = tmp_path / "yaml.csv"
    outcome = await cli(
        ["run", str(ROOT / "samples" / "manifest.yaml"), "--simulate", "--report", str(report)]
    )
    assert outcome.code == 1
    assert [r["status"] for r in read_report(report)].count("uploaded") == 10


async def test_one_token_request_for_many_workers(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    batch = photos(40)
    sim = await simulator(rate_limit=0, latency_ms=20)
    outcome = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim),
            "--concurrency",
            "16",
            "--rate",
            "1000",
            "--report",
            str(tmp_path / "r.csv"),
        ],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    assert sim.stats.token_requests == 1
    assert sim.stats.uploads == 40


async def test_faults_and_short_tokens_still_upload_every_row_exactly(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    batch = photos(80)
    sim = await simulator(
        rate_limit=0, fail_rate=0.10, drop_rate=0.05, token_ttl=1, seed=7, latency_ms=5
    )
    report = tmp_path / "r.csv"
    outcome = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim),
            "--rate",
            "60",
            "--report",
            str(report),
            "--max-attempts",
            "8",
        ],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    rows = read_report(report)
    assert {r["status"] for r in rows} == {"uploaded"}
    for user, data in batch.files.items():
        assert sim.received[user].sha256 == sha256(data)
    assert sim.stats.server_errors + sim.stats.dropped > 0
    assert sum(int(r["attempts"]) for r in rows) == sim.stats.picture_requests
    assert sim.stats.token_requests >= 2  # 80 rows at 60/s outlive a 1 s token


async def test_daily_quota_defers_the_rest(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    batch = photos(60)
    sim = await simulator(rate_limit=0, daily_limit=30)
    report = tmp_path / "r.csv"
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim), "--rate", "200", "--report", str(report)],
        sim_env(sim),
    )
    assert outcome.code == 1
    rows = read_report(report)
    statuses = [r["status"] for r in rows]
    assert statuses.count("uploaded") == 30
    assert statuses.count("deferred") == 30
    assert sim.stats.daily_limited < 10  # requests after the first daily 429
    deferred = next(r for r in rows if r["status"] == "deferred")
    assert "daily limit" in deferred["message"]
    assert "00:00 UTC" in deferred["message"]
    assert "deferred" in outcome.err


async def test_missing_credentials_exit_2_naming_the_variables(
    photos: Callable[..., Photos], cli: Any, tmp_path: Path
) -> None:
    batch = photos(2)
    outcome = await cli(["run", str(batch.manifest)], {"ZOOM_CLIENT_ID": "x"})
    assert outcome.code == 2
    assert outcome.err.strip().splitlines() == [
        "zoom-batch: missing Zoom credentials: set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_SECRET"
        " (a Server-to-Server OAuth app with the scope user:write:profile_picture:admin or,"
        " on older apps, user:write:admin), or ZOOM_ACCESS_TOKEN;"
        " or try --simulate"
    ]
    assert not (tmp_path / "reports").exists()


async def test_refused_credentials_exit_2(
    photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(2)
    sim = await simulator()
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim)],
        sim_env(sim, ZOOM_CLIENT_SECRET="wrong-secret"),
    )
    assert outcome.code == 2
    assert "Zoom refused the credentials (HTTP 401: Invalid client_id or client_secret)" in (
        outcome.err
    )
    assert "wrong-secret" not in outcome.err
    assert sim.stats.picture_requests == 0


async def test_skip_unchanged_and_resend_only_changed(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    batch = photos(20)
    sim = await simulator(rate_limit=0)
    args = ["run", str(batch.manifest), *sim_args(sim), "--rate", "500", "--quiet"]
    first = await cli([*args, "--report", str(tmp_path / "1.csv")], sim_env(sim))
    assert first.code == 0
    assert sim.stats.picture_requests == 20
    second = await cli([*args, "--report", str(tmp_path / "2.csv")], sim_env(sim))
    assert second.code == 0
    assert sim.stats.picture_requests == 20  # nothing sent
    rows = read_report(tmp_path / "2.csv")
    assert {r["status"] for r in rows} == {"skipped"}
    assert rows[0]["message"].startswith("unchanged since 20")
    for i in (0, 2, 4):
        (tmp_path / f"photos/u{i:04d}.jpg").write_bytes(make_jpeg(1000 + i))
    third = await cli([*args, "--report", str(tmp_path / "3.csv")], sim_env(sim))
    assert third.code == 0
    assert sim.stats.picture_requests == 23
    assert [r["status"] for r in read_report(tmp_path / "3.csv")].count("uploaded") == 3
    forced = await cli([*args, "--force", "--report", str(tmp_path / "4.csv")], sim_env(sim))
    assert forced.code == 0
    assert sim.stats.picture_requests == 43


async def test_retry_failed_runs_only_what_was_left(
    photos: Callable[..., Photos], simulator: Any, cli: Any, tmp_path: Path
) -> None:
    batch = photos(10)
    users = sorted(batch.files)
    sim = await simulator(rate_limit=0, users=frozenset(users[2:]))
    args = ["run", str(batch.manifest), *sim_args(sim), "--rate", "500", "--no-state"]
    first = await cli([*args, "--report", str(tmp_path / "1.csv")], sim_env(sim))
    assert first.code == 1
    assert "--retry-failed" in first.err
    sim2 = await simulator(rate_limit=0)  # now every user exists
    retry = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim2),
            "--rate",
            "500",
            "--no-state",
            "--retry-failed",
            str(tmp_path / "1.csv"),
            "--report",
            str(tmp_path / "2.csv"),
        ],
        sim_env(sim2),
    )
    assert retry.code == 0, retry.err
    assert sim2.stats.picture_requests == 2
    rows = read_report(tmp_path / "2.csv")
    assert len(rows) == 10
    assert [r["status"] for r in rows].count("uploaded") == 2
    assert [r["status"] for r in rows].count("skipped") == 8


async def test_dry_run_needs_no_credentials_and_sends_nothing(
    photos: Callable[..., Photos], cli: Any, tmp_path: Path
) -> None:
    batch = photos(6)
    (tmp_path / "photos/u0001.png").write_bytes(b"GIF89a" + b"\0" * 20)
    for command in (["run", str(batch.manifest), "--dry-run"], ["validate", str(batch.manifest)]):
        report = tmp_path / f"{command[0]}.csv"
        outcome = await cli([*command, "--report", str(report)])
        assert outcome.code == 1
        rows = read_report(report)
        assert [r["status"] for r in rows] == [
            "valid",
            "invalid",
            "valid",
            "valid",
            "valid",
            "valid",
        ]
        assert "5 valid rows" in outcome.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "the following arguments are required: MANIFEST"),
        (["run", "m.csv", "--plan", "gold"], "argument --plan: invalid choice: 'gold'"),
        (["run", "m.csv", "--rate", "fast"], "argument --rate: invalid float value: 'fast'"),
        (["run", "m.csv", "--rate", "0"], "--rate: must be a positive number, got 0.0"),
        (["run", "m.csv", "--concurrency", "0"], "--concurrency: must be at least 1, got 0"),
        (["run", "nope.csv", "--simulate"], "nope.csv: manifest not found"),
        (["run", "m.csv", "--config", "nope.yaml"], "nope.yaml: config file not found"),
    ],
)
async def test_setup_problems_exit_2_with_one_line(
    cli: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    write_manifest(tmp_path / "m.csv", [("a@example.com", "a.jpg")])
    outcome = await cli(args)
    assert outcome.code == 2
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert "Traceback" not in outcome.err


async def test_bad_config_key_names_the_key(cli: Any, tmp_path: Path) -> None:
    write_manifest(tmp_path / "m.csv", [("a@example.com", "a.jpg")])
    (tmp_path / "c.yaml").write_text("plan: pro\nconcurency: 4\n")
    outcome = await cli(["run", "m.csv", "--config", "c.yaml"])
    assert outcome.code == 2
    # A near miss gets the setting it resembles.
    expected = "zoom-batch: c.yaml: unknown setting 'concurency' — did you mean 'concurrency'?"
    assert outcome.err.strip() == expected
    (tmp_path / "c.yaml").write_text("plan: platinum\n")
    outcome = await cli(["run", "m.csv", "--config", "c.yaml"])
    assert outcome.err.strip() == (
        "zoom-batch: c.yaml: plan: expected one of free, pro, business; got 'platinum'"
    )


async def test_version_and_help() -> None:
    outcome = await run_subprocess(["--version"], {}, ROOT)
    assert outcome.code == 0
    assert outcome.out.startswith("zoom-batch 0.")
    outcome = await run_subprocess(["run", "--help"], {}, ROOT)
    assert outcome.code == 0
    assert "--simulate" in outcome.out and "examples:" in outcome.out


async def test_an_unwritable_contact_sheet_is_a_warning_not_a_failed_run(
    photos: Callable[..., Photos], cli: Any, tmp_path: Path
) -> None:
    batch = photos(3)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    report = tmp_path / "r.csv"
    outcome = await cli(
        [
            "validate",
            str(batch.manifest),
            "--report",
            str(report),
            "--html",
            str(tmp_path / "blocker" / "sheet.html"),
        ]
    )
    assert outcome.code == 0
    assert "warning: --html: cannot write" in outcome.err
    summary = json.loads(report.with_suffix(".json").read_text())
    assert summary["html_path"] is None
    assert summary["warnings"] == [
        line.removeprefix("warning: ")
        for line in outcome.err.splitlines()
        if line.startswith("warning: ")
    ]
