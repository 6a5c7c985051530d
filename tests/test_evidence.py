"""Evidence files: storing, sniffing, type checks, the stored-file check, links, reflections.

Unit tests on tmp_path; every fixture file is built here, at run time, from bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import zipfile
from collections.abc import AsyncIterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from PIL import Image

from app import evidence
from app.errors import ActionError
from app.evidence import (
    DOCX,
    ODT,
    XLSX,
    check_stored,
    check_type,
    clean_filename,
    path_for,
    sniff,
    store_stream,
    validate_link,
    validate_reflection,
)

MiB = 1024 * 1024

from tests.media import clip, heic, jpeg, mov_hevc, mp4, office, pdf, png, wav, webm  # noqa: E402

ELF = b"\x7fELF\x02\x01\x01" + bytes(57)


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def store(uploads: Path, data: bytes, filename: str | None = "f") -> evidence.StoredFile:
    return await store_stream(
        chunks(data), uploads_dir=uploads, max_bytes=10 * MiB, filename=filename
    )


# --- store_stream ----------------------------------------------------------------------


async def test_stores_by_sha_and_dedupes(tmp_path: Path) -> None:
    data = png()
    sha = hashlib.sha256(data).hexdigest()
    first = await store(tmp_path, data, "Photo of board.png")
    second = await store(tmp_path, data, "copy.png")
    assert first.sha256 == second.sha256 == sha
    assert first.path == second.path == tmp_path / sha[:2] / sha == path_for(tmp_path, sha)
    assert first.path.read_bytes() == data
    assert (first.size, first.media_type) == (len(data), "image/png")
    assert (first.filename, second.filename) == ("Photo of board.png", "copy.png")
    assert files_under(tmp_path) == [first.path]  # one copy, no temp files


async def test_large_stream_is_hashed_across_buffer_flushes(tmp_path: Path) -> None:
    data = pdf() + bytes(range(256)) * (3 * MiB // 256 + 17)
    stored = await store_stream(
        chunks(data, 300_000), uploads_dir=tmp_path, max_bytes=len(data), filename="big.pdf"
    )
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data) and stored.media_type == "application/pdf"
    assert stored.path.read_bytes() == data


async def test_damaged_copy_under_the_hash_is_replaced(tmp_path: Path) -> None:
    data = png()
    target = path_for(tmp_path, hashlib.sha256(data).hexdigest())
    target.parent.mkdir(parents=True)
    target.write_bytes(data[:10])
    await store(tmp_path, data)
    assert target.read_bytes() == data


async def test_too_large_stops_reading_and_leaves_nothing(tmp_path: Path) -> None:
    read = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal read
        while True:
            read += 1
            yield b"x" * 100_000

    with pytest.raises(ActionError) as caught:
        await store_stream(endless(), uploads_dir=tmp_path, max_bytes=MiB, filename="a/clip.mp4")
    assert (caught.value.code, caught.value.status) == ("too_large", 413)
    assert caught.value.detail == "'clip.mp4' is larger than the 1 MB limit."
    assert read == 11  # the chunk that crossed the limit was the last one read
    assert files_under(tmp_path) == []


async def test_empty_file_refused(tmp_path: Path) -> None:
    with pytest.raises(ActionError) as caught:
        await store(tmp_path, b"", "notes.pdf")
    assert (caught.value.code, caught.value.status) == ("empty_file", 400)
    assert "'notes.pdf'" in caught.value.detail
    assert files_under(tmp_path) == []


async def test_failure_midway_leaves_nothing(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (2 * MiB)  # enough to have been written to the temp file
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store_stream(broken(), uploads_dir=tmp_path, max_bytes=10 * MiB, filename="f")
    assert files_under(tmp_path) == []


async def test_cancelled_upload_leaves_nothing(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        started.set()
        await asyncio.sleep(3600)
        yield b""

    task = asyncio.create_task(
        store_stream(stalls(), uploads_dir=tmp_path, max_bytes=MiB, filename="f")
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\evil\\x.pdf", "x.pdf"),
        ("\x00name", "name"),
        ("/absolute/path/plan.docx", "plan.docx"),
        ("..", "upload"),
        (".hidden", "hidden"),
        ("...", "upload"),
        ("", "upload"),
        (None, "upload"),
        ("  lesson\nplan.pdf  ", "lessonplan.pdf"),
        ("photo\u202egnp.exe", "photognp.exe"),  # a right-to-left override, removed
        ("a" * 300 + ".mp4", "a" * 255),
        ("Café réflexion.pdf", "Café réflexion.pdf"),
    ],
)
def test_clean_filename(raw: str | None, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("name", ["../../etc/passwd", "C:\\evil\\x.pdf", "\x00name", "/srv/x"])
async def test_traversal_names_are_never_paths(tmp_path: Path, name: str) -> None:
    uploads = tmp_path / "data" / "uploads"
    stored = await store(uploads, pdf(), name)
    assert "/" not in stored.filename and "\\" not in stored.filename
    assert "\x00" not in stored.filename and not stored.filename.startswith(".")
    assert stored.path == path_for(uploads, stored.sha256)
    assert files_under(tmp_path) == [stored.path]  # nothing written anywhere else


def test_path_for_takes_only_a_sha256() -> None:
    sha = "ab" * 32
    assert path_for(Path("/u"), sha) == Path("/u/ab") / sha
    for bad in ["../" * 21 + "x", sha.upper(), sha[:-1], sha + "0", "", sha[:-1] + "/"]:
        with pytest.raises(ValueError):
            path_for(Path("/u"), bad)


# --- sniff and check_type --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (png(), "image/png"),
        (jpeg(), "image/jpeg"),
        (pdf(), "application/pdf"),
        (mp4(), "video/mp4"),
        (mp4(b"soun"), "audio/mp4"),  # a voice memo: MP4 with only a sound track
        (webm(1), "video/webm"),
        (webm(2), "audio/webm"),  # a browser audio recording
        (mov_hevc(), "video/quicktime"),  # an iPhone's HEVC .mov
        (wav(), "audio/x-wav"),
        (office(["[Content_Types].xml", "_rels/.rels", "word/document.xml"]), DOCX),
        (office(["docProps/app.xml", "a.xml", "b.xml", "c.xml", "d.xml", "xl/workbook.xml"]), XLSX),
        (office(["notes.txt"]), "application/zip"),
        (ELF, "application/x-executable"),
        (b"just some text, named clip.mp4", None),
    ],
)
def test_sniff_reads_the_bytes(tmp_path: Path, data: bytes, media_type: str | None) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    assert sniff(path) == media_type


def test_sniff_knows_opendocument(tmp_path: Path) -> None:
    path = tmp_path / "x"
    with zipfile.ZipFile(path, "w") as archive:  # as the format requires: mimetype first, stored
        archive.writestr("mimetype", ODT, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", "<x/>")
    assert sniff(path) == ODT


@pytest.mark.parametrize(
    ("filename", "data", "kind", "found"),
    [
        ("report.pdf", png(), "document", "PNG image"),
        ("clip.mp4", ELF, "video", "Linux program (ELF)"),
        ("clip.mp4", b"hello, this is text", "video", "unrecognised"),
        ("memo.m4a", mp4(), "audio", "MP4 video"),
    ],
)
async def test_wrong_type_refused(
    tmp_path: Path, filename: str, data: bytes, kind: str, found: str
) -> None:
    stored = await store(tmp_path, data, filename)
    with pytest.raises(ActionError) as caught:
        check_type(
            stored.media_type, kind=kind, accepted=[], filename=stored.filename, criterion="Item 1"
        )
    error = caught.value
    assert (error.code, error.status) == ("wrong_type", 415)
    assert error.detail.startswith(f"'{filename}' contains {found} data, but Item 1 accepts: ")


def test_check_type_message_lists_what_is_accepted() -> None:
    with pytest.raises(ActionError) as caught:
        check_type("image/png", kind="document", accepted=[], filename="r.pdf", criterion="Plan")
    assert caught.value.detail == (
        "'r.pdf' contains PNG image data, but Plan accepts: PDF document, "
        "Word document (.docx), Excel spreadsheet (.xlsx), PowerPoint presentation (.pptx), "
        "OpenDocument text (.odt), OpenDocument spreadsheet (.ods), "
        "OpenDocument presentation (.odp)."
    )


def test_check_type_accepts_and_narrows() -> None:
    check_type("image/jpeg", kind="image", accepted=[])
    check_type("application/pdf", kind="document", accepted=["application/pdf"])
    check_type("audio/x-wav", kind="audio", accepted=["audio/wav", "audio/mpeg"])  # an alias
    check_type("image/jpeg", kind="image", accepted=["IMAGE/JPG"])
    with pytest.raises(ActionError, match="accepts: JPEG image[.]$"):
        check_type("image/png", kind="image", accepted=["image/jpeg"])
    # A type outside the kind stays refused even if a criterion lists it.
    with pytest.raises(ActionError, match="^This file contains ZIP archive data"):
        check_type("application/zip", kind="document", accepted=["application/zip"])
    with pytest.raises(ActionError, match="accepts: no type MCX can check[.]$"):
        check_type("image/png", kind="image", accepted=["text/html"])
    with pytest.raises(ActionError, match="Site takes a link, not a file"):
        check_type("application/pdf", kind="link", accepted=[], criterion="Site")


def test_kind_types_cover_the_file_kinds() -> None:
    assert set(evidence.KIND_TYPES) == {"video", "audio", "image", "document"}
    assert "application/msword" not in evidence.KIND_TYPES["document"]
    for types in evidence.KIND_TYPES.values():
        assert types <= set(evidence.TYPE_NAMES)


# --- check_stored ----------------------------------------------------------------------


def keep(tmp_path: Path, data: bytes) -> evidence.StoredFile:
    """Store bytes as store_stream would; what the database would then hold about them."""
    sha = hashlib.sha256(data).hexdigest()
    path = path_for(tmp_path, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return evidence.StoredFile(sha, len(data), sniff(path), path, "f")


def check(stored: evidence.StoredFile, **changes: object) -> str | None:
    facts: dict[str, object] = {
        "sha256": stored.sha256,
        "size": stored.size,
        "media_type": stored.media_type,
    }
    return check_stored(stored.path, **(facts | changes))  # type: ignore[arg-type]


GOOD = [
    png(),
    heic(),
    jpeg(),
    pdf(),
    mp4(),
    mp4(b"soun"),
    webm(1),
    webm(2),
    wav(),
    mov_hevc(),
    office(["[Content_Types].xml", "word/document.xml"]),
]


@pytest.mark.parametrize("data", GOOD)
def test_check_stored_passes_good_files(tmp_path: Path, data: bytes) -> None:
    assert check(keep(tmp_path, data)) is None


async def test_check_stored_after_store_stream(tmp_path: Path) -> None:
    stored = await store(tmp_path, jpeg(), "photo.jpg")
    reason = await evidence.check_stored_async(
        stored.path, sha256=stored.sha256, size=stored.size, media_type=stored.media_type
    )
    assert reason is None


def test_check_stored_spots_a_missing_file(tmp_path: Path) -> None:
    stored = keep(tmp_path, png())
    stored.path.unlink()
    assert check(stored) == "the file is missing"


def test_check_stored_spots_a_changed_file(tmp_path: Path) -> None:
    stored = keep(tmp_path, png())
    stored.path.write_bytes(png() + b"appended")
    assert check(stored) == "the file changed since upload (its size differs)"
    same_size = bytearray(png())
    same_size[-20] ^= 0xFF
    stored.path.write_bytes(same_size)
    assert check(stored) == "the file changed since upload (its contents differ)"


def test_check_stored_spots_a_type_that_does_not_match(tmp_path: Path) -> None:
    stored = keep(tmp_path, png())
    assert check(stored, media_type="application/pdf") == (
        "the file's type no longer matches the upload"
    )


def test_check_stored_spots_an_unreadable_file(tmp_path: Path) -> None:
    stored = keep(tmp_path, png())
    stored.path.unlink()
    stored.path.mkdir()  # a directory where the file should be
    assert check(stored) == "the file is missing"


DAMAGED = "is damaged or incomplete"
NOT_MEDIA = "Invalid data found when processing input"  # FFmpeg's words
THREE_SECONDS = clip([(3, "moving", "tone")], faststart=True)
WEBM_THREE_SECONDS = clip(
    [(3, "moving", "tone")], container="webm", video_codec="libvpx", audio_codec="libopus"
)
AUDIO_THREE_SECONDS = clip([(3, "moving", "tone")], video_codec=None, faststart=True)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (png()[:-30], f"the image {DAMAGED}"),
        (jpeg()[:-200], f"the image {DAMAGED}"),
        (heic(meta=False), f"the image {DAMAGED} (no 'meta' box)"),
        (mp4(moov=False), f"the video does not open ({NOT_MEDIA})"),
        (mp4()[:4000], f"the video does not open ({NOT_MEDIA})"),
        (
            THREE_SECONDS[: len(THREE_SECONDS) // 2],
            "the video is cut short: it stops at 0:01 of 0:03",
        ),
        (
            WEBM_THREE_SECONDS[: len(WEBM_THREE_SECONDS) // 2],
            "the video is cut short: it stops at 0:01 of 0:03",
        ),
        (
            AUDIO_THREE_SECONDS[: len(AUDIO_THREE_SECONDS) // 2],
            "the audio file is cut short: it stops at 0:01 of 0:03",
        ),
        (pdf()[:-12], "the PDF is damaged or incomplete (no %%EOF at the end)"),
        (b"%PDF" + pdf()[5:], "the PDF is damaged (no %PDF- header)"),
        (office(["word/document.xml"])[:-30], f"the document {DAMAGED} (not a complete archive)"),
    ],
)
def test_check_stored_spots_damage(tmp_path: Path, data: bytes, reason: str) -> None:
    assert check(keep(tmp_path, data)) == reason


def test_check_stored_refuses_decompression_bombs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    for size in [(15, 10), (40, 40)]:  # Pillow's warning zone (1x-2x), then its error zone
        stored = keep(tmp_path, png(size))
        with pytest.warns(Image.DecompressionBombWarning) if size == (15, 10) else nullcontext():
            reason = check(stored)
        assert reason == "the image is too large to open safely"


# --- links and reflections -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/lesson",
        "  http://example.org/a?b=c#d  ",
        "https://sub.example.org:8443/x",
        "https://[2001:db8::1]/v",
        "https://bücher.example/ü",
    ],
)
def test_good_links(url: str) -> None:
    assert validate_link(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "javascript:alert(1)",
        "ftp://example.org/x",
        "example.org/lesson",
        "https://",
        "https:///path-only",
        "https://user:secret@example.org/",
        "https://user@example.org/",
        "https://example.org/a b",
        "https://example.org/a\nb",
        "https://example.org:99999/",
        "https://<script>/",
        "https://example.org/" + "a" * 2000,
    ],
)
def test_bad_links(url: str) -> None:
    with pytest.raises(ActionError) as caught:
        validate_link(url)
    assert (caught.value.code, caught.value.status) == ("bad_link", 400)


def test_reflection_is_trimmed_and_counted_as_typed() -> None:
    assert validate_reflection("  I tried it.\r\nIt worked.\n ") == "I tried it.\nIt worked."
    assert validate_reflection("ab\r\ncd", max_chars=5) == "ab\ncd"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Write your reflection"),
        (" \n\t ", "Write your reflection"),
        ("x" * 21, "21 characters; the limit is 20"),
        ("before\x00after", "NUL"),
    ],
)
def test_bad_reflections(text: str, fragment: str) -> None:
    with pytest.raises(ActionError) as caught:
        validate_reflection(text, max_chars=20)
    assert caught.value.code == "bad_reflection" and caught.value.status == 400
    assert fragment in caught.value.detail
