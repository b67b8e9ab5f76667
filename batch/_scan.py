"""Build a manifest from a folder of photos named after their users (``zoom-batch scan``).

The usual HR export names each photo after its user: ``jane.doe@example.com.jpg``, or only the
local part, ``jane.doe.jpg``, which needs ``--domain``. What else such a folder holds is passed
over quietly: hidden entries (``.DS_Store``, ``._jane.jpg``) without a word, files that are not
photos by their extension (``Thumbs.db``, ``desktop.ini``, notes, the manifest itself) counted
in one line, sub-folders named in one line unless ``recursive`` walks them. What is listed as
not mapped, and makes the command exit 1, is a photo that names no user: a camera's own name
(``IMG_1234.JPG``), a bad address, a second photo of one user.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from email_validator import EmailNotValidError, validate_email

from ._exceptions import ConfigError
from ._files import atomic_write

#: Extensions Zoom takes as they are (the bytes decide in the end; these are JPEG or PNG names).
UPLOADABLE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png"})
#: Extensions that are mapped but must be converted with ``--fit`` before Zoom takes them.
CONVERTIBLE_EXTENSIONS = frozenset(
    {".gif", ".webp", ".heic", ".heif", ".avif", ".bmp", ".tif", ".tiff"}
)
IMAGE_EXTENSIONS = UPLOADABLE_EXTENSIONS | CONVERTIBLE_EXTENSIONS

MANIFEST_HEADER = ("email", "file")
#: ``--output`` for the manifest on standard output (the notes then go to standard error).
STDOUT = "-"

CAMERA_NAME = "looks like a camera file name, not a person — rename it after the user"
# Names cameras, phones and apps give their pictures, matched on the whole stem (any case).
# Each would otherwise make a plausible local part (img_1234@example.com) of nobody.
_CAMERA_STEM = re.compile(
    r"""
    (?: (?:mv)?img[_-]?e?\d+          # IMG_1234, IMG-1234, IMG_E1234 (iPhone edit), MVIMG_
      | _?dsc[nf]?[_-]?\d+            # DSC01234, DSC_1234, _DSC1234, DSCN0001, DSCF0001
      | pxl[_-]\d+                    # PXL_20240101_123456789 (Pixel)
      | p[0-9a-c]\d{6}                # P1010001 (Panasonic; Olympus writes the month as 1-9A-C)
      | dji[_-]\d+ | gopr\d+ | g[hx]\d{6}   # drones, GoPro
      | (?=\D*\d)[\d_ .()~-]+          # only digits: 0001, 20240101_123456, 2024-01-01 12.34.56
      | whatsapp[ _-]image(?:[ _-].*)?
      | screen[ _-]?shot(?:[ _-].*)?  # Screenshot 2024-..., Screen Shot 2020-..., Screenshot_...
    )
    (?: [ _~-]*\(\d+\) | [_~-]\d+ | \.[a-z]+ )*   # copies "(1)", "-2", "_123456", ".MP" tails
    """,
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a folder scan found, in walk order: a folder's files sorted, then its sub-folders."""

    mapped: list[tuple[str, Path]]  #: (user, file): the user is a lower-case address
    #: (path, reason) for every photo not mapped, and every sub-folder that could not be read
    unmapped: list[tuple[Path, str]]
    #: (file, note) for mapped files worth a word, such as a format that needs ``--fit``
    notes: list[tuple[Path, str]] = field(default_factory=list)
    #: visible files whose extension is not a picture's: passed over, only counted
    ignored: list[Path] = field(default_factory=list)
    #: sub-folders not walked: all of them without ``recursive``, links to folders with it
    skipped: list[Path] = field(default_factory=list)


def scan_folder(folder: Path, *, domain: str | None = None, recursive: bool = False) -> ScanResult:
    """Map each photo in ``folder`` (and its sub-folders with ``recursive``) to its user.

    A name that is a whole address maps to it; a bare local part maps to ``local@domain`` when
    ``domain`` is given, unless it is a camera's name (``IMG_1234``). Addresses are checked with
    email-validator (no DNS) and lower-cased. When two files map to one user the first in walk
    order is kept (so a photo beside the manifest beats one in ``archive/``) and the other is
    listed as a duplicate. ``recursive`` never follows a link to a folder, so it cannot loop.

    Raises ConfigError when ``folder`` is not a readable directory or ``domain`` is not a valid
    domain.
    """
    if not folder.exists():
        raise ConfigError(f"scan: folder not found: {folder}")
    if not folder.is_dir():
        raise ConfigError(f"scan: not a folder: {folder}")
    domain = _check_domain(domain)
    result = ScanResult(mapped=[], unmapped=[])
    first_file: dict[str, Path] = {}
    for path in _walk(folder, recursive, result):
        stem, dot, ext = path.name.rpartition(".")
        suffix = f".{ext.lower()}"
        if not dot or not stem or suffix not in IMAGE_EXTENSIONS:
            result.ignored.append(path)
            continue
        user, reason = _user_for(stem, domain)
        if user is None:
            result.unmapped.append((path, reason))
            continue
        if user in first_file:
            first = _relative_posix(first_file[user], os.path.abspath(folder))
            result.unmapped.append((path, f"duplicate of {first} (both are {user})"))
            continue
        first_file[user] = path
        result.mapped.append((user, path))
        if suffix in CONVERTIBLE_EXTENSIONS:
            note = f"{suffix[1:].upper()} is not JPEG or PNG: upload it with --fit"
            result.notes.append((path, note))
    return result


def write_manifest(result: ScanResult, out: Path) -> None:
    """Write ``result.mapped`` as an ``email,file`` manifest at ``out``, atomically.

    Paths are written relative to ``out``'s folder with forward slashes, so the manifest
    works wherever it is moved along with its photos. An existing ``out`` is replaced: callers
    that must not clobber check first (:func:`scan_command` does).
    """
    base = os.path.abspath(out.parent)
    with atomic_write(out, newline="") as f:
        write_rows(result, f, base=base)


def write_rows(
    result: ScanResult, handle: TextIO, *, base: str | None, lineterminator: str = "\r\n"
) -> None:
    """Write the manifest's header and rows to ``handle``.

    File paths are relative to the folder ``base`` (absolute, as a str), or absolute when
    ``base`` is None: a manifest whose own folder is not known (standard output).
    """
    writer = csv.writer(handle, lineterminator=lineterminator)
    writer.writerow(MANIFEST_HEADER)
    for user, path in result.mapped:
        if base is None:
            writer.writerow((user, Path(os.path.abspath(path)).as_posix()))
        else:
            writer.writerow((user, _relative_posix(path, base)))


def scan_command(
    folder: Path,
    *,
    domain: str | None,
    output: str,
    force: bool,
    recursive: bool,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """``zoom-batch scan``: scan ``folder``, write the manifest, say what was left out.

    ``output`` is a file path, or ``-`` for the manifest on ``out`` (paths in it absolute,
    since where it lands is not known) with the summary on ``err`` (default: standard error),
    so the CSV is clean. Otherwise the manifest is written atomically and the summary goes to
    ``out``. An existing file is replaced only with ``force``.

    Returns 0, or 1 when a photo could not be mapped to a user (or a sub-folder could not be
    read). Raises ConfigError (one line, exit 2) for a bad folder, domain or output, before
    anything is written.
    """
    target = None if output == STDOUT else _check_output(output, force=force)
    result = scan_folder(folder, domain=domain, recursive=recursive)
    if target is None:
        write_rows(result, out, base=None, lineterminator="\n")
        notes = err if err is not None else sys.stderr
        shown = "standard output"
    else:
        # Checked again: the scan of a large tree takes time, and someone may have saved a
        # manifest there meanwhile. (What is left is a window of microseconds.)
        _check_output(output, force=force)
        try:
            write_manifest(result, target)
        except OSError as exc:
            raise ConfigError(f"--output: cannot write {output}: {exc.strerror or exc}") from None
        notes, shown = out, output
    summarise(result, shown=shown, recursive=recursive, out=notes)
    return 1 if result.unmapped else 0


def summarise(result: ScanResult, *, shown: str, recursive: bool, out: TextIO) -> None:
    """Print what the scan mapped, and what it left out, to ``out``: the lines a user reads."""
    print(f"mapped {_count(len(result.mapped), 'file')} → {shown}", file=out)
    if result.notes:
        print(f"{len(result.notes):,} to convert:", file=out)
        for path, note in result.notes:
            print(f"  {path}: {note}", file=out)
    if ignored := len(result.ignored):
        what = "file that is not a photo" if ignored == 1 else "files that are not photos"
        print(f"ignored {ignored:,} {what}", file=out)
    if skipped := len(result.skipped):
        if recursive:
            why = f"{_count(skipped, 'link')} to a folder, not followed"
        else:
            it = "it" if skipped == 1 else "them"
            why = f"{_count(skipped, 'sub-folder')} (pass --recursive to scan {it})"
        print(f"skipped {why}: {_some(result.skipped)}", file=out)
    if result.unmapped:
        print(f"{len(result.unmapped):,} not mapped:", file=out)
        for path, reason in result.unmapped:
            print(f"  {path}: {reason}", file=out)


def _check_output(output: str, *, force: bool) -> Path:
    """``output`` as a Path that may be written, or ConfigError saying why not."""
    if not output.strip():
        raise ConfigError("--output: give a file path, or - for standard output")
    path = Path(output)
    if path.is_dir():
        raise ConfigError(f"--output: {output} is a folder: give a file path in it")
    if not force and (path.exists() or path.is_symlink()):
        raise ConfigError(f"{output} exists — pass --force to replace it, or --output another path")
    return path


def _walk(folder: Path, recursive: bool, result: ScanResult) -> Iterator[Path]:
    """The visible files under ``folder``: each folder's files sorted, then its sub-folders.

    Sub-folders not walked go to ``result.skipped``; unreadable ones to ``result.unmapped``.
    Links to folders are never followed, and a folder met twice (a Windows junction, a bind
    mount) is walked once, so a loop cannot trap the walk.
    """
    seen: set[tuple[int, int]] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            status = os.stat(current)
            if (status.st_dev, status.st_ino) in seen:
                result.skipped.append(current)
                continue
            seen.add((status.st_dev, status.st_ino))
            files, folders, links = _entries(current)
        except OSError as exc:
            if current == folder:
                raise ConfigError(f"scan: cannot read {folder}: {exc.strerror or exc}") from None
            result.unmapped.append((current, f"cannot read this folder: {exc.strerror or exc}"))
            continue
        yield from files
        if recursive:
            result.skipped.extend(links)
            stack.extend(reversed(folders))  # popped in sorted order
        else:
            result.skipped.extend(sorted(folders + links, key=_order))


def _entries(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(files, sub-folders, links to folders) in ``folder``, hidden ones left out, sorted."""
    files: list[Path] = []
    folders: list[Path] = []
    links: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            if entry.is_dir(follow_symlinks=False):
                folders.append(path)
            elif entry.is_symlink() and entry.is_dir():
                links.append(path)
            else:  # files, links to files, broken links: the name decides, as for any file
                files.append(path)
    return sorted(files, key=_order), sorted(folders, key=_order), sorted(links, key=_order)


def _order(path: Path) -> tuple[str, str]:
    # Case-insensitive order first, so "Jane.jpg" and "jane.png" sort as a person would
    # expect; the name itself breaks ties so the order never depends on the file system.
    return path.name.casefold(), path.name


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


def _user_for(stem: str, domain: str | None) -> tuple[str | None, str]:
    """Map one photo's name without its extension to (user, "") or (None, reason)."""
    if "@" in stem:
        address = stem
    elif _CAMERA_STEM.fullmatch(stem):
        return None, CAMERA_NAME
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
        if relative.split(os.sep, 1)[0] == os.pardir:
            # The system takes ".." after following the links on the way (so does
            # Path.resolve): climbing out of a linked folder must start from the real one.
            real = os.path.join(os.path.realpath(os.path.dirname(absolute)), path.name)
            relative = os.path.relpath(real, os.path.realpath(base))
    except ValueError:  # Windows: another drive
        return Path(absolute).as_posix()
    return Path(relative).as_posix()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _some(paths: list[Path], shown: int = 3) -> str:
    """The first few ``paths``, and how many more: a note stays one line."""
    names = ", ".join(str(p) for p in paths[:shown])
    return names if len(paths) <= shown else f"{names} and {len(paths) - shown:,} more"
