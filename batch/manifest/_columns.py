"""The one table of manifest columns, read by every reader.

Each :class:`Column` says what a reader looks for (its aliases, compared with surrounding
spaces trimmed and case ignored), whether a manifest must have it, and what a message shows
("accepted: email, user, user_id, userId"). Adding a column or an alias is one edit to
:data:`COLUMNS`; the readers and their messages follow.

A reader hands back each row as a :data:`Record`: the line it starts on and one value per
column, in the order of :data:`COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeAlias


@dataclass(frozen=True)
class Column:
    """One column a manifest may hold."""

    key: str  #: what the column is, as messages say it: "no user column"
    aliases: tuple[str, ...]  #: accepted names as shown in messages; the first present wins
    required: bool = True  #: when False, a manifest without it reads as "" in every row
    #: ``aliases`` as readers compare them: lower-cased.
    matches: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matches", tuple(alias.lower() for alias in self.aliases))

    @property
    def accepted(self) -> str:
        """The names a message lists after "accepted:"."""
        return ", ".join(self.aliases)

    def find(self, present: Container[str]) -> str | None:
        """The alias (lower-cased) that ``present`` (names :func:`normalize`-d) holds, if any.

        The aliases are tried in table order, so with both ``user`` and ``email`` present the
        ``email`` one is read, wherever it stands.
        """
        for alias in self.matches:  # a loop, not next(...): readers call this once per row
            if alias in present:
                return alias
        return None


#: Every column, in the order of a :data:`Record`'s values.
COLUMNS: tuple[Column, ...] = (
    Column("user", ("email", "user", "user_id", "userId")),
    Column("file", ("file", "photo", "picture", "path")),
)


def columns_for(*, optional: frozenset[str] = frozenset()) -> tuple[Column, ...]:
    """:data:`COLUMNS`, with the columns whose key is in ``optional`` no longer required.

    A job that reads only some columns (``remove`` needs no file) opens manifests with these.
    """
    return tuple(replace(c, required=False) if c.key in optional else c for c in COLUMNS)


#: Every accepted name (lower-cased), for a reader to skip the others quickly.
ALIASES: frozenset[str] = frozenset(alias for column in COLUMNS for alias in column.matches)


#: One data row as a reader found it: ``(line, values)``, the line of the source where the row
#: starts (from 1) and one value per column of :data:`COLUMNS`, in its order, spaces trimmed.
#: A plain tuple: a reader makes one per row, and a named tuple takes ten times as long to make.
Record: TypeAlias = tuple[int, tuple[str, ...]]


def normalize(name: str) -> str:
    """A header cell or key as it is compared with the aliases."""
    return name.strip().lower()


def missing(column: Column, noun: str, found: Iterable[str]) -> str:
    """The end of the message for a manifest without ``column``: noun is "column" or "key"."""
    shown = ", ".join(found) or "none"
    return f"no {column.key} {noun} — found {noun}s: {shown}; accepted: {column.accepted}"


def shape_hint() -> str:
    """What a structured (YAML-like) manifest must look like, for its shape errors."""
    required = [column for column in COLUMNS if column.required]
    keys = " and ".join(f"'{column.aliases[0]}'" for column in required)
    first, second = COLUMNS[0].key, COLUMNS[1].key
    return f"expected a list of mappings with {keys} keys, or a mapping of {first}: {second}"
