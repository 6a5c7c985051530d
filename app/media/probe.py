"""What a video or audio file holds (container, codecs, duration, picture size, frame rate,
sound), read by FFmpeg through PyAV; and a refusal, in words, for what does not decode."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import av.container

# How much of the file the probe decodes to be sure it plays: the first frames of each
# track at the start, then one near the end (a file cut short fails there).
_MAX_PACKETS = 600
_END_SECONDS = 3.0
_MAX_END_PACKETS = 3000
_CUT_TOLERANCE = 1.0  # seconds missing at the end before a file counts as cut short
MAX_DIMENSION = 8192  # larger pictures are refused: no phone plays them
MAX_SECONDS = 6 * 3600  # a six-hour "lesson" is a mistake, and would outlast every job


class MediaError(Exception):
    """The file does not open or decode as video or audio; str() is the reason in words."""


@dataclass(frozen=True)
class Probe:
    container: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float  # seconds
    video_codec: str | None
    width: int | None
    height: int | None
    fps: float | None
    audio_codec: str | None
    sample_rate: int | None
    channels: int | None

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    def json(self) -> dict[str, Any]:
        return asdict(self) | {"has_video": self.has_video, "has_audio": self.has_audio}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def probe(path: Path, *, want: str = "video") -> Probe:
    """Open `path` with FFmpeg and decode a little of every track. `want` is "video" (a
    picture track is required) or "audio" (a sound track is required). MediaError with
    the reason when the file does not open, has no such track, or does not decode."""
    noun = "video" if want == "video" else "audio file"
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"the {noun} does not open ({_why(exc)})") from None
    with container:
        if not isinstance(container, av.container.InputContainer):
            raise MediaError(f"the {noun} does not open")
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if want == "video" and video is None:
            raise MediaError("the video has no picture track")
        if want == "audio" and audio is None:
            raise MediaError("the audio file has no sound track")
        duration = _duration(container)
        if duration <= 0:
            raise MediaError(f"the {noun} has no length (it holds no playable frames)")
        if duration > MAX_SECONDS:
            raise MediaError(f"the {noun} is longer than {MAX_SECONDS // 3600} hours")
        width = video.codec_context.width if video is not None else None
        height = video.codec_context.height if video is not None else None
        if video is not None and (not width or not height):
            raise MediaError("the video's picture size is unreadable")
        if width and height and max(width, height) > MAX_DIMENSION:
            raise MediaError(f"the video's picture ({width}×{height}) is too large to play")
        _decodes(container, video, audio, noun, duration)
        rate = video.average_rate or video.guessed_rate if video is not None else None
        return Probe(
            container=container.format.name,
            duration=round(duration, 3),
            video_codec=video.codec_context.name if video is not None else None,
            width=width,
            height=height,
            fps=round(float(rate), 3) if rate else None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            sample_rate=audio.codec_context.sample_rate if audio is not None else None,
            channels=audio.codec_context.layout.nb_channels if audio is not None else None,
        )


def _duration(container: av.container.InputContainer) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    best = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            best = max(best, float(stream.duration * stream.time_base))
    return best


def _decodes(
    container: av.container.InputContainer,
    video: av.VideoStream | None,
    audio: av.AudioStream | None,
    noun: str,
    duration: float,
) -> None:
    """A frame from each track at the start, and a picture (or sound) near the end."""
    streams = [s for s in (video, audio) if s is not None]
    missing = {s.index for s in streams}
    read_all = True
    try:
        for count, packet in enumerate(container.demux(streams)):
            if count >= _MAX_PACKETS or not missing:
                read_all = not missing
                break
            if packet.stream.index in missing and packet.decode():
                missing.discard(packet.stream.index)
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(f"the {noun} is damaged ({_why(exc)})") from None
    if video is not None and video.index in missing:
        raise MediaError("the video's picture track does not decode")
    # A sound track's first packets may come late in a long file; only a file read to its
    # end without one decoded sound frame is refused for it.
    if audio is not None and audio.index in missing and (video is None or read_all):
        raise MediaError(f"the {noun}'s sound track does not decode")
    # The last seconds: something decodes there, and the packets run on to the stated
    # length (a recording cut short keeps its index but loses its last part).
    main = video or audio
    assert main is not None
    decoded, reached, complete = False, 0.0, False
    try:
        container.seek(int(max(0.0, duration - _END_SECONDS) * av.time_base), backward=True)
        for count, packet in enumerate(container.demux(main)):
            if count >= _MAX_END_PACKETS:
                break
            if packet.pts is not None and packet.time_base is not None:
                end = (packet.pts + (packet.duration or 0)) * packet.time_base
                reached = max(reached, float(end))
            decoded = decoded or bool(packet.decode())
        else:
            complete = True
    except (av.FFmpegError, ValueError) as exc:
        raise MediaError(f"the {noun} is damaged or cut short ({_why(exc)})") from None
    if not decoded:
        raise MediaError(f"the {noun} is cut short: nothing plays near its end")
    start = float(main.start_time * main.time_base) if main.start_time and main.time_base else 0
    if complete and reached - start < duration - _CUT_TOLERANCE:
        raise MediaError(
            f"the {noun} is cut short: it stops at {seconds_text(reached - start)} "
            f"of {seconds_text(duration)}"
        )


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":", 1)[-1].strip().rstrip(".") if ":" in text and len(text) > 80 else text


def seconds_text(seconds: float) -> str:
    """1:05 for 65 s, 1:02:03 for an hour and more."""
    whole = max(0, math.floor(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
