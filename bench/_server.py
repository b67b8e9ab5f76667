"""The simulator as its own command, ``zoom-batch simulate``, read through its stats route.

Not a benchmark itself. Where the simulator has work of its own (decoding 2 MB photos at 60/s),
it runs in a process apart from the benchmark and the client, as DECISIONS.md asks, so the
client's CPU and memory are measured alone. Its figures come from ``GET /_simulator/stats``
(simulator-only routes, not Zoom's; see ``batch.simulator``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from _common import sim_env, zoom_batch

#: The first line ``zoom-batch simulate`` prints, e.g.
#: ``Zoom simulator listening on http://127.0.0.1:8765  (Medium rate limit: 20/s)``.
_LISTENING = re.compile(r"Zoom simulator listening on (\S+)")
_LAST_BANNER_LINE = "Press Ctrl-C to stop."


class ServedSimulator:
    """``zoom-batch simulate --port 0 FLAGS...`` for the length of a ``with`` block.

    ``base_url`` and ``env`` (the ZOOM_* credentials it printed, in an environment for the
    client) are set on entry; ``cpu`` (its user + system seconds) on exit.
    """

    def __init__(self, flags: Sequence[str]) -> None:
        self._argv = [*zoom_batch(), "simulate", "--port", "0", *flags]
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.env: dict[str, str] = {}
        self.cpu = 0.0

    def __enter__(self) -> ServedSimulator:
        self._process = process = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # nothing more is written after the banner
            env=sim_env(),
            text=True,
        )
        try:
            self._read_banner(process)
        except BaseException:
            process.kill()
            process.wait()
            raise
        return self

    def _read_banner(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or banner[-1] != _LAST_BANNER_LINE:
            line = process.stdout.readline()
            if not line:
                said = " / ".join(banner)
                raise RuntimeError(f"zoom-batch simulate did not start: {said}")
            banner.append(line.rstrip("\n"))
        match = _LISTENING.match(banner[0])
        if match is None:
            raise RuntimeError(f"unexpected first line from zoom-batch simulate: {banner[0]!r}")
        self.base_url = match.group(1)
        credentials = next(line for line in banner if "ZOOM_CLIENT_SECRET=" in line)
        self.env = sim_env(dict(pair.split("=", 1) for pair in credentials.split()))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        process.send_signal(signal.SIGINT)  # simulate stops cleanly on Ctrl-C
        deadline = time.monotonic() + 10
        while True:  # reaped with wait4, not Popen.wait, to keep its resource usage
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu = usage.ru_utime + usage.ru_stime
        if process.stdout is not None:
            process.stdout.close()

    def stats(self) -> dict[str, Any]:
        """``GET /_simulator/stats``: its counters and accepted-arrival figures."""
        with urllib.request.urlopen(f"{self.base_url}/_simulator/stats", timeout=30) as answer:
            result: dict[str, Any] = json.load(answer)
        return result

    def reset(self) -> None:
        """``POST /_simulator/reset``: zero its counters between runs."""
        request = urllib.request.Request(f"{self.base_url}/_simulator/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


def server_efficiency(stats: dict[str, Any], limit: float) -> float | None:
    """Accepted requests per second over the span of their arrivals, as a share of ``limit``.

    (accepted - 1) / (last - first) / limit: the pace the server saw, start-up and the last
    answers' wait left out. None with fewer than two accepted requests.
    """
    accepted = stats["accepted_arrivals"]
    if accepted["count"] < 2 or accepted["last"] <= accepted["first"]:
        return None
    return float((accepted["count"] - 1) / (accepted["last"] - accepted["first"]) / limit)
