"""Photos: where their bytes come from (a file, a URL), and the one image check and ``--fit``."""

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
from ._remote import (
    MemoryValidators,
    RemotePhotos,
    RoutedPhotos,
    Validator,
    Validators,
    check_allow_hosts,
    check_photo_headers,
    host_rules,
    is_url,
    photo_policy,
)
from ._source import Checked, PhotoSource

__all__ = [
    "DEFAULT_FIT_MAX_EDGE",
    "MAX_UPLOAD_BYTES",
    "MIN_FIT_MAX_EDGE",
    "Checked",
    "LocalFiles",
    "MemoryValidators",
    "PhotoSource",
    "RemotePhotos",
    "RoutedPhotos",
    "Validator",
    "Validators",
    "check_allow_hosts",
    "check_file",
    "check_photo_headers",
    "host_rules",
    "is_url",
    "not_found",
    "photo_policy",
    "prepare_image",
    "register_heif",
    "sniff",
    "to_srgb_on_white",
]
