"""The remove job: take away each row's user's picture (``zoom-batch remove``).

Only the user column is read. A removal is a Medium call, paced and retried as uploads are;
the state store then forgets the user's last upload, so that a later run of the same manifest
uploads the photo again instead of calling it unchanged.
"""

from __future__ import annotations

from .._models import ManifestRow, RowResult, Status
from .._retry import Tries
from .._scopes import DELETE_PICTURE
from ._base import RowJob, RowNotes, row_result

__all__ = ["RemoveJob"]


class RemoveJob(RowJob):
    """``DELETE /users/{userId}/picture`` for every row; status ``removed``."""

    doing = "removing the picture"
    reads = frozenset({"user"})
    scope = DELETE_PICTURE

    async def handle(self, row: ManifestRow, tries: Tries, notes: RowNotes) -> RowResult:
        user = self.users.check(row)  # first, before any await: duplicates in manifest order
        sender = self.context.sender
        if sender is None:
            return row_result(row, Status.VALID, "ready to remove the picture")
        await sender.send(lambda client, token: client.delete_picture(user, token), tries)
        result = row_result(row, Status.REMOVED, "picture removed", attempts=tries.sent)
        result.http_status = 204
        state = self.context.state
        if state is not None:
            self.remember(row, result, lambda: state.forget_upload(user))
        return result
