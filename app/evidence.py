"""Evidence files: streamed to disk, content-addressed, sniffed, checked.

Files live at `uploads/<sha[:2]>/<sha256>` and are only ever found by hash; the earner's
file name is a display label. Types come from the bytes, never from the file name or the
client's Content-Type. No database access here: actions and workers call these.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import anyio.to_thread
import filetype
from PIL import Image

from app.errors import ActionError
from app.models.credentials import ArtifactKind

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"

# Media type -> the name people see. Within a kind, this is the order error messages use.
TYPE_NAMES: dict[str, str] = {
    "video/mp4": "MP4 video",
    "video/quicktime": "QuickTime video (.mov)",
    "video/webm": "WebM video",
    "video/x-matroska": "Matroska video (.mkv)",
    "video/3gpp": "3GP video",
    "video/x-m4v": "M4V video",
    "audio/mpeg": "MP3 audio",
    "audio/mp4": "M4A audio",
    "audio/x-wav": "WAV audio",
    "audio/ogg": "Ogg audio",
    "audio/webm": "WebM audio",
    "audio/aac": "AAC audio",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "image/heic": "HEIC image",
    "application/pdf": "PDF document",
    DOCX: "Word document (.docx)",
    XLSX: "Excel spreadsheet (.xlsx)",
    PPTX: "PowerPoint presentation (.pptx)",
    ODT: "OpenDocument text (.odt)",
    ODS: "OpenDocument spreadsheet (.ods)",
    ODP: "OpenDocument presentation (.odp)",
    # Refused everywhere; named so that the refusal says what the file really is.
    "application/zip": "ZIP archive",
    "application/x-executable": "Linux program (ELF)",
    "application/x-msdownload": "Windows program (.exe)",
    "application/msword": "Word 97-2003 document (.doc)",
}
_KINDS: dict[str, tuple[str, ...]] = {
    kind: tuple(t for t in TYPE_NAMES if t.startswith(f"{kind}/"))
    for kind in (ArtifactKind.video, ArtifactKind.audio, ArtifactKind.image)
}
# Legacy .doc/.xls/.ppt are left out: filetype knows them only by layout details that
# many real files lack, so accepting them would mean refusing some at random.
_KINDS[ArtifactKind.document] = ("application/pdf", DOCX, XLSX, PPTX, ODT, ODS, ODP)
KIND_TYPES: dict[str, frozenset[str]] = {kind: frozenset(ts) for kind, ts in _KINDS.items()}
# Other spellings (a coordinator's accepted_types, browsers) of the types sniff() returns.
ALIASES = {"audio/wav": "audio/x-wav", "audio/wave": "audio/x-wav", "audio/mp3": "audio/mpeg"}
ALIASES |= {"audio/m4a": "audio/mp4", "audio/x-m4a": "audio/mp4", "image/jpg": "image/jpeg"}

_CHUNK = 1024 * 1024  # disk writes and hashing go in pieces of this size
_MAX_CHILDREN = 10_000  # boxes/elements walked per level of a container, at most
_ISO = {"video/mp4", "video/quicktime", "video/3gpp", "video/x-m4v", "audio/mp4", "image/heic"}


@dataclass(frozen=True)
class StoredFile:
    """An upload kept on disk at `path`, which is path_for(uploads_dir, sha256)."""

    sha256: str
    size: int
    media_type: str | None  # sniffed from the bytes; None when unrecognised
    path: Path
    filename: str  # a display label only, from clean_filename()


def path_for(uploads_dir: Path, sha256: str) -> Path:
    """Where the file with this hash lives; ValueError unless sha256 is 64 lowercase hex."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256 hex digest")
    return uploads_dir / sha256[:2] / sha256


def clean_filename(name: str | None) -> str:
    """A safe display label: the last path part, no control or format characters, no
    leading dots, ≤ 255 characters (extension kept); "upload" if nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    # Cc: controls (NUL, newlines); Cf: marks like the right-to-left override that shows
    # "x.exe" as "exe.x"; Cs: lone surrogates PostgreSQL cannot store; Zl/Zp: line breaks.
    bad = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    text = "".join(ch for ch in text if unicodedata.category(ch) not in bad)
    text = re.split(r"[/\\]", text)[-1].strip().lstrip(".").strip()
    if len(text) > 255:
        stem, dot, ext = text.rpartition(".")
        text = f"{stem[: 254 - len(ext)]}.{ext}" if dot and len(ext) <= 16 else text[:255]
    return text or "upload"


def _human_size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            return f"{round(n / scale, 1):g} {unit}"
    return f"{n} bytes"


async def store_stream(
    chunks: AsyncIterator[bytes], *, uploads_dir: Path, max_bytes: int, filename: str | None
) -> StoredFile:
    """Stream an upload to path_for(uploads_dir, sha), hashing on the way, ~1 MiB in memory.

    ActionError too_large (413; reading stops there) or empty_file (400). On any failure,
    cancellation included, nothing is left on disk. Identical content is stored once. The
    caller owns `chunks`, and checks the sniffed type with check_type() afterwards."""
    name = clean_filename(filename)
    fd, tmp_name = await anyio.to_thread.run_sync(_open_temp, uploads_dir / "tmp")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            pending = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    limit = _human_size(max_bytes)
                    raise ActionError(
                        "too_large", f"'{name}' is larger than the {limit} limit.", 413
                    )
                pending += chunk
                if len(pending) >= _CHUNK:
                    # The thread is done with the buffer before it is touched again.
                    await anyio.to_thread.run_sync(_write, out, digest, pending)
                    pending.clear()
            await anyio.to_thread.run_sync(_write, out, digest, pending, True)
        if size == 0:
            raise ActionError("empty_file", f"'{name}' is empty.", 400)
        sha = digest.hexdigest()
        media_type = await anyio.to_thread.run_sync(sniff, tmp)
        final = path_for(uploads_dir, sha)
        await anyio.to_thread.run_sync(_keep, tmp, final, size)
    except BaseException:
        _discard(tmp)  # not awaited: a cancelled task may not get to await anything more
        raise
    return StoredFile(sha256=sha, size=size, media_type=media_type, path=final, filename=name)


def _open_temp(tmp_dir: Path) -> tuple[int, str]:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=tmp_dir, prefix="upload-")


def _write(out: BinaryIO, digest: hashlib._Hash, data: bytearray, last: bool = False) -> None:
    digest.update(data)
    out.write(data)
    if last:  # on disk for good before a database row points at it
        out.flush()
        os.fsync(out.fileno())


def _keep(tmp: Path, final: Path, size: int) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_file() and final.stat().st_size == size:
        tmp.unlink()  # the same bytes are already stored
    else:
        os.replace(tmp, final)  # atomic: readers see no file or the whole file


def _discard(tmp: Path) -> None:
    tmp.unlink(missing_ok=True)


def sniff(path: Path) -> str | None:
    """The media type from the file's magic bytes (filetype, refined below), or None.
    Blocking; OSError if the file cannot be read."""
    guessed = filetype.guess_mime(path)
    if guessed == "application/zip":
        return _sniff_zip(path)
    # filetype calls every MP4 and WebM a video; audio-only ones (voice memos, browser
    # recordings) are told apart by the types of their tracks.
    if guessed == "video/mp4" and _leaves(path, _boxes, _MP4_HANDLER, 8, 4) == {b"soun"}:
        return "audio/mp4"
    if guessed == "video/webm" and _leaves(path, _elements, _WEBM_TRACK, 0, 1) == {b"\x02"}:
        return "audio/webm"
    return guessed


def _sniff_zip(path: Path) -> str:
    """Office files whose parts are not in the order filetype expects: ask the archive."""
    parts = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for part in names & parts.keys():
                return parts[part]
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 100:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if declared in (ODT, ODS, ODP):
                    return declared
    except (zipfile.BadZipFile, OSError, ValueError):
        pass  # a broken archive is still an archive
    return "application/zip"


def check_type(
    media_type: str | None,
    *,
    kind: str,
    accepted: Sequence[str],
    filename: str | None = None,
    criterion: str = "this item",
) -> None:
    """ActionError wrong_type (415) unless the sniffed type is one of the kind's KIND_TYPES
    and, when `accepted` is non-empty, one of those too (aliases such as audio/wav allowed)."""
    if kind not in KIND_TYPES:
        if kind in (ArtifactKind.link, ArtifactKind.reflection):
            raise ActionError("wrong_type", f"{criterion} takes a {kind}, not a file.", 415)
        raise ValueError(f"unknown artifact kind {kind!r}")
    allowed = KIND_TYPES[kind]
    if accepted:
        allowed = allowed & {ALIASES.get(t.lower(), t.lower()) for t in accepted}
    if media_type in allowed:
        return
    subject = f"'{filename}'" if filename else "This file"
    found = TYPE_NAMES.get(media_type or "", media_type or "unrecognised")
    names = ", ".join(TYPE_NAMES[t] for t in _KINDS[kind] if t in allowed)
    message = f"{subject} contains {found} data, but {criterion} accepts: {names}."
    raise ActionError("wrong_type", message, 415)


class _Damaged(Exception):
    """A container whose structure does not add up; the message says where."""


def check_stored(path: Path, *, sha256: str, size: int, media_type: str | None) -> str | None:
    """None when the stored file is still the one uploaded and opens as its type; else the
    reason, in words for the earner. Blocking; reads the whole file once."""
    try:
        if not path.is_file():
            return "the file is missing"
        if path.stat().st_size != size:
            return "the file changed since upload (its size differs)"
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(_CHUNK):
                digest.update(block)
        if digest.hexdigest() != sha256:
            return "the file changed since upload (its contents differ)"
        if sniff(path) != media_type:
            return "the file's type no longer matches the upload"
        return _opens(path, media_type or "", size)
    except OSError:
        return "the file cannot be read"


async def check_stored_async(
    path: Path, *, sha256: str, size: int, media_type: str | None
) -> str | None:
    """check_stored() in a worker thread, for async callers."""

    def run() -> str | None:
        return check_stored(path, sha256=sha256, size=size, media_type=media_type)

    return await anyio.to_thread.run_sync(run)


def _opens(path: Path, media_type: str, size: int) -> str | None:
    """Whether the file opens as its type: a structural check, not a full decode."""
    what = {"video": "the video file", "audio": "the audio file", "image": "the image"}
    damaged = f"{what.get(media_type.partition('/')[0], 'the document')} is damaged or incomplete"
    try:
        with path.open("rb") as f:
            head = f.read(16)
            if media_type in _ISO:
                needed = b"meta" if media_type == "image/heic" else b"moov"
                if needed not in [kind for kind, _, _ in _boxes(f, 0, size)]:
                    return f"{damaged} (no '{needed.decode()}' box)"
            elif media_type in ("video/webm", "video/x-matroska", "audio/webm"):
                ids = [eid for eid, _, _ in _elements(f, 0, size)]
                if ids[:1] != [_EBML] or _SEGMENT not in ids:
                    return f"{damaged} (no EBML header and segment)"
            elif media_type == "application/pdf":
                if not head.removeprefix(b"\xef\xbb\xbf").startswith(b"%PDF-"):
                    return "the PDF is damaged (no %PDF- header)"
                f.seek(max(0, size - 1024))  # readers look for the trailer in the last 1 KiB
                if b"%%EOF" not in f.read():
                    return "the PDF is damaged or incomplete (no %%EOF at the end)"
            elif media_type == "audio/x-wav":
                declared = int.from_bytes(head[4:8], "little")
                # 0 and 0xFFFFFFFF are what streaming recorders write for "length unknown".
                if declared not in (0, 0xFFFFFFFF) and declared + 8 > size:
                    return f"{damaged} (shorter than its header says)"
            elif media_type.startswith("image/"):
                return _image_opens(path, damaged)
            elif media_type in (DOCX, XLSX, PPTX, ODT, ODS, ODP):
                zipfile.ZipFile(f).close()  # reads the central directory, which comes last
    except _Damaged as exc:
        return f"{damaged} ({exc})"
    except zipfile.BadZipFile:
        return f"{damaged} (not a complete archive)"
    return None


def _image_opens(path: Path, damaged: str) -> str | None:
    formats = ["JPEG", "PNG", "GIF", "WEBP"]
    try:
        with Image.open(path, formats=formats) as img:
            # Pillow only warns between 1x and 2x its pixel limit; refuse that zone too,
            # per call (warning filters are process-wide and not thread-safe).
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and img.width * img.height > limit:
                return "the image is too large to open safely"
            img.verify()  # structure and checksums, without decoding
        with Image.open(path, formats=formats) as img:
            img.draft(None, (1, 1))  # JPEG decodes at 1/8 scale: cheap, yet reads every byte
            img.load()  # catches cut-off pixel data, which verify() does not
    except Image.DecompressionBombError:
        return "the image is too large to open safely"
    except Exception:  # Pillow raises many types here (OSError, SyntaxError, struct.error...)
        return damaged
    return None


def _boxes(f: BinaryIO, start: int, end: int) -> Iterator[tuple[object, int, int]]:
    """ISO-BMFF (MP4/MOV/HEIC) boxes in [start, end): (type, payload start, box end)."""
    pos = start
    for _ in range(_MAX_CHILDREN):
        if pos + 8 > end:
            return
        f.seek(pos)
        head = f.read(16)
        length, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if length == 1:  # a 64-bit size follows
            length, header = int.from_bytes(head[8:16], "big"), 16
        elif length == 0:  # runs to the end
            length = end - pos
        if length < header or pos + length > end:
            raise _Damaged(f"box '{kind.decode('latin-1')}' runs past the end of the file")
        yield kind, pos + header, pos + length
        pos += length


_EBML, _SEGMENT = 0x1A45DFA3, 0x18538067
_WEBM_TRACK = [_SEGMENT, 0x1654AE6B, 0xAE, 0x83]  # Segment > Tracks > TrackEntry > TrackType
_MP4_HANDLER = [b"moov", b"trak", b"mdia", b"hdlr"]  # 'vide', 'soun', ... after 8 bytes


def _vint(data: bytes, pos: int) -> tuple[int, int, int]:
    """An EBML variable-length integer at pos: (raw, value without length marker, length)."""
    if pos >= len(data) or data[pos] == 0:
        raise _Damaged("a bad element header")
    length = 9 - data[pos].bit_length()
    raw = int.from_bytes(data[pos : pos + length], "big")
    return raw, raw & ((1 << (7 * length)) - 1), length


def _elements(f: BinaryIO, start: int, end: int) -> Iterator[tuple[object, int, int]]:
    """EBML (WebM/Matroska) elements in [start, end): (id, data start, data end)."""
    pos = start
    for _ in range(_MAX_CHILDREN):
        if pos >= end:
            return
        f.seek(pos)
        head = f.read(12)
        element_id, _, id_length = _vint(head, 0)
        _, size, size_length = _vint(head, id_length)
        data = pos + id_length + size_length
        # All ones means "size unknown" (live recordings): the element runs to its parent's end.
        stop = end if size == (1 << (7 * size_length)) - 1 else data + size
        if stop > end or id_length + size_length > len(head):
            raise _Damaged("an element runs past the end of the file")
        yield element_id, data, stop
        pos = stop


Children = Callable[[BinaryIO, int, int], Iterator[tuple[object, int, int]]]


def _find(
    f: BinaryIO, children: Children, route: Sequence[object], start: int, end: int
) -> list[int]:
    """Start offsets of every element reached by `route` in [start, end), up to any damage."""
    if not route:
        return [start]
    found: list[int] = []
    try:
        for kind, s, e in children(f, start, end):
            if kind == route[0]:
                found += _find(f, children, route[1:], s, e)
    except _Damaged:
        pass  # what came before the damage still counts
    return found


def _leaves(
    path: Path, children: Children, route: Sequence[object], skip: int, n: int
) -> set[bytes]:
    """The n bytes at offset `skip` into every element reached by `route`."""
    with path.open("rb") as f:
        found = set()
        for start in _find(f, children, route, 0, os.fstat(f.fileno()).st_size):
            f.seek(start + skip)
            found.add(f.read(n))
        return found


def validate_link(url: str) -> str:
    """The link, trimmed, if it is http(s) with a host, no credentials, no spaces and at
    most 2000 characters; else ActionError bad_link (400)."""
    link = url.strip()
    problem = _link_problem(link)
    if problem:
        raise ActionError("bad_link", problem, 400)
    return link


def _link_problem(link: str) -> str | None:
    if not link:
        return "Enter a link."
    if len(link) > 2000:
        return "That link is too long (2000 characters at most)."
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in link):
        return "A link cannot contain spaces or line breaks."
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 (reading the port is what raises on a bad one)
    except ValueError:
        return "That is not a valid link."
    if parts.scheme.lower() not in ("http", "https"):
        return "Links must start with http:// or https://."
    if not re.fullmatch(r"[\w.\-:]+", parts.hostname or ""):
        return "That link has no valid web address."
    if "@" in parts.netloc:
        return "Links must not contain a user name or password."
    return None


def validate_reflection(text: str, *, max_chars: int = 20000) -> str:
    """The reflection with \\n line breaks and outer whitespace trimmed; ActionError
    bad_reflection (400) if empty, longer than max_chars, or containing NUL."""
    # Browsers send a textarea's line breaks as \r\n; count each as one character, as typed.
    body = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise ActionError("bad_reflection", "Write your reflection first.", 400)
    if len(body) > max_chars:
        message = f"The reflection is {len(body):,} characters; the limit is {max_chars:,}."
        raise ActionError("bad_reflection", message, 400)
    if "\x00" in body:  # PostgreSQL text cannot hold NUL
        raise ActionError("bad_reflection", "The reflection contains a NUL character.", 400)
    return body
