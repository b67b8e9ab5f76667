"""A person's name among a manifest's extra columns, for the contact sheet and the console.

A manifest exported by an HR system often carries the name beside the e-mail: as one column
(``Name``, ``Display name``, ``Navn``...) or as two (``First name`` + ``Last name``, ``Vorname``
+ ``Nachname``...). Headers match whatever their case, spaces, dashes and accents.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Headers of one column holding the whole name, by preference; normalized as _key() makes them.
_WHOLE = (
    "displayname",
    "fullname",
    "name",
    "employeename",
    "employee",
    "personname",
    "navn",  # Danish, Norwegian
    "namn",  # Swedish
    "naam",  # Dutch
    "nimi",  # Finnish
    "nomcomplet",
    "nombrecompleto",
    "nomecompleto",
    "vollstandigername",
    "氏名",
    "名前",
    "姓名",
)
# (given name, family name) headers: the two are joined with a space.
_PAIRS = (
    ("firstname", "lastname"),
    ("firstname", "surname"),
    ("firstname", "familyname"),
    ("givenname", "surname"),
    ("givenname", "familyname"),
    ("givenname", "lastname"),
    ("forename", "surname"),
    ("vorname", "nachname"),
    ("prenom", "nom"),
    ("nombre", "apellidos"),
    ("nombre", "apellido"),
    ("nome", "cognome"),
    ("nome", "sobrenome"),
    ("fornavn", "efternavn"),
    ("fornavn", "etternavn"),
    ("fornamn", "efternamn"),
    ("voornaam", "achternaam"),
    ("etunimi", "sukunimi"),
)
# One column that may hold only part of the name ("Nom" is the surname on French forms):
# used when nothing better is there.
_PART = ("nom", "nombre", "nome")


def _key(header: str) -> str:
    """``"Prénom "`` -> ``"prenom"``: letters and digits only, no accents, any case."""
    decomposed = unicodedata.normalize("NFKD", header.casefold())
    return "".join(c for c in decomposed if c.isalnum())


@dataclass(frozen=True, slots=True)
class NameFinder:
    """Reads the name from a row's cells; see :func:`name_finder`."""

    #: Each way to make a name, best first: the indices of the cells to join.
    ways: tuple[tuple[int, ...], ...]

    def __call__(self, cells: Sequence[str]) -> str:
        """The name in ``cells`` (aligned with the columns given), or "" when it has none."""
        for way in self.ways:
            parts = (" ".join(cells[i].split()) for i in way if i < len(cells))
            name = " ".join(part for part in parts if part)
            if name:
                return name
        return ""

    def __bool__(self) -> bool:
        """True when the columns have a name column at all."""
        return bool(self.ways)


def name_finder(columns: Sequence[str]) -> NameFinder:
    """How to read a person's name from rows with these ``columns`` (headers as written).

    ``find = name_finder(manifest.extra_columns)``, then ``find(row.extras)`` per row. A row
    whose preferred column is empty falls back to the next way (a display name, else first and
    last name...); a finder for columns without any name column always gives "".
    """
    index: dict[str, int] = {}
    for i, header in enumerate(columns):
        index.setdefault(_key(header), i)  # the first of two same-named columns
    ways: list[tuple[int, ...]] = [(index[k],) for k in _WHOLE if k in index]
    ways += [(index[a], index[b]) for a, b in _PAIRS if a in index and b in index]
    ways += [(index[k],) for k in _PART if k in index]
    return NameFinder(tuple(dict.fromkeys(ways)))
