"""Photos: where their bytes come from (a file, a URL), and the one image check and ``--fit``
(with ``--crop``: a square around the face, :mod:`._faces`)."""

from __future__ import annotations

from ._check import (
    DEFAULT_FIT_MAX_EDGE,
    MAX_FIT_SOURCE_BYTES,
    MAX_UPLOAD_BYTES,
    MIN_FIT_MAX_EDGE,
    check_file,
    excerpt,
    not_found,
    prepare_image,
)
from ._faces import crop_words, require_face_detector
from ._fit import PILLOW_FORMATS, CroppedImage, crop_of, open_picture, to_srgb_on_white
from ._heif import register_heif
from ._local import LocalFiles, within_root
from ._preview import PREVIEW_PX, Preview, Previews
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
from ._sniff import SNIFF_BYTES, sniff
from ._source import Checked, PhotoSource

__all__ = [
    "DEFAULT_FIT_MAX_EDGE",
    "MAX_FIT_SOURCE_BYTES",
    "MAX_UPLOAD_BYTES",
    "MIN_FIT_MAX_EDGE",
    "PILLOW_FORMATS",
    "PREVIEW_PX",
    "SNIFF_BYTES",
    "Checked",
    "CroppedImage",
    "LocalFiles",
    "MemoryValidators",
    "PhotoSource",
    "Preview",
    "Previews",
    "RemotePhotos",
    "RoutedPhotos",
    "Validator",
    "Validators",
    "check_allow_hosts",
    "check_file",
    "check_photo_headers",
    "crop_of",
    "crop_words",
    "excerpt",
    "host_rules",
    "is_url",
    "not_found",
    "open_picture",
    "photo_policy",
    "prepare_image",
    "register_heif",
    "require_face_detector",
    "sniff",
    "to_srgb_on_white",
    "within_root",
]
