"""Telling workbooks by their bytes: what a file that is no text manifest really is.

Excel saves two kinds of file that reach a manifest reader by mistake: an .xlsx (a zip
archive) named .csv, and an old binary workbook (.xls, an OLE2 compound file) — which is
also what a password-protected .xlsx is, its encrypted package inside such a file.
"""

from __future__ import annotations

from typing import IO

ZIP = b"PK\x03\x04"
#: The first bytes of an OLE2 compound file (the full signature is eight bytes).
OLE2 = b"\xd0\xcf\x11\xe0"
#: The stream an encrypted OOXML package is stored in (MS-OFFCRYPTO 2.3.4.4), as the
#: compound file's directory names it: UTF-16LE.
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
_CHUNK = 1 << 16

SAVE_AS = "save it as .xlsx or CSV UTF-8"


def looks_like_xlsx(head: bytes) -> bool:
    """True for the start of a zip archive holding a workbook's parts (``xl/...``)."""
    return head.startswith(ZIP) and b"xl/" in head


def is_ole2(head: bytes) -> bool:
    return head.startswith(OLE2)


def is_encrypted_ooxml(stream: IO[bytes]) -> bool:
    """True when the OLE2 file ``stream`` holds (from its start) is a password-protected
    .xlsx: its directory names an ``EncryptedPackage``. Reads it all, a chunk at a time, and
    leaves the stream where it was."""
    start = stream.tell()
    tail = b""
    try:
        while chunk := stream.read(_CHUNK):
            if _ENCRYPTED in tail + chunk:
                return True
            tail = chunk[-len(_ENCRYPTED) :]
        return False
    finally:
        stream.seek(start)
