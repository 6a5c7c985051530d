"""A rendition every phone plays, made in one decoding pass that also measures the file.

Video: H.264 (yuv420p) and AAC in MP4, at most 1280×720 (or 720×1280 upright), at most
30 frames a second, with the index first (`faststart`) so playback starts before the
download ends. Audio: AAC in MP4 (.m4a). Plus a poster frame and a few thumbnails. The
original is never touched. Blocking; bounded by a deadline and a cancel flag.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np

from app.media.measure import VAD_RATE, PictureMeter, SoundMeter
from app.media.probe import MediaError, Probe

MAX_WIDTH, MAX_HEIGHT = 1280, 720
MAX_FPS = 30
VIDEO_OPTIONS = {"preset": "veryfast", "crf": "24"}
AUDIO_BITRATE = 128_000
THUMBNAILS = 4
THUMB_WIDTH = 320
VIDEO_NAME, AUDIO_NAME = "video.mp4", "audio.m4a"
POSTER_NAME = "poster.jpg"


def thumb_name(n: int) -> str:
    return f"thumb-{n}.jpg"


class TooLong(MediaError):
    """The work ran past its deadline or was cancelled."""


@dataclass
class Made:
    name: str  # the rendition's file name in the media folder
    size: int
    duration: float
    poster: bool
    thumbnails: int
    measures: dict[str, Any] = field(default_factory=dict)


def fit(width: int, height: int) -> tuple[int, int]:
    """The rendition's picture size: within 1280×720 (either way up), never enlarged,
    even numbers (H.264's 4:2:0 needs them)."""
    box_w, box_h = (MAX_WIDTH, MAX_HEIGHT) if width >= height else (MAX_HEIGHT, MAX_WIDTH)
    scale = min(1.0, box_w / width, box_h / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def make(
    source: Path,
    folder: Path,
    found: Probe,
    *,
    deadline: float,
    cancelled: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
    kind: str = "video",
) -> Made:
    """Transcode `source` into `folder` and measure it; an audio artifact (`kind`) gets
    sound only, even if the file carries a picture (cover art). `deadline` is a
    time.monotonic() value; past it, or once `cancelled` is set, TooLong. MediaError if
    decoding fails."""
    folder.mkdir(parents=True, exist_ok=True)
    video_out = found.has_video and kind == "video"
    name = VIDEO_NAME if video_out else AUDIO_NAME
    partial = folder / f".{name}.part"
    try:
        made = _transcode(source, partial, folder, found, video_out, deadline, cancelled, progress)
        os.replace(partial, folder / name)
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(f"the file could not be converted ({exc})") from None
    finally:
        partial.unlink(missing_ok=True)
    made.name = name
    made.size = (folder / name).stat().st_size
    return made


def _transcode(
    source: Path,
    target: Path,
    folder: Path,
    found: Probe,
    video_out: bool,
    deadline: float,
    cancelled: threading.Event | None,
    progress: Callable[[int], None] | None,
) -> Made:
    """Demux once; every decoded frame is measured and (re)encoded as it passes."""
    with av.open(str(source), metadata_errors="ignore") as inp:
        assert isinstance(inp, av.container.InputContainer)
        vin = inp.streams.video[0] if video_out and inp.streams.video else None
        ain = inp.streams.audio[0] if inp.streams.audio else None
        if vin is not None:
            vin.thread_type = "AUTO"  # decode on every core
        options = {"movflags": "+faststart"}
        with av.open(str(target), "w", format="mp4", options=options) as out:
            work = _Pass(out, found, folder, source if vin is not None else None, ain is not None)
            starts = {s.index: _start(s) for s in (vin, ain) if s is not None}
            told = -1
            for packet in inp.demux([s for s in (vin, ain) if s is not None]):
                if time.monotonic() > deadline or (cancelled is not None and cancelled.is_set()):
                    raise TooLong("it took longer than the worker may spend on one file")
                for frame in packet.decode():
                    if not isinstance(frame, av.VideoFrame | av.AudioFrame):
                        continue
                    at = (frame.time or 0.0) - starts[packet.stream.index]
                    if isinstance(frame, av.VideoFrame):
                        work.video(frame, at)
                    else:
                        work.audio(frame)
                    percent = max(0, min(99, int(100 * at / found.duration)))
                    if progress is not None and percent > told:  # tracks interleave
                        told = percent
                        progress(percent)
            made = work.finish()
    if progress is not None:
        progress(100)
    return made


class _Pass:
    """The outputs of one decoding pass: the rendition's streams, the meters, the shots."""

    def __init__(
        self,
        out: av.container.OutputContainer,
        found: Probe,
        folder: Path,
        video_source: Path | None,
        sound: bool,
    ) -> None:
        self.out, self.found = out, found
        self.fps = min(MAX_FPS, round(found.fps or MAX_FPS)) or MAX_FPS
        self.vout: av.VideoStream | None = None
        self.aout: av.AudioStream | None = None
        self.shots = Shots(folder, found.duration) if video_source is not None else None
        self.pictures = PictureMeter()
        self.sound = SoundMeter() if sound else None
        self.last_pts = -1
        self.decoded = False
        if video_source is not None:
            self.vout = out.add_stream("libx264", rate=self.fps, options=dict(VIDEO_OPTIONS))
            self.vout.pix_fmt = "yuv420p"
            self.vout.width, self.vout.height = fit(*_upright_size(video_source))
        if sound:
            self.aout = out.add_stream("aac", rate=48000)
            self.aout.layout = "stereo" if (found.channels or 1) > 1 else "mono"
            self.aout.bit_rate = AUDIO_BITRATE
            self.to_out = av.AudioResampler(format="fltp", layout=self.aout.layout, rate=48000)
            self.to_vad = av.AudioResampler(format="s16", layout="mono", rate=VAD_RATE)

    def video(self, frame: av.VideoFrame, at: float) -> None:
        if self.vout is None or self.shots is None:
            return
        picture = _upright(frame)
        self.decoded = True
        if at >= self.pictures.next_at:
            grey = picture.reformat(64, 36, format="gray").to_ndarray()
            self.pictures.feed(at, grey)
            self.shots.offer(at, picture, float(grey.mean()))
        pts = round(at * self.fps)
        if pts <= self.last_pts:
            return  # above the rendition's frame rate: dropped
        self.last_pts = pts
        small = picture.reformat(self.vout.width, self.vout.height, format="yuv420p")
        small.pts, small.time_base = pts, Fraction(1, self.fps)
        self.out.mux(self.vout.encode(small))

    def audio(self, frame: av.AudioFrame) -> None:
        if self.aout is None or self.sound is None:
            return
        frame.pts = None  # the resamplers and the encoder number the samples afresh
        for piece in self.to_vad.resample(frame):
            self.sound.feed(bytes(piece.planes[0])[: piece.samples * 2])
        for piece in self.to_out.resample(frame):
            self.out.mux(self.aout.encode(piece))

    def finish(self) -> Made:
        if self.aout is not None:
            for piece in self.to_out.resample(None):
                self.out.mux(self.aout.encode(piece))
            self.out.mux(self.aout.encode(None))
        if self.vout is not None:
            if not self.decoded:
                raise MediaError("the video's picture track does not decode")
            self.out.mux(self.vout.encode(None))
        duration = self.found.duration
        measures: dict[str, Any] = {"duration": duration, "sound": self.sound is not None}
        if self.sound is not None:
            measures |= self.sound.result()
        if self.vout is not None:
            measures |= {"picture": self.pictures.result(duration)}
        poster, thumbnails = self.shots.save() if self.shots is not None else (False, 0)
        name = VIDEO_NAME if self.vout is not None else AUDIO_NAME
        return Made(name, 0, duration, poster, thumbnails, measures)


def _start(stream: av.VideoStream | av.AudioStream | None) -> float:
    if stream is None or stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _upright_size(source: Path) -> tuple[int, int]:
    """The first picture's size as shown (turned upright): the output's size is fixed
    before anything is written."""
    with av.open(str(source), metadata_errors="ignore") as inp:
        assert isinstance(inp, av.container.InputContainer)
        for frame in inp.decode(video=0):
            picture = _upright(frame)
            return picture.width, picture.height
    raise MediaError("the video's picture track does not decode")


def _upright(frame: av.VideoFrame) -> av.VideoFrame:
    """Phones record sideways and say so in the file; the rendition is turned upright."""
    turn = round(getattr(frame, "rotation", 0) or 0) % 360
    if turn == 0:
        return frame
    image = frame.to_ndarray(format="rgb24")
    # FFmpeg's rotation is counter-clockwise degrees to apply for display.
    upright: np.ndarray[Any, np.dtype[np.uint8]] = np.ascontiguousarray(
        np.rot90(image, k=turn // 90), dtype=np.uint8
    )
    turned = av.VideoFrame.from_ndarray(upright, format="rgb24")
    turned.pts, turned.time_base = frame.pts, frame.time_base
    return turned


class Shots:
    """The poster (the first picture after a tenth of the length that is not black) and
    THUMBNAILS evenly spread thumbnails, taken as the decoding passes their times."""

    def __init__(self, folder: Path, duration: float) -> None:
        self.folder = folder
        self.poster_after = min(duration * 0.1, 5.0)
        self.times = [duration * (n + 1) / (THUMBNAILS + 1) for n in range(THUMBNAILS)]
        self.poster: av.VideoFrame | None = None
        self.poster_final = False
        self.thumbs: list[av.VideoFrame] = []

    def offer(self, at: float, picture: av.VideoFrame, luma: float) -> None:
        if not self.poster_final and (self.poster is None or at >= self.poster_after):
            self.poster = picture
            self.poster_final = at >= self.poster_after and luma >= 24
        if len(self.thumbs) < len(self.times) and at >= self.times[len(self.thumbs)]:
            self.thumbs.append(picture)

    def save(self) -> tuple[bool, int]:
        if self.poster is None:
            return False, 0
        width, height = fit(self.poster.width, self.poster.height)
        self.poster.to_image().resize((width, height)).save(self.folder / POSTER_NAME, quality=82)
        for n, picture in enumerate(self.thumbs, start=1):
            image = picture.to_image()
            size = (THUMB_WIDTH, max(2, round(image.height * THUMB_WIDTH / image.width)))
            image.resize(size).save(self.folder / thumb_name(n), quality=75)
        return True, len(self.thumbs)
