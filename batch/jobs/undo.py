"""The undo job: put back what a ``--backup`` folder recorded (``zoom-batch undo DIR``).

The manifest is the folder's ``backup.csv``. A row with a file (the user had a picture) is
uploaded as ``run`` would upload it, status ``restored``, and the state store records those
bytes; a row without one (the user had none) has its picture removed, status ``removed``, and
the state store forgets the user's last upload. Either way the next run of the original
manifest uploads again. What the state store remembers never skips a row here: the picture at
Zoom is what the run being undone put there.
"""

from __future__ import annotations

from .._models import ManifestRow, RowResult, Status
from .._retry import Tries
from .._state import UploadRecord
from ._base import RowNotes, row_result
from .upload import UploadJob

__all__ = ["UndoJob"]


class UndoJob(UploadJob):
    """Upload the old picture (``restored``), or remove the picture of a user who had none."""

    doing = "putting the old picture back"
    done_status, done_words = Status.RESTORED, "restored the picture from the backup"

    async def handle(self, row: ManifestRow, tries: Tries, notes: RowNotes) -> RowResult:
        if row.file.strip():
            return await super().handle(row, tries, notes)
        user = self.users.check(row)  # first, before any await: duplicates in manifest order
        sender = self.context.sender
        if sender is None:
            return row_result(row, Status.VALID, "ready to remove the picture (none before)")
        await sender.send(lambda client, token: client.delete_picture(user, token), tries)
        message = "picture removed: the user had none before the backup"
        result = row_result(row, Status.REMOVED, message, attempts=tries.sent)
        result.http_status = 204
        state = self.context.state
        if state is not None:
            self.remember(row, result, lambda: state.forget_upload(user))
        return result

    def _last_upload(self, user: str) -> UploadRecord | None:
        return None
