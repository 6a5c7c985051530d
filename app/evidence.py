"""Evidence files: streamed to disk, content-addressed, sniffed, checked.

Files live at `uploads/<sha[:2]>/<sha256>` and are only ever found by hash; the earner's
file name is a display label. Types come from the bytes, never from the file name or the
client's Content-Type. No database access here: actions and workers call these.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import anyio.to_thread
import av
import filetype
from PIL import Image

from app.errors import ActionError
from app.media.probe import MediaError, probe
from app.models.credentials import ArtifactKind

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT, ODS, ODP = (
    f"application/vnd.oasis.opendocument.{k}" for k in ("text", "spreadsheet", "presentation")
)

# Media type (as sniff() names it), the name people see, the kind that takes it by default.
# Kind None: refused everywhere, named so a refusal says what the file is. Legacy .doc/.xls/
# .ppt are refused: filetype knows them by layout details many real files lack.
TYPES: tuple[tuple[str, str, str | None], ...] = (
    ("video/mp4", "MP4 video", ArtifactKind.video),
    ("video/quicktime", "QuickTime video (.mov)", ArtifactKind.video),
    ("video/webm", "WebM video", ArtifactKind.video),
    ("video/x-matroska", "Matroska video (.mkv)", ArtifactKind.video),
    ("video/x-m4v", "M4V video", ArtifactKind.video),
    ("audio/mpeg", "MP3 audio", ArtifactKind.audio),
    ("audio/mp4", "M4A audio", ArtifactKind.audio),
    ("audio/x-wav", "WAV audio", ArtifactKind.audio),
    ("audio/ogg", "Ogg audio", ArtifactKind.audio),
    ("audio/webm", "WebM audio", ArtifactKind.audio),
    ("audio/aac", "AAC audio", ArtifactKind.audio),
    ("image/jpeg", "JPEG image", ArtifactKind.image),
    ("image/png", "PNG image", ArtifactKind.image),
    ("image/gif", "GIF image", ArtifactKind.image),
    ("image/webp", "WebP image", ArtifactKind.image),
    ("image/heic", "HEIC image", ArtifactKind.image),
    ("application/pdf", "PDF document", ArtifactKind.document),
    (DOCX, "Word document (.docx)", ArtifactKind.document),
    (XLSX, "Excel spreadsheet (.xlsx)", ArtifactKind.document),
    (PPTX, "PowerPoint presentation (.pptx)", ArtifactKind.document),
    (ODT, "OpenDocument text (.odt)", ArtifactKind.document),
    (ODS, "OpenDocument spreadsheet (.ods)", ArtifactKind.document),
    (ODP, "OpenDocument presentation (.odp)", ArtifactKind.document),
    ("application/zip", "ZIP archive", None),
    ("application/x-executable", "Linux program (ELF)", None),
    ("application/x-msdownload", "Windows program (.exe)", None),
    ("application/msword", "Word 97-2003 document (.doc)", None),
)
TYPE_NAMES: dict[str, str] = {media_type: name for media_type, name, _ in TYPES}
_BY_KIND = [(kind, frozenset(t for t, _, k in TYPES if k == kind)) for kind in ArtifactKind]
KIND_TYPES: dict[str, frozenset[str]] = {kind: types for kind, types in _BY_KIND if types}
# Other spellings (a coordinator's accepted_types, browsers) of the types sniff() returns.
ALIASES = {"audio/wav": "audio/x-wav", "audio/wave": "audio/x-wav", "audio/mp3": "audio/mpeg"}
ALIASES |= {"audio/m4a": "audio/mp4", "audio/x-m4a": "audio/mp4", "image/jpg": "image/jpeg"}

_CHUNK = 1024 * 1024  # disk writes and hashing go in pieces of this size
_MAX_BOXES = 10_000  # top-level boxes walked in a HEIC image, at most


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
    leading dots, at most 255 characters; "upload" if nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    # Cc: controls (NUL, newlines); Cf: marks like the right-to-left override that shows
    # "x.exe" as "exe.x"; Cs: lone surrogates PostgreSQL cannot store; Zl/Zp: line breaks.
    bad = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    text = "".join(ch for ch in text if unicodedata.category(ch) not in bad)
    text = re.split(r"[/\\]", text)[-1].strip().lstrip(".").strip()
    return text[:255] or "upload"


async def store_stream(
    chunks: AsyncIterator[bytes], *, uploads_dir: Path, max_bytes: int, filename: str | None
) -> StoredFile:
    """Stream an upload to path_for(uploads_dir, sha), hashing on the way, ~1 MiB in memory.
    ActionError too_large (413; reading stops there) or empty_file (400); on any failure,
    cancellation included, nothing stays on disk. Identical content is stored once. The
    caller owns `chunks` and checks the sniffed type with check_type() afterwards."""
    name = clean_filename(filename)
    os.makedirs(uploads_dir / "tmp", exist_ok=True)  # both cheap enough for the event loop
    fd, tmp_name = tempfile.mkstemp(dir=uploads_dir / "tmp", prefix="upload-")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    size = 0
    limit = f"{round(max_bytes / 1024**2, 1):g} MB"
    too_large = ActionError("too_large", f"'{name}' is larger than the {limit} limit.", 413)
    try:
        with os.fdopen(fd, "wb") as out:
            pending = bytearray()
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
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
        # Not awaited: a cancelled task may not get to await anything more.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return StoredFile(sha256=sha, size=size, media_type=media_type, path=final, filename=name)


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


def sniff(path: Path) -> str | None:
    """The media type from the file's magic bytes (filetype, refined below), or None.
    Blocking; OSError if the file cannot be read."""
    guessed = filetype.guess_mime(path)
    if guessed == "application/zip":
        return _sniff_zip(path)
    # filetype calls every MP4 and WebM a video; audio-only ones (voice memos, browser
    # recordings) are told apart by the kinds of their tracks.
    if guessed in ("video/mp4", "video/webm") and _track_kinds(path) == {"audio"}:
        return guessed.replace("video/", "audio/")
    return guessed


def _sniff_zip(path: Path) -> str:
    """OOXML files whose parts filetype misses (it wants them in one order): ask the zip."""
    parts = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
    try:
        with zipfile.ZipFile(path) as archive:
            for part in set(archive.namelist()) & parts.keys():
                return parts[part]
    except (zipfile.BadZipFile, OSError, ValueError):
        pass  # a broken archive is still an archive
    return "application/zip"


def _track_kinds(path: Path) -> set[str]:
    """The kinds ("video", "audio") of a media file's tracks, as FFmpeg reads its header;
    an empty set when it does not open."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return {s.type for s in container.streams if s.type in ("video", "audio")}
    except (av.FFmpegError, OSError, ValueError):
        return set()


def _boxes(f: BinaryIO, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Top-level ISO-BMFF (HEIC) boxes: (type, payload start, box end). The walk
    stops at a box that runs past `end`: a file cut short ends before its last box does."""
    pos = 0
    for _ in range(_MAX_BOXES):
        if pos + 8 > end:
            return
        f.seek(pos)
        head = f.read(16)
        length, kind, header = int.from_bytes(head[:4], "big"), head[4:8], 8
        if length == 1:  # a 64-bit size follows
            length, header = int.from_bytes(head[8:16], "big"), 16
        elif length == 0:  # runs to the end of the file
            length = end - pos
        if length < header or pos + length > end:
            return
        yield kind, pos + header, pos + length
        pos += length


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
    if kind not in KIND_TYPES:  # a link or a reflection
        raise ActionError("wrong_type", f"{criterion} takes a {kind}, not a file.", 415)
    allowed = KIND_TYPES[kind]
    if accepted:
        allowed = allowed & {ALIASES.get(t.lower(), t.lower()) for t in accepted}
    if media_type in allowed:
        return
    subject = f"'{filename}'" if filename else "This file"
    found = TYPE_NAMES.get(media_type or "", media_type or "unrecognised")
    names = ", ".join(name for t, name, _ in TYPES if t in allowed) or "no type MCX can check"
    message = f"{subject} contains {found} data, but {criterion} accepts: {names}."
    raise ActionError("wrong_type", message, 415)


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
    check = partial(check_stored, path, sha256=sha256, size=size, media_type=media_type)
    return await anyio.to_thread.run_sync(check)


def _opens(path: Path, media_type: str, size: int) -> str | None:
    """Whether the file opens as its type: video and audio are opened and partly decoded
    by FFmpeg (app.media.probe); the others get a structural check, not a full decode."""
    family = media_type.partition("/")[0]
    if family in ("video", "audio"):
        try:
            probe(path, want=family)
        except MediaError as error:
            return str(error)
        return None
    what = {"image": "the image"}
    damaged = f"{what.get(family, 'the document')} is damaged or incomplete"
    try:
        with path.open("rb") as f:
            head = f.read(64)
            if media_type == "image/heic":
                boxes = list(_boxes(f, size))
                if not boxes or boxes[-1][2] + 8 <= size:  # bytes left over that make no box
                    return f"{damaged} (it ends in the middle of a box)"
                if b"meta" not in [kind for kind, _, _ in boxes]:
                    return f"{damaged} (no 'meta' box)"
            elif media_type == "application/pdf":
                if not head.removeprefix(b"\xef\xbb\xbf").startswith(b"%PDF-"):
                    return "the PDF is damaged (no %PDF- header)"
                f.seek(max(0, size - 1024))  # readers look for the trailer in the last 1 KiB
                if b"%%EOF" not in f.read():
                    return "the PDF is damaged or incomplete (no %%EOF at the end)"
            elif media_type.startswith("image/"):
                return _image_opens(path, damaged)
            elif media_type in KIND_TYPES[ArtifactKind.document]:  # the zipped office formats
                zipfile.ZipFile(f).close()  # reads the central directory, which comes last
    except zipfile.BadZipFile:
        return f"{damaged} (not a complete archive)"
    return None


def _image_opens(path: Path, damaged: str) -> str | None:
    formats = ["JPEG", "PNG", "GIF", "WEBP"]  # HEIC is checked by its boxes: Pillow lacks it
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


def validate_link(url: str) -> str:
    """The link, trimmed, if it is http(s) with a host, no credentials, no spaces and at
    most 2000 characters; else ActionError bad_link (400)."""
    link = url.strip()
    if not link:
        raise ActionError("bad_link", "Enter a link.", 400)
    if len(link) > 2000:
        raise ActionError("bad_link", "That link is too long (2000 characters at most).", 400)
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in link):
        raise ActionError("bad_link", "A link cannot contain spaces or line breaks.", 400)
    try:
        parts = urlsplit(link)
        parts.port  # noqa: B018 (reading the port is what raises on a bad one)
    except ValueError:
        raise ActionError("bad_link", "That is not a valid link.", 400) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ActionError("bad_link", "Links must start with http:// or https://.", 400)
    if not re.fullmatch(r"[\w.\-:]+", parts.hostname or ""):
        raise ActionError("bad_link", "That link has no valid web address.", 400)
    if "@" in parts.netloc:
        raise ActionError("bad_link", "Links must not contain a user name or password.", 400)
    return link


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
