"""Reading a YAML manifest, streamed from parser events; loaded only for YAML manifests.

Streamed from parser events (yaml.parse), not yaml.safe_load, so a 100,000-row YAML manifest
is never built in memory as one list. Scalars keep their text as written: a Zoom user ID such
as 0123 or "no" is never turned into a number or a boolean.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .._exceptions import ManifestError
from .._models import ManifestRow
from ._reader import (
    _FILE_SHOWN,
    _USER_SHOWN,
    FILE_COLUMNS,
    USER_COLUMNS,
    _not_utf8,
    resolve_file,
)

try:  # the C parser is ~10x faster; fall back to pure Python where libyaml is missing
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class _Item:
    line: int
    user: str
    file: str


def _yaml_events(path: Path) -> Iterator[yaml.Event]:
    with path.open("rb") as handle:
        decoder = codecs.getreader("utf-8-sig")(handle, "strict")
        try:
            yield from yaml.parse(decoder, Loader=_Loader)
        except UnicodeDecodeError:
            raise _not_utf8(path) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise ManifestError(f"{path}: {where}malformed YAML ({exc.problem})") from None
        except yaml.reader.ReaderError as exc:  # no mark: it carries a character position
            code = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "?"
            raise ManifestError(
                f"{path}: line {_line_at(path, exc.position)}: malformed YAML"
                f" ({exc.reason}: {code}) — remove that character"
            ) from None
        except yaml.YAMLError as exc:
            raise ManifestError(f"{path}: malformed YAML ({exc})") from None


def _line_at(path: Path, position: int) -> int:
    """The line holding offset ``position`` (libyaml counts UTF-8 bytes) of a file."""
    with path.open("rb") as handle:
        return handle.read(position).count(b"\n") + 1


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def _skip_node(first: yaml.Event, events: Iterator[yaml.Event]) -> None:
    """Consume the rest of a node whose first event was ``first``."""
    depth = 1 if isinstance(first, yaml.CollectionStartEvent) else 0
    while depth:
        event = next(events)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _shape_error(path: Path, event: yaml.Event, what: str) -> ManifestError:
    return ManifestError(
        f"{path}: line {_line(event)}: {what} — expected a list of mappings with"
        " 'email' and 'file' keys, or a mapping of user: file"
    )


def _scalar(path: Path, event: yaml.Event, events: Iterator[yaml.Event], key: str) -> str:
    if isinstance(event, yaml.ScalarEvent):
        text = str(event.value)
        # An unquoted null/~ is "no value", not the user called "null".
        if event.implicit[0] and text in ("~", "null", "Null", "NULL"):
            return ""
        return text.strip()
    if isinstance(event, yaml.AliasEvent):
        raise _shape_error(path, event, f"'{key}' is an alias; write the value out")
    _skip_node(event, events)
    raise _shape_error(path, event, f"'{key}' holds a list or mapping, not text")


def _yaml_items(path: Path) -> Iterator[_Item]:
    events = _yaml_events(path)
    documents = 0
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _shape_error(path, event, "more than one YAML document")
            continue
        if isinstance(event, yaml.SequenceStartEvent):
            yield from _yaml_list(path, events)
        elif isinstance(event, yaml.MappingStartEvent):
            yield from _yaml_mapping(path, events)
        elif isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            if isinstance(event, yaml.ScalarEvent) and event.value == "" and event.implicit[0]:
                continue  # an empty document
            raise _shape_error(path, event, "the manifest is a single value")


def _yaml_list(path: Path, events: Iterator[yaml.Event]) -> Iterator[_Item]:
    for event in events:
        if isinstance(event, yaml.SequenceEndEvent):
            return
        if not isinstance(event, yaml.MappingStartEvent):
            if isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
                raise _shape_error(path, event, "a list item is not a mapping")
            _skip_node(event, events)
            raise _shape_error(path, event, "a list item is not a mapping")
        start = _line(event)
        values: dict[str, str] = {}
        seen: list[str] = []
        while True:
            key_event = next(events)
            if isinstance(key_event, yaml.MappingEndEvent):
                break
            if not isinstance(key_event, yaml.ScalarEvent):
                raise _shape_error(path, key_event, "a key is not text")
            name = str(key_event.value).strip()
            lowered = name.lower()
            seen.append(name)
            value_event = next(events)
            if lowered in USER_COLUMNS or lowered in FILE_COLUMNS:
                values.setdefault(lowered, _scalar(path, value_event, events, name))
            else:
                _skip_node(value_event, events)
        user_key = next((n for n in USER_COLUMNS if n in values), None)
        file_key = next((n for n in FILE_COLUMNS if n in values), None)
        if user_key is None or file_key is None:
            missing = "user" if user_key is None else "file"
            accepted = _USER_SHOWN if user_key is None else _FILE_SHOWN
            found = ", ".join(seen) or "none"
            raise ManifestError(
                f"{path}: line {start}: no {missing} key"
                f" — found keys: {found}; accepted: {accepted}"
            )
        yield _Item(start, values[user_key], values[file_key])


def _yaml_mapping(path: Path, events: Iterator[yaml.Event]) -> Iterator[_Item]:
    for event in events:
        if isinstance(event, yaml.MappingEndEvent):
            return
        if not isinstance(event, yaml.ScalarEvent):
            raise _shape_error(path, event, "a key is not text")
        user = str(event.value).strip()
        value_event = next(events)
        yield _Item(_line(event), user, _scalar(path, value_event, events, user))


def yaml_scan(path: Path) -> tuple[str, str, int]:
    total = sum(1 for _ in _yaml_items(path))
    if total == 0:
        raise ManifestError(f"{path}: the manifest is empty")
    return "email", "file", total


def yaml_rows(path: Path, folder: Path) -> Iterator[ManifestRow]:
    for number, item in enumerate(_yaml_items(path), start=1):
        yield ManifestRow(number, item.line, item.user, item.file, resolve_file(item.file, folder))
