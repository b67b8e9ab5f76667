"""Jobs on the one engine: the pool with a job of its own, the upload job with fakes, and
``zoom-batch remove`` end to end against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from batch._exceptions import DailyLimitReached, InvalidRow, PermanentError
from batch._models import ImageFacts, ManifestRow, PreparedImage, RowResult, Status
from batch._pool import RunControl, WorkerPool
from batch._report import read_report
from batch._retry import Tries
from batch._state import StateStore
from batch.jobs import JobContext, RemoveJob, RowJob, RowNotes, UploadJob, row_result
from batch.photos import Checked

from .conftest import Photos, sim_args, sim_env, write_manifest


def rows(n: int) -> Iterator[ManifestRow]:
    for i in range(1, n + 1):
        yield ManifestRow(i, i + 1, f"user{i}@example.com", f"u{i}.jpg", Path(f"u{i}.jpg"))


# --- a job of the test's own: the pool knows nothing about pictures ---------------------------


class Echo(RowJob):
    """The smallest job: waits a little, fails row 3, stops the run at row ``halt_at``."""

    doing = "echoing"

    def __init__(self, context: JobContext, *, halt_at: int | None = None) -> None:
        super().__init__(context)
        self.halt_at = halt_at
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle(self, row: ManifestRow, tries: Tries, notes: RowNotes) -> RowResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001 * (row.row % 5))
            if row.row == 3:
                raise PermanentError("row three is refused", http_status=400)
            if row.row == self.halt_at:
                raise DailyLimitReached("daily limit", resets_at=None)
            return row_result(row, Status.VALID, f"echo {row.user}")
        finally:
            self.in_flight -= 1


async def run_pool(job: RowJob, n: int, workers: int) -> list[RowResult]:
    results: list[RowResult] = []
    pool = WorkerPool(job, workers=workers, control=job.control, sink=results.append)
    await pool.run(rows(n))
    return results


async def test_every_row_ends_once_and_in_flight_stays_bounded() -> None:
    job = Echo(JobContext(control=RunControl(), sender=None, state=None))
    results = await run_pool(job, 200, workers=7)
    assert sorted(r.row for r in results) == list(range(1, 201))
    assert 1 < job.most_in_flight <= 7
    by_row = {r.row: r for r in results}
    assert (by_row[3].status, by_row[3].message) == (
        Status.FAILED,
        "row three is refused (0 attempts)",
    )
    assert by_row[4].message == "echo user4@example.com" and by_row[4].line == 5


async def test_a_job_that_stops_the_run_has_the_rest_reported() -> None:
    control = RunControl()
    job = Echo(JobContext(control=control, sender=None, state=None), halt_at=50)
    results = await run_pool(job, 300, workers=4)
    assert sorted(r.row for r in results) == list(range(1, 301))
    deferred = [r for r in results if r.status is Status.DEFERRED]
    assert len(deferred) >= 250 and all("daily limit is spent" in r.message for r in deferred)
    assert control.stopping and not control.interrupted


async def test_a_crashing_job_costs_one_row_not_the_worker() -> None:
    class Crashing(Echo):
        async def process(self, row: ManifestRow) -> RowResult:
            if row.row == 2:
                raise RuntimeError("boom")
            return await super().process(row)

    results = await run_pool(
        Crashing(JobContext(control=RunControl(), sender=None, state=None)), 10, 2
    )
    by_row = {r.row: r for r in results}
    assert len(by_row) == 10
    assert (by_row[2].status, by_row[2].message) == (
        Status.FAILED,
        "internal error: RuntimeError: boom — please report it",
    )


# --- the upload job, with a fake photo source and a fake sender --------------------------------


class FakePhotos:
    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data
        self.inspected: list[int] = []

    def _facts(self, row: ManifestRow) -> ImageFacts:
        import hashlib

        blob = self.data[row.file]
        return ImageFacts(row.file, "image/jpeg", hashlib.sha256(blob).hexdigest(), 1, 1, len(blob))

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        facts = self._facts(row)
        return facts.size, facts.sha256

    async def inspect(self, row: ManifestRow) -> Checked:
        self.inspected.append(row.row)
        if row.file not in self.data:
            raise InvalidRow(f"file not found: {row.file}")
        return Checked(self._facts(row))

    async def load(self, row: ManifestRow, checked: Checked) -> PreparedImage:
        f = checked.facts
        return PreparedImage(self.data[row.file], f.filename, f.content_type, f.sha256, 1, 1)

    def close(self) -> None:
        pass


class FakeSender:
    """Records what would be sent; refuses the users it is told to."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse = refuse

    async def send(self, request: Callable[[Any, Any], Any], tries: Tries) -> None:
        tries.sent += 1
        await request(self, "token")

    async def upload_picture(self, user: str, image: PreparedImage, token: str) -> None:
        if user in self.refuse:
            raise PermanentError(
                "no such user in this Zoom account", http_status=404, zoom_code=1001
            )
        self.sent.append(("upload", user))

    async def delete_picture(self, user: str, token: str) -> None:
        self.sent.append(("delete", user))


def upload_job(
    tmp_path: Path, sender: FakeSender | None, photos: FakePhotos
) -> tuple[UploadJob, StateStore]:
    state = StateStore.open(tmp_path / "s.sqlite3", account_id="acct", run_id="run1")
    context = JobContext(control=RunControl(), sender=sender, state=state)  # type: ignore[arg-type]
    return UploadJob(context, photos), state


async def test_upload_job_sends_records_and_then_skips_the_unchanged(tmp_path: Path) -> None:
    photos = FakePhotos({f"u{i}.jpg": bytes([i]) * 10 for i in range(1, 4)})
    sender = FakeSender(refuse=frozenset({"user2@example.com"}))
    job, state = upload_job(tmp_path, sender, photos)
    first = [await job.process(row) for row in rows(4)]
    assert [r.status for r in first] == [
        Status.UPLOADED,
        Status.FAILED,
        Status.UPLOADED,
        Status.INVALID,
    ]
    assert first[1].zoom_code == 1001 and first[1].message.endswith("(1 attempt)")
    assert first[0].sha256 == state.last_upload("user1@example.com").sha256  # type: ignore[union-attr]
    job.close()
    # The next run: the recorded photos are skipped after hashing alone, never inspected.
    assert sender.sent == [("upload", "user1@example.com"), ("upload", "user3@example.com")]
    state.close()
    photos.inspected.clear()
    sender = FakeSender()
    job, state = upload_job(tmp_path, sender, photos)
    again = [await job.process(row) for row in rows(3)]
    assert [r.status for r in again] == [Status.SKIPPED, Status.UPLOADED, Status.SKIPPED]
    assert again[0].message.startswith("unchanged since ")
    assert again[0].sha256 == first[0].sha256  # hashed, so the report still says what it is
    assert photos.inspected == [2]
    assert sender.sent == [("upload", "user2@example.com")]
    job.close()
    state.close()


async def test_upload_job_refuses_a_repeated_user_in_manifest_order(tmp_path: Path) -> None:
    photos = FakePhotos({"a.jpg": b"a" * 10})
    job, state = upload_job(tmp_path, None, photos)  # a dry run: no sender
    twice = [ManifestRow(n, n + 1, "Jane@Example.com", "a.jpg", Path("a.jpg")) for n in (1, 2)]
    results = await asyncio.gather(*(job.process(row) for row in twice))
    assert [r.status for r in results] == [Status.VALID, Status.INVALID]
    assert results[1].message.startswith("duplicate of row 1 (same user)")
    job.close()
    state.close()


async def test_remove_job_forgets_the_last_upload(tmp_path: Path) -> None:
    sender = FakeSender()
    state = StateStore.open(tmp_path / "s.sqlite3", account_id="acct", run_id="run1")
    state.record_upload("user1@example.com", "0" * 64)
    job = RemoveJob(JobContext(control=RunControl(), sender=sender, state=state))  # type: ignore[arg-type]
    (result,) = [await job.process(row) for row in rows(1)]
    assert (result.status, result.message, result.http_status) == (
        Status.REMOVED,
        "picture removed",
        204,
    )
    assert sender.sent == [("delete", "user1@example.com")]
    assert state.last_upload("user1@example.com") is None
    job.close()
    state.close()


# --- zoom-batch remove, end to end ---------------------------------------------------------------


async def test_remove_takes_pictures_away_and_the_next_run_uploads_again(
    tmp_path: Path, photos: Callable[..., Photos], simulator: Any, cli: Any
) -> None:
    batch = photos(6)
    gone = "user0404@example.com"
    sim = await simulator(rate_limit=0, users=frozenset(batch.files))
    common = [*sim_args(sim), "--state", str(tmp_path / "state.sqlite3"), "--quiet"]
    first = await cli(["run", str(batch.manifest), *common, "--report", "r1.csv"], sim_env(sim))
    assert first.code == 0, first.err
    assert len(sim.received) == 6

    leavers = write_manifest(
        tmp_path / "leavers.csv",
        [("user0001@example.com", ""), ("user0002@example.com", ""), (gone, "")],
    )
    removed = await cli(["remove", str(leavers), *common, "--report", "rm.csv"], sim_env(sim))
    assert removed.code == 1, removed.err  # the unknown user is a failed row
    report = list(read_report(tmp_path / "rm.csv"))
    assert [(r["user"], r["status"]) for r in report] == [
        ("user0001@example.com", "removed"),
        ("user0002@example.com", "removed"),
        (gone, "failed"),
    ]
    assert report[0]["message"] == "picture removed" and report[0]["http_status"] == "204"
    assert "no such user in this Zoom account" in report[2]["message"]
    assert "user0001@example.com" not in sim.received and sim.stats.removals == 2

    # The state store forgot the removed users: the same manifest uploads them again.
    again = await cli(["run", str(batch.manifest), *common, "--report", "r2.csv"], sim_env(sim))
    assert again.code == 0, again.err
    statuses = {r["user"]: r["status"] for r in read_report(tmp_path / "r2.csv")}
    assert statuses["user0001@example.com"] == statuses["user0002@example.com"] == "uploaded"
    assert [
        s for u, s in statuses.items() if u not in ("user0001@example.com", "user0002@example.com")
    ] == ["skipped"] * 4


async def test_remove_dry_run_sends_nothing(
    tmp_path: Path, photos: Callable[..., Photos], cli: Any
) -> None:
    batch = photos(3)
    outcome = await cli(
        ["remove", str(batch.manifest), "--dry-run", "--report", "d.csv", "--quiet"]
    )
    assert outcome.code == 0, outcome.err
    assert [r["status"] for r in read_report(tmp_path / "d.csv")] == ["valid"] * 3


async def test_remove_with_simulate(
    tmp_path: Path, photos: Callable[..., Photos], cli: Any
) -> None:
    batch = photos(4)
    outcome = await cli(["remove", str(batch.manifest), "--simulate", "--report", "s.csv"])
    assert outcome.code == 0, outcome.err
    assert [r["status"] for r in read_report(tmp_path / "s.csv")] == ["removed"] * 4
    assert "removed" in outcome.err  # the closing text counts them


async def test_remove_reads_a_manifest_of_users_alone(
    tmp_path: Path, simulator: Any, cli: Any
) -> None:
    (tmp_path / "leavers.csv").write_text(
        "E-mail address,email\nx,ann@example.com\ny,bob@example.com\n"
    )
    (tmp_path / "leavers.yaml").write_text("- email: ann@example.com\n- user: bob@example.com\n")
    sim = await simulator(rate_limit=0)
    for name in ("leavers.csv", "leavers.yaml"):
        outcome = await cli(
            ["remove", name, *sim_args(sim), "--no-state", "--report", f"{name}.r.csv"],
            sim_env(sim),
        )
        assert outcome.code == 0, outcome.err
        rows = list(read_report(tmp_path / f"{name}.r.csv"))
        assert [(r["user"], r["status"], r["file"]) for r in rows] == [
            ("ann@example.com", "removed", ""),
            ("bob@example.com", "removed", ""),
        ]
    # An upload still needs its file column, and says so.
    outcome = await cli(["validate", "leavers.csv"])
    assert outcome.code == 2
    assert "no file column" in outcome.err
