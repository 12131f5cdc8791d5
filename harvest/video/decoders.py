"""The decoders of a ``harvest frames`` pass, by name: ``pyav`` (in-process, every sampling policy; the
default) and ``ffmpeg`` (an ffmpeg process over pipes: ``exact`` only, and the one ``--hwaccel`` uses).

Each takes ``(VideoInfo, DecodePlan)`` and is used the same way::

    with open_decoder(info, plan) as decoder:
        for index, rgb in decoder:  # the kept frames, (frame index, RGB array)
            ...
        code = decoder.finish()  # 0 when the pass ran; decoder.state has counts, scenes, errors
"""

from __future__ import annotations

from typing import Any

from .avdecode import AvDecoder
from .decode import DecodePlan, VideoDecoder
from .probe import VideoInfo

DECODERS: dict[str, type[Any]] = {"pyav": AvDecoder, "ffmpeg": VideoDecoder}


def open_decoder(info: VideoInfo, plan: DecodePlan) -> AvDecoder | VideoDecoder:
    """The decoder ``plan.decoder`` names, set up for this plan (nothing runs before ``with``)."""
    return DECODERS[plan.decoder](info, plan)
