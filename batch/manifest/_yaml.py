"""The YAML reader: a list of mappings, or one mapping of user: file. Imports PyYAML.

Two shapes are read, each item one row::

    - email: jane@example.com        jane@example.com: jane.jpg
      file: jane.jpg                 bob@example.com: photos/bob.png

In the list, keys are matched against the aliases of :data:`~._columns.COLUMNS` (other keys
are ignored); in the mapping, the key is the first column and the value the second.

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
from ._columns import ALIASES, COLUMNS, Column, Record, missing, normalize, shape_hint
from ._text import check_text, decoded, line_at

try:  # the C parser is ~10x faster; fall back to pure Python where libyaml is missing
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_SHAPE = shape_hint()
_NULLS = ("~", "null", "Null", "NULL")
#: What a ``user: file`` item reads as in the columns after the second.
_PAD = ("",) * (len(COLUMNS) - 2)


def read_yaml(
    stream: IO[bytes], source: str, columns: tuple[Column, ...] = COLUMNS
) -> Iterator[Record]:
    """Stream the rows of a YAML manifest (UTF-8, one document).

    ``stream`` is binary and seekable, positioned at the start; it is left open. Errors are
    :class:`ManifestError` starting ``"{source}: line N: "`` (malformed YAML, a shape this does
    not read, an item without a required key), or ``"{source}: the manifest is empty"`` when
    it holds no rows, raised when the stream is found to be so: a consumer that reads every row
    has checked the file.
    """
    check_text(stream, source)
    start = stream.tell()
    rows = 0
    with decoded(stream, source) as text:
        events = _events(text, source, stream, start)
        for record in _records(events, source, columns):
            rows += 1
            yield record
    if rows == 0:
        raise ManifestError(f"{source}: the manifest is empty")


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


def _shape_error(source: str, event: yaml.Event, what: str) -> ManifestError:
    return ManifestError(f"{source}: line {_line(event)}: {what} — {_SHAPE}")


def _skip_node(first: yaml.Event, events: Iterator[yaml.Event]) -> None:
    """Consume the rest of a node whose first event was ``first``."""
    depth = 1 if isinstance(first, yaml.CollectionStartEvent) else 0
    while depth:
        event = next(events)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _scalar(source: str, event: yaml.Event, events: Iterator[yaml.Event], key: str) -> str:
    """The text of a value, trimmed; raises for an alias, a list or a mapping."""
    if isinstance(event, yaml.ScalarEvent):
        text = str(event.value)
        # An unquoted null/~ is "no value", not the user called "null".
        if event.implicit[0] and text in _NULLS:
            return ""
        return text.strip()
    if isinstance(event, yaml.AliasEvent):
        raise _shape_error(source, event, f"'{key}' is an alias; write the value out")
    _skip_node(event, events)
    raise _shape_error(source, event, f"'{key}' holds a list or mapping, not text")


def _records(
    events: Iterator[yaml.Event], source: str, columns: tuple[Column, ...]
) -> Iterator[Record]:
    documents = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _shape_error(source, event, "more than one YAML document")
            continue
        if isinstance(event, yaml.SequenceStartEvent):
            yield from _list(events, source, columns)
        elif isinstance(event, yaml.MappingStartEvent):
            yield from _mapping(events, source)
        elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            if isinstance(event, yaml.ScalarEvent) and event.value == "" and event.implicit[0]:
                continue  # an empty document
            raise _shape_error(source, event, "the manifest is a single value")


def _list(
    events: Iterator[yaml.Event], source: str, columns: tuple[Column, ...]
) -> Iterator[Record]:
    for event in events:
        if isinstance(event, yaml.SequenceEndEvent):
            return
        if not isinstance(event, yaml.MappingStartEvent):
            if not isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                _skip_node(event, events)
            raise _shape_error(source, event, "a list item is not a mapping")
        yield _list_item(_line(event), events, source, columns)


def _list_item(
    start: int, events: Iterator[yaml.Event], source: str, columns: tuple[Column, ...]
) -> Record:
    """One mapping of the list, from the event after its start to its end."""
    found: dict[str, str] = {}  # accepted key (lower-cased) -> value; the first one wins
    seen: list[str] = []
    while True:
        key_event = next(events)
        if isinstance(key_event, yaml.MappingEndEvent):
            break
        if not isinstance(key_event, yaml.ScalarEvent):
            raise _shape_error(source, key_event, "a key is not text")
        name = str(key_event.value).strip()
        seen.append(name)
        value_event = next(events)
        if (lowered := normalize(name)) in ALIASES:
            found.setdefault(lowered, _scalar(source, value_event, events, name))
        else:
            _skip_node(value_event, events)
    values: list[str] = []
    for column in columns:
        alias = column.find(found)
        if alias is None and column.required:
            raise ManifestError(f"{source}: line {start}: {missing(column, 'key', seen)}")
        values.append("" if alias is None else found[alias])
    return start, tuple(values)


def _mapping(events: Iterator[yaml.Event], source: str) -> Iterator[Record]:
    for event in events:
        if isinstance(event, yaml.MappingEndEvent):
            return
        if not isinstance(event, yaml.ScalarEvent):
            raise _shape_error(source, event, "a key is not text")
        user = str(event.value).strip()
        value_event = next(events)
        file = _scalar(source, value_event, events, user)
        yield _line(event), (user, file, *_PAD)
