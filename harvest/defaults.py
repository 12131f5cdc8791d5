"""Default values the harvest CLI shows in ``--help``, kept apart from the modules that use them so
that ``harvest --help`` imports neither Pillow nor numpy nor requests."""

from __future__ import annotations

DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # the store and the fetcher refuse larger files
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS)
DEFAULT_SCENE_THRESHOLD = 27.0  # content change (0-255 HSV scale) that makes a cut
ARCTIC_SHIFT_URL = "https://arctic-shift.photon-reddit.com"
