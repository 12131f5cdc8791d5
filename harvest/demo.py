"""Offline demo sources for ``make demo``: generated, so the demo needs no network and no downloads.

``python -m harvest.demo DIR`` writes ``DIR/screenshots/<street>/cog_<suit>_<entity>_<n>.png``, a
ToonTown-style screenshot folder with four suits on six streets (one street deliberately holds most
Bossbots, the imbalance a balance report must expose), a few downscaled reposts for dedupe, plus the
debris real folders have: a truncated image, an HTML page saved as .png, a text file and a file that
does not follow the naming pattern.

It also writes ``DIR/movies_src/*.mp4``, three short "movies" made with ffmpeg's lavfi sources (through
ffmpeg-python): ``castle.mp4`` letterboxed with black bars, ``meadow.mp4`` with a thin light line along
two edges on every frame (the kind of border a model learns instead of the content), ``dusk.mp4``
fading out to black and back in; each has hard cuts between visually distinct shots and its own
colour cast, so the three are three classes a model can tell apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ffmpeg
import numpy as np
from PIL import Image, ImageDraw

STREETS = {"ttc": (120, 200, 255), "dd": (90, 140, 200), "dg": (140, 220, 140),
           "mml": (250, 200, 240), "tb": (220, 235, 255), "ddl": (40, 40, 90)}
SUITS = {"bossbot": ((120, 80, 40), "rect"), "lawbot": ((40, 60, 140), "ellipse"),
         "cashbot": ((40, 130, 60), "triangle"), "sellbot": ((150, 40, 40), "diamond")}
ENTITIES = {"bossbot": ["flunky", "yesman"], "lawbot": ["bottomfeeder", "doubletalker"],
            "cashbot": ["shortchange", "pennypincher"], "sellbot": ["cold_caller", "telemarketer"]}


def screenshot(street: str, suit: str, rng: np.random.Generator, size: tuple[int, int] = (128, 96)
               ) -> Image.Image:
    """One fake screenshot: the street's sky, buildings and ground, a cog of the suit's shape."""
    w, h = size
    sky = np.array(STREETS[street], dtype=np.float32)
    arr = np.empty((h, w, 3), dtype=np.float32)
    arr[:] = sky
    arr[int(h * 0.7):] = sky * 0.5 + 40
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):  # buildings: every screenshot a different skyline
        x0, bw, bh = int(rng.integers(-10, w)), int(rng.integers(10, 36)), int(rng.integers(15, 55))
        shade = tuple(int(c) for c in np.clip(sky * rng.uniform(0.3, 1.3) + rng.normal(0, 25, 3), 0, 255))
        draw.rectangle((x0, int(h * 0.7) - bh, x0 + bw, int(h * 0.7)), fill=shade)
    colour, shape = SUITS[suit]
    cx, cy = int(rng.integers(30, w - 30)), int(rng.integers(29, h - 29))
    r = int(rng.integers(20, 28))
    box = (cx - r, cy - r, cx + r, cy + r)
    outline = (20, 20, 20)
    if shape == "rect":
        draw.rectangle(box, fill=colour, outline=outline, width=2)
    elif shape == "ellipse":
        draw.ellipse(box, fill=colour, outline=outline, width=2)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour, outline=outline)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy), (cx, cy + r), (cx + r, cy)], fill=colour, outline=outline)
    noisy = np.asarray(img, dtype=np.float32) + rng.normal(0, 5, (h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def make_screenshots(root: Path, per_cell: int = 8, seed: int = 0, near_duplicates: int = 6) -> Path:
    """Write the demo screenshot folder and return it.

    ``near_duplicates`` screenshots are saved a second time, downscaled and re-encoded, under a new
    number on the same street: the reposts ``curate dedupe`` must find.
    """
    rng = np.random.default_rng(seed)
    out = root / "screenshots"
    n = 0
    written: list[Path] = []
    for street in STREETS:
        for suit in SUITS:
            count = per_cell * 3 if (street, suit) == ("dg", "bossbot") else per_cell
            for _ in range(count):
                entity = ENTITIES[suit][n % 2]
                path = out / street / f"cog_{suit}_{entity}_{n}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                screenshot(street, suit, rng).save(path)
                written.append(path)
                n += 1
    for index in rng.choice(len(written), size=near_duplicates, replace=False):
        original = written[int(index)]
        suit, entity = original.stem.split("_", 1)[1].rsplit("_", 1)[0].split("_", 1)
        with Image.open(original) as img:
            copy = img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
        copy.save(original.parent / f"cog_{suit}_{entity}_{n}.png")
        n += 1
    good = (out / "ttc" / f"cog_lawbot_bottomfeeder_{n}.png")
    screenshot("ttc", "lawbot", rng).save(good)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])  # truncated mid-file
    (out / "dd" / f"cog_sellbot_cold_caller_{n + 1}.png").write_bytes(
        b"<!DOCTYPE html><html><body>Rate limited</body></html>")
    (out / "dd" / "notes.txt").write_text("screenshots from the Toontown streets\n")
    screenshot("dd", "cashbot", rng).save(out / "dd" / "IMG_0001.png")
    return out


MOVIE_SIZE = (320, 180)
SHOT_SECONDS = 1.5
# Each movie has its own look (shots and a colour cast), as films of different studios do.
CASTLE = ("mandelbrot", "sierpinski=seed=3:type=carpet",
          "life=seed=1:mold=5:life_color=0xd06020:death_color=0x301008",
          "testsrc2", "mandelbrot=start_scale=0.3:start_x=-0.75:start_y=0.1")
MEADOW = ("life=seed=7:mold=10:life_color=0x40c040:death_color=0x103010",
          "smptehdbars", "mandelbrot=start_scale=0.05:start_x=-1.25:start_y=0.02",
          "sierpinski=seed=9:type=triangle", "life=seed=11:ratio=0.4:life_color=0x90e060")
DUSK = ("rgbtestsrc", "smptebars", "yuvtestsrc", "cellauto=rule=30:seed=2")


def _shot(source: str, seconds: float = SHOT_SECONDS, hue: float = 0.0,
          size: tuple[int, int] = MOVIE_SIZE) -> ffmpeg.nodes.FilterableStream:
    """One shot: a lavfi source (``name`` or ``name=opt=value``) for ``seconds``, hue-shifted."""
    name, _, opts = source.partition("=")
    graph = f"{name}=size={size[0]}x{size[1]}:rate=24" + (f":{opts}" if opts else "")
    stream = ffmpeg.input(graph, f="lavfi").video.trim(duration=seconds).setpts("PTS-STARTPTS")
    if hue:
        stream = stream.filter("hue", h=hue)
    return stream.filter("format", "yuv420p")


def _write(stream: ffmpeg.nodes.FilterableStream, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (stream.output(str(path), vcodec="libx264", pix_fmt="yuv420p", g=24, preset="veryfast")
     .global_args("-hide_banner", "-loglevel", "error").overwrite_output().run())
    return path


def make_movies(root: Path) -> list[Path]:
    """Write the three demo movies under ``root/movies_src`` and return their paths."""
    out = root / "movies_src"
    w, h = MOVIE_SIZE
    castle = ffmpeg.concat(*(_shot(s, hue=20) for s in CASTLE)).filter("pad", w, h + 60, 0, 30)
    meadow = (ffmpeg.concat(*(_shot(s, hue=-40) for s in MEADOW))
              .drawbox(0, 0, w, 3, color="0xd0d0d0", thickness="fill")
              .drawbox(0, 0, 4, h, color="0xd0d0d0", thickness="fill"))
    fade = int(24 * SHOT_SECONDS / 2)
    dusk = ffmpeg.concat(
        _shot(DUSK[0], hue=200).filter("fade", type="out", start_frame=fade, nb_frames=fade),
        _shot("color=c=black", 1),
        _shot(DUSK[1], hue=200).filter("fade", type="in", start_frame=0, nb_frames=fade),
        *(_shot(s, hue=200) for s in DUSK[2:]))
    return [_write(castle, out / "castle.mp4"), _write(meadow, out / "meadow.mp4"),
            _write(dusk, out / "dusk.mp4")]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "demo")
    out = make_screenshots(root)
    movies = make_movies(root)
    print(f"demo sources written under {root}: {out}, {len(movies)} movies in {movies[0].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
