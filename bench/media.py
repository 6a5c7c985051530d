"""Transcoding speed and memory: a 1-minute 1080p test video (generated here with PyAV:
H.264 + AAC, 30 frames a second, a moving picture over sensor-like noise, a tone with
pauses) goes through the worker's own preparation (app.media: probe, 720p H.264/AAC
rendition, poster, thumbnails, measurements) in a child process.

Reported: media seconds per wall second ("× real time"), CPU seconds, and the child's peak
resident memory (VmHWM), beside a baseline measured in the same run: decoding the same
file without encoding anything. `python -m bench.media` prints the table; bench/run_all.py
puts it in bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

SECONDS = 60
SIZE = (1920, 1080)
FPS = 30
RATE = 48000
CHILD_TIMEOUT = 900  # seconds: the whole measurement is bounded


@dataclass(frozen=True)
class Run:
    what: str
    media_seconds: float
    wall: float
    cpu: float
    peak_mib: float
    idle_mib: float

    @property
    def speed(self) -> float:
        return self.media_seconds / self.wall if self.wall else 0.0

    @property
    def per_cpu(self) -> float:
        return self.media_seconds / self.cpu if self.cpu else 0.0


def make_source(path: Path) -> None:
    """The 1-minute 1080p test video (about 30-60 s to encode on a small machine)."""
    import av
    import numpy as np

    rng = np.random.default_rng(19)
    width, height = SIZE
    # One second of distinct pictures (a bar moving over sensor-like noise), converted once
    # and shown in a loop: encoders cannot treat it as static, and making the file costs
    # little more than encoding it.
    pictures = []
    for n in range(FPS):
        picture = np.empty((height, width, 3), dtype=np.uint8)
        picture[:] = (70, 90, 120)
        picture += rng.integers(0, 40, size=(height, width, 1), dtype=np.uint8)
        x = n * (width - 200) // FPS
        picture[:, x : x + 200] = (240, 230, 40)
        rgb = av.VideoFrame.from_ndarray(picture, format="rgb24")
        pictures.append(rgb.reformat(format="yuv420p"))
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "23"})
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=RATE)
        audio.layout = "mono"
        for n in range(SECONDS * FPS):
            frame = pictures[n % FPS]
            frame.pts = n
            frame.time_base = Fraction(1, FPS)
            out.mux(video.encode(frame))
        t = np.arange(SECONDS * RATE) / RATE
        talking = (t % 10) < 6  # 6 s of "talk", 4 s of pause, every 10 s
        sound = (0.3 * np.sin(2 * np.pi * 220 * t) * talking).astype(np.float32)
        for at in range(0, len(sound), 1024):
            chunk = sound[at : at + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = RATE
            frame.pts = at
            out.mux(audio.encode(frame))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def _child(mode: str, source: str, folder: str) -> None:
    """Runs in the child: one preparation (or the decode-only baseline); prints JSON."""
    import av

    from app.media import renditions
    from app.media.probe import probe

    idle = _status_mib("VmRSS")
    start, cpu = time.monotonic(), time.process_time()
    found = probe(Path(source))
    if mode == "prepare":
        renditions.make(Path(source), Path(folder), found, deadline=time.monotonic() + 3600)
    else:
        with av.open(source) as container:
            container.streams.video[0].thread_type = "AUTO"
            for _ in container.decode(*container.streams.video, *container.streams.audio):
                pass
    print(
        json.dumps(
            {
                "media_seconds": found.duration,
                "wall": time.monotonic() - start,
                "cpu": time.process_time() - cpu,
                "idle_mib": idle,
                "peak_mib": _status_mib("VmHWM"),
            }
        )
    )


def _status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, from /proc: unlike ru_maxrss, the peak
    starts afresh at exec, so the parent's size does not leak into the child's figure."""
    with open("/proc/self/status") as status:  # noqa: PTH123
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _measure(mode: str, source: Path, folder: Path) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "bench.media", "--child", mode, str(source), str(folder)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    what = (
        "prepare (worker: 720p H.264/AAC, poster, observations)"
        if mode == "prepare"
        else ("baseline: decode only")
    )
    return Run(
        what=what,
        media_seconds=figures["media_seconds"],
        wall=figures["wall"],
        cpu=figures["cpu"],
        peak_mib=figures["peak_mib"],
        idle_mib=figures["idle_mib"],
    )


def measure() -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="mcx-bench-media-") as tmp:
        source = Path(tmp) / "lesson-1080p.mp4"
        make_source(source)
        return [
            _measure("decode", source, Path(tmp) / "decode"),
            _measure("prepare", source, Path(tmp) / "out"),
        ]


def table(runs: list[Run]) -> str:
    rows = [
        "| run | media s | wall s | × real time | CPU s | media s per CPU s | peak RSS MiB (idle) |",
        "|---|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {r.what} | {r.media_seconds:.0f} | {r.wall:.1f} | {r.speed:.2f} | {r.cpu:.1f} | "
        f"{r.per_cpu:.2f} | {r.peak_mib:.0f} ({r.idle_mib:.0f}) |"
        for r in runs
    ]
    return "\n".join(rows)


def section() -> list[str]:
    runs = measure()
    return [
        "## Classroom video: transcoding (app/media)",
        "",
        f"A generated {SECONDS} s {SIZE[0]}×{SIZE[1]} {FPS} fps H.264/AAC video through the "
        "worker's preparation in a child process, one at a time as the worker runs it; "
        "`× real time` is media seconds per wall second (above 1: faster than playing it); "
        "`media s per CPU s` is the same per second of CPU (all threads), which shared cores "
        f"disturb less. This machine has {os.cpu_count()} cores, shared with other work. Peak "
        "RSS is the child's VmHWM; idle is its VmRSS after imports.",
        "",
        table(runs),
        "",
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print("\n".join(section()))
