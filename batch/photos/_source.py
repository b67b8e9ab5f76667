"""The photo-source seam: where a row's picture comes from, apart from how it is checked.

A job asks its :class:`PhotoSource` three things about a row, in this order: :meth:`digest`
(cheap: is it the photo sent last time?), :meth:`inspect` (the checked facts, maybe cached)
and :meth:`load` (the bytes to send). Local files are the one source today; photos at URLs or
in a directory attribute plug in here as further sources.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from .._models import ImageFacts, ManifestRow, PreparedImage

__all__ = ["Checked", "PhotoSource"]


class Checked(NamedTuple):
    """What :meth:`PhotoSource.inspect` found: the facts, and the bytes when it had them."""

    facts: ImageFacts
    #: The bytes to send, when the check had to read them anyway (not when it was cached):
    #: :meth:`PhotoSource.load` then hands them back instead of reading the photo again.
    image: PreparedImage | None = None


class PhotoSource(Protocol):
    """Where the bytes of a row's photo come from. Every refusal is an ``InvalidRow``."""

    async def digest(self, row: ManifestRow) -> tuple[int, str] | None:
        """Size and sha256 of the photo as it is now, unchecked; None when it cannot be read.

        Compared with the state store's record, it lets an unchanged photo be skipped without
        the image check.
        """
        ...

    async def inspect(self, row: ManifestRow) -> Checked:
        """Check the row's photo (format, integrity, size; ``--fit``): what would be sent.

        A source that holds a large photo in memory to check it takes its size from the run's
        byte budget meanwhile.
        """
        ...

    async def load(self, row: ManifestRow, checked: Checked) -> PreparedImage:
        """The bytes to send for a row whose :meth:`inspect` returned ``checked``."""
        ...

    def close(self) -> None:
        """Release what the source holds (caches, connections)."""
        ...
