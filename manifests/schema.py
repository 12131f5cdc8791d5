"""The manifest schema: every column name and dtype gleanset knows, declared once.

A manifest is a table with one row per image (or per failed attempt at one). The *core* columns are
written by every collector; the *stage* columns belong to later stages (dedupe, split, balance); the
*metadata* columns are what particular collectors record. Columns that no one declared (fields a user
extracted with ``harvest folder --pattern``, say) are kept verbatim as strings and never dropped.

Other packages refer to columns through the constants below (``schema.SHA256``), never by literal
strings, so a rename happens here and nowhere else.

Missing values: an empty string and a missing value are the same thing in a manifest (CSV cannot tell
them apart), so string columns hold ``pd.NA`` where there is nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 1

# -- core columns (every row) ------------------------------------------------------------------
SHA256 = "sha256"
PATH = "path"
LABEL = "label"
SOURCE = "source"
ORIGIN = "origin"
WIDTH = "width"
HEIGHT = "height"
FORMAT = "format"
PAGES = "pages"
BYTES = "bytes"
HARVESTED_AT = "harvested_at"
STATUS = "status"
ERROR = "error"

# -- columns later stages own ------------------------------------------------------------------
PHASH = "phash"
DUP_OF = "dup_of"
DUP_CLUSTER = "dup_cluster"
DUP_GROUP = "dup_group"
DERIVED_FROM = "derived_from"
SPLIT = "split"
WEIGHT = "weight"
# optional stage columns: written only when a stage is asked for them (curate dedupe --hash ...)
DHASH = "dhash"
WHASH = "whash"
AHASH = "ahash"
COLORHASH = "colorhash"
PHASH_FLIP = "phash_flip"
DHASH_FLIP = "dhash_flip"
WHASH_FLIP = "whash_flip"
AHASH_FLIP = "ahash_flip"
COLORHASH_FLIP = "colorhash_flip"
DUP_CONFLICT = "dup_conflict"
LABEL_QUALITY = "label_quality"
LABEL_ISSUE = "label_issue"
SUGGESTED_LABEL = "suggested_label"
OFF_TOPIC = "off_topic"

# -- collector metadata with a known dtype -----------------------------------------------------
# (folder's --pattern fields, such as street, are undeclared string columns)
# frames
VIDEO = "video"
FRAME = "frame"
TIME = "time"
SCENE = "scene"
CROP = "crop"
SAMPLING = "sampling"
# reddit / search
POST_ID = "post_id"
SUBREDDIT = "subreddit"
TITLE = "title"
AUTHOR = "author"
SCORE = "score"
UPVOTE_RATIO = "upvote_ratio"
NUM_COMMENTS = "num_comments"
CREATED_UTC = "created_utc"
PERMALINK = "permalink"
FLAIR = "flair"
OVER_18 = "over_18"
SPOILER = "spoiler"
GALLERY_INDEX = "gallery_index"
MEDIA_URL = "media_url"
REMOVED_AT = "removed_at"
LICENSE = "license"
# search
QUERY = "query"
ENGINE = "engine"
RESULT_RANK = "result_rank"
PAGE_URL = "page_url"
CREATOR = "creator"
CREATOR_URL = "creator_url"
LICENSE_URL = "license_url"
PROVIDER = "provider"
SOURCE_DOMAIN = "source_domain"
CLAIMED_WIDTH = "claimed_width"
CLAIMED_HEIGHT = "claimed_height"
# downloads from the web (search, reddit)
OPTOUT = "optout"

STRING = "string"
INT = "Int64"
FLOAT = "Float64"
BOOL = "boolean"


@dataclass(frozen=True)
class Column:
    """One declared column: its name, pandas dtype and what it means."""

    name: str
    dtype: str
    doc: str


CORE: tuple[Column, ...] = (
    Column(SHA256, STRING, "sha256 of the image bytes, hex; the identity of a row"),
    Column(PATH, STRING, "image path, relative to the manifest's folder"),
    Column(LABEL, STRING, "class label"),
    Column(SOURCE, STRING, "collector: folder, frames, reddit, search:<engine>"),
    Column(ORIGIN, STRING, "where the image came from: URL, file#frame=N or the original path"),
    Column(WIDTH, INT, "width in pixels"),
    Column(HEIGHT, INT, "height in pixels"),
    Column(FORMAT, STRING, "real image format from the bytes (jpeg, png, ...)"),
    Column(BYTES, INT, "file size in bytes"),
    Column(HARVESTED_AT, STRING, "UTC time the row was harvested, ISO 8601"),
    Column(STATUS, STRING, "ok, or why the row is not usable (corrupt, duplicate, ...)"),
    Column(ERROR, STRING, "a one-line explanation when status is not ok"),
)

STAGES: tuple[Column, ...] = (
    Column(PHASH, STRING, "perceptual hash, hex (curate dedupe)"),
    Column(DUP_OF, STRING, "sha256 of the kept near-duplicate (curate dedupe)"),
    Column(DUP_CLUSTER, STRING, "near-duplicate cluster id (curate dedupe)"),
    Column(SPLIT, STRING, "train, val or test (curate split)"),
    Column(WEIGHT, FLOAT, "sampling weight, mean 1 over kept rows (curate balance)"),
)

STAGE_EXTRAS: tuple[Column, ...] = (
    Column(DHASH, STRING, "difference hash, hex (curate dedupe --hash dhash)"),
    Column(WHASH, STRING, "wavelet hash, hex (curate dedupe --hash whash)"),
    Column(AHASH, STRING, "average hash, hex (curate dedupe --hash ahash)"),
    Column(COLORHASH, STRING, "colour histogram hash, hex (curate dedupe --hash colorhash)"),
    Column(PHASH_FLIP, STRING, "phash of the horizontally mirrored image (curate dedupe --flip-invariant)"),
    Column(DHASH_FLIP, STRING, "dhash of the mirrored image (curate dedupe --flip-invariant)"),
    Column(WHASH_FLIP, STRING, "whash of the mirrored image (curate dedupe --flip-invariant)"),
    Column(AHASH_FLIP, STRING, "ahash of the mirrored image (curate dedupe --flip-invariant)"),
    Column(COLORHASH_FLIP, STRING, "colorhash of the mirrored image (curate dedupe --flip-invariant)"),
    Column(DUP_CONFLICT, STRING, "near-duplicate of a row with another label, left ok (curate dedupe)"),
    Column(DUP_GROUP, STRING, "near-copy group: rows linked by a chain of near pairs (curate dedupe); "
           "curate split keeps each group on one side"),
    Column(LABEL_QUALITY, FLOAT, "cleanlab label quality, 0-1, low is suspicious (curate label-issues)"),
    Column(LABEL_ISSUE, BOOL, "cleanlab flags the label as likely wrong (curate label-issues)"),
    Column(SUGGESTED_LABEL, STRING, "the class out-of-fold predictions favour (curate label-issues)"),
    Column(OFF_TOPIC, FLOAT, "out-of-distribution score, 0-1, low is far from every class "
           "(curate label-issues)"),
)

METADATA: tuple[Column, ...] = (
    Column(VIDEO, STRING, "video file a frame came from"),
    Column(FRAME, INT, "frame index in the video"),
    Column(TIME, FLOAT, "frame time in seconds"),
    Column(SCENE, STRING, "scene id, <video stem>:<nnnn>"),
    Column(CROP, STRING, "crop box applied, W:H:X:Y"),
    Column(SAMPLING, STRING, "how frames were taken from a video: every=N or every_seconds=S, "
           "range, crop mode, size and format (frames resume by it)"),
    Column(POST_ID, STRING, "Reddit post id"),
    Column(SUBREDDIT, STRING, "subreddit name"),
    Column(TITLE, STRING, "post or page title"),
    Column(AUTHOR, STRING, "author name"),
    Column(SCORE, INT, "post score"),
    Column(UPVOTE_RATIO, FLOAT, "upvote ratio"),
    Column(NUM_COMMENTS, INT, "number of comments"),
    Column(CREATED_UTC, INT, "creation time, Unix seconds"),
    Column(PERMALINK, STRING, "link to the post"),
    Column(FLAIR, STRING, "post flair text"),
    Column(OVER_18, BOOL, "marked NSFW"),
    Column(SPOILER, BOOL, "marked as a spoiler"),
    Column(GALLERY_INDEX, INT, "position in a gallery"),
    Column(MEDIA_URL, STRING, "URL the bytes were downloaded from"),
    Column(REMOVED_AT, STRING, "UTC time, ISO 8601, a recheck found the post deleted, removed or its "
           "media gone (harvest reddit --recheck; status removed, the reason in error)"),
    Column(LICENSE, STRING, "licence of the image"),
    Column(QUERY, STRING, "search query that found the image (harvest search)"),
    Column(ENGINE, STRING, "image search engine that found the image"),
    Column(RESULT_RANK, INT, "1-based position of the result in its query's results"),
    Column(PAGE_URL, STRING, "page the image is shown on (its landing or description page)"),
    Column(CREATOR, STRING, "creator of the image, or the page's domain when the engine names none"),
    Column(CREATOR_URL, STRING, "link to the creator's profile or page"),
    Column(LICENSE_URL, STRING, "link to the licence text"),
    Column(PROVIDER, STRING, "collection the engine took the image from (flickr, wikimedia, ...)"),
    Column(SOURCE_DOMAIN, STRING, "host name of the page the image is shown on"),
    Column(CLAIMED_WIDTH, INT, "width the engine claimed before download"),
    Column(CLAIMED_HEIGHT, INT, "height the engine claimed before download"),
    Column(OPTOUT, STRING, "an opt-out signal the download met, 'SIGNAL: what (where)', SIGNAL robots, "
           "tdmrep, header or xmp; on an opted_out row it is why, on an ok row it starts with "
           "'ignored ' (--ignore-optout took the image anyway); empty: none found"),
    Column(PAGES, INT, "frames or pages in the file when more than one (animation, multi-page TIFF); "
           "the first 64 are verified"),
    Column(DERIVED_FROM, STRING, "sha256 of the image this row is an augmented copy of (curate augment); "
           "curate split keeps it in that image's split"),
)

COLUMNS: dict[str, Column] = {c.name: c for c in (*CORE, *STAGES, *STAGE_EXTRAS, *METADATA)}
CORE_NAMES: tuple[str, ...] = tuple(c.name for c in CORE)
STAGE_NAMES: tuple[str, ...] = tuple(c.name for c in STAGES)
REQUIRED: tuple[str, ...] = CORE_NAMES + STAGE_NAMES

# -- values ------------------------------------------------------------------------------------
OK = "ok"
# Why a row is not usable. Collectors and stages add their own; these are the image store's.
EMPTY = "empty"  # zero bytes
NOT_IMAGE = "not_image"  # HTML, text or another non-image served or saved as an image
CORRUPT = "corrupt"  # an image header, but the data does not decode
TRUNCATED = "truncated"  # the data ends before the image does
TOO_LARGE = "too_large"  # over the byte or pixel limit (decompression bombs)
UNSUPPORTED = "unsupported"  # an image format gleanset cannot decode (SVG)
UNREADABLE = "unreadable"  # the file cannot be read (permissions, vanished)
OVER_CAP = "over_cap"  # beyond curate balance's --max-per-cell for its cell
# The fetcher's (harvest.fetch) and the Reddit collector's.
HTTP_ERROR = "http_error"  # the server answered 4xx (the error says which)
SERVER_ERROR = "server_error"  # the server answered 5xx on every attempt
NETWORK = "network"  # no answer: connection refused or reset, timeout, bad URL
RATE_LIMITED = "rate_limited"  # 429 with a wait longer than we accept, or 429 on every attempt
# the bytes are a known "this image was removed" placeholder, or (harvest reddit --recheck) the post
# was deleted or removed at the source or its media are gone since: never exported, files kept until
# curate gc
REMOVED = "removed"
REFUSED = "refused"  # a non-public address (loopback, private, link-local): --allow-private
# harvest search's.
TOO_SMALL = "too_small"  # shorter side under --min-side (claimed by the engine or measured)
BLOCKED_BY_ROBOTS = "blocked_by_robots"  # X-Robots-Tag: noai (manifests written before opted_out)
# harvest search's and reddit's: the rightsholder or site opted out (robots.txt, TDMRep, X-Robots-Tag,
# IPTC/PLUS DataMining in the XMP); the optout column says which signal and where it came from.
OPTED_OUT = "opted_out"
# Failures a later run may retry (the others are final for that URL).
TRANSIENT = (SERVER_ERROR, NETWORK, RATE_LIMITED, TRUNCATED)
DUPLICATE = "duplicate"  # a near-duplicate of the row named in dup_of (curate dedupe)
REJECTED = "rejected"  # a person rejected the image (curate review); its error says by what
# Why a video gave no rows, or not all of them (harvest frames).
MISSING = "missing"  # the file does not exist
NOT_VIDEO = "not_video"  # ffmpeg cannot read it as a video (a text file, an image)
NO_VIDEO = "no_video_stream"  # an audio-only file
DAMAGED = "damaged"  # the stream has undecodable parts; frames before and after them are kept
NO_FRAMES = "no_frames"  # a downloaded video whose sampled frames were all dropped (harvest reddit)
# ffmpeg sent more or fewer kept frames than the selection keeps: the pass's indices cannot be trusted
FRAME_MISMATCH = "frame_mismatch"
# Why a file a folder import once recorded is no longer usable (harvest folder reruns).
REPLACED = "replaced"  # the file at this path changed; the row of its new content is the ok one
OUTSIDE_ROOT = "outside_root"  # a symbolic link leading out of the imported folder (--follow-links)
SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}
# Which columns group related images is the manifest's own knowledge: see manifests.groups.
# Columns a trained model's accuracy is reported per value of, besides the group columns.
REPORT_COLUMNS = (SOURCE, SUBREDDIT)


def dtype_of(name: str) -> str:
    """The pandas dtype of a column; undeclared columns are strings."""
    col = COLUMNS.get(name)
    return col.dtype if col else STRING


def ordered(names: list[str]) -> list[str]:
    """Core and stage columns first in declared order, then the others in first-seen order."""
    present = set(names)
    head = [n for n in REQUIRED if n in present]
    return head + [n for n in dict.fromkeys(names) if n not in REQUIRED]
