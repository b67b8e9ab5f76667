"""Directory import, re-run unchanged: an LDAP directory of 10,000 people read twice.

A real OpenLDAP ``slapd`` on a loopback port (set up as ``tests/_slapd.py`` does: a temporary
``slapd.conf``, entries loaded with ``slapadd``) holds 10,000 inetOrgPerson entries, each with
its own small JPEG ``jpegPhoto`` (~1 KB, made with Pillow). The simulator runs in its own
process with no rate limit, and the runs lift pacing (``--rate 100000 --concurrency 32``), so
the figures are the tool's own cost. ``zoom-batch run ldap://127.0.0.1:PORT/BASE`` with a
fresh ``--state`` store runs three times:

1. first run: uploads every entry's photo;
2. the same command again, nothing changed (measured): goal, no request reaches Zoom;
3. after ``ldapmodify`` replaced 10 entries' photos: exactly those 10 are sent.

Exits 1 when the second run sent anything, or the third did not send exactly the changed ones.

    python bench/directory_rerun.py [--quick] [--rows N] [--changed N]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    ROOT,
    Measured,
    SimulatorProcess,
    goal_lines,
    header,
    make_jpeg,
    run_measured,
    sim_env,
    table,
    url_flags,
    user,
    zoom_batch,
)

from batch import SimulatorOptions
from tests import _slapd  # the test suite's slapd helpers: schema, modules, ports, admin DN

PEOPLE_BASE = f"ou=people,{_slapd.SUFFIX}"
SEED = 5_000_011  #: photo seeds: SEED + i for entry i; the changed photos use SEED * 2 + i


@dataclass(frozen=True, kw_only=True)
class Run:
    label: str
    run: Measured
    summary: dict[str, Any]
    uploads: int  #: 201s the simulator answered during the run
    requests: int  #: picture requests it saw, refused ones included


# -- the directory -------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/libexec") / name) if p.exists()),
        None,
    )
    if found is None:
        raise SystemExit(f"{name} is not installed (apt-get install slapd ldap-utils)")
    return found


def _entry(i: int, photo: bytes) -> str:
    uid = f"user{i:06d}"
    return (
        f"dn: uid={uid},{PEOPLE_BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
        f"cn: User {i:06d}\nsn: {uid}\ndisplayName: User {i:06d}\nmail: {user(i)}\n"
        f"jpegPhoto:: {base64.b64encode(photo).decode()}\n\n"
    )


class Directory:
    """slapd serving ``rows`` people on ``127.0.0.1:port``; anyone may read, the root DN write.

    The configuration is tests/_slapd.py's, less TLS, the test-only readers and their limits:
    a plain search stops at its ``sizelimit``, so the tool must page, as with Active Directory.
    """

    def __init__(self, folder: Path, rows: int) -> None:
        schema = _slapd._first(_slapd.SCHEMA_FOLDERS, "inetorgperson.schema")
        if schema is None:
            raise SystemExit("slapd's schema files (core, cosine, inetorgperson) are not found")
        modules = _slapd._first(_slapd.MODULE_FOLDERS, "back_mdb.so") or _slapd._first(
            _slapd.MODULE_FOLDERS, "back_mdb.la"
        )
        self.binary = _tool("slapd")
        self.folder = folder
        self.port = _slapd.free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        (folder / "db").mkdir()
        (folder / "ad.schema").write_text(_slapd.AD_SCHEMA, encoding="utf-8")
        module_lines = f"modulepath {modules}\nmoduleload back_mdb\n" if modules else ""
        self.conf = folder / "slapd.conf"
        self.conf.write_text(
            f"include {schema}/core.schema\ninclude {schema}/cosine.schema\n"
            f"include {schema}/inetorgperson.schema\ninclude {folder}/ad.schema\n"
            f"pidfile {folder}/slapd.pid\nargsfile {folder}/slapd.args\n{module_lines}"
            f"sizelimit size.soft={_slapd.SIZE_LIMIT} size.hard={_slapd.SIZE_LIMIT}"
            " size.prtotal=unlimited\n"
            f'database mdb\nmaxsize 1073741824\nsuffix "{_slapd.SUFFIX}"\n'
            f'rootdn "{_slapd.ADMIN}"\nrootpw {_slapd.ADMIN_PASSWORD}\n'
            f"directory {folder}/db\naccess to * by * read\n",
            encoding="utf-8",
        )
        started = time.perf_counter()
        source = folder / "entries.ldif"
        with source.open("w", encoding="utf-8") as out:
            out.write(
                f"dn: {_slapd.SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
                f"dc: example\no: Example\n\ndn: {PEOPLE_BASE}\n"
                "objectClass: organizationalUnit\nou: people\n\n"
            )
            self.photo_bytes = 0
            for i in range(rows):
                photo = make_jpeg(SEED + i)
                self.photo_bytes += len(photo)
                out.write(_entry(i, photo))
        self.ldif_seconds = time.perf_counter() - started
        started = time.perf_counter()
        loaded = subprocess.run(
            [_tool("slapadd"), "-q", "-f", str(self.conf), "-l", str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if loaded.returncode != 0:
            raise SystemExit(f"slapadd failed: {loaded.stderr.strip()[-300:]}")
        self.slapadd_seconds = time.perf_counter() - started
        self.start()

    def start(self) -> None:
        log = self.folder / "slapd.log"
        with log.open("ab") as handle:
            self.process = subprocess.Popen(
                [self.binary, "-f", str(self.conf), "-h", f"{self.url}/", "-d", "0"],
                stdout=handle,
                stderr=handle,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"slapd did not start: {log.read_text()[-300:]}")
            probe = subprocess.run(
                [_tool("ldapsearch"), "-x", "-H", self.url, "-b", "", "-s", "base", "-LLL"],
                capture_output=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        self.stop()
        raise SystemExit("slapd did not answer within 10 s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def replace_photos(self, photos: dict[int, bytes]) -> float:
        """Replace entries' ``jpegPhoto`` with ``ldapmodify`` as the root DN; seconds taken."""
        changes = self.folder / "changes.ldif"
        changes.write_text(
            "".join(
                f"dn: uid=user{i:06d},{PEOPLE_BASE}\nchangetype: modify\nreplace: jpegPhoto\n"
                f"jpegPhoto:: {base64.b64encode(photo).decode()}\n-\n\n"
                for i, photo in photos.items()
            ),
            encoding="utf-8",
        )
        secret = self.folder / "admin.pw"
        secret.write_text(_slapd.ADMIN_PASSWORD, encoding="utf-8")  # -y reads it all, no \n
        started = time.perf_counter()
        done = subprocess.run(
            [_tool("ldapmodify"), "-x", "-H", self.url, "-D", _slapd.ADMIN, "-y", str(secret),
             "-f", str(changes)],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"ldapmodify failed: {done.stderr.strip()[-300:]}")
        return time.perf_counter() - started


# -- the runs ------------------------------------------------------------------------------


def run_tool(folder: Path, directory: Directory, sim: SimulatorProcess, label: str) -> Run:
    print(f"… {label}", file=sys.stderr, flush=True)
    report = folder / f"report-{label.split()[0]}.csv"
    argv = [
        *zoom_batch(),
        "run",
        f"{directory.url}/{PEOPLE_BASE}",
        *url_flags(sim.base_url),
        "--rate",
        "100000",
        "--concurrency",
        "32",
        "--state",
        str(folder / "state.sqlite"),
        "--quiet",
        "--report",
        str(report),
    ]
    before = sim.stats()
    done = run_measured(argv, env=sim_env(), cwd=ROOT)
    after = sim.stats()
    if done.returncode not in (0, 1):
        raise SystemExit(f"zoom-batch exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return Run(
        label=label,
        run=done,
        summary=json.loads(report.with_suffix(".json").read_text()),
        uploads=after["uploads"] - before["uploads"],
        requests=after["picture_requests"] - before["picture_requests"],
    )


def render(rows: int, runs: list[Run]) -> str:
    lines = []
    for r in runs:
        counts = r.summary["counts"]
        lines.append(
            (
                r.label,
                f"{rows:,}",
                f"{counts['uploaded']:,}",
                f"{counts['skipped']:,}",
                f"{r.uploads:,}",
                f"{r.requests:,}",
                f"{r.summary['duration_s']:.2f}",
                f"{r.run.wall:.2f}",
                f"{rows / r.run.wall:,.0f}",
                f"{r.run.cpu * 1000 / rows:.3f}",
                f"{r.run.max_rss_mb:.1f}",
            )
        )
    return table(
        (
            "run",
            "entries",
            "uploaded",
            "skipped",
            "uploads received",
            "picture requests",
            "run duration_s",
            "process wall s",
            "rows/s (wall)",
            "CPU ms/row",
            "peak RSS MB",
        ),
        lines,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 entries instead of 10,000")
    parser.add_argument("--rows", type=int, help="entries (default 10,000)")
    parser.add_argument("--changed", type=int, default=10, help="photos changed before run 3")
    args = parser.parse_args()
    rows, changed = args.rows or (2_000 if args.quick else 10_000), args.changed
    if not 1 <= changed <= rows:
        parser.error(f"--changed must be between 1 and the entries ({rows:,})")
    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        folder = Path(tmp)
        print(f"… {rows:,} entries into slapd", file=sys.stderr, flush=True)
        (folder / "slapd").mkdir()
        directory = Directory(folder / "slapd", rows)
        try:
            with SimulatorProcess(SimulatorOptions(rate_limit=0)) as sim:
                runs = [run_tool(folder, directory, sim, "first run (uploads all)")]
                runs.append(run_tool(folder, directory, sim, "second run, unchanged (measured)"))
                step = max(1, rows // changed)
                new = {i: make_jpeg(SEED * 2 + i) for i in range(0, step * changed, step)}
                modify_seconds = directory.replace_photos(new)
                runs.append(
                    run_tool(folder, directory, sim, f"third run, {changed} photos changed")
                )
                received = sim.received()
        finally:
            directory.stop()
    first, second, third = runs
    exact = sum(received.get(user(i)) == hashlib.sha256(p).hexdigest() for i, p in new.items())
    goals = [
        (
            "first run uploads every entry",
            f"{first.uploads:,}/{rows:,} received",
            first.uploads == rows and first.summary["counts"]["uploaded"] == rows,
        ),
        (
            "unchanged re-run sends nothing",
            f"{second.requests} picture requests, {second.summary['counts']['skipped']:,}"
            f"/{rows:,} skipped",
            second.requests == 0 and second.summary["counts"]["skipped"] == rows,
        ),
        (
            f"after {changed} photos changed, exactly those are sent, byte-exact",
            f"{third.uploads} received, {third.requests} requests, {exact}/{changed} the new bytes",
            third.uploads == changed == third.requests == exact,
        ),
    ]
    text = (
        f"slapd (mdb) on loopback, {rows:,} inetOrgPerson entries, each with its own 64x64"
        f" JPEG `jpegPhoto` ({directory.photo_bytes / rows / 1024:.1f} KB on average); anonymous"
        " reads, a `sizelimit` of 500 that only paged searches pass. Writing the LDIF took"
        f" {directory.ldif_seconds:.1f} s, `slapadd` {directory.slapadd_seconds:.1f} s,"
        f" `ldapmodify` of {changed} photos {modify_seconds:.2f} s. The simulator (no rate"
        " limit) runs in its own process; `zoom-batch run ldap://127.0.0.1:PORT/ou=people,"
        "dc=example,dc=com --rate 100000 --concurrency 32 --state TEMP --quiet` as a subprocess,"
        " the same command each time. CPU (`wait4`) and peak RSS (GNU time) are the CLI"
        " process's own; slapd's are not counted."
    )
    print(
        "\n".join(
            [
                header("### Directory import, re-run unchanged (`bench/directory_rerun.py`)"),
                text,
                "",
                render(rows, runs),
                "",
                goal_lines(goals),
            ]
        )
    )
    return 0 if all(ok for _, _, ok in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
