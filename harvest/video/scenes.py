"""Scene-change detection and dark-frame tests on decoded frames (numpy arrays, RGB, uint8).

``SceneTracker`` is fed a small copy of *every* decoded frame, in order, and numbers scenes:

- **hard cuts**: the content score of a frame is the mean absolute difference of its HSV pixels from
  the previous frame's (PySceneDetect's ``detect-content`` measure, on a 0-255 scale), except that hue
  and saturation are weighted down in dark pixels. Hue and saturation of near-black pixels are noise,
  and without the weighting every fade to or from black would end in a burst of false cuts. A frame
  whose score reaches ``threshold`` starts a new scene, provided its brightness pattern is not simply
  the previous frame's made darker or brighter: the correlation of the two brightness images must be below
  ``MAX_CORRELATION`` (a fade keeps it near 1 on every frame, a cut to another shot drops it).
- **fades through black**: the first picture after at least ``black_gap`` frames of black starts a new
  scene when the picture before the black faded out (a fade-out, a black hold and a fade-in separate
  two scenes although no single frame jumps). A hard cut *into* black has already started the scene
  that the black and the picture fading in after it belong to, and short black dips inside a fade
  start nothing.

``dark_reason`` tells near-black and near-uniform frames (credits, fades to black, blank loading screens).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class SceneTracker:
    """Numbers scenes over consecutive frames; ``scene`` is the current scene number.

    ``feed(frames)`` takes a batch of thumbnails (n, h, w, 3) in decoding order and returns the scene
    number of each; the scoring is vectorised over the batch. A tracker can start mid-video (a resumed
    run) at a known ``scene`` number.
    """

    threshold: float = DEFAULT_THRESHOLD
    black_gap: int = 12
    scene: int = 0
    _prev: np.ndarray | None = None
    _black_run: int = 0
    _picture_seen: bool = False
    _cut_since_picture: bool = False
    cuts: int = 0

    def _measure(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: content score and brightness correlation against the frame before, blackness."""
        n, h, w, _ = frames.shape
        features = hsv_features(frames.reshape(n * h, w, 3)).reshape(n, h, w, 3)
        value = features[..., 2]
        black = (value.mean(axis=(1, 2)) < BLACK_MEAN) & \
            ((value > BRIGHT_LEVEL).mean(axis=(1, 2)) < BRIGHT_FRACTION)
        chain = features if self._prev is None else np.concatenate([self._prev[None], features])
        scores = np.abs(chain[1:] - chain[:-1]).mean(axis=(1, 2, 3))
        grey = chain[..., 2].reshape(len(chain), -1)
        grey = grey - grey.mean(axis=1, keepdims=True)
        spread = grey.std(axis=1)
        cov = (grey[1:] * grey[:-1]).mean(axis=1)
        flat = np.minimum(spread[1:], spread[:-1]) < 2.0
        corr = np.where(flat, 0.0, cov / np.maximum(spread[1:] * spread[:-1], 1e-6))
        if self._prev is None:  # the very first frame has nothing to differ from
            scores, corr = np.concatenate([[0.0], scores]), np.concatenate([[1.0], corr])
        self._prev = features[-1]
        return scores, corr, black

    def feed(self, frames: np.ndarray) -> list[int]:
        """Scene numbers of a batch of frames; a cut or the end of a black gap starts a scene."""
        scores, corr, black = self._measure(frames)
        out = []
        for score, similar, dark in zip(scores.tolist(), corr.tolist(), black.tolist(), strict=True):
            new_scene = score >= self.threshold and similar < MAX_CORRELATION
            if (not dark and self._picture_seen and not self._cut_since_picture
                    and self._black_run >= self.black_gap):
                new_scene = True
            self._black_run = self._black_run + 1 if dark else 0
            self._cut_since_picture = (self._cut_since_picture or new_scene) and dark
            self._picture_seen = self._picture_seen or not dark
            if new_scene:
                self.scene += 1
                self.cuts += 1
            out.append(self.scene)
        return out


def scene_id(stem: str, number: int) -> str:
    """The ``scene`` column value: ``<stem>:<nnnn>``."""
    return f"{stem}:{number:04d}"


def scene_number(scene: str) -> int:
    """The number at the end of a scene id."""
    return int(str(scene).rsplit(":", 1)[-1])
