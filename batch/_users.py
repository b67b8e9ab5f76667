"""Checking a row's user before any request: an email, a Zoom user ID or ``me``; no repeats.

Everything here raises :class:`InvalidRow` with a message an HR person can act on.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

from ._exceptions import InvalidRow
from ._models import ManifestRow
from ._state import user_key
from ._words import excerpt

#: Zoom user IDs are short URL-safe strings such as ``KDcuGIm1QgePTO8WbOqwIQ``.
_USER_ID = re.compile(r"[A-Za-z0-9_-]{6,64}")


@functools.lru_cache(maxsize=1024)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """The domain's normalized and IDNA ASCII forms if email-validator accepts it, else None."""
    try:
        found = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return found.domain, found.ascii_domain


def _plain_valid_email(user: str) -> bool:
    """True if ``validate_email(user)`` accepts it, known cheaply; False means: ask it.

    email-validator accepts an unquoted ASCII local part (its own ``DOT_ATOM_TEXT``) as it is,
    so the rest of its verdict is the domain's, checked once per domain here (a run's users
    share a few), and the three lengths it checks. Validating every address in full was ~40%
    of a dry run's time per row (bench/scale.py, 10,000 rows).
    """
    local, _, domain = user.rpartition("@")
    if not DOT_ATOM_TEXT.match(local):
        return False
    forms = _checked_domain(domain)
    if forms is None:
        return False
    return all(len(f"{local}@{d}".encode()) <= EMAIL_MAX_LENGTH for d in (domain, *forms))


def check_user(raw: str) -> str:
    """The user as it will be sent: trimmed; an email, a Zoom user ID, or ``me``."""
    user = raw.strip()
    if not user:
        raise InvalidRow("no user on this row — add the person's email address")
    if user.lower() == "me":
        return "me"
    if "@" in user:
        if _plain_valid_email(user):
            return user
        try:
            validate_email(user, check_deliverability=False)
        except EmailNotValidError as exc:
            reason = str(exc).rstrip(".")
            raise InvalidRow(
                f"'{excerpt(user)}' is not a valid email address: {reason} — fix the user cell"
            ) from None
        return user
    if _USER_ID.fullmatch(user):
        return user
    raise InvalidRow(
        f"'{excerpt(user)}' is not an email address, a Zoom user ID or 'me' — fix the user cell"
    )


class SeenUsers:
    """Which users earlier rows named, to refuse duplicates, in flat memory.

    A private temporary SQLite database (filename ``""``: on disk, deleted on close) with a
    small page cache, rather than a dict: 100,000 emails in a dict cost ~15 MB, here ~2 MB.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA cache_size = -2048")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def first_row(self, key: str, row: int) -> int | None:
        """Remember ``key`` at ``row``; return the earlier row that named it, if any."""
        cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, row))
        if cursor.rowcount:
            return None
        found = self._db.execute("SELECT row FROM seen WHERE key = ?", (key,)).fetchone()
        return int(found[0])

    def row_of(self, key: str) -> int | None:
        """The row remembered for ``key``, if any."""
        found = self._db.execute("SELECT row FROM seen WHERE key = ?", (key,)).fetchone()
        return None if found is None else int(found[0])

    def close(self) -> None:
        self._db.close()


class UserCheck:
    """Checks each row's user in manifest order, refusing a bad one and every repeat.

    Call :meth:`check` or :meth:`claim` for the rows in manifest order (the pool's jobs do it
    before their first ``await``), so that "duplicate of row N" always names the earlier row.
    With :meth:`check` the first row naming a user wins. With :meth:`claim` the first *usable*
    one does: a row whose photo turns out to be missing or broken does not keep a later good
    row for the same user from running. In-flight claims are held in memory (bounded by the
    rows in progress); settled ones in :class:`SeenUsers`.
    """

    def __init__(self) -> None:
        self._seen = SeenUsers()
        #: user key -> the latest claim not yet settled, which a later row for that user waits on
        self._pending: dict[str, Claim] = {}

    def check(self, row: ManifestRow) -> str:
        """The row's user as it will be sent; raises :class:`InvalidRow`."""
        user = check_user(row.user)
        first = self._seen.first_row(user_key(user), row.row)
        if first is not None:
            raise _duplicate(first)
        return user

    def claim(self, row: ManifestRow) -> Claim:
        """Claim the row's user, to be settled once the row's photo is known to be usable.

        Raises :class:`InvalidRow` for a bad user, or one an earlier usable row already has.
        """
        user = check_user(row.user)
        key = user_key(user)
        first = self._seen.row_of(key)
        if first is not None:
            raise _duplicate(first)
        claim = Claim(self, key, user, row.row, self._pending.get(key))
        self._pending[key] = claim
        return claim

    def _settle(self, claim: Claim, winner: int | None) -> None:
        if winner == claim.row:
            self._seen.first_row(claim.key, claim.row)
        if self._pending.get(claim.key) is claim:
            del self._pending[claim.key]

    def close(self) -> None:
        self._seen.close()


class Claim:
    """One row's claim on its user: :meth:`wait` for the earlier rows' claims, then say
    whether the row was :meth:`usable`; a claim left unsettled counts as unusable."""

    def __init__(
        self, check: UserCheck, key: str, user: str, row: int, before: Claim | None
    ) -> None:
        self._check = check
        self.key, self.user, self.row = key, user, row
        self._before = before
        #: The row that won the user (this one, or an earlier one), None while none has.
        self._winner: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        """Wait for the earlier rows naming this user; raise InvalidRow if one was usable."""
        if self._before is not None:
            winner = await asyncio.shield(self._before._winner)
            if winner is not None:
                self._settle(winner)
                raise _duplicate(winner)

    def usable(self) -> None:
        """The row's photo passed its check: the user is this row's."""
        self._settle(self.row)

    def release(self) -> None:
        """The row ended; unless it was :meth:`usable`, a later row may have the user."""
        self._settle(None)

    def _settle(self, winner: int | None) -> None:
        if not self._winner.done():
            self._winner.set_result(winner)
            self._check._settle(self, winner)


def _duplicate(first: int) -> InvalidRow:
    return InvalidRow(
        f"duplicate of row {first} (same user) — only the first usable row for a user is used;"
        " remove this row or fix its user"
    )
