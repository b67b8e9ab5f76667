"""Reading manifests: one reader per format, one table of columns, rows streamed."""

from __future__ import annotations

from ._reader import Manifest, open_manifest, resolve_file

__all__ = ["Manifest", "open_manifest", "resolve_file"]
