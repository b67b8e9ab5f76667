"""The YAML reader: a list of mappings, or one mapping of user: file. Imports PyYAML.

Two shapes are read, each item one row::

    - email: jane@example.com        jane@example.com: jane.jpg
      file: jane.jpg                 bob@example.com: photos/bob.png

In the list, keys are matched against the column table (``_columns.py``); every other key is
an extra column, carried to the report (the first :data:`MAX_EXTRA_COLUMNS` such keys met).
In the mapping, the key is the first column and the value the second; there are no extras.

One item that cannot be a row (not a mapping, a list where text was expected, an alias, no
user key) is still a row, with its problem (:data:`~._columns.Record`): the run reports it
invalid and goes on with the others. A document that cannot be read (malformed YAML, not
UTF-8, several documents, a single value) raises :class:`ManifestError`.

Streamed from parser events (``yaml.parse``), not ``yaml.safe_load``, so a 100,000-row YAML
manifest is never built in memory as one list. Scalars keep their text as written: a Zoom user
ID such as 0123 or "no" is never turned into a number or a boolean; an unquoted ``~`` or
``null`` value reads as "". Only :mod:`._registry` should import this module, on demand, so
that PyYAML loads only for a YAML manifest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

import yaml

from .._exceptions import ManifestError
from ._columns import COLUMNS, Column, Record, match_keys, missing, normalize, shape_hint
from ._options import DEFAULT_OPTIONS, Layout, ReadOptions
from ._text import check_text, decoded, line_at

try:  # the C parser is ~10x faster; fall back to pure Python where libyaml is missing
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

#: How many extra keys a list of mappings carries to the report; later ones are left out.
MAX_EXTRA_COLUMNS = 100

_SHAPE = shape_hint()
_SCALAR, _MAPPING_END = yaml.ScalarEvent, yaml.MappingEndEvent
#: How many distinct keys the memo of normalized keys holds (a list's keys repeat).
_MEMO = 1000
_NULLS = ("~", "null", "Null", "NULL")
#: What a ``user: file`` item reads as in the columns after the second.
_PAD = ("",) * (len(COLUMNS) - 2)


class _NotText:
    """A value that is no text (a list, a mapping, an alias): why, for the row's problem."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def read_yaml(
    stream: IO[bytes],
    source: str,
    columns: tuple[Column, ...] = COLUMNS,
    options: ReadOptions = DEFAULT_OPTIONS,
    layout: Layout | None = None,
) -> Iterator[Record]:
    """Stream the rows of a YAML manifest (UTF-8, one document).

    ``stream`` is binary and seekable, positioned at the start; it is left open. Errors are
    :class:`ManifestError` starting ``"{source}: line N: "`` (malformed YAML, a shape this does
    not read), or ``"{source}: the manifest is empty"`` when it holds nothing (an empty list
    or mapping is no error: no rows), raised when the stream is found to be so: a consumer
    that reads every row has checked the file. ``layout`` gets the extra keys as they come.
    """
    check_text(stream, source)
    start = stream.tell()
    items = _Items(source, columns, options, layout if layout is not None else Layout())
    with decoded(stream, source) as text:
        yield from items.records(_events(text, source, stream, start))
    if not items.collections:
        raise ManifestError(f"{source}: the manifest is empty")
    items.note_left_out()


def _events(text: IO[str], source: str, stream: IO[bytes], start: int) -> Iterator[yaml.Event]:
    try:
        yield from yaml.parse(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ManifestError(f"{source}: {where}malformed YAML ({exc.problem})") from None
    except yaml.reader.ReaderError as exc:  # no mark: it carries a position (libyaml: bytes)
        code = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "?"
        raise ManifestError(
            f"{source}: line {line_at(stream, exc.position, start)}: malformed YAML"
            f" ({exc.reason}: {code}) — remove that character"
        ) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: malformed YAML ({exc})") from None


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def _problem(event: yaml.Event, what: str) -> str:
    return f"line {_line(event)}: {what} — {_SHAPE}"


def _skip_node(first: yaml.Event, events: Iterator[yaml.Event]) -> None:
    """Consume the rest of a node whose first event was ``first``."""
    depth = 1 if isinstance(first, yaml.CollectionStartEvent) else 0
    while depth:
        event = next(events)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _value(event: yaml.Event, events: Iterator[yaml.Event], key: str) -> str | _NotText:
    """The text of a value as written (an unquoted null: ""), or why it is none."""
    if isinstance(event, yaml.ScalarEvent):
        text = str(event.value)
        # An unquoted null/~ is "no value", not the user called "null".
        return "" if event.implicit[0] and text in _NULLS else text
    if isinstance(event, yaml.AliasEvent):
        return _NotText(_problem(event, f"'{key}' is an alias; write the value out"))
    _skip_node(event, events)
    return _NotText(_problem(event, f"'{key}' holds a list or mapping, not text"))


class _Items:
    """The rows of one document, and the extra keys met so far."""

    def __init__(
        self, source: str, columns: tuple[Column, ...], options: ReadOptions, layout: Layout
    ) -> None:
        self.source = source
        self.columns = columns
        self.options = options
        keys = match_keys(columns, options)
        self.plan = tuple(zip(columns, keys, strict=True))
        self.wanted = frozenset(key for names in keys for key in names)
        self.normalized: dict[str, str] = {}  # key as written -> normalize(key), a memo
        self.layout = layout
        self.extra_index = {name: i for i, name in enumerate(layout.extra_columns)}
        # Extra keys past the cap, in order, each once: the first _MEMO of them, for the note.
        self.left_out: dict[str, None] = {}
        self.collections = 0  # top-level lists or mappings met: none means an empty file

    def records(self, events: Iterator[yaml.Event]) -> Iterator[Record]:
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self._error(event, "more than one YAML document")
                continue
            if isinstance(event, yaml.SequenceStartEvent):
                self.collections += 1
                yield from self._list(events)
            elif isinstance(event, yaml.MappingStartEvent):
                self.collections += 1
                yield from self._mapping(events)
            elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                if isinstance(event, yaml.ScalarEvent) and event.value == "" and event.implicit[0]:
                    continue  # an empty document
                raise self._error(event, "the manifest is a single value")

    def note_left_out(self) -> None:
        if self.left_out:
            first, *rest = self.left_out
            capped = "+" if len(self.left_out) >= _MEMO else ""
            more = f" and {len(rest)}{capped} more" if rest else ""
            self.layout.notes.append(
                f"keys beyond the first {MAX_EXTRA_COLUMNS} extra ones are not carried to the"
                f" report: {first!r}{more}"
            )

    def _error(self, event: yaml.Event, what: str) -> ManifestError:
        return ManifestError(f"{self.source}: {_problem(event, what)}")

    def _blank(self, line: int, problem: str) -> Record:
        return line, ("",) * len(self.columns), ("",) * len(self.layout.extra_columns), problem

    def _list(self, events: Iterator[yaml.Event]) -> Iterator[Record]:
        for event in events:
            if isinstance(event, yaml.SequenceEndEvent):
                return
            if isinstance(event, yaml.MappingStartEvent):
                yield self._item(_line(event), events)
                continue
            if not isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                _skip_node(event, events)
            yield self._blank(_line(event), _problem(event, "a list item is not a mapping"))

    def _item(self, start: int, events: Iterator[yaml.Event]) -> Record:
        """One mapping of the list, from the event after its start to its end.

        This runs once per row: plain loops and a memo of normalized keys keep a 100,000-row
        list (email and file keys) within 8% of the reader before extras and per-row problems
        (1.83 s a pass against 1.71 s, best of 7 interleaved on a 2-core VM).
        """
        pairs: list[tuple[str, str | _NotText]] = []  # (key as written, value) in order
        at: dict[str, int] = {}  # a column's name (normalized) -> its pair; the first wins
        problem: str | None = None
        wanted, normalized = self.wanted, self.normalized
        while True:
            key_event = next(events)
            if type(key_event) is _MAPPING_END:
                break
            if not isinstance(key_event, _SCALAR):
                _skip_node(key_event, events)
                _skip_node(next(events), events)
                problem = problem or _problem(key_event, "a key is not text")
                continue
            name: str = key_event.value.strip()
            value_event = next(events)
            value: str | _NotText
            if type(value_event) is _SCALAR:
                value = value_event.value
                if value_event.implicit[0] and value in _NULLS:
                    value = ""  # an unquoted null/~ is "no value", not the user called "null"
            else:
                value = _value(value_event, events, name)
            lowered = normalized.get(name)
            if lowered is None:
                lowered = normalize(name)
                if len(normalized) < _MEMO:
                    normalized[name] = lowered
            if lowered in wanted and lowered not in at:
                at[lowered] = len(pairs)
            pairs.append((name, value))
        values: list[str] = []
        taken: list[int] = []  # the pairs read as columns
        for column, keys in self.plan:
            index = None
            for key in keys:
                if key in at:
                    index = at[key]
                    break
            if index is None:
                if column.required and problem is None:
                    seen = [name for name, _ in pairs]
                    problem = f"line {start}: {missing(column, 'key', seen, self.options)}"
                values.append("")
                continue
            taken.append(index)
            value = pairs[index][1]
            if isinstance(value, _NotText):
                problem = problem or value.why
                values.append("")
            else:
                values.append(value.strip())
        if len(taken) == len(pairs) and not self.extra_index:
            return start, tuple(values), (), problem
        return start, tuple(values), self._extras(pairs, set(taken)), problem

    def _extras(self, pairs: list[tuple[str, str | _NotText]], taken: set[int]) -> tuple[str, ...]:
        """The extra keys' values, one per extra column met so far; registers new keys."""
        found: dict[int, str] = {}
        for index, (name, value) in enumerate(pairs):
            if index in taken:
                continue
            position = self.extra_index.get(name)
            if position is None:
                if len(self.extra_index) >= MAX_EXTRA_COLUMNS:
                    if len(self.left_out) < _MEMO:
                        self.left_out[name] = None
                    continue
                position = self.extra_index[name] = len(self.layout.extra_columns)
                self.layout.extra_columns.append(name)
            found.setdefault(position, "" if isinstance(value, _NotText) else value)
        return tuple([found.get(i, "") for i in range(len(self.layout.extra_columns))])

    def _mapping(self, events: Iterator[yaml.Event]) -> Iterator[Record]:
        for event in events:
            if isinstance(event, yaml.MappingEndEvent):
                return
            if not isinstance(event, yaml.ScalarEvent):
                _skip_node(event, events)
                _skip_node(next(events), events)
                yield self._blank(_line(event), _problem(event, "a key is not text"))
                continue
            user = str(event.value).strip()
            value = _value(next(events), events, user)
            if isinstance(value, _NotText):
                yield _line(event), (user, "", *_PAD), (), value.why
            else:
                yield _line(event), (user, value.strip(), *_PAD), (), None
