"""The audit job: one row per user found in Zoom or in the manifest (``zoom-batch audit``).

The account's users were listed before the rows start (``batch._lifecycle.list_account``);
each row comes with its findings as its first extras — ``in_zoom``, ``in_manifest``,
``zoom_status``, ``has_picture`` — and this job fills ``has_picture`` from
``GET /users/{userId}`` on the Light budget (list items may lack ``pic_url``). A row ends
``valid`` once read (the findings are data), ``failed`` when the user could not be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._models import ManifestRow, RowResult, Status
from .._retry import Tries
from .._scopes import LIST_USERS
from ._base import JobContext, RowJob, RowNotes, row_result

if TYPE_CHECKING:
    from .._sender import Sender

__all__ = ["AUDIT_COLUMNS", "AuditJob"]

#: The audit's own columns, before the manifest's extra ones.
AUDIT_COLUMNS = ("in_zoom", "in_manifest", "zoom_status", "has_picture")


class AuditJob(RowJob):
    """Whether each user is in Zoom, in the manifest, with which status, with a picture."""

    doing = "reading the user"
    reads = frozenset({"user"})
    scope = LIST_USERS

    def __init__(self, context: JobContext, light: Sender | None) -> None:
        super().__init__(context)
        self.light = light  #: None in a dry run

    async def handle(self, row: ManifestRow, tries: Tries, notes: RowNotes) -> RowResult:
        from .._backup import read_user

        user = self.users.check(row)  # first, before any await: duplicates in manifest order
        in_zoom, in_manifest, status, _ = row.extras[:4]
        if self.light is None:
            return row_result(row, Status.VALID, "ready to audit")
        if in_zoom != "yes":
            return self._found(row, "no", "not a user of this Zoom account")
        found = await read_user(self.light, user)
        has = "yes" if str(found.get("pic_url") or "").strip() else "no"
        where = "in the manifest" if in_manifest == "yes" else "not in the manifest"
        picture = "has a picture" if has == "yes" else "has no picture"
        return self._found(row, has, f"{status} user, {picture}, {where}")

    def _found(self, row: ManifestRow, has: str, message: str) -> RowResult:
        result = row_result(row, Status.VALID, message)
        result.extras = (*row.extras[:3], has, *row.extras[4:])
        return result
