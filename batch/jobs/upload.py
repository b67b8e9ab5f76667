"""The upload job: set each row's user's picture to the row's photo (``zoom-batch run``).

Per row: the user is checked and claimed (before any await: duplicates are found in manifest
order; the first row whose photo passes its check wins the user, see ``UserCheck.claim``); a
photo whose bytes the state store says were sent last time is skipped after hashing it alone;
otherwise the photo source checks it (and ``--fit`` converts it), the sender uploads it, and
the state store records the bytes sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .._models import ImageFacts, ManifestRow, RowResult, Status
from .._retry import Tries
from .._scopes import UPLOAD_PICTURE
from .._state import UploadRecord
from .._users import Claim
from .._window import READ_BUFFER, ByteBudget
from .._words import human_size
from ..photos import Checked, PhotoSource, crop_of, crop_words
from ._base import JobContext, RowJob, RowNotes, row_result

__all__ = ["UploadJob"]

#: Bodies up to this size are not counted in the byte budget (256 in flight: 8 MB).
SMALL_BODY = 32 * 1024


class UploadJob(RowJob):
    """``POST /users/{userId}/picture`` for every row; status ``uploaded``."""

    doing = "uploading"
    scope = UPLOAD_PICTURE
    done_status, done_words = Status.UPLOADED, "uploaded"  #: what a row sent becomes
    #: Called with (row, user) before a photo is checked: may raise InvalidRow, else returns
    #: words for the row's message (``--check-users``: "" or "; the user is pending").
    check_user: Callable[[ManifestRow, str], Awaitable[str]] | None = None
    #: Called with the user just before the upload is sent (``--backup``); raises to fail it.
    before_send: Callable[[str], Awaitable[None]] | None = None

    def __init__(self, context: JobContext, photos: PhotoSource, *, fit: bool = False) -> None:
        super().__init__(context)
        self.photos = photos
        self.fit = fit  #: --fit: a re-encoded photo was fitted, not only turned upright

    def close(self) -> None:
        super().close()
        self.photos.close()

    async def handle(self, row: ManifestRow, tries: Tries, notes: RowNotes) -> RowResult:
        claim = self.users.claim(row)  # first, before any await: see the module docstring
        held = _Held(self.context.budget)
        try:
            await claim.wait()  # an earlier row for the same user goes first
            return await self._handle(row, claim, tries, notes, held)
        finally:
            claim.release()
            held.release()

    async def _handle(
        self, row: ManifestRow, claim: Claim, tries: Tries, notes: RowNotes, held: _Held
    ) -> RowResult:
        user = claim.user
        noted = "" if self.check_user is None else await self.check_user(row, user)
        record = self._last_upload(user)
        if record is not None:
            found = await self.photos.digest(row)
            if found is not None and found[1] == record.sha256:
                # Zoom accepted these very bytes: the image checks (about a third of a skipped
                # row's CPU: bench/skip_unchanged.py) are not needed.
                claim.usable()
                notes.bytes, notes.sha256 = found
                return self._unchanged(row, record)
        checked = await self.photos.inspect(row)
        claim.usable()  # the photo passed: later rows for this user are duplicates
        facts = checked.facts
        notes.bytes, notes.sha256, notes.original_bytes = (
            facts.size,
            facts.sha256,
            facts.original_size,
        )
        # How --crop cut it; "none" when --fit sent it uncut (the report's crop column).
        notes.crop = crop_of(facts) or ("none" if self.fit else None)
        fitted = _fitted(facts, fit=self.fit) + _cropped(notes.crop) + noted
        # The file's own hash differed; with --fit the bytes sent may still be the same.
        if record is not None and record.sha256 == facts.sha256:
            return self._unchanged(row, record)
        if self.context.dry_run:
            return row_result(row, Status.VALID, "ready to upload" + fitted)
        return await self._upload(row, user, checked, tries, fitted, held)

    async def _upload(
        self,
        row: ManifestRow,
        user: str,
        checked: Checked,
        tries: Tries,
        fitted: str,
        held: _Held,
    ) -> RowResult:
        sender = self.context.sender
        assert sender is not None
        image = await self.photos.load(row, checked)
        # From here on the row holds its body: in memory, or one read buffer when streamed;
        # small ones (an avatar of a few KB) are not worth the bookkeeping.
        body = len(image.data) + (READ_BUFFER if image.path is not None else 0)
        if body > SMALL_BODY:
            await held.resize(body)
        if self.before_send is not None:
            await self.before_send(user)
        await sender.send(lambda client, token: client.upload_picture(user, image, token), tries)
        result = row_result(row, self.done_status, self.done_words + fitted, attempts=tries.sent)
        result.http_status = 201
        state = self.context.state
        if state is not None:
            self.remember(row, result, lambda: state.record_upload(user, image.sha256))
        return result

    def _unchanged(self, row: ManifestRow, record: UploadRecord) -> RowResult:
        when = record.uploaded_at.replace("T", " ").rstrip("Z")
        message = f"unchanged since {when} UTC"
        if self.context.dry_run:
            message += ": would be skipped"
        return row_result(row, Status.SKIPPED, message)

    def _last_upload(self, user: str) -> UploadRecord | None:
        """What the state store knows of ``user``, when unchanged rows may be skipped."""
        state = self.context.state
        if self.context.force or state is None:
            return None
        return state.last_upload(user)


class _Held:
    """The bytes one row holds of the run's byte budget."""

    def __init__(self, budget: ByteBudget | None) -> None:
        self._budget = budget
        self._held = 0

    async def resize(self, n: int) -> None:
        budget = self._budget
        if budget is None or n == self._held:
            return
        if n > self._held:
            await budget.take(n - self._held)
        else:
            budget.give(self._held - n)
        self._held = n

    def release(self) -> None:
        if self._budget is not None:
            self._budget.give(self._held)
        self._held = 0


def _cropped(crop: str | None) -> str:
    """``; cropped around the face``, ``; cropped to the centre: no face found``, or ""."""
    words = crop_words(crop)
    return f"; {words}" if words else ""


def _fitted(facts: ImageFacts, *, fit: bool) -> str:
    if facts.original_size is None:
        return ""
    sizes = f"{human_size(facts.original_size)} to {human_size(facts.size)}"
    if not fit:  # only a photo stored sideways is re-encoded without --fit
        return f"; turned upright (re-encoded from {sizes})"
    return f"; fitted from {sizes}"
