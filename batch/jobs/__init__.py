"""Jobs: the work done per row, one class each, all on the same pool, pacer and report.

A job subclasses :class:`RowJob` and writes its ``handle``; the pool, the sender (pacing,
tokens, retries) and the outcome rules are shared. ``upload`` is ``zoom-batch run``;
``remove`` is ``zoom-batch remove``; ``undo`` is ``zoom-batch undo``; ``audit`` is
``zoom-batch audit``.
"""

from __future__ import annotations

from ._base import JobContext, RowJob, RowNotes, row_result
from .audit import AuditJob
from .remove import RemoveJob
from .undo import UndoJob
from .upload import UploadJob

__all__ = [
    "AuditJob",
    "JobContext",
    "RemoveJob",
    "RowJob",
    "RowNotes",
    "UndoJob",
    "UploadJob",
    "row_result",
]
