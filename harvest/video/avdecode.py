"""The decoding pass in-process with PyAV (FFmpeg's libraries, no ffmpeg process): all three sampling
policies of ``harvest frames --sampling``.

- ``exact``: every frame is decoded. Frames are numbered as ffmpeg's ``fps`` filter numbers them (the
  pipe decoder of :mod:`harvest.video.decode` runs that filter): frame ``K`` is the last decoded frame
  whose time, rounded to the nearest slot of ``1 / fps``, is at or before ``K``, so a variable frame
  rate clip repeats frames into the slots it leaves empty, and the same frames, crops and scenes come
  out as through the pipe.
- ``reference``: the decoder skips the frames no other frame refers to (``skip_frame=NONREF``: most
  B-frames), ``keyframes`` all but the key frames (``NONKEY``). A decoded frame keeps its exact index
  (its slot); a selection's frame ``K`` (every N, every S seconds, N per scene) becomes the decoded
  frame nearest to ``K`` (the earlier one on a tie), each kept once, and its row's ``frame`` says
  which it is.

Every frame decoded is cropped (a zero-copy ``crop`` filter) and shrunk to a thumbnail with the same
``area`` scaler as the pipe, and scored for scenes (:class:`~harvest.video.scenes.SceneTracker`); scene
rules count decoded frames. Kept frames are converted to RGB at the output size (bicubic, as the pipe's
``scale``). Packets the decoder refuses and frames it flags corrupt are counted as decoding errors, as
the pipe counts ffmpeg's error lines (libav's log is not read: it is one for the whole process, and
several videos decode at once with ``--workers``).

The decoder runs libav's frame threads; the thumbnails are scored on the calling thread in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from .decode import THUMB_BATCH, DecodePlan, DecodeState, kept_indices, thumb_size
from .probe import VideoInfo
from .scenes import SceneTracker
from .seek import picture_stream, seek_frame, seek_to, slot_of

log = logging.getLogger(__name__)

SKIP = {"exact": "DEFAULT", "reference": "NONREF", "keyframes": "NONKEY"}
TRANSPOSE = {90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}


class AvDecoder:
    """Runs one ``DecodePlan`` in-process; the same interface as :class:`~harvest.video.decode.VideoDecoder`:
    iterate (inside ``with``) for ``(frame index, RGB array)`` of kept frames, then ``finish()``."""

    def __init__(self, info: VideoInfo, plan: DecodePlan) -> None:
        self.info = info
        self.plan = plan
        self.state = DecodeState()
        self.thumb = thumb_size(plan.crop)
        self._container: Any = None
        self._tracker = SceneTracker(plan.rules, scene=plan.first_scene)
        self._thumbs: list[np.ndarray] = []
        self._slots: list[int] = []  # the frame index of each thumbnail fed, in order
        self._numbered = 0
        self._code = 0
        # one scaler each, kept between frames: a new one per frame costs ~1 ms of set-up at 1080p
        self._thumb_scaler, self._kept_scaler = VideoReformatter(), VideoReformatter()

    def __enter__(self) -> AvDecoder:
        try:
            self._container = av.open(str(self.info.path))
        except av.error.FFmpegError as exc:
            self.state.errors.append((self.plan.start, str(exc)))
            self._code = 1
            return self
        stream = picture_stream(self._container)
        if stream is None:
            self.state.errors.append((self.plan.start, "no video stream"))
            self._code = 1
            self._container.close()
            self._container = None
            return self
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = SKIP[self.plan.sampling]
        self._stream = stream
        origin = seek_frame(self.info, self.plan.start, exact=False)  # lands at or before the start
        if origin:
            seek_to(self._container, self.info, origin, 0)
        return self

    def _graph(self) -> Any:
        """The filters every decoded frame goes through: turned upright, then cropped (``None`` when
        there is nothing to do)."""
        box = self.plan.crop
        if not self.info.rotation and (box.w, box.h) == (self._stream.width, self._stream.height):
            return None
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(template=self._stream)]
        for spec in [*TRANSPOSE.get(self.info.rotation, []), f"crop={box.w}:{box.h}:{box.x}:{box.y}"]:
            name, _, args = spec.partition("=")
            nodes.append(graph.add(name, args or None))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()
        return graph

    def _decoded(self) -> Iterator[tuple[int, Any]]:
        """(slot, cropped frame) of each decoded frame in [start, end), in order, as the ``fps`` filter
        numbers them in ``exact`` mode (repeats into empty slots, the later of two in one slot)."""
        base = Fraction(self._container.start_time or 0, 10**6)
        fps, base_tb = self.info.fps, self._stream.time_base
        exact = self.plan.sampling == "exact"
        graph, held, last = self._graph(), None, -1
        end, done = self.plan.end, False
        for packet in self._container.demux(self._stream):
            if done:
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:  # a damaged packet: libav goes on, and so do we
                log.debug("%s: %s", self.info.path, exc)
                self.state.errors.append((held[0] if held else self.plan.start, str(exc)))
                continue
            for frame in frames:
                if frame.is_corrupt:  # decoded with errors concealed: the picture may be wrong
                    self.state.errors.append((held[0] if held else self.plan.start, "corrupt frame"))
                # a frame without a time (a raw H.264 stream; MPEG-PS leaves some B-frames so) takes
                # the slot after the last one, as ffmpeg guesses its time (the search never seeks
                # into a stream whose frames have no time: it decodes those from the start)
                slot = last + 1 if frame.pts is None else slot_of(frame.pts, base_tb, base, fps)
                last = slot
                if slot < self.plan.start:
                    continue
                if end is not None and slot >= end:  # past the range: nothing more to decode
                    done = True
                    break
                if held is not None and slot < held[0]:
                    continue
                if graph is not None:
                    graph.push(frame)
                    frame = graph.pull()
                if held is not None and slot > held[0]:
                    for k in range(held[0], slot if exact else held[0] + 1):
                        yield k, held[1]
                held = (slot, frame)
        if held is not None:
            yield held

    def _score(self, final: bool = False) -> None:
        if self._thumbs and (final or len(self._thumbs) >= THUMB_BATCH):
            scenes = self._tracker.feed(np.stack(self._thumbs))
            self._thumbs.clear()
            self._number(scenes)
        if final:
            self._number(self._tracker.finish())

    def _number(self, scenes: list[int]) -> None:
        for scene in scenes:
            self.state.scenes[self._slots[self._numbered]] = scene
            self._numbered += 1
        self.state.numbered = self._numbered

    def _kept(self, frame: Any) -> np.ndarray:
        w, h = self.plan.out_size
        return self._kept_scaler.reformat(frame, w, h, "rgb24", interpolation="BICUBIC").to_ndarray()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._container is None:
            return
        targets = kept_indices(self.plan, self.info.fps)
        target = next(targets, None)
        last, prev = -1, None
        for slot, frame in self._decoded():
            w, h = self.thumb
            self._thumbs.append(self._thumb_scaler.reformat(frame, w, h, "rgb24",
                                                            interpolation="AREA").to_ndarray())
            self._slots.append(slot)
            self.state.decoded += 1
            self._score()
            while target is not None and target <= slot:
                near = prev if prev is not None and target - prev[0] <= slot - target else (slot, frame)
                target = next(targets, None)
                if near[0] > last and not self.plan.scan_only:
                    last = near[0]
                    self.state.sent += 1
                    yield near[0], self._kept(near[1])
            prev = (slot, frame)
        stop = self.plan.end if self.plan.end is not None else max(self.info.frames or 0, last + 1)
        if prev is not None and target is not None and prev[0] < target < stop and prev[0] > last \
                and not self.plan.scan_only:
            self.state.sent += 1  # the last decoded frame is the nearest to a target after it
            yield prev[0], self._kept(prev[1])

    def finish(self) -> int:
        """Score the last thumbnails and settle the counts; 0, or 1 when the file would not open."""
        self._score(final=True)
        self.state.cuts = self._tracker.cuts
        self.state.starts = [self._slots[p] for p in self._tracker.starts] if self._slots else []
        self.state.end = (self._slots[-1] + 1) if self._slots else self.plan.start
        if self.plan.sampling != "exact" and self.info.frames:  # frames after the last decoded one
            self.state.end = max(self.state.end, min(self.info.frames, self.plan.end or self.info.frames))
        self.state.expected = None if self.plan.scan_only else self.state.sent
        return self._code

    def __exit__(self, *exc: object) -> None:
        if self._container is not None:
            self._container.close()
