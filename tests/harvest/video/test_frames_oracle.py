"""Frame identity oracles (issue 23): the row for frame K holds frame K's pixels.

Every stored frame is compared with frames extracted by a separate ffmpeg command (never through
gleanset): its pixels must be those of frame K (its ``frame`` column), clearly closer to K than to
K-1 and K+1. The clips are ``testsrc2``, whose consecutive frames differ over the whole picture, so a
selection shifted by one frame cannot pass. Covered: ``--every``, ``--every-seconds``, ``--start`` and
``--end`` with a crop and a scale, a resume after a kill, ``--frames-per-scene`` and a variable frame
rate clip (where frame K is the picture shown at K / fps, ffmpeg's ``fps`` filter's rule).

Both decoders (PyAV in-process, the default, and the ffmpeg pipe) are held to it for ``--every``
and the variable frame rate. The run-time check of :mod:`harvest.video.decode`'s pipe is tested too:
a pass whose ffmpeg ``select`` disagrees with the selection's own rule fails the video
(``frame_mismatch``) instead of pairing indices with whatever arrives.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harvest.cli import main
from harvest.video.collector import FrameOptions, harvest_video
from harvest.video.decode import DecodePlan, Selection, VideoDecoder
from harvest.video.probe import CropBox, probe
from manifests import read, schema
from tests.fixtures.kill import kill_mid_run
from tests.fixtures.video import RATE, make_video

CLIP_FRAMES = 60


def counter(bits: int = 7, x: int = 24, y: int = 40, w: int = 16, h: int = 40) -> str:
    """ffmpeg filters that draw the frame number's Gray code as white boxes over the picture: any two
    of the first ``2 ** bits`` frames differ in a box, two consecutive ones in exactly one (too little
    to look like a cut to the scene detector)."""
    return ",".join(f"drawbox=x={x + i * w}:y={y}:w={w}:h={h}:color=white:t=fill:"
                    f"enable='eq(mod(floor(n/{2 ** i})+floor(n/{2 ** (i + 1)}),2),1)'" for i in range(bits))


COUNTER = counter()
# Three shots of a moving picture: hard cuts at 30 and 60, every frame unlike its neighbours.
SHOTS = [("testsrc2", 30), ("testsrc2", 30, "negate"), ("testsrc2", 30, "hue=h=120:s=2")]
# Frame durations grow from 1/25 s to about 3/25 s: a variable frame rate (as in test_edge_lines).
VFR_PTS = "setpts='(N+N*N/150)/25/TB'"
# A stored frame must be this many times closer to frame K than to a neighbour that looks different.
MARGIN = 4.0
# ... and this close to frame K at all (mean squared difference at half size, 0-255 RGB): JPEG and
# scaler differences stay far below it, a neighbouring testsrc2 frame is far above it.
CLOSE = 500.0


@dataclass(frozen=True)
class Stream:
    """What ffprobe says about a clip: size, average frame rate and each coded frame's time."""

    width: int
    height: int
    fps: Fraction
    times: tuple[Fraction, ...]


def ffprobe(video: Path) -> Stream:
    """The clip's first video stream and its frames' presentation times, read by ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,avg_frame_rate:frame=pts_time", "-of", "json", str(video)],
                         capture_output=True, check=True, text=True).stdout
    data = json.loads(out)
    stream = data["streams"][0]
    fps = Fraction(stream["avg_frame_rate"])
    times: list[Fraction] = []
    for f in data["frames"]:  # without a time (MPEG-PS's last frame, raw H.264): one frame after the last
        guess = times[-1] + 1 / fps if times else Fraction(0)
        times.append(Fraction(f["pts_time"]) if "pts_time" in f else guess)
    return Stream(stream["width"], stream["height"], fps, tuple(times))


def coded_frames(video: Path, stream: Stream) -> np.ndarray:
    """Every coded frame of ``video`` in display order, as RGB, by one separate ffmpeg command."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:v:0", "-fps_mode",
                          "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(-1, stream.height, stream.width, 3)


def selected_frame(video: Path, stream: Stream, k: int) -> np.ndarray:
    """Coded frame ``k`` alone, the way a person would take it: ``select=eq(n\\,K)``."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", f"select=eq(n\\,{k})",
                          "-fps_mode", "passthrough", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(stream.height, stream.width, 3)


def shown_at(stream: Stream, k: int) -> int | None:
    """The coded frame that is frame ``k`` of the clip at its average rate: the last one whose time,
    rounded to the nearest frame slot (half up), is at or before slot ``k``; ``None`` on an exact
    half-slot tie at ``k`` (either side could be right)."""
    slots = [t * stream.fps for t in stream.times]
    if k + Fraction(1, 2) in slots:
        return None
    shown = [j for j, s in enumerate(slots) if math.floor(s + Fraction(1, 2)) <= k]
    return shown[-1] if shown else None


def as_stored(frame: np.ndarray, crop: str, size: tuple[int, int]) -> np.ndarray:
    """A full frame cropped (``W:H:X:Y``) and scaled like a stored one."""
    w, h, x, y = (int(v) for v in crop.split(":"))
    piece = Image.fromarray(np.ascontiguousarray(frame[y:y + h, x:x + w]))
    if piece.size != size:
        piece = piece.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(piece)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of two same-size RGB images, both halved (box) to soften JPEG noise."""
    size = (max(1, a.shape[1] // 2), max(1, a.shape[0] // 2))
    small = [np.asarray(Image.fromarray(x).resize(size, Image.Resampling.BOX), float) for x in (a, b)]
    return float(((small[0] - small[1]) ** 2).mean())


def stored_rows(manifest: Path) -> list[dict]:
    """The ok rows of a manifest, by frame."""
    rows = read(manifest)
    rows = rows[rows[schema.STATUS] == schema.OK]
    return sorted(rows.to_dict("records"), key=lambda r: int(r[schema.FRAME]))


def assert_frames_are_theirs(manifest: Path, video: Path, vfr: bool = False) -> int:
    """Each stored frame K is frame K: close to it, and ``MARGIN`` times closer to it than to frames
    K-1 and K+1 where those look different. Returns how many neighbour comparisons were made."""
    stream = ffprobe(video)
    frames = coded_frames(video, stream)
    assert len(frames) == len(stream.times)

    def frame(k: int) -> np.ndarray | None:
        j = shown_at(stream, k) if vfr else k
        return frames[j] if j is not None and 0 <= j < len(frames) else None

    compared, problems = 0, []
    for row in stored_rows(manifest):
        k = int(row[schema.FRAME])
        stored = np.asarray(Image.open(manifest.parent / row[schema.PATH]).convert("RGB"))
        size = (stored.shape[1], stored.shape[0])
        own = frame(k)
        if own is None:  # a half-slot tie: no one frame to compare with
            continue
        own = as_stored(own, row[schema.CROP], size)
        d_own = distance(stored, own)
        if d_own > CLOSE:
            problems.append(f"frame {k}: {d_own:.0f} from frame {k}'s pixels")
        for j in (k - 1, k + 1):
            other = frame(j)
            if other is None:
                continue
            other = as_stored(other, row[schema.CROP], size)
            if distance(other, own) < CLOSE:  # the same picture (a VFR frame shown twice)
                continue
            compared += 1
            d_other = distance(stored, other)
            if d_other < MARGIN * d_own:
                problems.append(f"frame {k}: {d_own:.0f} from frame {k}, {d_other:.0f} from frame {j}")

    assert not problems, f"stored frames are not the frames their rows name: {problems}"
    return compared


def run(*args: str) -> int:
    try:
        return main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)


def frame_numbers(manifest: Path) -> list[int]:
    return [int(r[schema.FRAME]) for r in stored_rows(manifest)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("oracle") / "clip.mp4", [("testsrc2", CLIP_FRAMES)],
                      post=COUNTER)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("oracle") / "shots.mp4", SHOTS, post=COUNTER)


def test_the_oracle_reads_frames_as_select_does(clip: Path) -> None:
    # the one-command decode of all frames is frame-for-frame what select=eq(n,K) gives
    stream = ffprobe(clip)
    frames = coded_frames(clip, stream)
    assert len(frames) == CLIP_FRAMES
    for k in (0, 21, CLIP_FRAMES - 1):
        assert np.array_equal(frames[k], selected_frame(clip, stream, k))
    neighbours = [distance(frames[k], frames[k + 1]) for k in range(CLIP_FRAMES - 1)]
    assert min(neighbours) > 2 * CLOSE, "consecutive frames must differ clearly"


@pytest.mark.parametrize("decoder", ["pyav", "ffmpeg"])
def test_every_n_stores_frame_k_in_row_k(clip: Path, tmp_path: Path, decoder: str) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(clip), "--every", "6", "--crop", "none", "--decoder", decoder, "-m",
               str(manifest)) == 0
    assert frame_numbers(manifest) == list(range(0, CLIP_FRAMES, 6))
    assert assert_frames_are_theirs(manifest, clip) == 2 * 10 - 1


def test_every_seconds_stores_the_first_frame_of_each_slot(clip: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(clip), "--every-seconds", "0.3", "--crop", "none", "--format", "png",
               "--size", "80x60", "-m", str(manifest)) == 0
    # slot s starts at 0.3 s * s; its first frame is the first one at or after that time
    slots = range(math.ceil(CLIP_FRAMES / (RATE * Fraction("0.3"))))
    assert frame_numbers(manifest) == [math.ceil(s * Fraction("0.3") * RATE) for s in slots]
    assert assert_frames_are_theirs(manifest, clip) == 2 * len(slots) - 1


def test_start_and_end_with_crop_and_scale(clip: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(clip), "--every", "4", "--start", "0.5", "--end", "1.96", "--crop",
               "120:90:20:10", "--size", "60x44", "-m", str(manifest)) == 0
    # frames at or after 0.5 s (12.5 -> 13) and before 1.96 s (49), multiples of 4
    assert frame_numbers(manifest) == [k for k in range(13, 49) if k % 4 == 0]
    assert {r[schema.CROP] for r in stored_rows(manifest)} == {"120:90:20:10"}
    assert assert_frames_are_theirs(manifest, clip) == 2 * 9


KILLED_RUN = """
import sys, time
from pathlib import Path
from manifests import Appender
from harvest.video.collector import FrameOptions, FramesCollector, FramesOptions

class Slow(Appender):
    def add(self, row):  # each row on disk at once, and slowly enough for a kill to land mid-run
        super().add(row)
        time.sleep(0.03)

options = FramesOptions(videos=(Path(sys.argv[1]),), frames=FrameOptions(every=2, crop="none", format="png"))
with Slow(sys.argv[2], batch_size=1, interval=0) as sink:
    FramesCollector(options).run(sink)
"""


def test_resume_after_a_kill_stores_frame_k_in_row_k(tmp_path: Path, capsys) -> None:
    video = make_video(tmp_path / "long.mp4", [("testsrc2", 120)], post=COUNTER)
    manifest = tmp_path / "m" / "manifest.csv"
    kill_mid_run([sys.executable, "-c", KILLED_RUN, str(video), str(manifest)],
                 lambda: manifest.exists() and len(read(manifest)) >= 8)
    partial = frame_numbers(manifest)
    assert 8 <= len(partial) < 60, "the kill should land mid-run"
    assert run("frames", str(video), "--every", "2", "--crop", "none", "--format", "png", "-m",
               str(manifest), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["videos"][str(video)]["resumed_at"] == partial[-1]
    assert frame_numbers(manifest) == list(range(0, 120, 2))
    assert assert_frames_are_theirs(manifest, video) == 2 * 60 - 1


def test_frames_per_scene_stores_frame_k_in_row_k(shots: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(shots), "--frames-per-scene", "3", "--crop", "none", "-m", str(manifest)) == 0
    kept = frame_numbers(manifest)
    # three evenly spaced frames inside each 30-frame shot
    assert [sum(1 for k in kept if lo <= k < lo + 30) for lo in (0, 30, 60)] == [3, 3, 3]
    assert assert_frames_are_theirs(manifest, shots) == 2 * 9


@pytest.mark.parametrize("decoder", ["pyav", "ffmpeg"])
def test_variable_frame_rate_stores_the_frame_shown_at_k_over_fps(tmp_path: Path, decoder: str) -> None:
    video = make_video(tmp_path / "vfr.mkv", [("testsrc2", 90)], post=f"{COUNTER},{VFR_PTS}", gop=30,
                       vfr=True)
    stream = ffprobe(video)
    assert len(set(np.diff(stream.times))) >= 3, "not a variable frame rate clip"
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(video), "--every", "3", "--crop", "none", "--decoder", decoder, "-m",
               str(manifest)) == 0
    kept = frame_numbers(manifest)
    assert kept[:4] == [0, 3, 6, 9] and len(kept) > 20
    assert assert_frames_are_theirs(manifest, video, vfr=True) >= 10


@pytest.fixture(scope="module", params=["ts", "mpg", "flv"])
def late_seeking(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Clips whose seek to a time can land on a *later* key frame: MPEG-TS (its stream starts at 1.4 s)
    and MPEG-PS always do, FLV for a frame just before a key frame. ``--start`` must not trust the
    seek."""
    codec = "mpeg2video" if request.param == "mpg" else "libx264"  # MPEG-PS: as on a DVD
    return make_video(tmp_path_factory.mktemp("oracle") / f"clip.{request.param}", [("testsrc2", 48)],
                      post=COUNTER, gop=8, codec=codec)


@pytest.mark.parametrize("decoder", ["pyav", "ffmpeg"])
def test_start_where_a_seek_lands_late_stores_frame_k_in_row_k(late_seeking: Path, tmp_path: Path,
                                                               decoder: str) -> None:
    start = "1.2"  # frame 30, two frames before key frame 32
    assert len(ffprobe(late_seeking).times) == 48
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(late_seeking), "--every", "5", "--start", start, "--crop", "none", "--decoder",
               decoder, "-m", str(manifest)) == 0
    first = math.ceil(Fraction(start) * RATE)
    kept = [k for k in range(first, 48) if k % 5 == 0]
    assert frame_numbers(manifest) == kept
    assert assert_frames_are_theirs(manifest, late_seeking) == 2 * len(kept)


# Frames closer than a slot, then farther apart: 45 frames 0.6 slots apart, then 45 frames 1.4 apart
# (25 fps on average; no time falls on a half slot).
DENSE_PTS = "settb=1/1000,setpts='if(lt(N,45),N*0.6,27+(N-45)*1.4)/25/TB'"


@pytest.mark.parametrize("decoder", ["pyav", "ffmpeg"])
def test_of_two_frames_in_one_slot_the_later_is_stored(tmp_path: Path, decoder: str) -> None:
    video = make_video(tmp_path / "dense.mkv", [("testsrc2", 90)], post=f"{COUNTER},{DENSE_PTS}", gop=30,
                       vfr=True, timebase="1/1000")
    stream = ffprobe(video)
    slots = [math.floor(t * stream.fps + Fraction(1, 2)) for t in stream.times]
    assert len(slots) == 90 and len(set(slots[:45])) < 30, "no slot holds two frames"
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(video), "--every", "1", "--crop", "none", "--decoder", decoder, "-m",
               str(manifest)) == 0
    assert frame_numbers(manifest)[:3] == [0, 1, 2]
    assert assert_frames_are_theirs(manifest, video, vfr=True) >= 40


def test_reference_sampling_keeps_the_later_of_two_decoded_frames_in_one_slot(tmp_path: Path) -> None:
    # the oracle: the frames ffmpeg decodes when it skips non-reference frames (-skip_frame noref, as
    # --sampling reference asks PyAV), their times from ffmpeg's framecrc muxer
    # frames 0.3 slots apart (12 ms), then 1.7 apart: several decoded frames share a slot
    denser = "settb=1/1000,setpts='if(lt(N,45),N*0.3,13.5+(N-45)*1.7)/25/TB'"
    video = make_video(tmp_path / "denser.mkv", [("testsrc2", 90)], post=f"{COUNTER},{denser}", gop=30,
                       vfr=True, timebase="1/1000")
    noref = ["ffmpeg", "-v", "error", "-skip_frame", "noref", "-i", str(video), "-fps_mode", "passthrough",
             "-enc_time_base", "-1"]
    crc = subprocess.run([*noref, "-f", "framecrc", "-"], capture_output=True, check=True, text=True).stdout
    assert "#tb 0: 1/1000" in crc
    times = [Fraction(int(line.split(",")[2]), 1000) for line in crc.splitlines() if not line.startswith("#")]
    raw = subprocess.run([*noref, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                         check=True).stdout
    pictures = np.frombuffer(raw, np.uint8).reshape(len(times), 120, 160, 3)
    slots = [math.floor(t * RATE + Fraction(1, 2)) for t in times]
    shared = {k for k in slots if slots.count(k) > 1}
    assert len(times) < 90 and len(shared) >= 3, "the clip must hold slots of several decoded frames"
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(video), "--every", "1", "--crop", "none", "--sampling", "reference", "-m",
               str(manifest)) == 0
    checked = 0
    for row in stored_rows(manifest):
        k = int(row[schema.FRAME])
        stored = np.asarray(Image.open(manifest.parent / row[schema.PATH]).convert("RGB"))
        later, *earlier = [pictures[i] for i in reversed(range(len(slots))) if slots[i] == k]
        assert distance(stored, later) < CLOSE, f"frame {k} is not the last frame decoded in its slot"
        if earlier:
            checked += 1
            assert distance(stored, earlier[0]) > MARGIN * distance(stored, later)
    assert checked == len(shared)


@pytest.mark.parametrize("decoder", ["pyav", "ffmpeg"])
@pytest.mark.parametrize("name", ["raw.h264", "h264.mpg"])
def test_frames_without_times_store_frame_k_in_row_k(tmp_path: Path, decoder: str, name: str) -> None:
    # a raw H.264 stream has no container and its frames no times; H.264 muxed into MPEG-PS by ffmpeg
    # leaves most B-frames without one: frame K is the K-th decoded (the PyAV decoder once skipped
    # every such frame, and stored nothing from a raw stream, with status ok)
    video = make_video(tmp_path / name, [("testsrc2", 48)], post=COUNTER, gop=8)
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(video), "--every", "3", "--crop", "none", "--decoder", decoder, "-m",
               str(manifest)) == 0
    assert frame_numbers(manifest) == list(range(0, 48, 3))
    assert assert_frames_are_theirs(manifest, video) == 2 * 16 - 1


# -- the run-time check: ffmpeg's kept frames must be as many as the selection keeps ------------------


@dataclass(frozen=True)
class SaysEvery(Selection):
    """A selection whose ffmpeg expression keeps every ``says``-th frame while its own rule (``keeps``,
    ``kept_indices``) keeps every ``every``-th: the two sides of a pass disagree."""

    says: int = 1

    def expression(self, offset: int, fps: Fraction) -> str:
        return f"not(mod((n+{offset}),{self.says}))"


@dataclass(frozen=True)
class DisagreeingOptions(FrameOptions):
    """Frame options whose selection is a ``SaysEvery``."""

    says: int = 1

    @property
    def selection(self) -> Selection:
        return SaysEvery(every=self.every, says=self.says)


class Rows:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        self.rows.append(row)


@pytest.mark.parametrize(("every", "says", "sent", "end"), [
    (10, 5, 12, None),  # ffmpeg sends twice as many frames as the rule keeps
    (5, 10, 6, None),  # ... half as many
    (10, 5, 6, 1.2),  # more frames than the rule keeps in [0, 30): drained and counted, not paired
    (10, 2, 15, 1.2),  # ... twelve of them left on the pipe, each counted once
])
def test_a_pass_whose_ffmpeg_sends_other_frames_fails_the_video(clip: Path, tmp_path: Path, every: int,
                                                                says: int, sent: int,
                                                                end: float | None) -> None:
    sink = Rows()
    options = DisagreeingOptions(every=every, says=says, crop="none", end=end, decoder="ffmpeg")
    result = harvest_video(clip, options, sink, store_root=tmp_path)
    decoded = CLIP_FRAMES if end is None else 30
    assert result.decoded == decoded
    assert result.status == schema.FRAME_MISMATCH
    expected = len(range(0, decoded, every))
    assert result.error == (f"{clip}: ffmpeg sent {sent} kept frames where the selection keeps {expected} "
                            f"of the {decoded} frames decoded, so the frames cannot be matched to their "
                            "indices")
    assert "\n" not in result.error
    (failure,) = [r for r in sink.rows if r[schema.STATUS] != schema.OK]
    assert failure[schema.STATUS] == schema.FRAME_MISMATCH and failure[schema.ERROR] == result.error


def test_a_pass_that_agrees_with_its_rule_is_ok(clip: Path) -> None:
    info = probe(clip)
    box = CropBox(info.width, info.height)
    plan = DecodePlan(Selection(every=7), box, (box.w, box.h), start=5, end=50)
    with VideoDecoder(info, plan) as decoder:
        indices = [index for index, _ in decoder]
        assert decoder.finish() == 0
    assert indices == list(range(7, 50, 7))
    state = decoder.state
    assert (state.sent, state.expected, state.decoded) == (len(indices), len(indices), 45)
    assert state.mismatch() is None
    # the same pass, told that ffmpeg sent one more frame than the rule keeps, is not trusted
    state.sent += 1
    assert "ffmpeg sent 8 kept frames where the selection keeps 7 of the 45 frames" in state.mismatch()


def test_a_clock_going_back_in_the_last_batch_keeps_the_frames_after_it(tmp_path: Path) -> None:
    """Two MPEG-TS clips joined byte for byte (``cat``, as captures get joined by hand), the second's
    clock starting two frames before the first's last frame. PyAV's decoder hands the second clip's
    frames over in one batch at the end of the file, the first of them behind the frame held: that
    frame is skipped and the pass goes on, so the slots past the first clip hold the second clip's
    frames (a ``break`` there once dropped them, status ok), and the slot both clips fill holds the
    later frame, as ffmpeg's ``fps`` filter keeps it."""
    first = make_video(tmp_path / "first.ts", [("testsrc2", 30)], post=COUNTER)
    second = make_video(tmp_path / "second.ts", [("testsrc", 4)], ts_offset=1.2)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    times = ffprobe(joined).times
    slots = [round((t - times[0]) * RATE) for t in times]
    back = slots[30]  # the second clip's first slot: behind the first clip's last, and it runs past it
    assert slots[:30] == list(range(30)) and back < 29 < slots[-1], slots
    manifest = tmp_path / "manifest.csv"
    assert run("frames", str(joined), "--every", "1", "--crop", "none", "--format", "png", "-m",
               str(manifest)) == 0
    rows = stored_rows(manifest)
    assert [int(r[schema.FRAME]) for r in rows] == list(range(slots[-1] + 1))
    theirs = coded_frames(second, ffprobe(second))
    for row in rows[29:]:
        stored = np.asarray(Image.open(manifest.parent / row[schema.PATH]).convert("RGB"))
        own = theirs[int(row[schema.FRAME]) - back]
        assert distance(stored, own) < CLOSE, row[schema.FRAME]
