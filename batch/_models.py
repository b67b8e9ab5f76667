"""Plain data passed between the modules: manifest rows, prepared images, row results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Status(enum.StrEnum):
    """A row's final status in the report."""

    UPLOADED = "uploaded"
    REMOVED = "removed"
    RESTORED = "restored"  # undo: the picture from before the backup is back
    SKIPPED = "skipped"
    FAILED = "failed"
    INVALID = "invalid"
    DEFERRED = "deferred"
    NOT_ATTEMPTED = "not_attempted"
    VALID = "valid"  # dry run only

    @property
    def ok(self) -> bool:
        """True for the statuses that do not make the run's exit code 1."""
        return self not in PROBLEM_STATUSES

    @property
    def problem(self) -> bool:
        """True for the statuses a person should look at (and ``--retry-failed`` runs again)."""
        return self in PROBLEM_STATUSES


#: The one set of "problem" statuses: the exit code is 1 when a row ends in one of them, the
#: contact sheet shows them first, and ``--retry-failed`` runs them again.
PROBLEM_STATUSES = frozenset({Status.FAILED, Status.INVALID, Status.DEFERRED, Status.NOT_ATTEMPTED})


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One data row of the manifest, as written, plus where it came from."""

    row: int  #: 1-based number of the data row (the header is not counted)
    line: int  #: line of the manifest file where the row starts
    user: str  #: the user as written, surrounding spaces trimmed
    file: str  #: the file as written
    path: Path | None  #: ``file`` resolved against the manifest's folder; None when empty
    #: The manifest's other cells, one per :attr:`Manifest.extra_columns <batch.manifest.Manifest>`
    #: (a Name, a department): carried to the report as they are.
    extras: tuple[str, ...] = ()
    #: Why the reader could not make a usable row of this one (a YAML item of the wrong shape):
    #: the row is reported ``invalid`` with this message, and the others go on.
    problem: str | None = None
    #: The directory entry the row came from (an LDAP source), for the report's ``dn``.
    dn: str | None = None


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What checking a photo found, without its bytes: what a cache keeps."""

    filename: str  #: filename sent in the multipart part (Zoom refuses a part without one)
    content_type: str  #: ``image/jpeg`` or ``image/png``, from the bytes, not the extension
    sha256: str  #: hex digest of the bytes to send
    width: int
    height: int
    size: int  #: bytes to send
    original_size: int | None = None  #: bytes of the source when ``--fit`` re-encoded it

    @property
    def fitted(self) -> bool:
        return self.original_size is not None


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image ready to send: its bytes (or where to stream them from), type and digest.

    The bytes sent are ``data``, then — for a photo streamed from disk — ``streamed`` bytes of
    the file at ``path`` from ``offset`` on; ``sha256`` is the digest of all of them.
    """

    data: bytes
    filename: str  #: filename sent in the multipart part (Zoom refuses a part without one)
    content_type: str  #: ``image/jpeg`` or ``image/png``, from the bytes, not the extension
    sha256: str  #: hex digest of the bytes sent
    width: int
    height: int
    original_size: int | None = None  #: bytes of the source file when ``--fit`` re-encoded it
    #: When the bytes sent are the source file's from this offset on, after ``data[:head_size]``
    #: (a head rewritten without location data, or nothing): a photo that can be streamed.
    source_offset: int | None = None
    head_size: int = 0
    path: Path | None = None  #: the file the rest is streamed from, when it is
    streamed: int = 0  #: bytes streamed from ``path`` at ``offset`` (= ``source_offset``)

    @property
    def size(self) -> int:
        return len(self.data) + self.streamed

    @property
    def fitted(self) -> bool:
        return self.original_size is not None

    @property
    def facts(self) -> ImageFacts:
        """The same image without its bytes."""
        return ImageFacts(
            self.filename,
            self.content_type,
            self.sha256,
            self.width,
            self.height,
            self.size,
            self.original_size,
        )


@dataclass(slots=True)
class RowResult:
    """The outcome of one manifest row: one line of the report."""

    row: int
    user: str
    file: str
    status: Status
    message: str = ""
    http_status: int | None = None
    zoom_code: int | None = None
    attempts: int = 0
    bytes: int | None = None
    sha256: str | None = None
    duration_ms: int | None = None
    finished_at: str | None = None
    line: int | None = None  #: the manifest line the row starts on
    original_bytes: int | None = None  #: size of the source when ``--fit`` re-encoded it
    tracking_id: str | None = None  #: Zoom's ``x-zm-trackingid`` of a failed or refused row
    #: How ``--crop`` cut the photo: ``face``, ``center: no face found``, ``none``; None without it.
    crop: str | None = None
    dn: str | None = None  #: the directory entry of a row from an LDAP source
    #: The manifest row's other cells (``ManifestRow.extras``), written after the report's own.
    extras: tuple[str, ...] = ()


@dataclass(slots=True)
class RunSummary:
    """What a run did, for the closing table, the JSON summary and the logs."""

    counts: dict[Status, int]
    started_at: str  #: ISO-8601 UTC
    finished_at: str  #: ISO-8601 UTC
    duration_s: float
    requests_sent: int  #: upload requests sent (token requests not counted)
    uploads_per_second: float
    dry_run: bool = False
    interrupted: bool = False
    resumes_at: str | None = None  #: when the daily quota returns, if it ran out (ISO-8601 UTC)
    report_path: str | None = None
    summary_path: str | None = None
    html_path: str | None = None
    exit_code: int = 0
    rate: float = 0.0  #: the target pace, requests per second
    plan: str | None = None  #: the plan the pace came from; None when --rate set it
    warnings: list[str] = field(default_factory=list)  #: side problems (e.g. --html failed)
    total: int = 0
    job: str = "upload"  #: the job the run did: ``upload`` (``zoom-batch run``) or ``remove``
    #: Why the run stopped early, when the credentials, the app's scopes, the state store or
    #: the report could not be used (exit code 2); None otherwise.
    stopped: str | None = None

    @property
    def problems(self) -> int:
        return sum(n for status, n in self.counts.items() if not status.ok)
