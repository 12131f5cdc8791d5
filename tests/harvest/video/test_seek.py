"""Where a pass that starts mid-video seeks to (:mod:`harvest.video.seek`).

Two oracles. ffmpeg itself: the first frame ``ffmpeg -ss`` gives for the frame the pipe decoder's
search chose (``exact``) is that very frame. And a brute-force search written here from scratch (its
own seek and decode of one frame per try, numbering the frame by its time in seconds): the frame
chosen is the first of start, start - 1 s, start - 2 s, start - 4 s... whose seek lands at or before
the start (or, ``exact``, the frame itself), else 0. The clips are an MP4, whose seek lands where
asked, and an MPEG-TS clip with 2.4 s between key frames, whose seek lands on a later key frame, so
the search must go back one, two, then four seconds, and an FLV clip, whose seek to a frame just
before a key frame lands on that key frame.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from harvest.video.avdecode import AvDecoder
from harvest.video.decode import DecodePlan, Selection, VideoDecoder
from harvest.video.probe import CropBox, VideoInfo, probe
from harvest.video.seek import picture_stream, seek_frame, seek_time, slot_of
from tests.fixtures.video import make_audio, make_video
from tests.harvest.video.test_frames_oracle import COUNTER, coded_frames, ffprobe

FRAMES = 200
STARTS = (1, 30, 100, 120, 155, 179)  # 120: a key frame, where a seek lands on the frame itself


@pytest.fixture(scope="module")
def frames(video: Path) -> np.ndarray:
    """Every frame of the clip, decoded by one separate ffmpeg command."""
    return coded_frames(video, ffprobe(video))


@pytest.fixture(scope="module", params=["mp4", "ts", "flv"])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("seek")
    return make_video(folder / f"clip.{request.param}", [("testsrc2", FRAMES)], post=COUNTER, gop=60)


def first_decoded(video: Path, seconds: float) -> int | None:
    """Seek to ``seconds`` after the video's start and number the first frame decoded by its time."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        offset = container.start_time or 0
        try:
            container.seek(round(seconds * 1e6) + offset, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.time is not None:
                    return round((frame.time - offset / 1e6) * 25 + 1e-9)
        except av.error.FFmpegError:  # FLV refuses a seek before its first frame
            pass
    return None


def brute_force(video: Path, start: int, exact: bool) -> tuple[int, list[tuple[int, str]]]:
    """The frame to seek to, and every (frame tried, frames landed on) on the way. ``exact`` tries
    where ffmpeg's ``-ss`` seeks too: 3/23 s earlier, for streams with B-frames (fftools)."""
    tried, back = [], 1
    frame = start
    while frame > 0:
        landed = [first_decoded(video, frame / 25 - early) for early in ((0, 3 / 23) if exact else (0,))]
        tried.append((frame, " or ".join(map(str, landed))))
        if all(at is not None and at <= (frame if exact else start) for at in landed):
            return frame, tried
        frame = start - 25 * back
        back *= 2
    return 0, tried


def first_frame_after_ss(video: Path, seconds: float, shape: tuple[int, ...]) -> np.ndarray:
    """The first frame ``ffmpeg -ss`` (an accurate input seek, as the pipe decoder runs it) gives."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{seconds:.6f}", "-i", str(video), "-frames:v",
                          "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                         check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(shape)


@pytest.mark.parametrize("exact", [True, False])
def test_the_frame_chosen_is_the_brute_force_answer(video: Path, exact: bool) -> None:
    info = probe(video)
    assert info.fps == 25
    chosen = {start: seek_frame(info, start, exact=exact) for start in STARTS}
    searched = {start: brute_force(video, start, exact) for start in STARTS}
    assert chosen == {start: frame for start, (frame, _) in searched.items()}
    if video.suffix == ".mp4":  # a seek that lands where asked is taken as it is
        assert chosen == {start: start for start in STARTS}
    elif video.suffix == ".ts" and not exact:  # it went back 1, 2 and 4 s, and still seeks
        tries = {len(searched[start][1]) for start in STARTS if start >= 100}
        assert max(tries) >= 3 and all(chosen[start] > 0 for start in STARTS if start >= 100)


def test_ffmpeg_starts_at_the_frame_an_exact_search_chose(video: Path, frames: np.ndarray) -> None:
    info = probe(video)
    for start in STARTS:
        frame = seek_frame(info, start, exact=True)
        if frame:
            got = first_frame_after_ss(video, seek_time(info, frame) / 1e6, frames[0].shape)
            assert np.array_equal(got, frames[frame]), f"start {start}: -ss to frame {frame}"


@pytest.mark.parametrize(("start", "exact"), [(179, False), (100, True)])
def test_the_search_says_where_it_went(video: Path, caplog: pytest.LogCaptureFixture, start: int,
                                       exact: bool) -> None:
    info = probe(video)
    with caplog.at_level(logging.DEBUG, logger="harvest.video.seek"):
        frame = seek_frame(info, start, exact=exact)
    expected, tried = brute_force(video, start, exact=exact)
    tries = "; ".join(f"frame {f} lands at {landed}" for f, landed in tried)
    assert frame == expected
    assert caplog.messages == [f"{video}: a pass from frame {start} seeks to frame {expected} ({tries})"]


@pytest.mark.parametrize("decoder", [AvDecoder, VideoDecoder])
def test_each_decoder_seeks_where_its_numbering_allows(video: Path, frames: np.ndarray, decoder: type,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    # PyAV numbers frames by their times: any seek landing at or before the start; the ffmpeg pipe by
    # their order from its seek: a seek landing at or before the frame sought (in MPEG-TS: none)
    info = probe(video)
    box = CropBox(info.width, info.height)
    plan = DecodePlan(Selection(every=7), box, (box.w, box.h), start=179, end=200, decoder="pyav")
    with caplog.at_level(logging.DEBUG, logger="harvest.video.seek"), decoder(info, plan) as running:
        kept = list(running)
        running.finish()
    exact = decoder is VideoDecoder
    expected = brute_force(video, 179, exact=exact)[0]
    assert [m.split(" seeks to frame ")[1].split(" ")[0] for m in caplog.messages] == [str(expected)]
    if video.suffix == ".mp4":
        assert expected == 179
    elif video.suffix == ".ts" and exact:
        assert expected == 0
    else:  # FLV lands frame 179's seek on key frame 180; MPEG-TS on a later one still
        assert 0 < expected < 179
    assert [index for index, _ in kept] == [182, 189, 196]
    for index, picture in kept:  # frame K's pixels (both decoders convert to RGB within a level or two)
        assert np.abs(picture.astype(int) - frames[index]).mean() < 2


def test_the_start_needs_no_seek_and_a_file_that_will_not_open_is_decoded_from_its_start(
        video: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    info = probe(video)
    with caplog.at_level(logging.DEBUG, logger="harvest.video.seek"):
        for exact in (True, False):
            assert seek_frame(info, 0, exact=exact) == 0
    assert caplog.messages == []  # no search, no file opened
    broken = tmp_path / f"gone{video.suffix}"
    with caplog.at_level(logging.DEBUG, logger="harvest.video.seek"):
        assert seek_frame(replace(info, path=broken), 20, exact=False) == 0
    assert caplog.messages == [f"{broken}: a pass from frame 20 seeks to frame 0 (the file would not open)"]


def test_a_file_without_pictures_is_decoded_from_its_start(tmp_path: Path) -> None:
    sound = make_audio(tmp_path / "tone.m4a", seconds=2.0)
    with av.open(str(sound)) as container:
        assert picture_stream(container) is None
    info = VideoInfo(sound, 64, 48, Fraction(25), None, 2.0, "h264")
    assert seek_frame(info, 20, exact=False) == 0


def test_a_clip_with_a_sound_track_is_sought_by_its_pictures(tmp_path: Path) -> None:
    # the first frame decoded after a seek is a picture, never a sound frame (whose times count in
    # 1/48000 s: read in the picture's time base they would land the seek far later)
    clip = tmp_path / "sound.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-f",
                    "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-frames:v", "100", "-c:v",
                    "libx264", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)],
                   check=True)
    info = probe(clip)
    with av.open(str(clip)) as container:
        assert picture_stream(container).type == "video"
    for start in (30, 70):
        assert seek_frame(info, start, exact=True) == brute_force(clip, start, exact=True)[0] == start


@pytest.mark.parametrize(("slots", "frame"), [(Fraction(0), 0), (Fraction(49, 100), 0), (Fraction(1, 2), 1),
                                               (Fraction(6, 10), 1), (Fraction(149, 100), 1),
                                               (Fraction(3, 2), 2)])
def test_a_frame_takes_the_slot_nearest_its_time_half_up(slots: Fraction, frame: int) -> None:
    # as ffmpeg's fps filter numbers frames (round half up; test_frames_oracle's variable frame rate
    # clip checks the same rule against ffmpeg's own output): here at 25 fps on a 1/90000 s clock,
    # from a stream that starts at 1.4 s
    fps, clock, start = Fraction(25), Fraction(1, 90000), Fraction(7, 5)
    pts = (start + slots / fps) / clock
    assert pts.denominator == 1
    assert slot_of(int(pts), clock, start, fps) == frame
