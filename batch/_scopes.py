"""The OAuth scopes each kind of call needs, and whether a token holds them.

Apps made since about March 2024 get granular scopes only (``user:write:profile_picture:admin``);
older ones carry the classic ``user:write:admin``. Either will do, in its account-level form
(``:admin``; ``:master`` for a master account) or, for a user-level app acting as ``me``, its
bare form. The token answer's ``scope`` field says what a token may do, so a run can tell
before its first request that the app lacks a scope (ZOOM_API.md). Messages name the granular
scope first, the classic one as the older equivalent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DELETE_PICTURE", "LIST_USERS", "READ_USER", "UPLOAD_PICTURE", "ScopeNeed"]

_LEVELS = (":admin", ":master", "")


@dataclass(frozen=True, slots=True)
class ScopeNeed:
    """The scope a call needs, as its granular and classic base names (no ``:admin``)."""

    granular: str  #: e.g. ``user:write:profile_picture``
    classic: str  #: e.g. ``user:write``

    def met_by(self, scopes: Iterable[str]) -> bool:
        """True when ``scopes`` (a token's) hold this need in any of its accepted forms."""
        held = set(scopes)
        return any(
            base + level in held for base in (self.granular, self.classic) for level in _LEVELS
        )

    def words(self) -> str:
        """``user:write:profile_picture:admin (older apps: user:write:admin)``."""
        return f"{self.granular}:admin (older apps: {self.classic}:admin)"

    def plain_words(self) -> str:
        """The same without brackets, to go inside some: ``… or, on older apps, …``."""
        return f"{self.granular}:admin or, on older apps, {self.classic}:admin"


UPLOAD_PICTURE = ScopeNeed("user:write:profile_picture", "user:write")
DELETE_PICTURE = ScopeNeed("user:delete:profile_picture", "user:write")
READ_USER = ScopeNeed("user:read:user", "user:read")
LIST_USERS = ScopeNeed("user:read:list_users", "user:read")
