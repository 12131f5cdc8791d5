"""Thin rows along a video's edges that are not picture, found on frames sampled across the video.

Two kinds, each judged per edge on strips of the sampled frames (``(samples, depth, length, 3)``, the
first row on the edge), over the frames that are not black:

- **lines** (:func:`line_depth`): rows flat along the edge that keep their colour through the video (a
  1-4 px black or coloured line a scaler or an encoder left), distinct from the picture beside them;
- **dimmed or brightened copies** (:func:`copy_depth`): rows that carry the picture's texture but at a
  consistent fraction (or multiple) of the brightness of the row inside them, along the whole edge and
  on most frames (a darkened top row of a real film: 0.25-0.35x the row below it on every frame).

Both are a label leak when left in: one film has them and the next does not. Genuine dark picture
content (a night sky, a dark horizon) is kept: it is as bright as the picture just inside it, or its
brightness against it changes from frame to frame and along the edge.

Example::

    from harvest.video.edges import edge_lines
    depths, why = edge_lines(frames, box)  # e.g. {"top": 1, "left": 2, ...}, {"top": "1 px band ..."}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .probe import CropBox

CROPDETECT_LIMIT = 24  # 0-255: pixels darker than this count as bar
EDGE_QUANTILE = 0.2  # an edge is cropped as far as 80 % of the sampled frames allow
LINE_STD = 12.0  # along-the-edge spread of a line row
LINE_DRIFT = 10.0  # spread of a line row's colour across the sampled frames
MAX_LINE = 6  # deepest edge line looked for: lines of 1-4 px, plus coding blur
LINE_STEP = 6.0  # the row inside a line differs from it by this much (0-255) ...
LINE_AGREE = 0.7  # ... on this share of the sampled frames that are not black
MAX_COPY = 4  # deepest dimmed (or brightened) band looked for
COPY_RATIO = 1.2  # a band this many times darker (or brighter) than the row inside it ...
COPY_SPREAD = 2.0  # ... whose ratio stays within this factor of its usual one (and that far from 1) on
# LINE_AGREE of the frames (saturated colours bend it: chroma is shared with the row inside) ...
COPY_PIECES = 16  # ... and on each of them is the same along the edge (cut into this many pieces) ...
COPY_ALONG = 1.6  # ... within this factor on at least half of the pieces (chroma subsampling and
# colours clipped at black or white bend the ratio where the picture is saturated)
COPY_MIN = 6.0  # pieces of the inside row darker than this (0-255) give no ratio
COPY_CLIPPED = 250  # nor pieces of a band whose pixels clip at white


def is_black(frame: np.ndarray) -> bool:
    """No pixel brighter than cropdetect's bar limit: a black frame tells nothing about lines."""
    return int(frame[::4, ::4].max()) <= CROPDETECT_LIMIT


def _middle(strips: np.ndarray) -> np.ndarray:
    """The middle of the strips along the edge: its ends may cross a line on the neighbouring edge."""
    length = strips.shape[2]
    return strips[:, :, length // 8: length - length // 8]


def _seen(strips: np.ndarray) -> list[int]:
    """The samples that are not black (all of them when every one is)."""
    return [i for i in range(len(strips)) if not is_black(strips[i])] or list(range(len(strips)))


def line_depth(strips: np.ndarray) -> tuple[int, str | None]:
    """Depth of a thin line at an edge and why it is one; ``strips`` is (samples, depth, length, 3).

    The rows of a line are flat along the edge and keep their colour over the video; the row just
    inside the line differs from it by ``LINE_STEP`` in colour, or is that much more textured (a dark
    picture can be as dark as its line), on ``LINE_AGREE`` of the frames that are not black,
    whatever the picture does (dark or bright, still or moving, lighter or darker than the line).
    The deepest such step within ``MAX_LINE`` pixels wins (coding blur can smear a line over one more
    row). A dark band deeper than ``MAX_LINE`` (a night sky, a horizon) has no step there and is kept.
    """
    rows = _middle(strips[:, :MAX_LINE + 1]).astype(np.float32)
    seen = _seen(strips)
    means = rows.mean(axis=2)  # (samples, depth, 3)
    spread = rows.std(axis=2).max(axis=-1)  # (samples, depth)
    flat = (spread < LINE_STD).mean(axis=0) >= 1 - EDGE_QUANTILE
    steady = means.std(axis=0).max(axis=-1) < LINE_DRIFT
    depth, why = 0, None
    for d in range(1, min(MAX_LINE, rows.shape[1] - 1) + 1):
        if not (flat[d - 1] and steady[d - 1]):
            break
        # the picture beside a line differs in colour, or (as dark as the line) in texture
        step = np.maximum(np.abs(means[seen, d - 1] - means[seen, d]).max(axis=-1),
                          spread[seen, d] - spread[seen, :d].max(axis=1))
        agree = int((step >= LINE_STEP).sum())
        if agree >= LINE_AGREE * len(seen):
            line, inner = means[seen, :d].mean(axis=(0, 1)), means[seen, d].mean(axis=0)
            kind = "darker" if line.mean() < inner.mean() else "lighter"
            depth = d
            why = (f"{d} px line, {kind} than the picture (mean {line.mean():.0f} vs {inner.mean():.0f}), "
                   f"flat and unchanged over the video, distinct from the picture beside it on {agree} "
                   f"of {len(seen)} frames")
    return depth, why


def _row_ratios(rows: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Per sample, the brightness ratio of one band row to the row inside the band, or NaN where the
    edge does not give one: the median over the pieces of the edge, NaN too when fewer than a third of
    the pieces give a ratio, under half of them are within ``COPY_ALONG`` of it, or the two rows
    differ by less than ``LINE_STEP`` levels (a smooth dark sky steps by a level or three a row)."""
    n, length = rows.shape[0], rows.shape[1] // COPY_PIECES * COPY_PIECES
    if length == 0:
        return np.full(n, np.nan)
    band = rows[:, :length].reshape(n, COPY_PIECES, -1, 3)
    inside = inner[:, :length].reshape(n, COPY_PIECES, -1, 3)
    num, den = band.mean(axis=(2, 3)), inside.mean(axis=(2, 3))
    usable = (den >= COPY_MIN) & ((band >= COPY_CLIPPED).any(axis=3).mean(axis=2) < 0.2)
    ratio = np.where(usable, np.log(np.maximum(num, 0.5) / np.maximum(den, 1e-3)), np.nan)
    out = np.full(n, np.nan)
    for i in range(n):
        valid = ratio[i][usable[i]]
        if len(valid) < COPY_PIECES / 3:
            continue
        middle = float(np.median(valid))
        step = float(np.abs(num[i] - den[i])[usable[i]].mean())  # a few levels near black is no band
        if step >= LINE_STEP and (np.abs(valid - middle) <= np.log(COPY_ALONG)).mean() >= 0.5:
            out[i] = middle
    return out


def copy_depth(strips: np.ndarray) -> tuple[int, str | None]:
    """Depth of a dimmed (or brightened) copy of the picture at an edge and why it is one.

    Each row of a band of ``d`` rows (1 to ``MAX_COPY``) must be a consistent fraction (or multiple) of
    the row inside the band: on ``LINE_AGREE`` of the frames that are not black, its ratio to that row,
    the same along most of the edge (within ``COPY_ALONG``), is within ``COPY_SPREAD`` of its usual ratio
    and, like it, at least ``COPY_RATIO`` away from 1. Textured or flat, any colour. The deepest band wins.
    Picture content as bright as the row inside it (a dark sky above a dark horizon) has a ratio near
    1; an edge of the picture's own (an object's border) changes its ratio along the edge and over
    the video.
    """
    rows = _middle(strips[:, :MAX_COPY + 1]).astype(np.float32)
    seen = _seen(strips)
    rows = rows[seen]
    depth, why = 0, None
    for d in range(1, min(MAX_COPY, rows.shape[1] - 1) + 1):
        found = []
        for r in range(d):
            ratios = _row_ratios(rows[:, r], rows[:, d])
            valid = ratios[~np.isnan(ratios)]
            usual = float(np.median(valid)) if len(valid) else 0.0
            agree = int(((np.abs(valid - usual) <= np.log(COPY_SPREAD))
                         & (valid * np.sign(usual) >= np.log(COPY_RATIO))).sum())
            if abs(usual) < np.log(COPY_RATIO) or agree < LINE_AGREE * len(seen):
                break
            found.append((float(np.exp(usual)), agree))
        if len(found) == d:
            factor = float(np.exp(np.mean([np.log(f) for f, _ in found])))
            agree = min(a for _, a in found)
            kind = "dimmed" if factor < 1 else "brightened"
            depth = d
            why = (f"{d} px band, a {kind} copy of the picture ({factor:.2f}x the row inside it, the "
                   f"same along the edge) on {agree} of {len(seen)} frames")
    return depth, why


def _edge_depth(strips: np.ndarray) -> tuple[int, str | None]:
    """The deeper of a line and a dimmed copy at one edge, and why."""
    line, copy = line_depth(strips), copy_depth(strips)
    return copy if copy[0] > line[0] else line


def edge_lines(frames: list[np.ndarray], box: CropBox) -> tuple[dict[str, int], dict[str, str]]:
    """Thin lines and dimmed rows inside the bar-free box, per edge: depth in pixels (0 when none),
    and why."""
    if not frames:
        return {"left": 0, "right": 0, "top": 0, "bottom": 0}, {}
    depth_h, depth_w = min(MAX_LINE + 1, box.h // 4), min(MAX_LINE + 1, box.w // 4)
    x0, x1, y0, y1 = box.x, box.x + box.w, box.y, box.y + box.h

    def band(rows: slice, cols: slice, flip: bool, transpose: bool) -> np.ndarray:
        stack = np.stack([f[rows, cols] for f in frames])
        stack = stack.transpose(0, 2, 1, 3) if transpose else stack
        return stack[:, ::-1] if flip else stack

    found = {
        "top": _edge_depth(band(slice(y0, y0 + depth_h), slice(x0, x1), False, False)),
        "bottom": _edge_depth(band(slice(y1 - depth_h, y1), slice(x0, x1), True, False)),
        "left": _edge_depth(band(slice(y0, y1), slice(x0, x0 + depth_w), False, True)),
        "right": _edge_depth(band(slice(y0, y1), slice(x1 - depth_w, x1), True, True)),
    }
    return {k: d for k, (d, _) in found.items()}, {k: w for k, (d, w) in found.items() if w}
