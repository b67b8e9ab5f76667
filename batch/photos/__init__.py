"""Photos: where their bytes come from (a source), and the one image check and ``--fit``."""

from __future__ import annotations

from ._check import MAX_UPLOAD_BYTES, check_file, not_found, prepare_image, sniff

__all__ = ["MAX_UPLOAD_BYTES", "check_file", "not_found", "prepare_image", "sniff"]
