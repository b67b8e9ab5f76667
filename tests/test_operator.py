"""What the operator sees, end to end through the real ``zoom-batch`` command.

The live display on a real pseudo-terminal, plain lines in a pipe, ``--quiet``, the JSON event
log, the HTML contact sheet, ``scan`` and ``simulate``: each driven as a person or cron would.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from batch import Simulator, SimulatorOptions
from batch._models import RunSummary, Status
from batch.ui import closing_text

from .conftest import (
    ROOT,
    Photos,
    chromium_screenshot,
    make_jpeg,
    make_png,
    sim_args,
    sim_env,
    write_manifest,
)

ZOOM_BATCH = Path(sys.executable).with_name("zoom-batch")
SECRET = "sim-client-secret"

ERASE_LINE_ABOVE = "\x1b[1A\x1b[2K"  # cursor up, erase line: a redraw in place
ESCAPE = "\x1b"
SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOUR_PARAMS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}
STATUS_LINE = re.compile(r"\d+/\d+ \(\d+%\) · \d+\.\d/s of \d+\.\d/s · eta \d+s")
HOLDING = re.compile(r"holding back \d+\.\d s: rate limited \(429\) — pace now \d+\.\d/s")
PROGRESS = re.compile(
    r"progress \d+/28 \(\d+%\) · \d+\.\d/s of \d+\.\d/s · eta \d+s · uploaded \d+"
)
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SLOW = re.compile(
    r"slow: Zoom answered 'too many requests' and the pace was cut (once|\d+ times), down to"
    r" \d+\.\d/s of 19\.4/s: another app or integration may be using this account's rate limit"
    r" \(every app on the account shares it\); lower --rate to leave it room, or run when it is"
    r" quiet"
)


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Captured:
    code: int
    out: str
    err: str  #: what reached the terminal (``\r\n`` made ``\n``), or the stderr pipe


def command_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without Zoom, colour or terminal settings; state in tmp_path."""
    dropped = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLORTERM")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ZOOM_") and k not in dropped and k not in ("COLUMNS", "LINES")
    }
    env.update(
        TERM="xterm-256color",
        COLUMNS="100",
        XDG_STATE_HOME=str(tmp_path / "state-home"),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


async def zoom_batch(
    args: list[str], env: dict[str, str], cwd: Path, *, terminal: bool = False
) -> Captured:
    """Run the installed command; with ``terminal`` its stderr is a pseudo-terminal."""
    if not terminal:
        process = await asyncio.create_subprocess_exec(
            str(ZOOM_BATCH),
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return Captured(process.returncode, out.decode(), err.decode())

    master, slave = pty.openpty()
    received: list[bytes] = []

    def read() -> None:  # drained as it comes, so a full pty buffer never blocks the command
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once every slave end is closed
                return
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process = await asyncio.create_subprocess_exec(
            str(ZOOM_BATCH),
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            cwd=cwd,
        )
    finally:
        os.close(slave)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        await asyncio.to_thread(reader.join, 5)
    finally:
        os.close(master)
    assert process.returncode is not None
    # The terminal's line discipline turns each \n into \r\n.
    return Captured(
        process.returncode, out.decode(), b"".join(received).decode().replace("\r\n", "\n")
    )


def closing_from_summary(summary_json: Path, manifest: str, again: Sequence[str] = ()) -> str:
    """The closing text the run's JSON summary calls for, without what only the run's events
    tell (the problem rows, a slow run's explanation); ``again``: the run's own words."""
    data = json.loads(summary_json.read_text(encoding="utf-8"))
    del data["problems"]
    counts = {Status(s): n for s, n in data.pop("counts").items() if n}
    return closing_text(RunSummary(counts=counts, **data), manifest=manifest, again=again)


def colour_codes(text: str) -> list[str]:
    """SGR sequences that set a colour (bold, dim and resets are not colour)."""
    return [
        m.group(0)
        for m in SGR.finditer(text)
        if any(p and int(p) in COLOUR_PARAMS for p in m.group(1).split(";"))
    ]


def record_tokens(sim: Simulator) -> list[str]:
    """Every access token the simulator hands out, as sent; call before the simulator starts."""
    issued: list[str] = []

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        body = getattr(response, "body", None)
        if request.path == "/oauth/token" and response.status == 200 and isinstance(body, bytes):
            issued.append(json.loads(body)["access_token"])

    sim.app.on_response_prepare.append(on_prepare)
    return issued


# --- 1. live progress, plain lines, NO_COLOR ------------------------------------------------


async def test_a_terminal_gets_a_live_display_redrawn_in_place_and_the_hold(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any
) -> None:
    batch = photos(15)
    sim = await simulator(rate_limit=5, latency_ms=30)  # below the run's pace: 429s will come
    args = ["run", "manifest.csv", *sim_args(sim), "--rate", "20", "--report", "r.csv"]
    result = await zoom_batch(
        args, command_env(tmp_path, **sim_env(sim)), batch.manifest.parent, terminal=True
    )

    assert result.code == 0, result.err
    assert result.out == ""
    assert sim.stats.rate_limited > 0
    text = result.err
    assert text.count(ERASE_LINE_ABOVE) >= 4  # redrawn in place, not appended
    assert STATUS_LINE.search(text)  # done/total, pace against target, eta
    assert "15/15 (100%)" in text
    assert re.search(r"\nuploaded (\d+)\n", text)  # counts per status under the bar
    assert HOLDING.search(text)  # the hold after a 429 is on screen
    assert colour_codes(text)  # a colour terminal gets colour
    # The display is erased and the closing text printed in its place; the simulator took a
    # quarter of the pace asked for, and the end says why the run was slow.
    closing, slow = text.rsplit("\x1b[2K", 1)[1].rsplit("\n\n", 1)
    assert closing == closing_from_summary(tmp_path / "r.json", "manifest.csv")
    assert SLOW.fullmatch(slow.removesuffix("\n")), slow


async def test_no_color_keeps_the_redraws_and_drops_the_colour(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any
) -> None:
    batch = photos(12)
    sim = await simulator(rate_limit=0, latency_ms=20)
    args = ["run", "manifest.csv", *sim_args(sim), "--rate", "10", "--report", "r.csv"]
    env = command_env(tmp_path, NO_COLOR="1", **sim_env(sim))
    result = await zoom_batch(args, env, batch.manifest.parent, terminal=True)

    assert result.code == 0, result.err
    assert ERASE_LINE_ABOVE in result.err
    assert "12/12 (100%)" in result.err
    assert colour_codes(result.err) == []


async def test_a_pipe_gets_plain_lines_every_few_seconds_and_no_escape_codes(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any
) -> None:
    batch = photos(28)
    sim = await simulator(rate_limit=5, latency_ms=30)  # 28 rows at 5/s or less: over 5 s
    args = ["run", "manifest.csv", *sim_args(sim), "--rate", "20", "--report", "r.csv"]
    result = await zoom_batch(args, command_env(tmp_path, **sim_env(sim)), batch.manifest.parent)

    assert result.code == 0, result.err
    assert result.out == ""
    assert ESCAPE not in result.err and "\r" not in result.err
    closing = closing_from_summary(tmp_path / "r.json", "manifest.csv")
    before, slow = result.err.removesuffix("\n").rsplit("\n\n", 1)
    assert SLOW.fullmatch(slow), slow  # 429s held the run to a quarter of its pace
    assert before.endswith("\n" + closing)
    lines = before[: -len(closing) - 1].split("\n")
    assert lines[0] == "run started: 28 rows at 19.4/s"  # --rate 20 less the pacer's headroom
    progress = [line for line in lines[1:] if line.startswith("progress ")]
    holds = [line for line in lines[1:] if line.startswith("holding back ")]
    took = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["duration_s"]
    assert 1 <= len(progress) <= took // 5, lines  # one line per 5 s, not one per row
    assert PROGRESS.fullmatch(progress[0]), progress
    assert holds
    for line in holds:
        assert HOLDING.fullmatch(line), line
    assert len(lines) == 1 + len(progress) + len(holds)


# --- 2. the closing text -----------------------------------------------------------------------


async def test_quiet_prints_exactly_the_closing_summary_with_the_next_step(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(5)
    sim = await simulator(
        rate_limit=0, users=frozenset(set(batch.files) - {"user0003@example.com"})
    )
    report = "reports/tonight.csv"
    outcome = await cli(
        ["run", "manifest.csv", *sim_args(sim), "--report", report, "--quiet"], sim_env(sim)
    )

    assert outcome.code == 1
    assert outcome.out == ""
    again = ["run", "manifest.csv", *sim_args(sim)]
    closing = closing_from_summary(tmp_path / "reports/tonight.json", "manifest.csv", again)
    table, step = closing.split("\n\n")
    lines = outcome.err.split("\n")
    assert outcome.err == "\n\n".join([table, lines[7], step]) + "\n"  # and the failed row
    assert lines[:3] == [
        "uploaded      4",
        "failed        1",
        "total         5",
    ]
    assert re.fullmatch(r"duration      (<1 s|\d s)( at \d+\.\d/s \(target 19\.4/s\))?", lines[3])
    assert lines[4:] == [
        "report CSV    reports/tonight.csv",
        "JSON summary  reports/tonight.json",
        "",
        # The problem rows, cut to 100 columns; no word of 429s, as there were none.
        "  row 4  user0003@example.com: no such user in this Zoom account: User does not exist:"
        " user0003@exa…",
        "",
        # The run's own flags are repeated: the pasted command goes where this run went.
        "1 row failed — fix them, then: zoom-batch run manifest.csv"
        f" --api-url {sim.api_url} --oauth-url {sim.oauth_url} --retry-failed reports/tonight.csv",
        "",
    ]


# --- 3. logs for machines ----------------------------------------------------------------------


async def test_json_log_file_has_one_object_per_event_and_no_secret(
    tmp_path: Path, photos: Callable[..., Photos], cli: Any
) -> None:
    batch = photos(20)
    sim = Simulator(SimulatorOptions(rate_limit=10, token_ttl=1, latency_ms=20))
    issued = record_tokens(sim)
    log = tmp_path / "logs" / "run.jsonl"  # folders are created, as for the report
    async with sim:
        outcome = await cli(
            [
                "run",
                "manifest.csv",
                *sim_args(sim),
                "--rate",
                "20",
                "--report",
                "r.csv",
                "--html",
                "sheets/r.html",
                "--log-format",
                "json",
                "--log-file",
                str(log),
            ],
            sim_env(sim),
        )

    assert outcome.code == 0, outcome.err
    assert outcome.out == ""  # the events went to the file
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    for record in records:
        assert ISO_MS.fullmatch(record["ts"]), record
    events = [r["event"] for r in records]
    assert events[0] == "run_started"
    assert events[-1] == "run_summary"
    assert events.count("run_summary") == 1
    rows = [r for r in records if r["event"] == "row_finished"]
    assert sorted(r["row"] for r in rows) == list(range(1, 21))
    assert {r["status"] for r in rows} == {"uploaded"}
    assert {r["user"] for r in rows} == set(batch.files)
    assert events.count("token_renewed") >= 1  # 1 s tokens over a 2 s run
    assert events.count("backoff_started") >= 1  # the simulator allows 10/s, the run asks 20
    assert events.count("backoff_ended") >= 1
    assert set(events) == {
        "run_started",
        "row_finished",
        "token_renewed",
        "backoff_started",
        "backoff_ended",
        "run_summary",
    }
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    last = records[-1]
    assert last["counts"] == {"uploaded": 20}
    assert (last["exit_code"], last["total"], last["report_path"]) == (0, 20, "r.csv")
    assert last["requests_sent"] == summary["requests_sent"] == sim.stats.picture_requests

    assert len(issued) == sim.stats.token_requests >= 2
    texts = [outcome.out, outcome.err]
    texts += [
        (tmp_path / name).read_text(encoding="utf-8-sig")
        for name in ("logs/run.jsonl", "r.csv", "r.json", "sheets/r.html")
    ]
    for text in texts:
        assert SECRET not in text
        for token in issued:
            assert token not in text


async def test_json_log_without_a_file_goes_to_stdout(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    photos(3)
    sim = await simulator(rate_limit=0)
    outcome = await cli(
        [
            "run",
            "manifest.csv",
            *sim_args(sim),
            "--report",
            "r.csv",
            "--quiet",
            "--log-format",
            "json",
        ],
        sim_env(sim),
    )

    assert outcome.code == 0, outcome.err
    events = [json.loads(line)["event"] for line in outcome.out.splitlines()]
    assert events == ["run_started", *["row_finished"] * 3, "run_summary"]
    assert outcome.err == closing_from_summary(tmp_path / "r.json", "manifest.csv") + "\n"


# --- 4. the contact sheet ----------------------------------------------------------------------

CARD = re.compile(
    r'<article class="card st-([a-z-]+)">(.*?)<div class="user">(.*?)</div>.*?</article>'
)


async def test_html_contact_sheet_shows_every_row_problems_first(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    (tmp_path / "photos").mkdir()
    for name, data in (
        ("ada.jpg", make_jpeg(1, (120, 160))),
        ("former.png", make_png(2, (120, 120))),
        ("grace.jpg", make_jpeg(3, (160, 120))),
        ("alan.png", make_png(4, (100, 100))),
    ):
        (tmp_path / "photos" / name).write_bytes(data)
    (tmp_path / "photos/frances.jpg").write_text(
        "<!DOCTYPE html><html><body>Sign in to view this photo</body></html>\n"
    )
    rows = [
        ("ada@example.com", "photos/ada.jpg"),
        ("former.employee@example.com", "photos/former.png"),
        ("grace@example.com", "photos/grace.jpg"),
        ("frances@example.com", "photos/frances.jpg"),
        ("alan@example.com", "photos/alan.png"),
    ]
    write_manifest(tmp_path / "manifest.csv", rows)
    known = frozenset(user for user, _ in rows) - {"former.employee@example.com"}
    sim = await simulator(rate_limit=0, users=known)
    outcome = await cli(
        ["run", "manifest.csv", *sim_args(sim), "--report", "r.csv", "--html", "sheet.html"],
        sim_env(sim),
    )

    assert outcome.code == 1
    assert "HTML report   sheet.html" in outcome.err.splitlines()
    page = (tmp_path / "sheet.html").read_text(encoding="utf-8")
    cards = [(status, user) for status, _, user in CARD.findall(page)]
    assert cards == [
        ("failed", "former.employee@example.com"),
        ("invalid", "frances@example.com"),
        ("uploaded", "ada@example.com"),
        ("uploaded", "grace@example.com"),
        ("uploaded", "alan@example.com"),
    ]
    assert page.count("<article ") == 5
    thumbs = {user: thumb for _, thumb, user in CARD.findall(page)}
    for user, thumb in thumbs.items():
        if user == "frances@example.com":
            assert thumb.startswith('<div class="thumb ph ph-missing" role="img"'), thumb
        else:
            # Through a circle, as Zoom shows it, with the whole photo small beside it.
            assert thumb.startswith('<div class="pics"><img class="thumb avatar" src="data:'), thumb
    assert "no such user in this Zoom account" in page
    assert "web page (HTML)" in page
    assert re.search(r"https?://", page) is None  # self-contained: nothing to fetch

    shot = tmp_path / "sheet.png"
    command = chromium_screenshot(tmp_path / "sheet.html", shot, size=(1280, 1600))
    if command is None:
        pytest.skip("chromium is not installed: the page is not rendered")
    render = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await asyncio.wait_for(render.wait(), 60)
    with Image.open(shot) as image:
        assert image.size == (1280, 1600)
        colours: list[tuple[int, tuple[int, int, int]]] | None
        colours = image.convert("RGB").getcolors(1_000_000)  # type: ignore[assignment]
    assert colours is not None and len(colours) > 50  # text, pictures, badges: not blank
    red = sum(n for n, (r, g, b) in colours if r > 180 and g < 70 and b < 70)
    assert red > 500  # the failed card's accent (#c62828) is drawn


# --- 5. scan -----------------------------------------------------------------------------------


async def test_scan_builds_a_manifest_that_validates(tmp_path: Path, cli: Any) -> None:
    folder = tmp_path / "hr-export"
    (folder / "archive").mkdir(parents=True)
    (folder / "jane.doe.jpg").write_bytes(make_jpeg(1))
    (folder / "Bob@Example.com.JPG").write_bytes(make_jpeg(2))
    (folder / "JANE.DOE.png").write_bytes(make_png(3))
    (folder / "notes.txt").write_text("who is who\n")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    Image.new("RGB", (64, 64), (10, 120, 200)).save(folder / "carol.gif")

    outcome = await cli(["scan", "hr-export", "--domain", "example.com", "--output", "m.csv"])
    assert outcome.code == 1
    assert outcome.err == ""
    assert outcome.out.splitlines() == [
        "mapped 3 files → m.csv",
        "1 to convert:",
        "  hr-export/carol.gif: GIF is not JPEG or PNG: upload it with --fit",
        # Non-photos and sub-folders are noted, not "not mapped": only photos make exit 1.
        "ignored 1 file that is not a photo",
        "skipped 1 sub-folder (pass --recursive to scan it): hr-export/archive",
        "1 not mapped:",
        "  hr-export/JANE.DOE.png: duplicate of jane.doe.jpg (both are jane.doe@example.com)",
    ]
    assert (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines() == [
        "email,file",
        "bob@example.com,hr-export/Bob@Example.com.JPG",
        "carol@example.com,hr-export/carol.gif",
        "jane.doe@example.com,hr-export/jane.doe.jpg",
    ]

    checked = await cli(["validate", "m.csv", "--fit", "--report", "v.csv"])
    assert checked.code == 0, checked.err
    summary = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert summary["counts"]["valid"] == 3 == summary["total"]

    for name in ("archive", "JANE.DOE.png", "notes.txt"):
        path = folder / name
        path.rmdir() if path.is_dir() else path.unlink()
    kept = await cli(["scan", "hr-export", "--domain", "example.com", "--output", "m.csv"])
    assert (kept.code, kept.err.strip()) == (
        2,
        "zoom-batch: m.csv exists — pass --force to replace it, or --output another path",
    )
    clean = await cli(
        ["scan", "hr-export", "--domain", "example.com", "--output", "m.csv", "--force"]
    )
    assert clean.code == 0
    assert clean.out.splitlines()[0] == "mapped 3 files → m.csv"
    assert "not mapped" not in clean.out

    one = await cli(["scan", "hr-export", "--output", "one.csv"])
    assert one.code == 1
    assert one.out.splitlines()[0] == "mapped 1 file → one.csv"


# --- 6. simulate -------------------------------------------------------------------------------


async def test_simulate_serves_a_real_run_and_stops_on_ctrl_c(
    tmp_path: Path, photos: Callable[..., Photos], cli: Any
) -> None:
    photos(3)
    process = await asyncio.create_subprocess_exec(
        str(ZOOM_BATCH),
        "simulate",
        "--port",
        "0",
        "--rate-limit",
        "0",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=command_env(tmp_path),
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or banner[-1] != "Press Ctrl-C to stop.":
            line = await asyncio.wait_for(process.stdout.readline(), 20)
            assert line, banner
            banner.append(line.decode().rstrip("\n"))
        match = re.fullmatch(
            r"Zoom simulator listening on (http://127\.0\.0\.1:\d+)"
            r"  \(Medium rate limit: no limit\)",
            banner[0],
        )
        assert match, banner
        url = match.group(1)
        assert banner[1] == f"  --api-url {url}/v2 --oauth-url {url}/oauth/token"
        credentials = dict(pair.split("=", 1) for pair in banner[2].split())
        assert credentials == {
            "ZOOM_ACCOUNT_ID": "sim-account",
            "ZOOM_CLIENT_ID": "sim-client-id",
            "ZOOM_CLIENT_SECRET": SECRET,
        }

        outcome = await cli(
            ["run", "manifest.csv", *banner[1].split(), "--report", "r.csv", "--quiet"],
            credentials,
        )
        assert outcome.code == 0, outcome.err
        assert outcome.err.splitlines()[:2] == ["uploaded      3", "total         3"]

        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert out == b""
    assert err == b""
