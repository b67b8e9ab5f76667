"""Reading a ``--config`` YAML file: ``${ENV}`` substitution, unknown keys, hostile YAML.

:func:`read_config_file` hands back the file's settings as text and plain values, not yet
parsed: :func:`~batch._config.build_config` parses and checks them with the flags and the
environment, so that a message names where a bad value came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._config import SETTINGS, did_you_mean
from ._exceptions import ConfigError

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _substitute(text: str, environ: Mapping[str, str]) -> str | None:
    """Replace ``${VAR}`` and ``${VAR:-default}``; None when a bare reference is unset."""
    missing = False

    def one(match: re.Match[str]) -> str:
        nonlocal missing
        value = environ.get(match.group(1))
        if value:
            return value
        if match.group(2) is not None:
            return match.group(2)
        missing = True
        return ""

    result = _ENV_REFERENCE.sub(one, text)
    # A value that is only an unset reference means "not set here", so that a config file
    # can say ``client_secret: ${ZOOM_CLIENT_SECRET}`` and a dry run still needs no secret.
    return None if missing and not result.strip() else result


def read_config_file(
    path: Path, environ: Mapping[str, str], *, sections: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Read a YAML config file, substitute ``${ENV}`` references, reject unknown keys.

    ``sections`` names the keys it may hold besides the run settings (the CLI's own).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    data = _load_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).strip().replace("-", "_")
        if name not in SETTINGS and name not in sections:
            hint = did_you_mean(name, (*SETTINGS, *sections))
            raise ConfigError(f"{path}: unknown setting {key!r}{hint}")
        result[name] = _expand(value, environ)
    return result


#: How deep a config file's values may nest. Its settings nest two or three levels (a
#: section and its keys); the bound keeps a hostile file from exhausting the stack.
MAX_DEPTH = 20
_NEST_HINT = "a config file's settings nest a few levels at most"


def _load_yaml(text: str, path: Path) -> Any:
    """The YAML document ``text`` (of the file ``path``), as ``yaml.safe_load`` reads it.

    Refused, with a ConfigError naming the file and line, when it holds an alias (``*name``)
    or nests deeper than :data:`MAX_DEPTH`. Aliases share one node however often they are
    written, so a few lines of them ("billion laughs") stand for 10**9 values once walked,
    and the settings are walked (``${ENV}`` substitution, the CLI's own sections). As the
    manifest's YAML reader does, this looks at parser events first (no tree, no recursion),
    and builds the document only from a file that passed.
    """
    import yaml  # here, not at the top: most runs have no config file, and it costs ~25 ms

    try:  # the C parser where PyYAML has it (it refuses 1,000 levels itself); else Python's
        loader: type = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - depends on how PyYAML was built
        loader = yaml.SafeLoader
    too_deep = f"nested more than {MAX_DEPTH} levels deep — {_NEST_HINT}"
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(
                    f"{path}: line {line}: *{event.anchor} is a YAML alias; write the value out"
                    " — a config file takes no aliases"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"{path}: line {line}: {too_deep}")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        if "maximum nesting depth" in problem:  # libyaml's own bound, met before ours
            problem = too_deep
        raise ConfigError(f"{path}:{where}: {problem}") from None


def _expand(value: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _substitute(value, environ)
    if isinstance(value, dict):
        return {k: _expand(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, environ) for v in value]
    return value
