"""The least an uploader can do: one aiohttp session, N tasks, read each file, post it.

The yardstick for ``bench/scale.py``: no validation, no pacing, no retries, no report, no
state. Reads an ``email,file`` CSV manifest, gets a token from the simulator's OAuth endpoint,
and prints one JSON line: rows, answers by HTTP status, seconds.

    python bench/bare_aiohttp.py MANIFEST --base-url http://127.0.0.1:PORT [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import csv
import json
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp


async def upload_all(manifest: Path, base_url: str, concurrency: int) -> dict[str, object]:
    folder = manifest.parent
    with manifest.open(encoding="utf-8", newline="") as handle:
        rows = [(r["email"], folder / r["file"]) for r in csv.DictReader(handle)]
    statuses: collections.Counter[int] = collections.Counter()
    queue: asyncio.Queue[tuple[str, Path]] = asyncio.Queue()
    for row in rows:
        queue.put_nowait(row)
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        basic = base64.b64encode(b"sim-client-id:sim-client-secret").decode()
        async with session.post(
            f"{base_url}/oauth/token",
            params={"grant_type": "account_credentials", "account_id": "sim-account"},
            headers={"Authorization": f"Basic {basic}"},
        ) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        async def worker() -> None:
            while not queue.empty():
                email, path = queue.get_nowait()
                form = aiohttp.FormData()
                form.add_field(
                    "pic_file", path.read_bytes(), filename=path.name, content_type="image/jpeg"
                )
                url = f"{base_url}/v2/users/{quote(email, safe='@')}/picture"
                async with session.post(url, data=form, headers=headers) as response:
                    await response.read()
                    statuses[response.status] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "rows": len(rows),
        "statuses": dict(statuses),
        "seconds": round(time.perf_counter() - started, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--base-url", required=True, help="the simulator, without /v2")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(upload_all(args.manifest, args.base_url.rstrip("/"), args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
