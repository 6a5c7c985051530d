"""Automated observations: the worker's measurements (app.media.measure) said in words,
each with how it was measured and what it cannot tell. Help for reviewers and earners,
never a verdict: nothing here feeds a score, an outcome or a queue.

A coordinator turns each one off per submission criterion (SubmissionCriterion.
observations_off holds the keys of KINDS that are off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.media.measure import gaps
from app.media.probe import seconds_text as _clock

PAUSE_SECONDS = 3.0  # a silence this long after speech is a pause (a proxy for wait time)
LONG_SILENCE = 30.0
LONG_BLACK = 5.0
LONG_FROZEN = 10.0
QUIET_DB = -35.0  # the loudest parts of the sound below this are hard to follow on a phone

# Key, the name coordinators and reviewers see.
KINDS: tuple[tuple[str, str], ...] = (
    ("duration", "Length against the stated range"),
    ("speech", "Speech heard, and speaking vs silence over time"),
    ("pauses", f"Pauses of {PAUSE_SECONDS:g} s or more after speech"),
    ("silence", f"Silent stretches of {LONG_SILENCE:g} s or more"),
    ("black", f"Black picture for {LONG_BLACK:g} s or more"),
    ("frozen", f"Frozen picture for {LONG_FROZEN:g} s or more"),
    ("quiet", "Sound too quiet to follow"),
)
KEYS = frozenset(key for key, _ in KINDS)
_TITLES = dict(KINDS)


@dataclass(frozen=True)
class Observation:
    key: str
    title: str
    finding: str
    how: str
    limits: str
    notable: bool = False  # worth a look (outside a range, a long black stretch, ...)
    spans: list[tuple[float, float]] = field(default_factory=list)  # seconds, for the timeline


@dataclass(frozen=True)
class Strip:
    """Speaking vs silence over the timeline, as fractions of the length (0..1)."""

    duration: float
    speech: list[tuple[float, float]]

    @property
    def bars(self) -> list[tuple[float, float]]:
        if self.duration <= 0:
            return []
        return [(a / self.duration, (b - a) / self.duration) for a, b in self.speech]

    @property
    def ticks(self) -> list[tuple[float, str]]:
        if self.duration <= 0:
            return []
        return [(n / 4, seconds_text(self.duration * n / 4)) for n in range(5)]


def describe(
    measures: dict[str, Any],
    *,
    kind: str,
    min_seconds: int | None = None,
    max_seconds: int | None = None,
    off: frozenset[str] | set[str] | list[str] = frozenset(),
) -> list[Observation]:
    """The observations for one file's measurements, in KINDS order, leaving out those
    turned off and those that do not apply (no picture in an audio file, no sound track)."""
    duration = float(measures.get("duration") or 0)
    found: list[Observation] = []
    if duration <= 0:
        return found
    found.append(_duration(duration, min_seconds, max_seconds))
    if measures.get("sound"):
        speech = [(float(a), float(b)) for a, b in measures.get("speech", [])]
        method = str(measures.get("method", "voice activity detection"))
        found += [
            _speech(duration, speech, method),
            _pauses(duration, speech),
            _silence(duration, speech),
            _quiet(float(measures.get("loud_db", -120.0))),
        ]
    picture = measures.get("picture")
    if kind == "video" and isinstance(picture, dict):
        how = str(picture.get("method", ""))
        found += [
            _stretches("black", picture.get("black", []), LONG_BLACK, how, "black"),
            _stretches("frozen", picture.get("frozen", []), LONG_FROZEN, how, "frozen"),
        ]
    return [o for o in found if o.key not in set(off)]


def strip(measures: dict[str, Any]) -> Strip | None:
    if not measures.get("sound") or not measures.get("duration"):
        return None
    speech = [(float(a), float(b)) for a, b in measures.get("speech", [])]
    return Strip(float(measures["duration"]), speech)


def seconds_text(seconds: float) -> str:
    """A measured length, to the nearest second (a moment on the timeline is floored)."""
    return _clock(round(seconds))


def range_text(min_seconds: int | None, max_seconds: int | None) -> str:
    if min_seconds is not None and max_seconds is not None:
        return f"{_minutes(min_seconds)} to {_minutes(max_seconds)}"
    if min_seconds is not None:
        return f"at least {_minutes(min_seconds)}"
    if max_seconds is not None:
        return f"at most {_minutes(max_seconds)}"
    return ""


def _minutes(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return seconds_text(seconds)


def _duration(duration: float, low: int | None, high: int | None) -> Observation:
    length = seconds_text(duration)
    stated = range_text(low, high)
    if not stated:
        finding, notable = f"{length} long. This item states no length.", False
    elif low is not None and duration < low:
        finding, notable = f"{length} long: shorter than the {stated} this item asks for.", True
    elif high is not None and duration > high:
        finding, notable = f"{length} long: longer than the {stated} this item asks for.", True
    else:
        finding, notable = f"{length} long: within the {stated} this item asks for.", False
    return Observation(
        "duration",
        _TITLES["duration"],
        finding,
        how="The file's playing time, as FFmpeg reads it.",
        limits="The length of the recording, not of the teaching in it.",
        notable=notable,
    )


def _speech(duration: float, speech: list[tuple[float, float]], method: str) -> Observation:
    talk = sum(b - a for a, b in speech)
    if talk <= 0:
        finding = "No speech detected."
    else:
        share = round(100 * talk / duration)
        finding = (
            f"Speech heard for {seconds_text(talk)} of {seconds_text(duration)} ({share} %), "
            f"in {len(speech)} stretch{'es' if len(speech) != 1 else ''}."
        )
    return Observation(
        "speech",
        _TITLES["speech"],
        finding,
        how=f"Voice activity detection ({method}); gaps under 0.3 s are joined.",
        limits="It hears voice-like sound, not words, meaning or who speaks: teacher and "
        "students look the same, music or a steady tone can count as speech, and distant or "
        "very quiet voices can be missed.",
        notable=talk <= 0,
        spans=speech,
    )


def _pauses(duration: float, speech: list[tuple[float, float]]) -> Observation:
    between = [
        (a, b) for a, b in gaps([[x, y] for x, y in speech], duration) if a > 0 and b < duration
    ]
    pauses = [(a, b) for a, b in between if b - a >= PAUSE_SECONDS]
    if not speech:
        finding = "No speech, so no pauses after speech."
    elif not pauses:
        finding = f"No pause of {PAUSE_SECONDS:g} s or more between stretches of speech."
    else:
        longest = max(b - a for a, b in pauses)
        at = ", ".join(seconds_text(a) for a, _ in pauses[:8])
        more = " …" if len(pauses) > 8 else ""
        finding = (
            f"{len(pauses)} pause{'s' if len(pauses) != 1 else ''} of {PAUSE_SECONDS:g} s or "
            f"more after speech (longest {longest:.0f} s), at {at}{more}."
        )
    return Observation(
        "pauses",
        _TITLES["pauses"],
        finding,
        how=f"Silences of {PAUSE_SECONDS:g} s or more that follow speech and end in speech, "
        "from the same voice activity detection.",
        limits="A rough proxy for wait time: it cannot tell a question followed by thinking "
        "time from a pause to hand out paper, and quiet answers may end a pause early.",
        spans=pauses,
    )


def _silence(duration: float, speech: list[tuple[float, float]]) -> Observation:
    quiet = [(a, b) for a, b in gaps([[x, y] for x, y in speech], duration)]
    long = [(a, b) for a, b in quiet if b - a >= LONG_SILENCE]
    if long:
        where = ", ".join(f"{seconds_text(a)}–{seconds_text(b)}" for a, b in long[:6])
        finding = f"{len(long)} stretch{'es' if len(long) != 1 else ''} without speech: {where}."
    else:
        finding = f"No stretch without speech of {LONG_SILENCE:g} s or more."
    return Observation(
        "silence",
        _TITLES["silence"],
        finding,
        how="Stretches without detected speech, from the same voice activity detection.",
        limits="Independent work, reading or a test can be silent for good reasons.",
        notable=bool(long),
        spans=long,
    )


def _quiet(loud_db: float) -> Observation:
    quiet = loud_db < QUIET_DB
    if loud_db <= -100:
        finding = "The sound track is silent throughout."
    elif quiet:
        finding = (
            f"The sound is quiet: its loudest parts reach {loud_db:.0f} dBFS "
            f"(below {QUIET_DB:.0f} dBFS is hard to follow on a phone)."
        )
    else:
        finding = f"The sound is loud enough: its loudest parts reach {loud_db:.0f} dBFS."
    return Observation(
        "quiet",
        _TITLES["quiet"],
        finding,
        how="The level that the loudest 5 % of 30 ms moments reach, in dB below full scale.",
        limits="Loud is not clear: it cannot hear echo, background noise or a voice far "
        "from the microphone.",
        notable=quiet or loud_db <= -100,
    )


def _stretches(
    key: str, raw: list[list[float]], longest: float, how: str, word: str
) -> Observation:
    spans = [(float(a), float(b)) for a, b in raw if float(b) - float(a) >= longest]
    if spans:
        where = ", ".join(f"{seconds_text(a)}–{seconds_text(b)}" for a, b in spans[:6])
        finding = f"The picture is {word} at {where}."
    else:
        finding = f"No {word} picture for {longest:g} s or more."
    limits = {
        "black": "A dark room or a covered lens looks the same as a black screen.",
        "frozen": "A camera on a tripod facing a still scene (a quiet class reading) can look "
        "frozen; it does not see small movements in a large picture.",
    }[key]
    return Observation(
        key, _TITLES[key], finding, how=how, limits=limits, notable=bool(spans), spans=spans
    )
