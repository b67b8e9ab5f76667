"""A real OpenLDAP ``slapd`` for the LDAP tests: started unprivileged-style on a free loopback
port from a temporary ``slapd.conf``, loaded with ``slapadd`` before it starts.

What it serves (``dc=example,dc=com``):

* ``ou=people``: :data:`PEOPLE` inetOrgPerson users ``uid=userNNNN`` with ``mail`` and a real
  photo made with Pillow — a JPEG ``jpegPhoto`` for even numbers, a PNG ``thumbnailPhoto``
  (Active Directory's attribute, from a tiny schema of its own) for odd ones;
* ``ou=special``: the entries a run must report as problems, or must choose between;
* ``ou=private``: users only a bound reader may see (ACL), so anonymous and bound searches
  differ;
* ``cn=reader,dc=example,dc=com``: the bind DN, password :data:`PASSWORD`; ``cn=small`` the
  same, but slapd refuses it pages of more than :data:`SMALL_PAGES` entries.

Searches are limited to :data:`SIZE_LIMIT` entries (``sizelimit``) but paged searches are not
(``size.prtotal=unlimited``), as Active Directory caps a search at its MaxPageSize: a search
that does not page cannot see all of ``ou=people``. (The root DN ignores limits: the tests bind
as the reader.)

Where ``slapd`` is missing the tests skip, saying so — or fail where ``ZOOM_BATCH_CI`` is set.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

SUFFIX = "dc=example,dc=com"
READER = f"cn=reader,{SUFFIX}"
SMALL_READER = f"cn=small,{SUFFIX}"
SMALL_PAGES = 200
PASSWORD = "s3cret-Reader-pw"  # a value no message may ever show
PEOPLE = 1200
SIZE_LIMIT = 500
PEOPLE_BASE = f"ou=people,{SUFFIX}"
SPECIAL_BASE = f"ou=special,{SUFFIX}"
PRIVATE_BASE = f"ou=private,{SUFFIX}"
PRIVATE = 3
BIG_BASE = f"ou=big,{SUFFIX}"
BIG = 200  #: entries in ou=big, each with a BIG_PHOTO-byte jpegPhoto (not a picture)
BIG_PHOTO = 100 * 1024  #: Active Directory's largest thumbnailPhoto
ADMIN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-pw"  # the root DN: for tests that change the directory

#: Active Directory's own attributes, with AD's OIDs, and an auxiliary class to carry them.
AD_SCHEMA = """\
attributetype ( 2.16.840.1.113730.3.1.35 NAME 'thumbnailPhoto'
    DESC 'Active Directory: a small picture of the person'
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
    DESC 'Active Directory: the user logon name, user@domain'
    EQUALITY caseIgnoreMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'zoomBatchTestUser'
    DESC 'test only: the Active Directory attributes on an inetOrgPerson'
    AUXILIARY MAY ( thumbnailPhoto $ userPrincipalName ) )
"""

SCHEMA_FOLDERS = (Path("/etc/ldap/schema"), Path("/etc/openldap/schema"))
MODULE_FOLDERS = (Path("/usr/lib/ldap"), Path("/usr/lib64/openldap"), Path("/usr/lib/openldap"))


def needs(reason: str) -> None:
    """Skip for ``reason`` — or, in CI (ZOOM_BATCH_CI set), fail: CI must run every test."""
    if os.environ.get("ZOOM_BATCH_CI"):
        pytest.fail(f"CI must run this test, but {reason}")
    pytest.skip(reason)


def jpeg(seed: int, size: tuple[int, int] = (48, 48)) -> bytes:
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53) % 256))
    image.putpixel((seed % size[0], (seed // size[0]) % size[1]), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def png(seed: int, size: tuple[int, int] = (40, 40)) -> bytes:
    image = Image.new("RGB", size, ((seed * 13) % 256, 120, (seed * 7) % 256))
    image.putpixel((seed % size[0], (seed // size[0]) % size[1]), (0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Person:
    """One entry as loaded, for the tests to compare with what is read back."""

    dn: str
    mail: str | None
    photos: dict[str, bytes] = field(default_factory=dict)  #: attribute -> value
    name: str = ""
    upn: str | None = None


def people() -> list[Person]:
    found = []
    for i in range(PEOPLE):
        uid = f"user{i:04d}"
        attr, data = ("jpegPhoto", jpeg(i)) if i % 2 == 0 else ("thumbnailPhoto", png(i))
        found.append(
            Person(
                f"uid={uid},{PEOPLE_BASE}",
                f"{uid}@example.com",
                {attr: data},
                name=f"User {i:04d}",
            )
        )
    return found


def special() -> list[Person]:
    """In this order in the LDIF (slapd returns entries in the order they were added)."""
    return [
        Person(f"uid=both,{SPECIAL_BASE}", "both@example.com", name="Both Photos",
               photos={"jpegPhoto": jpeg(9001), "thumbnailPhoto": png(9001)},
               upn="both@corp.example.com"),
        Person(f"uid=nophoto,{SPECIAL_BASE}", "nophoto@example.com", name="No Photo"),
        Person(f"uid=nomail,{SPECIAL_BASE}", None, name="No Mail",
               photos={"jpegPhoto": jpeg(9002)}, upn="nomail@corp.example.com"),
        Person(f"uid=notimage,{SPECIAL_BASE}", "notimage@example.com", name="Not Image",
               photos={"jpegPhoto": b"this is not a picture at all"}),
        Person(f"uid=ad,{SPECIAL_BASE}", None, name="Active Directory",
               photos={"thumbnailPhoto": jpeg(9003)}, upn="ad.user@corp.example.com"),
    ]  # fmt: skip


def private() -> list[Person]:
    return [
        Person(f"uid=secret{i},{PRIVATE_BASE}", f"secret{i}@example.com",
               {"jpegPhoto": jpeg(8000 + i)}, name=f"Secret {i}")
        for i in range(PRIVATE)
    ]  # fmt: skip


def big() -> list[Person]:
    """Entries whose photos are as large as AD allows: random bytes, so LDIF cannot shrink."""
    return [
        Person(f"uid=big{i:04d},{BIG_BASE}", f"big{i:04d}@example.com",
               {"jpegPhoto": os.urandom(BIG_PHOTO)}, name=f"Big {i}")
        for i in range(BIG)
    ]  # fmt: skip


def _ldif_entry(person: Person) -> str:
    uid = person.dn.split(",", 1)[0].split("=", 1)[1]
    lines = [
        f"dn: {person.dn}",
        "objectClass: inetOrgPerson",
        "objectClass: zoomBatchTestUser",
        f"uid: {uid}",
        f"cn: {person.name or uid}",
        f"sn: {uid}",
        f"displayName: {person.name or uid}",
    ]
    if person.mail:
        lines.append(f"mail: {person.mail}")
    if person.upn:
        lines.append(f"userPrincipalName: {person.upn}")
    for attr, data in person.photos.items():
        lines.append(f"{attr}:: {base64.b64encode(data).decode()}")
    return "\n".join(lines) + "\n\n"


def ldif() -> str:
    parts = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
        "dc: example\no: Example\n\n",
        f"dn: {READER}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: reader\nuserPassword: {PASSWORD}\n\n",
        f"dn: {SMALL_READER}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: small\nuserPassword: {PASSWORD}\n\n",
    ]
    for ou in ("people", "special", "private", "big"):
        parts.append(f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n")
    parts += [_ldif_entry(p) for p in [*people(), *special(), *private(), *big()]]
    return "".join(parts)


def _first(folders: tuple[Path, ...], name: str) -> Path | None:
    return next((folder for folder in folders if (folder / name).exists()), None)


def make_certificates(folder: Path) -> tuple[Path, Path, Path] | None:
    """A test CA and a server certificate for 127.0.0.1 and localhost signed by it, made with
    the openssl command: (CA, certificate, key) — None where openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key",
                                                       "server.csr", "server.pem"))  # fmt: skip
    ext = folder / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n",
        encoding="utf-8",
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=zoom-batch test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run([str(part) for part in step], capture_output=True, check=False)
        if done.returncode != 0:
            return None
    return ca, cert, key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Slapd:
    """A slapd process serving :func:`ldif` on ``127.0.0.1:port``; :meth:`stop` and
    :meth:`start` again keep the data and the port."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("slapd") or next(
            (str(p) for p in (Path("/usr/sbin/slapd"), Path("/usr/libexec/slapd")) if p.exists()),
            None,
        )
        slapadd = shutil.which("slapadd") or (
            "/usr/sbin/slapadd" if Path("/usr/sbin/slapadd").exists() else None
        )
        if binary is None or slapadd is None:
            needs("slapd is not installed (apt-get install slapd ldap-utils)")
        schema = _first(SCHEMA_FOLDERS, "inetorgperson.schema")
        modules = _first(MODULE_FOLDERS, "back_mdb.so") or _first(MODULE_FOLDERS, "back_mdb.la")
        if schema is None:
            needs("slapd's schema files (core, cosine, inetorgperson) are not found")
        assert binary is not None and slapadd is not None and schema is not None
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        (folder / "db").mkdir()
        #: The CA that signs the server's certificate; None without TLS (no openssl).
        self.ca: Path | None = None
        self.ldaps_url: str | None = None  #: ``ldaps://127.0.0.1:PORT``, with TLS
        self.unnamed_url: str | None = None
        tls = ""
        certificates = make_certificates(folder)
        if certificates is not None:
            self.ca, cert, key = certificates
            self.ldaps_port = free_port()
            self.ldaps_url = f"ldaps://127.0.0.1:{self.ldaps_port}"
            # The same server at an address its certificate does not name.
            self.unnamed_url = f"ldaps://127.0.0.2:{self.ldaps_port}"
            tls = (
                f"TLSCACertificateFile {self.ca}\n"
                f"TLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n"
            )
        (folder / "ad.schema").write_text(AD_SCHEMA, encoding="utf-8")
        module_lines = f"modulepath {modules}\nmoduleload back_mdb\n" if modules else ""
        self.conf = folder / "slapd.conf"
        self.conf.write_text(
            f"include {schema}/core.schema\n"
            f"include {schema}/cosine.schema\n"
            f"include {schema}/inetorgperson.schema\n"
            f"include {folder}/ad.schema\n"
            f"pidfile {folder}/slapd.pid\n"
            f"argsfile {folder}/slapd.args\n"
            f"{module_lines}"
            f"{tls}"
            # AD's MaxPageSize, in slapd's words: a plain search stops at SIZE_LIMIT entries,
            # a paged one may read them all.
            f"sizelimit size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} size.prtotal=unlimited\n"
            "database mdb\n"
            "maxsize 268435456\n"
            f'suffix "{SUFFIX}"\n'
            f'rootdn "{ADMIN}"\n'
            f"rootpw {ADMIN_PASSWORD}\n"
            f"directory {folder}/db\n"
            # A reader whose pages may hold at most SMALL_PAGES entries: slapd refuses a
            # larger page size (adminLimitExceeded), where AD would send smaller pages.
            f'limits dn.exact="{SMALL_READER}" size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT}'
            f" size.pr={SMALL_PAGES} size.prtotal=unlimited\n"
            "access to attrs=userPassword by anonymous auth by * none\n"
            f'access to dn.subtree="{PRIVATE_BASE}" by users read by * none\n'
            "access to * by * read\n",
            encoding="utf-8",
        )
        source = folder / "entries.ldif"
        source.write_text(ldif(), encoding="utf-8")
        loaded = subprocess.run(
            [slapadd, "-q", "-f", str(self.conf), "-l", str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if loaded.returncode != 0:
            needs(f"slapadd failed: {loaded.stderr.strip()[-300:]}")
        self.start()

    def start(self) -> None:
        """Start slapd (foreground, no debug output) and wait until it accepts connections."""
        with (self.folder / "slapd.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-f", str(self.conf), "-h", self._listen(), "-d", "0"],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.folder / "slapd.log").read_text(errors="replace")
                needs(f"slapd did not start: {err.strip()[-300:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        needs("slapd did not accept connections within 10 s")

    def _listen(self) -> str:
        urls = [f"{self.url}/"]
        if self.ldaps_url and self.unnamed_url:
            urls += [f"{self.ldaps_url}/", f"{self.unnamed_url}/"]
        return " ".join(urls)

    def stop(self) -> None:
        """Stop slapd: its connections drop, as a directory that restarts drops them."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running(folder: Path) -> Iterator[Slapd]:
    """A :class:`Slapd` in ``folder`` for the duration of the block."""
    server = Slapd(folder)
    try:
        yield server
    finally:
        server.stop()
