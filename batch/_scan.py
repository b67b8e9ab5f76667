"""Build a manifest from a folder of photos named after their users (``zoom-batch scan``).

The usual HR export names each photo after its user: ``jane.doe@example.com.jpg``, or only the
local part, ``jane.doe.jpg``, which needs ``--domain``. Only the folder's own entries are
scanned: hidden entries (``.DS_Store``, ``._jane.jpg``) are skipped without a word, and each
visible sub-folder is listed as not mapped, so a nested export is noticed rather than silently
half-read.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from ._exceptions import ConfigError
from ._files import atomic_write

#: Extensions Zoom takes as they are.
UPLOADABLE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png"})
#: Extensions that are mapped but must be converted with ``--fit`` before Zoom takes them.
CONVERTIBLE_EXTENSIONS = frozenset({".gif", ".webp", ".heic", ".bmp", ".tif", ".tiff"})
IMAGE_EXTENSIONS = UPLOADABLE_EXTENSIONS | CONVERTIBLE_EXTENSIONS

MANIFEST_HEADER = ("email", "file")


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a folder scan found, in sorted file-name order."""

    mapped: list[tuple[str, Path]]  #: (user, file): the user is a lower-case address
    unmapped: list[tuple[Path, str]]  #: (file, reason) for every visible entry not mapped
    #: (file, note) for mapped files worth a word, such as a format that needs ``--fit``
    notes: list[tuple[Path, str]] = field(default_factory=list)


def scan_folder(folder: Path, *, domain: str | None = None) -> ScanResult:
    """Map each photo in ``folder`` to the user its file name names.

    A name that is a whole address maps to it; a bare local part maps to
    ``local@domain`` when ``domain`` is given. Addresses are checked with
    email-validator (no DNS) and lower-cased. When two files map to one user the first in
    sorted order is kept and the other is listed as a duplicate.

    Raises ConfigError when ``folder`` is not a directory or ``domain`` is not a valid domain.
    """
    if not folder.exists():
        raise ConfigError(f"scan: folder not found: {folder}")
    if not folder.is_dir():
        raise ConfigError(f"scan: not a folder: {folder}")
    domain = _check_domain(domain)

    mapped: list[tuple[str, Path]] = []
    unmapped: list[tuple[Path, str]] = []
    notes: list[tuple[Path, str]] = []
    first_file: dict[str, Path] = {}
    # Case-insensitive order first, so "Jane.jpg" and "jane.png" sort as a person would
    # expect; the name itself breaks ties so the order never depends on the file system.
    entries = sorted(folder.iterdir(), key=lambda p: (p.name.casefold(), p.name))
    for path in entries:
        if path.name.startswith("."):
            continue
        if path.is_dir():
            unmapped.append((path, "a folder: sub-folders are not scanned"))
            continue
        user, reason = _user_for(path.name, domain)
        if user is None:
            unmapped.append((path, reason))
            continue
        if user in first_file:
            unmapped.append((path, f"duplicate of {first_file[user].name} (both are {user})"))
            continue
        first_file[user] = path
        mapped.append((user, path))
        suffix = path.suffix.lower()
        if suffix in CONVERTIBLE_EXTENSIONS:
            notes.append((path, f"{suffix[1:].upper()} is not JPEG or PNG: upload it with --fit"))
    return ScanResult(mapped=mapped, unmapped=unmapped, notes=notes)


def write_manifest(result: ScanResult, out: Path) -> None:
    """Write ``result.mapped`` as an ``email,file`` manifest at ``out``, atomically.

    Paths are written relative to ``out``'s folder with forward slashes, so the manifest
    works wherever it is moved along with its photos.
    """
    base = os.path.abspath(out.parent)
    with atomic_write(out, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MANIFEST_HEADER)
        for user, path in result.mapped:
            writer.writerow((user, _relative_posix(path, base)))


def _check_domain(domain: str | None) -> str | None:
    """Return ``domain`` normalised (lower case, no leading ``@``), or raise ConfigError."""
    if domain is None:
        return None
    cleaned = domain.strip().removeprefix("@")
    try:
        info = validate_email(f"x@{cleaned}", check_deliverability=False)
    except EmailNotValidError as exc:
        raise ConfigError(f"--domain: {domain!r} is not a valid email domain: {exc}") from None
    return info.domain.lower()


def _user_for(name: str, domain: str | None) -> tuple[str | None, str]:
    """Map one file name to (user, "") or (None, reason)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None, "not an image: no file extension"
    suffix = f".{ext.lower()}"
    if suffix not in IMAGE_EXTENSIONS:
        return None, f"not an image extension ({suffix})"
    if "@" in stem:
        address = stem
    elif domain is None:
        return None, f"no domain given: use --domain to map the local part {stem!r}"
    else:
        address = f"{stem}@{domain}"
    try:
        info = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, f"invalid address {address!r}: {exc}"
    # Zoom matches addresses case-insensitively; one spelling keeps duplicates detectable.
    return info.normalized.lower(), ""


def _relative_posix(path: Path, base: str) -> str:
    """``path`` relative to ``base`` with forward slashes; absolute if no relative path exists."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, base)
    except ValueError:  # Windows: another drive
        return Path(absolute).as_posix()
    return Path(relative).as_posix()
