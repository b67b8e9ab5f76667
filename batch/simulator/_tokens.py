"""The simulator's access tokens: what each was issued with, and which ones still count.

A token remembers its expiry and the scopes it was issued with: changing the app's scopes
(:meth:`~batch.simulator.Simulator.set_scopes`) affects only tokens issued afterwards, as at
Zoom. With a *token tolerance* N, issuing a token invalidates all but the newest N + 1 (the
"token index tolerance" of Zoom forum reports, ZOOM_API.md).

A picture call's scope rule is Zoom's: the granular account-level scope or the classic
``user:write:admin``; for ``me`` (a user-level app) also their user-level forms. A master
account's ``:master`` forms are not simulated.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from .._exceptions import ConfigError

__all__ = [
    "GRANULAR_SCOPES",
    "LIST_USERS",
    "READ_USER",
    "REMOVE_PICTURE",
    "UPLOAD_PICTURE",
    "ScopeRule",
    "Token",
    "TokenBook",
    "check_scopes",
]

#: What a Server-to-Server app created since 2024 needs for everything zoom-batch does.
GRANULAR_SCOPES: Final = (
    "user:read:user:admin user:read:list_users:admin"
    " user:write:profile_picture:admin user:delete:profile_picture:admin"
)
# Checked once, on configuration: letters, digits and Zoom's separators, split by spaces.
_SCOPE_WORD: Final = re.compile(r"[A-Za-z0-9_.:\-]+")


def check_scopes(option: str, text: object) -> frozenset[str]:
    """The scopes of a space-separated ``scope`` text; ConfigError names ``option``."""
    if not isinstance(text, str):
        raise ConfigError(f"simulator option {option} must be text, got {text!r}")
    words = text.split(" ")
    bad = [word for word in words if word and not _SCOPE_WORD.fullmatch(word)]
    if bad:
        raise ConfigError(
            f"simulator option {option}: {bad[0]!r} is not a scope"
            " (scopes are separated by single spaces, e.g. user:write:profile_picture:admin)"
        )
    return frozenset(word for word in words if word)


class ScopeRule:
    """Which scopes let a token make one kind of picture call, and what a refusal names."""

    __slots__ = ("_for_me", "_for_users", "missing_for_me", "missing_for_users")

    def __init__(self, granular: str, classic: str) -> None:
        self._for_users = frozenset({f"{granular}:admin", f"{classic}:admin"})
        self._for_me = self._for_users | {granular, classic}
        #: The granular scopes named in a 4711 refusal, in Zoom's ``[a, b]`` form.
        self.missing_for_users = f"[{granular}:admin]"
        self.missing_for_me = f"[{granular}, {granular}:admin]"

    def allows(self, scopes: frozenset[str], user: str) -> bool:
        """Whether a token holding ``scopes`` may make this call for ``user`` (as addressed)."""
        return not scopes.isdisjoint(self._for_me if user == "me" else self._for_users)

    def missing(self, user: str) -> str:
        return self.missing_for_me if user == "me" else self.missing_for_users


UPLOAD_PICTURE: Final = ScopeRule("user:write:profile_picture", "user:write")
REMOVE_PICTURE: Final = ScopeRule("user:delete:profile_picture", "user:write")
READ_USER: Final = ScopeRule("user:read:user", "user:read")
LIST_USERS: Final = ScopeRule("user:read:list_users", "user:read")


class Token:
    """One issued token: when it expires (``time.monotonic()``) and what it may do."""

    __slots__ = ("expiry", "scopes")

    def __init__(self, expiry: float, scopes: frozenset[str]) -> None:
        self.expiry = expiry
        self.scopes = scopes


class TokenBook:
    """The tokens that still count, oldest first (a dict keeps the order of issue).

    Expired tokens are forgotten when a new one is issued, so a lookup is one dict access and
    the book never holds more than the tokens issued within one lifetime.
    """

    __slots__ = ("_kept", "_tokens")

    def __init__(self, tolerance: int | None) -> None:
        self._tokens: dict[str, Token] = {}
        self._kept = None if tolerance is None else tolerance + 1

    def issue(self, now: float, ttl: float, scopes: frozenset[str]) -> str:
        """A new token valid for ``ttl`` seconds; with a tolerance, older ones may go."""
        tokens = {key: held for key, held in self._tokens.items() if held.expiry > now}
        token = secrets.token_urlsafe(32)
        tokens[token] = Token(now + ttl, scopes)
        kept = self._kept
        if kept is not None:
            while len(tokens) > kept:
                del tokens[next(iter(tokens))]
        self._tokens = tokens
        return token

    def get(self, token: str) -> Token | None:
        """The token if it was issued and not invalidated since (expiry is the caller's check)."""
        return self._tokens.get(token)

    def clear(self) -> None:
        self._tokens.clear()

    def __len__(self) -> int:
        return len(self._tokens)
