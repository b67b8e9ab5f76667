"""``bench/ablation.py``'s child: the zoom-batch CLI with some parts stubbed out.

    python bench/_ablation_child.py STUBS ZOOM-BATCH-ARGS...

STUBS is a comma-separated list of ``retry`` and ``email`` (or empty). Kept apart
from the benchmark so that the child imports only what ``zoom-batch`` itself does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(stubs: list[str], argv: list[str]) -> int:
    """Run the CLI in this process with ``stubs`` applied."""
    import batch._sender as sender
    import batch._users as users
    from batch._cli import main

    if "email" in stubs:
        users.check_user = lambda raw: raw.strip()
    if "retry" in stubs:

        async def once(attempt: Any, **_: Any) -> Any:
            return await attempt()

        sender.send_with_retries = once  # type: ignore[assignment]
    return main(argv)


if __name__ == "__main__":
    raise SystemExit(child([s for s in sys.argv[1].split(",") if s], sys.argv[2:]))
