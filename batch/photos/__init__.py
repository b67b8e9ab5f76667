"""Photos: where their bytes come from (a source), and the one image check and ``--fit``."""

from __future__ import annotations

from ._check import (
    DEFAULT_FIT_MAX_EDGE,
    MAX_UPLOAD_BYTES,
    MIN_FIT_MAX_EDGE,
    check_file,
    not_found,
    prepare_image,
    sniff,
)
from ._fit import to_srgb_on_white
from ._heif import register_heif
from ._local import LocalFiles
from ._source import Checked, PhotoSource

__all__ = [
    "DEFAULT_FIT_MAX_EDGE",
    "MAX_UPLOAD_BYTES",
    "MIN_FIT_MAX_EDGE",
    "Checked",
    "LocalFiles",
    "PhotoSource",
    "check_file",
    "not_found",
    "prepare_image",
    "register_heif",
    "sniff",
    "to_srgb_on_white",
]
