"""Zoom as it is in 2026: granular scopes, tokens that stop working, answers that must stop a run.

Each test drives the real ``zoom-batch`` command and HTTP stack against the simulator playing
one of the behaviours ZOOM_API.md describes (issue 13).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from batch._cli import build_parser

from .conftest import (
    Photos,
    make_jpeg,
    report_rows,
    sim_args,
    sim_env,
    status_counts,
    write_manifest,
)

GRANULAR_READ_ONLY = "user:read:user:admin user:read:list_users:admin"


async def fetch_token(sim: Any) -> str:
    """A token from the simulator's OAuth endpoint, as an operator would get one by hand."""
    auth = aiohttp.encode_basic_auth(sim.options.client_id, sim.options.client_secret)
    params = {"grant_type": "account_credentials", "account_id": sim.options.account_id}
    async with (
        aiohttp.ClientSession() as session,
        session.post(sim.oauth_url, params=params, headers={"Authorization": auth}) as response,
    ):
        body = await response.json()
    return str(body["access_token"])


# -- 1. a token Zoom keeps refusing stops the run ---------------------------------------------


async def test_revoked_app_stops_the_run_within_a_few_requests(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(60)
    sim = await simulator(refuse_after=20, rate_limit=0)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim), "--report", str(report), "--quiet"],
        sim_env(sim),
    )
    assert outcome.code == 2
    rows = report_rows(report)
    assert len(rows) == 60
    assert status_counts(rows) == {"uploaded": 20, "not_attempted": 40}
    assert [r["status"] for r in rows[:20]] == ["uploaded"] * 20
    # The refusals: the requests in flight with the refused token, then one with the new one.
    assert sim.stats.unauthorized <= 10, sim.stats
    assert sim.stats.token_requests == 2  # the first token, one renewal, no more
    refused = [r for r in rows if r["http_status"] == "401"]
    assert refused and all(r["status"] == "not_attempted" for r in refused)
    assert "stopped: Zoom refuses the access token it has just issued" in outcome.err
    assert "check the app in the Zoom App Marketplace" in outcome.err
    summary = json.loads(report.with_suffix(".json").read_text())
    assert summary["exit_code"] == 2
    assert summary["stopped"].startswith("Zoom refuses the access token it has just issued")

    # The same command afterwards completes the job, once the app works again.
    sim2 = await simulator(rate_limit=0)
    again = await cli(
        ["run", str(batch.manifest), *sim_args(sim2), "--report", str(report), "--quiet"],
        sim_env(sim2),
    )
    assert again.code == 0
    assert status_counts(report_rows(report)) == {"skipped": 20, "uploaded": 40}


async def test_tokens_invalidated_by_newer_ones_are_resent_not_renewed(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    """Only the newest token valid, 4-second tokens: 200 uploads at 20/s all land, with a
    token request per renewal, not per row."""
    batch = photos(200)
    sim = await simulator(token_ttl=4, token_tolerance=0, rate_limit=20, latency_ms=100)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim), "--plan", "pro", "--report", str(report)],
        sim_env(sim),
    )
    assert outcome.code == 0, outcome.err
    assert status_counts(report_rows(report)) == {"uploaded": 200}
    assert sim.stats.uploads == 200
    # ~10.3 s of sending, a renewal every 3.6 s: 3 or 4 renewals, plus the first token.
    assert 3 <= sim.stats.token_requests <= 6, sim.stats


# -- 2. a missing scope stops the run before it sends anything -------------------------------


async def test_app_without_the_picture_scope_sends_nothing(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(5)
    sim = await simulator(scopes=GRANULAR_READ_ONLY)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(batch.manifest), *sim_args(sim), "--report", str(report)], sim_env(sim)
    )
    assert outcome.code == 2
    assert sim.stats.picture_requests == 0
    assert outcome.err.strip().splitlines() == [
        "zoom-batch: the Zoom app lacks the scope user:write:profile_picture:admin (older apps:"
        " user:write:admin): add it on the app's Scopes page in the Zoom App Marketplace, then"
        " run again (the token's scopes: user:read:list_users:admin user:read:user:admin)"
    ]
    assert not report.exists()


async def test_remove_needs_the_delete_scope(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(3)
    sim = await simulator(scopes="user:write:profile_picture:admin")
    outcome = await cli(["remove", str(batch.manifest), *sim_args(sim)], sim_env(sim))
    assert outcome.code == 2
    assert "lacks the scope user:delete:profile_picture:admin" in outcome.err
    assert sim.stats.picture_requests == 0


async def test_classic_scope_is_enough(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(3)
    sim = await simulator(scopes="user:read:admin user:write:admin")
    outcome = await cli(["run", str(batch.manifest), *sim_args(sim), "--quiet"], sim_env(sim))
    assert outcome.code == 0, outcome.err
    assert sim.stats.uploads == 3


async def test_scope_refusal_on_an_upload_stops_the_run(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    """A ready-made token has no scope field: Zoom's 4711 (400 or 401: unconfirmed) stops it."""
    for status in (400, 401):
        batch = photos(30)
        sim = await simulator(scopes=GRANULAR_READ_ONLY, scope_status=status, rate_limit=0)
        token = await fetch_token(sim)
        report = tmp_path / f"report-{status}.csv"
        outcome = await cli(
            [
                "run",
                str(batch.manifest),
                "--api-url",
                sim.api_url,
                "--report",
                str(report),
                "--concurrency",
                "4",
                "--quiet",
                "--no-state",
            ],
            {"ZOOM_ACCESS_TOKEN": token},
        )
        assert outcome.code == 2, outcome.err
        rows = report_rows(report)
        assert len(rows) == 30
        assert status_counts(rows) == {"not_attempted": 30}
        assert sim.stats.picture_requests <= 4  # the requests in flight, no more
        assert "lacks the scope user:write:profile_picture:admin" in outcome.err
        refused = [r for r in rows if r["zoom_code"] == "4711"]
        assert refused and all(r["tracking_id"] for r in refused)


# -- 3. a refused ZOOM_ACCESS_TOKEN exits 2 and says so ---------------------------------------


async def test_refused_access_token_exits_2_naming_it(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(10)
    sim = await simulator(rate_limit=0)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(batch.manifest), "--api-url", sim.api_url, "--report", str(report)],
        {"ZOOM_ACCESS_TOKEN": "expired-token-from-yesterday"},
    )
    assert outcome.code == 2
    assert (
        "stopped: Zoom refused the access token in ZOOM_ACCESS_TOKEN (invalid or expired)"
        in outcome.err
    )
    assert "expired-token-from-yesterday" not in outcome.err
    rows = report_rows(report)
    assert status_counts(rows) == {"not_attempted": 10}
    assert "expired-token-from-yesterday" not in report.read_text(encoding="utf-8-sig")


# -- 4. scope names -----------------------------------------------------------------------


def test_help_names_the_granular_scope_first() -> None:
    text = build_parser().format_help()
    assert "user:write:profile_picture:admin" in text
    assert text.index("user:write:profile_picture:admin") < text.index("user:write:admin")


def test_readme_names_the_granular_scope_first() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme.index("user:write:profile_picture:admin") < readme.index("user:write:admin")


# -- 5. no single header makes the pool wait without bound ------------------------------------


async def test_retry_after_hours_away_is_a_daily_limit(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for value, typed in (("86400", True), (later, False)):
        batch = photos(20)
        sim = await simulator(rate_limit=2, qps_retry_after=value, qps_type_header=typed)
        report = tmp_path / "report.csv"
        started = time.monotonic()
        outcome = await cli(
            ["run", str(batch.manifest), *sim_args(sim), "--rate", "20", "--report", str(report)],
            sim_env(sim),
        )
        assert time.monotonic() - started < 20
        assert outcome.code == 1, outcome.err
        rows = report_rows(report)
        assert len(rows) == 20
        assert "deferred" in status_counts(rows)
        assert "daily quota spent" in outcome.err
        assert "holding back 24 h" not in outcome.err


async def test_per_second_hold_is_bounded(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    """Retry-After: 600 on a per-second 429 holds at most min(60 s, the row's retry time);
    inf and 1e400 are not waits at all."""
    for value in ("600", "inf", "1e400"):
        batch = photos(12)
        sim = await simulator(rate_limit=4, qps_retry_after=value)
        report = tmp_path / "report.csv"
        started = time.monotonic()
        outcome = await cli(
            [
                "run",
                str(batch.manifest),
                *sim_args(sim),
                "--rate",
                "40",
                "--max-retry-time",
                "3",
                "--report",
                str(report),
                "--no-state",
            ],
            sim_env(sim),
        )
        assert time.monotonic() - started < 30, value
        assert "Traceback" not in outcome.err
        assert "internal error" not in outcome.err
        assert len(report_rows(report)) == 12
        assert outcome.code in (0, 1)


async def test_concurrency_429_does_not_cut_the_pace(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    """ "Too many concurrent requests" is about one user: that row backs off alone."""
    sim = await simulator(user_concurrency=1, latency_ms=1500, rate_limit=0)
    jpeg = make_jpeg(1)
    (tmp_path / "a.jpg").write_bytes(jpeg)
    manifest = write_manifest(tmp_path / "m.csv", [("busy@example.com", "a.jpg")])
    token = await fetch_token(sim)
    form = aiohttp.FormData()
    form.add_field("pic_file", jpeg, filename="a.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as session:
        # Another app's call on the same user, still in flight when ours arrives.
        other = asyncio.ensure_future(
            session.post(
                f"{sim.api_url}/users/busy@example.com/picture",
                data=form,
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        await asyncio.sleep(0.2)
        report = tmp_path / "report.csv"
        outcome = await cli(
            ["run", str(manifest), *sim_args(sim), "--report", str(report)], sim_env(sim)
        )
        (await other).release()
    assert outcome.code == 0, outcome.err
    assert sim.stats.concurrency_limited >= 1
    (row,) = report_rows(report)
    assert row["status"] == "uploaded"
    assert int(row["attempts"]) >= 2
    assert "holding back" not in outcome.err  # the account's pace was left alone


# -- 6. 2 MB means 2,000,000 bytes ------------------------------------------------------------


def padded_jpeg(size: int) -> bytes:
    data = make_jpeg(3)
    return data + b"\0" * (size - len(data))  # bytes after the end marker are ignored


async def test_two_megabytes_are_two_million_bytes(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    (tmp_path / "ok.jpg").write_bytes(padded_jpeg(2_000_000))
    (tmp_path / "big.jpg").write_bytes(padded_jpeg(2_000_001))
    manifest = write_manifest(
        tmp_path / "m.csv", [("ok@example.com", "ok.jpg"), ("big@example.com", "big.jpg")]
    )
    sim = await simulator(rate_limit=0)
    report = tmp_path / "report.csv"
    outcome = await cli(
        ["run", str(manifest), *sim_args(sim), "--report", str(report)], sim_env(sim)
    )
    assert outcome.code == 1
    ok, big = report_rows(report)
    assert ok["status"] == "uploaded"
    assert big["status"] == "invalid"
    assert big["message"] == (
        "file is 2,000,001 bytes; Zoom accepts at most 2 MB — shrink it or run with --fit"
    )


# -- 7. Zoom's tracking id ----------------------------------------------------------------


async def test_failed_rows_carry_zooms_tracking_id(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(4)
    known = frozenset(list(batch.files)[:2])
    sim = await simulator(users=known, rate_limit=0)
    report = tmp_path / "report.csv"
    log = tmp_path / "run.jsonl"
    outcome = await cli(
        [
            "run",
            str(batch.manifest),
            *sim_args(sim),
            "--report",
            str(report),
            "--log-format",
            "json",
            "--log-file",
            str(log),
        ],
        sim_env(sim),
    )
    assert outcome.code == 1
    rows = report_rows(report)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 2
    ids = {r["tracking_id"] for r in failed}
    assert len(ids) == 2 and all(i.startswith("v=2.0;") for i in ids)
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    in_log = {e["tracking_id"] for e in logged if e["event"] == "row_finished" and e["tracking_id"]}
    assert in_log == ids
