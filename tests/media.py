"""Tiny real media files built from bytes at run time, for tests and benchmarks.

Images and documents are the smallest files their real parsers accept; video and audio are
real, decodable clips encoded with PyAV (FFmpeg), a few seconds at most. Nothing is
downloaded or committed as a binary.
"""

from __future__ import annotations

import io
import tempfile
import wave
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image


def png(size: tuple[int, int] = (16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((32, 32), 40).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def pdf() -> bytes:
    """A minimal valid PDF: one empty page, with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


# A piece of a generated clip: its length, what the picture shows ("moving": a bar sliding
# over grey; "black"; "still": one unchanging picture) and what the sound holds ("tone":
# a 440 Hz sine at -13 dBFS; "silence"; "quiet": the tone at -60 dBFS).
Part = tuple[float, str, str]


def clip(
    parts: Sequence[Part] = ((0.5, "moving", "tone"),),
    *,
    container: str = "mp4",
    video_codec: str | None = "libx264",
    audio_codec: str | None = "aac",
    size: tuple[int, int] = (64, 48),
    fps: int = 10,
    sample_rate: int = 48000,
    faststart: bool = False,
    rotation: int = 0,
) -> bytes:
    """A real video or audio file made with PyAV (no video_codec: audio only); faststart
    puts the index before the media, as for streaming; rotation (degrees, counter-clockwise)
    is the display rotation phones write instead of turning the picture."""
    folder = tempfile.TemporaryDirectory(prefix="mcx-clip-")
    out = Path(folder.name) / f"clip.{container}"  # faststart re-reads the file by name
    options = {"movflags": "+faststart"} if faststart else {}
    with folder, av.open(str(out), "w", format=container, options=options) as muxer:
        vs = muxer.add_stream(video_codec, rate=fps) if video_codec else None
        if vs is not None:
            vs.width, vs.height = size
            vs.pix_fmt = "yuv420p"
            if video_codec in ("libx264", "libx265"):
                vs.options = {"preset": "ultrafast", "x265-params": "log-level=error"}
            if rotation:  # a phone held upright records sideways and says so
                vs.set_display_rotation(rotation)
        aus = muxer.add_stream(audio_codec, rate=sample_rate) if audio_codec else None
        if aus is not None:
            aus.layout = "mono"
        frame_no = 0
        sample_no = 0
        for seconds, picture, sound in parts:
            if vs is not None:
                for _ in range(round(seconds * fps)):
                    image = _picture(picture, frame_no, size)
                    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                    frame.pts = frame_no
                    frame_no += 1
                    muxer.mux(vs.encode(frame))
            if aus is not None:
                count = round(seconds * sample_rate)
                t = (np.arange(count) + sample_no) / sample_rate
                level = {"tone": 0.3, "silence": 0.0, "quiet": 0.001}[sound]
                samples = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                for at in range(0, count, 1024):
                    chunk = samples[at : at + 1024].reshape(1, -1)
                    frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                    frame.sample_rate = sample_rate
                    frame.pts = sample_no + at
                    muxer.mux(aus.encode(frame))
                sample_no += count
        for stream in (vs, aus):
            if stream is not None:
                muxer.mux(stream.encode(None))
        muxer.close()
        return out.read_bytes()


def _picture(kind: str, n: int, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    if kind == "black":
        return image
    image[:] = (90, 110, 140)
    x = 0 if kind == "still" else (n * 5) % width
    image[:, x : x + 8] = (250, 240, 20)
    image[(n * 3) % height if kind != "still" else 0, :] = (20, 200, 60)
    return image


def mp4(handler: bytes = b"vide", *, moov: bool = True) -> bytes:
    """A real MP4 of half a second: video with sound, or (handler b"soun") sound only, as a
    voice memo is; moov=False drops the 'moov' box, as a recording cut off before it ends."""
    data = clip(video_codec=None if handler == b"soun" else "libx264")
    return data if moov else _drop_box(data, b"moov")


def mov_hevc(parts: Sequence[Part] = ((0.5, "moving", "tone"),)) -> bytes:
    """A QuickTime .mov with HEVC video and AAC sound, as an iPhone records it."""
    return clip(parts, container="mov", video_codec="libx265")


def _drop_box(data: bytes, kind: bytes) -> bytes:
    out, pos = bytearray(), 0
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] != kind:
            out += data[pos : pos + length]
        pos += length
    return bytes(out)


def heic(*, meta: bool = True) -> bytes:
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    return (
        ftyp
        + (box(b"meta", bytes(4) + box(b"hdlr", bytes(24))) if meta else b"")
        + box(b"mdat", bytes(64))
    )


def webm(track_type: int = 1) -> bytes:
    """A real WebM of half a second: VP8 video with Opus sound (track_type 1), or Opus sound
    only (track_type 2), as a browser records it."""
    return clip(
        container="webm",
        video_codec="libvpx" if track_type == 1 else None,
        audio_codec="libopus",
    )


def wav(frames: int = 800) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(frames * 2))
    return out.getvalue()


def office(parts: Iterable[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for part in parts:
            archive.writestr(part, "<x/>")
    return out.getvalue()
