"""``bench/ablation.py``'s child: the zoom-batch CLI with some parts stubbed out.

    python bench/_ablation_child.py STUBS ZOOM-BATCH-ARGS...

STUBS is a comma-separated list of ``verify``, ``retry`` and ``email`` (or empty). Kept apart
from the benchmark so that the child imports only what ``zoom-batch`` itself does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(stubs: list[str], argv: list[str]) -> int:
    """Run the CLI in this process with ``stubs`` applied."""
    import batch._pool as pool
    import batch._validate as validate
    import batch.photos._check as images
    from batch._cli import main

    if "verify" in stubs:
        images._verify = lambda data, kind: (64, 64)
    if "email" in stubs:
        validate.check_user = lambda raw: raw.strip()
    if "retry" in stubs:

        async def send(self: Any, user: str, image: Any, tries: Any) -> None:
            await self._attempt(user, image, tries)

        pool.BatchRun._send = send  # type: ignore[method-assign]
    return main(argv)


if __name__ == "__main__":
    raise SystemExit(child([s for s in sys.argv[1].split(",") if s], sys.argv[2:]))
