"""Checking a row's user before any request: an email, a Zoom user ID or ``me``; no repeats.

Everything here raises :class:`InvalidRow` with a message an HR person can act on.
"""

from __future__ import annotations

import functools
import re
import sqlite3

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT, EMAIL_MAX_LENGTH

from ._exceptions import InvalidRow
from ._models import ManifestRow
from ._state import user_key

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
                f"'{user}' is not a valid email address: {reason} — fix the user cell"
            ) from None
        return user
    if _USER_ID.fullmatch(user):
        return user
    raise InvalidRow(
        f"'{user}' is not an email address, a Zoom user ID or 'me' — fix the user cell"
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

    def close(self) -> None:
        self._db.close()


class UserCheck:
    """Checks each row's user in manifest order, refusing a bad one and every repeat.

    Call :meth:`check` for the rows in manifest order (the pool's jobs do it before their
    first ``await``), so "duplicate of row N" always names the earlier row.
    """

    def __init__(self) -> None:
        self._seen = SeenUsers()

    def check(self, row: ManifestRow) -> str:
        """The row's user as it will be sent; raises :class:`InvalidRow`."""
        user = check_user(row.user)
        first = self._seen.first_row(user_key(user), row.row)
        if first is not None:
            raise InvalidRow(
                f"duplicate of row {first} (same user) — only the first row for a user is used;"
                " remove this row or fix its user"
            )
        return user

    def close(self) -> None:
        self._seen.close()
