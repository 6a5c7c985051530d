"""Measurements taken while the worker decodes a file for its rendition (one pass): voice
activity and loudness of the sound, and dark or unchanging stretches of the picture.

What is stored (MediaFile.measures) is figures, not judgements; app.media.observations
turns them into what reviewers and earners read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import webrtcvad

VAD_RATE = 16000  # webrtcvad takes 8, 16, 32 or 48 kHz mono 16-bit PCM
FRAME_MS = 30  # in frames of 10, 20 or 30 ms
_FRAME_BYTES = VAD_RATE * FRAME_MS // 1000 * 2
VAD_MODE = 2  # 0 (lenient) … 3 (strict about what counts as voice)
SOUND_FLOOR_DB = -50.0  # a frame quieter than this is silence, whatever the detector says
MIN_SPEECH = 0.12  # seconds: shorter bursts of "voice" (a click, a cough) are dropped
BRIDGE = 0.3  # seconds: gaps shorter than this inside speech are part of it
PICTURE_RATE = 5  # pictures measured per second
BLACK_LUMA = 24.0  # mean luma (0-255) below which a picture counts as black ...
BLACK_SPREAD = 10.0  # ... when it is also this uniform (standard deviation)
FROZEN_DIFF = 1.0  # mean luma change between pictures below which the picture is frozen
MIN_STRETCH = 1.0  # seconds: black or frozen runs shorter than this are not stored


Span = tuple[float, float]


class SoundMeter:
    """Feed 16 kHz mono s16 PCM in order; result() gives speech spans and loudness."""

    def __init__(self) -> None:
        self._vad = webrtcvad.Vad(VAD_MODE)
        self._pending = bytearray()
        self._voice: list[bool] = []
        self._levels: list[float] = []

    def feed(self, pcm: bytes) -> None:
        self._pending += pcm
        whole = len(self._pending) // _FRAME_BYTES * _FRAME_BYTES
        if not whole:
            return
        block = bytes(self._pending[:whole])
        del self._pending[:whole]
        samples = np.frombuffer(block, dtype="<i2").astype(np.float32) / 32768.0
        rms = np.sqrt(np.mean(samples.reshape(-1, _FRAME_BYTES // 2) ** 2, axis=1))
        levels = 20 * np.log10(np.maximum(rms, 1e-6))
        for index, level in enumerate(levels):
            frame = block[index * _FRAME_BYTES : (index + 1) * _FRAME_BYTES]
            loud = bool(level > SOUND_FLOOR_DB)
            self._voice.append(loud and self._vad.is_speech(frame, VAD_RATE))
            self._levels.append(float(level))

    def result(self) -> dict[str, Any]:
        step = FRAME_MS / 1000
        speech = _runs(self._voice, step, bridge=BRIDGE, shortest=MIN_SPEECH)
        levels = np.array(self._levels) if self._levels else np.array([-120.0])
        return {
            "speech": [[round(a, 2), round(b, 2)] for a, b in speech],
            "speech_seconds": round(sum(b - a for a, b in speech), 2),
            "loud_db": round(float(np.percentile(levels, 95)), 1),
            "median_db": round(float(np.median(levels)), 1),
            "sound_seconds": round(len(self._levels) * step, 2),
            "method": f"webrtcvad mode {VAD_MODE}, {FRAME_MS} ms frames at {VAD_RATE} Hz, "
            f"frames under {SOUND_FLOOR_DB:g} dBFS count as silence",
        }


class PictureMeter:
    """Feed small grey pictures (2-D uint8 arrays) with their times, PICTURE_RATE a second."""

    def __init__(self) -> None:
        self._times: list[float] = []
        self._black: list[bool] = []
        self._frozen: list[bool] = []
        self._last: np.ndarray | None = None
        self.next_at = 0.0

    def feed(self, at: float, grey: np.ndarray) -> None:
        self.next_at = at + 1 / PICTURE_RATE
        picture = grey.astype(np.float32)
        self._times.append(at)
        black = bool(picture.mean() < BLACK_LUMA and picture.std() < BLACK_SPREAD)
        self._black.append(black)
        # A black picture is reported as black, not as frozen.
        if self._last is None or black:
            self._frozen.append(False)
        else:
            self._frozen.append(bool(np.abs(picture - self._last).mean() < FROZEN_DIFF))
        self._last = picture

    def result(self, duration: float) -> dict[str, Any]:
        step = 1 / PICTURE_RATE
        # A frozen run starts at the picture before its first unchanged one.
        frozen = self._frozen[1:] + [False]
        return {
            "black": [
                [round(a, 2), round(min(b, duration), 2)] for a, b in self._spans(self._black, step)
            ],
            "frozen": [
                [round(a, 2), round(min(b, duration), 2)] for a, b in self._spans(frozen, step)
            ],
            "pictures": len(self._times),
            "method": f"{PICTURE_RATE} pictures a second at 64×36 grey; black: mean luma under "
            f"{BLACK_LUMA:g}/255 and even; frozen: mean change under {FROZEN_DIFF:g}/255",
        }

    def _spans(self, flags: list[bool], step: float) -> list[Span]:
        spans: list[Span] = []
        start: float | None = None
        for at, flag in zip(self._times, flags, strict=True):
            if flag and start is None:
                start = at
            elif not flag and start is not None:
                spans.append((start, at))
                start = None
        if start is not None and self._times:
            spans.append((start, self._times[-1] + step))
        return [(a, b) for a, b in spans if b - a >= MIN_STRETCH]


def _runs(flags: list[bool], step: float, *, bridge: float, shortest: float) -> list[Span]:
    """Runs of True as (start, end) seconds: gaps under `bridge` joined, runs under
    `shortest` dropped."""
    spans: list[Span] = []
    start: int | None = None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            spans.append((start * step, index * step))
            start = None
    joined: list[Span] = []
    for span in spans:
        if joined and span[0] - joined[-1][1] < bridge:
            joined[-1] = (joined[-1][0], span[1])
        else:
            joined.append(span)
    return [(a, b) for a, b in joined if b - a >= shortest - 1e-9]


def gaps(spans: list[list[float]], duration: float) -> list[Span]:
    """The stretches between and around spans, over 0..duration."""
    out: list[Span] = []
    at = 0.0
    for a, b in spans:
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if duration - at > 1e-6:
        out.append((at, duration))
    return out


def db_text(level: float) -> str:
    return "silent" if level <= -100 or math.isnan(level) else f"{level:.0f} dBFS"
