"""Offline demo sources for ``make demo``: generated, so the demo needs no network and no downloads.

``python -m harvest.demo DIR`` writes ``DIR/screenshots/<street>/cog_<suit>_<entity>_<n>.png``, a
ToonTown-style screenshot folder with four suits on six streets (one street deliberately holds most
Bossbots, the imbalance a balance report must expose), a few downscaled reposts for dedupe, plus the
debris real folders have: a truncated image, an HTML page saved as .png, a text file and a file that
does not follow the naming pattern.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "demo")
    out = make_screenshots(root)
    print(f"demo sources written under {root}: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
