"""Generate zoom-batch's sample data: avatar photos, two manifests and the simulator's users.

Run from anywhere with ``/work/venv/bin/python samples/make_samples.py`` (or ``--out DIR``).
Everything is drawn, nothing downloaded; the same Pillow build gives the same bytes every run.

Two rows fail on purpose: ``former.employee@example.com`` is missing from
``simulator-users.txt`` (Zoom answers "User does not exist"), and ``photos/not-a-photo.jpg`` is
a web page saved by mistake under a ``.jpg`` name.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 256  # pixels, square: what Zoom shows is a small circle
SUPERSAMPLE = 2  # draw at twice the size, then downscale: smooth edges without antialiasing
FORMER_EMPLOYEE = "former.employee@example.com"
NOT_A_PHOTO = "photos/not-a-photo.jpg"

# What a browser saves when a photo link leads to a sign-in page instead of the picture.
NOT_A_PHOTO_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Sign in to continue - Staff Photo Library</title>
</head>
<body>
  <h1>Sign in to continue</h1>
  <p>You need to sign in to view frances.allen.jpg.</p>
  <form method="post" action="/login"><input name="user"> <button>Sign in</button></form>
</body>
</html>
"""


@dataclass(frozen=True, kw_only=True)
class SampleUser:
    """One row of the sample manifests."""

    user: str  #: email address or Zoom user ID
    name: str
    department: str
    file: str  #: relative to the samples folder
    colour: tuple[int, int, int]  #: background of the avatar


USERS = (
    SampleUser(
        user="ada.lovelace@example.com",
        name="Ada Lovelace",
        department="Research",
        file="photos/ada.lovelace.jpg",
        colour=(94, 53, 177),
    ),
    SampleUser(
        user="grace.hopper@example.com",
        name="Grace Hopper",
        department="Engineering",
        file="photos/grace.hopper.png",
        colour=(21, 101, 192),
    ),
    SampleUser(
        user="alan.turing+zoom@example.com",
        name="Alan Turing",
        department="Research",
        file="photos/alan.turing.jpg",
        colour=(0, 121, 107),
    ),
    SampleUser(
        user="KDcuGIm1QgePTO8WbOqwIQ",  # a Zoom user ID instead of an email
        name="Katherine Johnson",
        department="Flight Research",
        file="photos/katherine.johnson.png",
        colour=(198, 40, 40),
    ),
    SampleUser(
        user="edsger.dijkstra@example.com",
        name="Edsger Dijkstra",
        department="Engineering",
        file="photos/edsger.dijkstra.jpg",
        colour=(239, 108, 0),
    ),
    SampleUser(
        user="margaret.hamilton@example.com",
        name="Margaret Hamilton",
        department="Flight Software",
        file="photos/margaret.hamilton.png",
        colour=(46, 125, 50),
    ),
    SampleUser(
        user="barbara.liskov@example.com",
        name="Barbara Liskov",
        department="Engineering",
        file="photos/barbara.liskov.jpg",
        colour=(173, 20, 87),
    ),
    SampleUser(
        user="donald.knuth@example.com",
        name="Donald Knuth",
        department="Typesetting",
        file="photos/donald.knuth.png",
        colour=(69, 90, 100),
    ),
    SampleUser(
        user="radia.perlman@example.com",
        name="Radia Perlman",
        department="Networking",
        file="photos/radia.perlman.jpg",
        colour=(0, 131, 143),
    ),
    SampleUser(
        user="hedy.lamarr@example.com",
        name="Hedy Lamarr",
        department="Wireless",
        file="photos/hedy.lamarr.png",
        colour=(57, 73, 171),
    ),
    SampleUser(
        user=FORMER_EMPLOYEE,  # a good photo, but Zoom does not know this user
        name="Former Employee",
        department="Sales",
        file="photos/former.employee.jpg",
        colour=(121, 85, 72),
    ),
    SampleUser(
        user="frances.allen@example.com",  # a known user, but the "photo" is a web page
        name="Frances Allen",
        department="Compilers",
        file=NOT_A_PHOTO,
        colour=(0, 0, 0),
    ),
)


def initials(name: str) -> str:
    return "".join(word[0] for word in name.split()[:2]).upper()


def draw_avatar(name: str, colour: tuple[int, int, int]) -> Image.Image:
    """A friendly head-and-shoulders silhouette on a soft gradient, initials on the chest."""
    big = SIZE * SUPERSAMPLE
    image = Image.new("RGB", (big, big))
    draw = ImageDraw.Draw(image)
    for y in range(big):  # lighter at the top, like a studio backdrop
        lift = 0.35 * (1 - y / big)
        draw.line([(0, y), (big, y)], fill=_mix(colour, (255, 255, 255), lift))
    figure = _mix(colour, (255, 255, 255), 0.78)

    def at(*values: float) -> list[int]:
        return [round(v * big) for v in values]

    draw.ellipse(at(0.14, 0.62, 0.86, 1.34), fill=figure)  # shoulders
    draw.rectangle(at(0.42, 0.44, 0.58, 0.64), fill=figure)  # neck
    draw.ellipse(at(0.32, 0.14, 0.68, 0.50), fill=figure)  # head
    font = ImageFont.load_default(size=0.15 * big)
    draw.text((0.5 * big, 0.83 * big), initials(name), fill=colour, font=font, anchor="mm")
    return image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def write_photo(user: SampleUser, out: Path) -> None:
    target = out / user.file
    target.parent.mkdir(parents=True, exist_ok=True)
    if user.file == NOT_A_PHOTO:
        target.write_text(NOT_A_PHOTO_HTML, encoding="utf-8")
        return
    image = draw_avatar(user.name, user.colour)
    if target.suffix == ".png":
        # A 64-colour palette keeps the PNGs at a few KB, like the JPEGs.
        image = image.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        image.save(target, "PNG", optimize=True)
    else:
        image.save(target, "JPEG", quality=85, optimize=True)


def write_manifests(out: Path) -> None:
    with (out / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["email", "file", "name", "department"])
        for user in USERS:
            writer.writerow([user.user, user.file, user.name, user.department])
    lines = [
        "# The sample rows of manifest.csv, as YAML. Files are relative to this file's folder.",
        "# Generated by make_samples.py: edit USERS there and run it again.",
    ]
    for user in USERS:
        lines += [f"- email: {user.user}  # {user.name}", f"  file: {user.file}"]
    (out / "manifest.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_simulator_users(out: Path) -> None:
    lines = [
        "# The users zoom-batch's simulator knows: one email address or Zoom user ID a line",
        "# (emails match without regard to case). `zoom-batch run samples/manifest.csv --simulate`",
        "# reads this file because it sits beside the manifest.",
        "# Every sample user is here except former.employee@example.com, so that row fails",
        '# on purpose the way Zoom does: 404, code 1001, "User does not exist".',
        "# Generated by make_samples.py.",
        *(user.user for user in USERS if user.user != FORMER_EMPLOYEE),
    ]
    (out / "simulator-users.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate(out: Path) -> None:
    """Write every sample file under ``out``."""
    for user in USERS:
        write_photo(user, out)
    write_manifests(out)
    write_simulator_users(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="folder to write to"
    )
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
