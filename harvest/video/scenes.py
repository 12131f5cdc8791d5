"""Scene-change detection and dark-frame tests on decoded frames (numpy arrays, RGB, uint8).

``SceneTracker`` is fed a small copy of *every* decoded frame, in order, and numbers scenes:

- **hard cuts**: the content score of a frame is the mean absolute difference of its HSV pixels from
  the previous frame's (PySceneDetect's ``detect-content`` measure, on a 0-255 scale), except that hue
  and saturation are weighted down in dark pixels. Hue and saturation of near-black pixels are noise,
  and without the weighting every fade to or from black would end in a burst of false cuts. A frame
  whose score reaches ``threshold`` starts a new scene, provided its brightness pattern is not simply
  the previous frame's made darker or brighter: the correlation of the two brightness images must be below
  ``MAX_CORRELATION`` (a fade keeps it near 1 on every frame, a cut to another shot drops it).
- **dissolves**: a cross-fade between two shots that differ starts a scene at its middle (see
  ``SceneTracker``), although no single frame jumps.
- **adaptive** (``SceneRules.detector``): a frame's score is judged against the scores around it.
- **fades through black**: the first picture after at least ``black_gap`` frames of black starts a new
  scene when the picture before the black faded out (a fade-out, a black hold and a fade-in separate
  two scenes although no single frame jumps). A hard cut *into* black has already started the scene
  that the black and the picture fading in after it belong to, and short black dips inside a fade
  start nothing.

``dark_reason`` tells near-black and near-uniform frames (credits, fades to black, blank loading screens).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..defaults import DEFAULT_SCENE_THRESHOLD as DEFAULT_THRESHOLD

# Below this brightness (0-255) hue and saturation count less, with the square of the brightness.
DARK_KNEE = 64.0
# A frame is black when its mean brightness is below this and almost no pixel is bright.
BLACK_MEAN = 2.5
BRIGHT_LEVEL = 40
BRIGHT_FRACTION = 0.02
UNIFORM_STD = 3.0
MAX_CORRELATION = 0.8
# A dissolve's middle frame differs from the average of its ends by at most this share of their difference.
DISSOLVE_RESIDUAL = 0.25
DISSOLVE_MIN_SPREAD = 8.0  # both ends of a dissolve are pictures, not a plain colour


def hsv_features(rgb: np.ndarray) -> np.ndarray:
    """HSV planes (hue on OpenCV's 0-180 scale, saturation and value 0-255) as float32 (h, w, 3),
    hue and saturation dimmed in dark pixels."""
    hsv = np.asarray(Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("HSV"), dtype=np.float32)
    weight = np.minimum(hsv[..., 2], DARK_KNEE) * (1.0 / DARK_KNEE)
    weight *= weight
    hsv[..., 0] *= weight * (180.0 / 256.0)
    hsv[..., 1] *= weight
    return hsv


def dark_reason(rgb: np.ndarray) -> str | None:
    """``"dark"`` for near-black frames, ``"uniform"`` for near-constant ones, else ``None``."""
    step = max(1, int((rgb.shape[0] * rgb.shape[1] / 40_000) ** 0.5))  # about 40,000 pixels suffice
    sample = np.ascontiguousarray(rgb[::step, ::step]).reshape(-1, 3)
    value = np.maximum(np.maximum(sample[:, 0], sample[:, 1]), sample[:, 2])
    if np.count_nonzero(value > BRIGHT_LEVEL) / value.size < BRIGHT_FRACTION:
        return "dark"
    # A quick spread per colour plane; only when it is close to the limit decides the exact one.
    spread = float(np.ascontiguousarray(sample.T, dtype=np.float32).std(axis=1).max())
    if abs(spread - UNIFORM_STD) < 0.01 * UNIFORM_STD:
        spread = float(sample.astype(np.float32).std(axis=0).max())
    return "uniform" if spread < UNIFORM_STD else None


@dataclass(frozen=True)
class SceneRules:
    """How ``SceneTracker`` decides cuts (PySceneDetect's names where it has them).

    Attributes:
        threshold: content score (0-255 HSV scale) that makes a hard cut (``detect-content``).
        black_gap: frames of black after a fade-out from which the next picture starts a scene.
        min_scene_len: frames a scene lasts at least; a cut closer to the last one is ignored.
        detector: ``content`` (a fixed threshold) or ``adaptive`` (``detect-adaptive``: a frame's score
            against the average of the ``window`` frames before and after it, fewer false cuts on
            fast camera motion).
        adaptive_threshold, min_content: the adaptive detector's ratio and the least score it cuts at.
        dissolve: frames over which a dissolve (a cross-fade between two shots) is looked for; 0 off.
    """

    threshold: float = DEFAULT_THRESHOLD
    black_gap: int = 12
    min_scene_len: int = 0
    detector: str = "content"
    adaptive_threshold: float = 3.0
    min_content: float = 15.0
    window: int = 2
    dissolve: int = 24

    @property
    def delay(self) -> int:
        """Frames the tracker looks ahead before it numbers a frame."""
        return max(self.window if self.detector == "adaptive" else 0, self.dissolve // 2)


@dataclass
class SceneTracker:
    """Numbers scenes over consecutive frames; ``scene`` is the current scene number.

    ``feed(frames)`` takes a batch of thumbnails (n, h, w, 3) in decoding order and returns the scene
    numbers of the frames it can decide (they lag ``rules.delay`` frames behind, the look-ahead of the
    adaptive detector and of dissolves); ``finish()`` returns the rest. ``starts`` lists the positions
    (0 = the first frame fed) where scenes start. A tracker can start mid-video (a resumed run) at a
    known ``scene`` number.

    Dissolves: when the frame ``rules.dissolve`` frames back and the current one differ by ``threshold``
    (mean absolute RGB difference) in brightness pattern too, and the frame halfway between them is
    their average (a cross-fade, not camera motion, which leaves a sharp picture there), the halfway
    frame starts a scene. A fade through black is not a dissolve: neither end may be dark.
    """

    rules: SceneRules = SceneRules()
    scene: int = 0
    cuts: int = 0
    starts: list[int] = field(default_factory=lambda: [0])
    _prev: np.ndarray | None = None
    _black_run: int = 0
    _picture_seen: bool = False
    _cut_since_picture: bool = False
    _scores: list[float] = field(default_factory=list)
    _measures: deque[tuple[float, bool]] = field(default_factory=deque)
    _ring: deque[_Thumb] = field(default_factory=deque)
    _dissolves: set[int] = field(default_factory=set)
    _decided: int = 0
    _last_cut: int = 0

    def _measure(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: content score and brightness correlation against the frame before, blackness."""
        n, h, w, _ = frames.shape
        features = hsv_features(frames.reshape(n * h, w, 3)).reshape(n, h, w, 3)
        value = features[..., 2]
        black = (value.mean(axis=(1, 2)) < BLACK_MEAN) & \
            ((value > BRIGHT_LEVEL).mean(axis=(1, 2)) < BRIGHT_FRACTION)
        chain = features if self._prev is None else np.concatenate([self._prev[None], features])
        scores = np.abs(chain[1:] - chain[:-1]).mean(axis=(1, 2, 3))
        corr = _correlations(chain[..., 2])
        if self._prev is None:  # the very first frame has nothing to differ from
            scores, corr = np.concatenate([[0.0], scores]), np.concatenate([[1.0], corr])
        self._prev = features[-1]
        return scores, corr, black

    def _find_dissolves(self, frames: np.ndarray, scores: np.ndarray) -> None:
        """Record the middle of each dissolve that ends at one of these frames."""
        k = self.rules.dissolve
        if k < 4:
            return
        self._ring.extend(_Thumb.batch(frames))
        position = len(self._scores) - len(frames)
        for i in range(len(frames)):
            end = position + i
            if end < k:
                continue
            middle = end - k // 2
            ring_end = len(self._ring) - len(frames) + i
            if ring_end < k or max(self._scores[end - k + 1: end + 1]) >= self.rules.threshold:
                continue
            if middle - max(self._last_cut, max(self._dissolves, default=0)) < k:
                continue
            a, m, b = self._ring[ring_end - k], self._ring[ring_end - k // 2], self._ring[ring_end]
            if _is_dissolve(a, m, b, self.rules.threshold):
                self._dissolves.add(middle)
        while len(self._ring) > k + 1:
            self._ring.popleft()

    def feed(self, frames: np.ndarray) -> list[int]:
        """Scene numbers of the frames decided so far (see the class docstring)."""
        scores, corr, black = self._measure(frames)
        self._scores.extend(scores.tolist())
        self._measures.extend(zip(corr.tolist(), black.tolist(), strict=True))
        self._find_dissolves(frames, scores)
        return self._decide(len(self._scores) - self.rules.delay)

    def finish(self) -> list[int]:
        """Scene numbers of the frames still waiting for their look-ahead."""
        return self._decide(len(self._scores))

    def _hard_cut(self, position: int, similar: float) -> bool:
        rules, score = self.rules, self._scores[position]
        if similar >= MAX_CORRELATION:
            return False
        if rules.detector != "adaptive":
            return score >= rules.threshold
        around = self._scores[max(1, position - rules.window): position] + \
            self._scores[position + 1: position + rules.window + 1]
        average = sum(around) / len(around) if around else 0.0
        return score >= rules.min_content and score >= rules.adaptive_threshold * max(average, 1e-6)

    def _decide(self, until: int) -> list[int]:
        out = []
        while self._decided < until:
            position = self._decided
            similar, dark = self._measures.popleft()
            new_scene = self._hard_cut(position, similar) or position in self._dissolves
            if (not dark and self._picture_seen and not self._cut_since_picture
                    and self._black_run >= self.rules.black_gap):
                new_scene = True
            if new_scene and position - self._last_cut < self.rules.min_scene_len:
                new_scene = False
            self._black_run = self._black_run + 1 if dark else 0
            self._cut_since_picture = (self._cut_since_picture or new_scene) and dark
            self._picture_seen = self._picture_seen or not dark
            if new_scene:
                self.scene += 1
                self.cuts += 1
                self._last_cut = position
                self.starts.append(position)
            out.append(self.scene)
            self._decided += 1
        return out


def _correlations(grey: np.ndarray) -> np.ndarray:
    """Correlation of each brightness image with the one before (0 when either is flat)."""
    grey = grey.reshape(len(grey), -1)
    grey = grey - grey.mean(axis=1, keepdims=True)
    spread = grey.std(axis=1)
    cov = (grey[1:] * grey[:-1]).mean(axis=1)
    flat = np.minimum(spread[1:], spread[:-1]) < 2.0
    return np.where(flat, 0.0, cov / np.maximum(spread[1:] * spread[:-1], 1e-6))


@dataclass(frozen=True)
class _Thumb:
    """A thumbnail as the dissolve test reads it, measured once: RGB as float32, its mean, its
    brightness image and that image's spread."""

    rgb: np.ndarray
    mean: float
    grey: np.ndarray
    spread: float

    @classmethod
    def batch(cls, frames: np.ndarray) -> list[_Thumb]:
        rgb = frames.astype(np.float32)
        grey = rgb.mean(axis=-1)
        means = rgb.reshape(len(rgb), -1).mean(axis=1)
        spreads = grey.reshape(len(grey), -1).std(axis=1)
        return [cls(rgb[i], float(means[i]), grey[i], float(spreads[i])) for i in range(len(rgb))]


def _is_dissolve(a: _Thumb, middle: _Thumb, b: _Thumb, threshold: float) -> bool:
    """``a`` and ``b`` are different pictures, and ``middle`` is (nearly) their average."""
    if min(a.mean, b.mean, middle.mean) < DARK_KNEE / 2:  # a fade through black is no dissolve
        return False
    if min(a.spread, b.spread) < DISSOLVE_MIN_SPREAD:
        return False  # a fade from or to a plain colour (white, a title card) is no dissolve either
    apart = float(np.abs(a.rgb - b.rgb).mean())
    if apart < threshold:
        return False
    if _correlations(np.stack([a.grey, b.grey]))[0] >= MAX_CORRELATION:
        return False  # the same picture brighter or darker: a fade or a lighting change
    residual = float(np.abs(middle.rgb - (a.rgb + b.rgb) * 0.5).mean())
    return residual <= DISSOLVE_RESIDUAL * apart


def scene_id(stem: str, number: int) -> str:
    """The ``scene`` column value: ``<stem>:<nnnn>``."""
    return f"{stem}:{number:04d}"


def scene_number(scene: str) -> int:
    """The number at the end of a scene id."""
    return int(str(scene).rsplit(":", 1)[-1])
