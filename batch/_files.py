"""Writing a file all at once: readers see the old file or the complete new one, never half."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_write(out: Path, *, newline: str | None = None) -> Iterator[TextIO]:
    """Yield a text handle whose content replaces ``out`` (UTF-8) only if the block succeeds.

    The data goes to a temporary file beside ``out`` (same file system, so ``os.replace`` is
    atomic), is flushed to disk, then renamed over ``out``; on any error the temporary goes.
    """
    tmp = _temp_beside(out)
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temp_beside(out: Path) -> Path:
    """Create an empty temporary file next to ``out``.

    os.open with mode 0o666 lets the umask decide the final permissions, as for any new file;
    tempfile would leave them at 0o600.
    """
    while True:
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
