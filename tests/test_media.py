"""Classroom media on files the tests make with PyAV: probing, refusal with a reason, the
rendition's codecs, size and length, poster and thumbnails, and the observations' figures
against what was generated (speech and silence, black and frozen picture within 0.5 s)."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest
from PIL import Image

from app.media import observations, renditions
from app.media.probe import MediaError, probe
from app.media.summary import summarise
from tests import media

# Tone (speech-like sound) and silence, moving, black and still pictures, as generated:
# 0-3 s moving + tone, 3-7 s black + silence, 7-9 s moving + tone, 9-20 s still + silence,
# 20-22 s moving + tone.
LESSON = [
    (3.0, "moving", "tone"),
    (4.0, "black", "silence"),
    (2.0, "moving", "tone"),
    (11.0, "still", "silence"),
    (2.0, "moving", "tone"),
]
SPEECH = [(0.0, 3.0), (7.0, 9.0), (20.0, 22.0)]
TOLERANCE = 0.5


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "lesson.mp4"
    path.write_bytes(media.clip(LESSON, size=(320, 240), fps=25))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rendition")


@pytest.fixture(scope="module")
def prepared(lesson: Path, folder: Path) -> renditions.Made:
    return renditions.make(lesson, folder, probe(lesson), deadline=time.monotonic() + 120)


def _near(
    found: list[list[float]] | list[tuple[float, float]], expected: list[tuple[float, float]]
) -> None:
    assert len(found) == len(expected), (found, expected)
    for (a, b), (x, y) in zip(found, expected, strict=True):
        assert abs(a - x) <= TOLERANCE and abs(b - y) <= TOLERANCE, (found, expected)


# --- probing and refusal ---------------------------------------------------------------


def test_probe_reads_container_codecs_length_size_rate_and_sound(lesson: Path) -> None:
    found = probe(lesson)
    assert found.container.startswith("mov,mp4")
    assert (found.video_codec, found.audio_codec) == ("h264", "aac")
    assert abs(found.duration - 22.0) < 0.1
    assert (found.width, found.height, found.fps) == (320, 240, 25.0)
    assert found.has_audio and found.sample_rate == 48000 and found.channels == 1


def test_probe_reads_an_iphone_style_hevc_mov(tmp_path: Path) -> None:
    # The av wheel's FFmpeg has libx265: the test makes a real HEVC .mov.
    path = tmp_path / "IMG_0001.MOV"
    path.write_bytes(media.mov_hevc([(2.0, "moving", "tone")]))
    found = probe(path)
    assert (found.video_codec, found.audio_codec) == ("hevc", "aac")
    assert abs(found.duration - 2.0) < 0.1


def test_probe_reads_an_audio_only_mp4(tmp_path: Path) -> None:
    path = tmp_path / "memo.m4a"
    path.write_bytes(media.clip([(2.0, "moving", "tone")], video_codec=None))
    found = probe(path, want="audio")
    assert not found.has_video and found.audio_codec == "aac"
    with pytest.raises(MediaError, match="the video has no picture track"):
        probe(path, want="video")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00\x00\x18ftypisom" + bytes(4000), "the video does not open"),
        (media.mp4(moov=False), "the video does not open"),
        (
            media.clip([(4.0, "moving", "tone")], faststart=True)[:9000],
            "the video is cut short: it stops at",
        ),
    ],
    ids=["garbage", "no-index", "cut-short"],
)
def test_a_broken_file_is_refused_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(data)
    with pytest.raises(MediaError) as refused:
        probe(path)
    assert str(refused.value).startswith(reason)


# --- renditions ------------------------------------------------------------------------


def test_the_rendition_is_h264_aac_mp4_with_its_index_first(
    prepared: renditions.Made, folder: Path
) -> None:
    assert prepared.name == "video.mp4"
    rendition = folder / "video.mp4"
    with av.open(str(rendition)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264" and audio.codec_context.name == "aac"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        length = container.duration / av.time_base
    assert abs(length - 22.0) < 0.25
    head = rendition.read_bytes()[:4096]
    assert b"moov" in head  # faststart: the index comes before the media
    assert head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat")


def test_large_video_is_brought_down_to_720p_and_portrait_stays_upright() -> None:
    assert renditions.fit(1920, 1080) == (1280, 720)
    assert renditions.fit(3840, 2160) == (1280, 720)
    assert renditions.fit(1080, 1920) == (720, 1280)
    assert renditions.fit(640, 360) == (640, 360)  # never enlarged
    assert renditions.fit(1001, 563)[0] % 2 == 0


def test_poster_and_thumbnails_are_jpegs_of_the_picture(
    prepared: renditions.Made, folder: Path
) -> None:
    assert prepared.poster and prepared.thumbnails == renditions.THUMBNAILS
    with Image.open(folder / renditions.POSTER_NAME) as poster:
        assert poster.format == "JPEG" and poster.size == (320, 240)
        # Not black: the poster skips the dark stretch.
        assert max(poster.convert("L").getextrema()) > 100
    for n in range(1, renditions.THUMBNAILS + 1):
        with Image.open(folder / renditions.thumb_name(n)) as thumb:
            assert thumb.format == "JPEG" and thumb.width == renditions.THUMB_WIDTH


def test_audio_only_becomes_aac_m4a(tmp_path: Path) -> None:
    source = tmp_path / "memo.m4a"
    source.write_bytes(media.clip([(2.0, "moving", "tone")], video_codec=None))
    told: list[int] = []
    made = renditions.make(
        source,
        tmp_path / "out",
        probe(source, want="audio"),
        deadline=time.monotonic() + 60,
        progress=told.append,
        kind="audio",
    )
    assert made.name == "audio.m4a" and not made.poster
    assert len(told) > 5 and told[-1] == 100  # sound alone reports its progress too
    with av.open(str(tmp_path / "out" / "audio.m4a")) as container:
        assert not container.streams.video
        assert container.streams.audio[0].codec_context.name == "aac"


def test_an_audio_item_with_a_picture_gets_sound_only(tmp_path: Path) -> None:
    source = tmp_path / "podcast.mp4"  # e.g. a recording app that adds cover art
    source.write_bytes(media.clip([(1.0, "still", "tone")]))
    made = renditions.make(
        source,
        tmp_path / "out",
        probe(source, want="audio"),
        deadline=time.monotonic() + 60,
        kind="audio",
    )
    with av.open(str(tmp_path / "out" / made.name)) as container:
        assert made.name == "audio.m4a" and not container.streams.video


def test_hevc_mov_becomes_h264(tmp_path: Path) -> None:
    source = tmp_path / "IMG_0002.MOV"
    source.write_bytes(media.mov_hevc([(1.5, "moving", "tone")]))
    made = renditions.make(source, tmp_path / "out", probe(source), deadline=time.monotonic() + 60)
    with av.open(str(tmp_path / "out" / made.name)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_a_phone_held_upright_gives_an_upright_rendition(tmp_path: Path) -> None:
    source = tmp_path / "portrait.mp4"
    source.write_bytes(media.clip([(1.0, "moving", "tone")], size=(320, 240), rotation=90))
    made = renditions.make(source, tmp_path / "out", probe(source), deadline=time.monotonic() + 60)
    with av.open(str(tmp_path / "out" / made.name)) as container:
        video = container.streams.video[0].codec_context
        assert (video.width, video.height) == (240, 320)
    with Image.open(tmp_path / "out" / renditions.POSTER_NAME) as poster:
        assert poster.size == (240, 320)


def test_the_work_stops_at_its_deadline(lesson: Path, tmp_path: Path) -> None:
    with pytest.raises(renditions.TooLong):
        renditions.make(lesson, tmp_path / "late", probe(lesson), deadline=time.monotonic() - 1)
    assert not (tmp_path / "late" / "video.mp4").exists()  # nothing half-written kept


def test_progress_is_reported_up_to_100(lesson: Path, tmp_path: Path) -> None:
    told: list[int] = []
    renditions.make(
        lesson, tmp_path / "p", probe(lesson), deadline=time.monotonic() + 60, progress=told.append
    )
    assert told == sorted(told) and told[-1] == 100 and len(told) > 10


# --- measurements and observations -----------------------------------------------------


def test_speech_and_silence_spans_match_what_was_generated(prepared: renditions.Made) -> None:
    measures = prepared.measures
    _near(measures["speech"], SPEECH)
    assert abs(measures["speech_seconds"] - 7.0) <= 3 * TOLERANCE
    assert measures["loud_db"] == pytest.approx(-13.5, abs=1.5)  # a 0.3 sine is -13.5 dBFS


def test_black_and_frozen_stretches_match_what_was_generated(prepared: renditions.Made) -> None:
    picture = prepared.measures["picture"]
    _near(picture["black"], [(3.0, 7.0)])
    _near(picture["frozen"], [(9.0, 20.0)])


def test_observations_say_what_was_found_and_how(prepared: renditions.Made) -> None:
    found = {
        o.key: o
        for o in observations.describe(
            prepared.measures, kind="video", min_seconds=60, max_seconds=900
        )
    }
    assert list(found) == ["duration", "speech", "pauses", "silence", "quiet", "black", "frozen"]
    assert found["duration"].notable and "shorter than the 1 minute to 15 minutes" in (
        found["duration"].finding
    )
    assert found["speech"].finding.startswith("Speech heard for 0:0")
    _near(found["speech"].spans, SPEECH)
    # Pauses after speech: 3-7 s and 9-20 s (both at least 3 s), and none at the ends.
    _near(found["pauses"].spans, [(3.0, 7.0), (9.0, 20.0)])
    assert "2 pauses of 3 s or more" in found["pauses"].finding
    assert not found["silence"].notable  # no stretch of 30 s
    assert not found["quiet"].notable
    assert found["frozen"].notable  # 11 s still picture: at least 10 s
    assert not found["black"].notable  # 4 s of black: under the 5 s that counts as long
    for o in found.values():
        assert o.how and o.limits


def test_black_under_five_seconds_is_not_flagged() -> None:
    measures = {"duration": 60.0, "sound": False, "picture": {"black": [[1.0, 4.0]], "frozen": []}}
    found = {o.key: o for o in observations.describe(measures, kind="video")}
    assert not found["black"].notable and "No black picture" in found["black"].finding


def test_quiet_sound_is_flagged(tmp_path: Path) -> None:
    source = tmp_path / "quiet.m4a"
    source.write_bytes(media.clip([(3.0, "moving", "quiet")], video_codec=None))
    made = renditions.make(
        source, tmp_path / "q", probe(source, want="audio"), deadline=time.monotonic() + 60
    )
    found = {o.key: o for o in observations.describe(made.measures, kind="audio")}
    assert found["quiet"].notable and "quiet" in found["quiet"].finding
    assert found["speech"].finding == "No speech detected."  # under the -50 dBFS floor
    assert "black" not in found  # no picture in an audio file


def test_coordinators_switch_observations_off() -> None:
    measures = {"duration": 600.0, "sound": True, "speech": [[0.0, 600.0]], "loud_db": -20.0}
    keys = [o.key for o in observations.describe(measures, kind="audio", off=["pauses", "quiet"])]
    assert keys == ["duration", "speech", "silence"]


def test_the_stated_range_is_said_in_minutes() -> None:
    within = observations.describe(
        {"duration": 600.0}, kind="video", min_seconds=300, max_seconds=900
    )
    assert within[0].finding == "10:00 long: within the 5 minutes to 15 minutes this item asks for."
    assert not within[0].notable
    longer = observations.describe({"duration": 1000.0}, kind="video", max_seconds=900)
    assert "longer than the at most 15 minutes" in longer[0].finding and longer[0].notable


# --- feed card summary -------------------------------------------------------------------


def test_the_summary_says_what_the_packet_holds() -> None:
    assert (
        summarise([("document", None), ("video", 722.0), ("reflection", None), ("document", None)])
        == "video 12 min, 2 documents, reflection"
    )
    assert summarise([("video", None)]) == "video"  # not measured yet
    assert summarise([("audio", 45.0), ("audio", 80.0), ("link", None)]) == (
        "2 audio recordings (2 min), link"
    )
    assert summarise([("video", 4000.0)]) == "video 1 h 07 min"
    assert summarise([]) == "no evidence"
