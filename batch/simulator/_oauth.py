"""The Server-to-Server OAuth token request: its parameters and Zoom's refusals of it."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Final

from aiohttp import hdrs, web

_GRANT_TYPE: Final = "account_credentials"


async def token_params(request: web.Request) -> dict[str, str]:
    """The query string's parameters, plus ``grant_type`` and ``account_id`` from a form body."""
    params = dict(request.query)
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        for key in ("grant_type", "account_id"):
            value = form.get(key)
            if key not in params and isinstance(value, str):
                params[key] = value
    return params


def token_refusal(
    request: web.Request, params: dict[str, str], *, credentials: bytes, account_id: str
) -> web.Response | None:
    """Zoom's answer to a token request it refuses (wrong client, grant type, account), or None."""
    given = _basic_credentials(request.headers.get(hdrs.AUTHORIZATION, ""))
    if given is None or not secrets.compare_digest(given, credentials):
        return _oauth_error(401, "Invalid client_id or client_secret", "invalid_client")
    if params.get("grant_type") != _GRANT_TYPE:
        return _oauth_error(400, "unsupported grant type", "unsupported_grant_type")
    if params.get("account_id") != account_id:
        return _oauth_error(400, "Invalid account_id", "invalid_request")
    return None


def _oauth_error(status: int, reason: str, error: str) -> web.Response:
    return web.json_response({"reason": reason, "error": error}, status=status)


def _basic_credentials(header: str) -> bytes | None:
    """The decoded ``id:secret`` of a Basic Authorization header, or None."""
    # By hand: aiohttp 3.14 deprecates BasicAuth and offers only an encoder in its place.
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if b":" in decoded else None
