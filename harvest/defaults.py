"""Default values the harvest CLI shows in ``--help``, kept apart from the modules that use them so
that ``harvest --help`` imports neither Pillow nor numpy nor requests."""

from __future__ import annotations

DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # the store and the fetcher refuse larger files
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS)
DEFAULT_SCENE_THRESHOLD = 27.0  # content change (0-255 HSV scale) that makes a cut
# The frame options harvest frames and harvest reddit --video-frames share (FrameOptions' defaults).
DEFAULT_CROP = "auto"
DEFAULT_FRAME_FORMAT = "jpg"
DEFAULT_FRAME_QUALITY = 92
DEFAULT_BLACK_GAP = 0.5  # seconds of black that end a scene
DEFAULT_MIN_SCENE_LEN = "0"
DEFAULT_DETECTOR = "content"
DEFAULT_ADAPTIVE_THRESHOLD = 3.0
ARCTIC_SHIFT_URL = "https://arctic-shift.photon-reddit.com"
DEFAULT_SEARCH_ENGINE = "openverse"
# What each image-search engine needs and can filter: its ``about`` (harvest.search) and --help.
SEARCH_ENGINES = {
    "openverse": "openly licensed images, no key (OPENVERSE_CLIENT_ID/OPENVERSE_CLIENT_SECRET of a "
                 "registered app raise the page size to 500 and lift the 240-result cap); filters "
                 "--license and --safe/--no-safe",
    "wikimedia": "Wikimedia Commons, no key but a contact (--contact EMAIL or GLEANSET_CONTACT, for its "
                 "User-Agent policy); no filters (licence and author are recorded for every file)",
    "flickr": "Flickr photos, key in FLICKR_API_KEY (a key needs Flickr Pro; 3,600 calls an hour); "
              "filters --license, --after/--before (upload date) and --safe/--no-safe; at most 4,000 "
              "results per query",
    "brave": "the web's images through Brave's API, token in BRAVE_API_KEY; filters --safe/--no-safe; "
             "at most 200 results per query",
    "serpapi": "Google Images through SerpApi (which Google sued in 2025-12), key in SERPAPI_KEY; "
               "filters --after/--before and --safe/--no-safe; hundreds of results per query",
    "ddgs": "DuckDuckGo images through the ddgs package, no key; it scrapes ('educational purposes "
            "only') and may break; filters --safe/--no-safe",
}
