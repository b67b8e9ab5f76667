"""The one table of manifest columns, read by every reader.

Each :class:`Column` says what a reader looks for (its aliases, compared as :func:`normalize`
makes them: case, spaces, ``_`` and ``-`` ignored, so ``E-Mail``, ``user_id`` and ``User ID``
are ``email``, ``userid`` and ``userid``), whether a manifest must have it, and what a message
shows ("accepted: email, e-mail, ..."). Adding a column or an alias is one edit to
:data:`COLUMNS`; the readers and their messages follow. The operator may name a column's header
instead (``--user-column``): :func:`match_keys` gives what to look for either way.

A reader hands back each row as a :data:`Record`: the line it starts on, one value per column
(in the order of :data:`COLUMNS`), the row's extra cells and, for a row that cannot be used,
why.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from ._options import ReadOptions

# What names are compared without: case aside, "E-Mail", "e_mail" and " email " are one name.
# U+00A0 (no-break space) comes with headers pasted from web pages and Word. Other characters
# (a tab, a control character) inside a name make another name.
_IGNORED = str.maketrans("", "", " _-\u00a0")


def normalize(name: str) -> str:
    """A header cell or key as it is compared with the aliases: trimmed, lower-cased, with no
    spaces, ``_`` or ``-``."""
    return name.strip().lower().translate(_IGNORED)


@dataclass(frozen=True)
class Column:
    """One column a manifest may hold."""

    key: str  #: what the column is, as messages say it: "no user column"
    aliases: tuple[str, ...]  #: accepted names as shown in messages; the first present wins
    required: bool = True  #: when False, a manifest without it reads as "" in every row
    #: ``aliases`` as readers compare them: :func:`normalize`-d, each once.
    matches: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        matches = dict.fromkeys(normalize(alias) for alias in self.aliases)
        object.__setattr__(self, "matches", tuple(matches))

    @property
    def accepted(self) -> str:
        """The names a message lists after "accepted:"."""
        return ", ".join(self.aliases)

    def find(self, present: Container[str]) -> str | None:
        """The alias (normalized) that ``present`` (names :func:`normalize`-d) holds, if any.

        The aliases are tried in table order, so with both ``user`` and ``email`` present the
        ``email`` one is read, wherever it stands.
        """
        for alias in self.matches:  # a loop, not next(...): readers call this once per row
            if alias in present:
                return alias
        return None


#: Every column, in the order of a :data:`Record`'s values. The common names of HR systems'
#: exports: Workday and Personio ("Email", "E-Mail"), Azure AD ("mail", "userPrincipalName"),
#: German ones ("Foto", "Bild").
COLUMNS: tuple[Column, ...] = (
    Column(
        "user",
        (
            "email",
            "e-mail",
            "email address",
            "mail",
            "user",
            "user_id",
            "userId",
            "login",
            "userPrincipalName",
            "upn",
        ),
    ),
    Column(
        "file",
        (
            "file",
            "photo",
            "picture",
            "path",
            "image",
            "photo file",
            "photo path",
            "file name",
            "foto",
            "bild",
        ),
    ),
)


def columns_for(*, optional: frozenset[str] = frozenset()) -> tuple[Column, ...]:
    """:data:`COLUMNS`, with the columns whose key is in ``optional`` no longer required.

    A job that reads only some columns (``remove`` needs no file) opens manifests with these.
    """
    return tuple(replace(c, required=False) if c.key in optional else c for c in COLUMNS)


#: One data row as a reader found it: ``(line, values, extras, problem)``. ``line`` is where
#: the row starts in the source (from 1; a workbook's: Excel's row number); ``values`` one per
#: column of :data:`COLUMNS`, in its order, spaces trimmed; ``extras`` one per extra column of
#: the reader's :class:`~._options.Layout`, as written (a YAML row's may be shorter: the rest
#: are ""); ``problem`` None, or why the row cannot be used (one line, starting "line N: ").
#: A plain tuple: a reader makes one per row, and a named tuple takes ten times as long to make.
Record: TypeAlias = tuple[int, tuple[str, ...], tuple[str, ...], str | None]


def match_keys(columns: tuple[Column, ...], options: ReadOptions) -> tuple[tuple[str, ...], ...]:
    """For each column, the normalized names that are it: the one the options give, else its
    aliases (in table order: the first present wins)."""
    keys = []
    for column in columns:
        named = options.column_name(column.key)
        keys.append((normalize(named),) if named is not None else column.matches)
    return tuple(keys)


def missing(
    column: Column,
    noun: str,
    found: Iterable[str],
    options: ReadOptions | None = None,
    hint: str = "",
) -> str:
    """The end of the message for a manifest without ``column``: noun is "column" or "key";
    ``hint`` follows the names found (how the header was split, say)."""
    shown = f"{', '.join(found) or 'none'}{hint}"
    named = options.column_name(column.key) if options is not None else None
    if named is not None:
        said = f"the {column.key} {noun}, as --{column.key}-column says"
        return f"no {noun} {named.strip()!r} ({said}) — found {noun}s: {shown}"
    return (
        f"no {column.key} {noun} — found {noun}s: {shown}; accepted: {column.accepted}"
        f" (or name it with --{column.key}-column)"
    )


def shape_hint() -> str:
    """What a structured (YAML-like) manifest must look like, for its shape errors."""
    required = [column for column in COLUMNS if column.required]
    keys = " and ".join(f"'{column.aliases[0]}'" for column in required)
    first, second = COLUMNS[0].key, COLUMNS[1].key
    return f"expected a list of mappings with {keys} keys, or a mapping of {first}: {second}"
