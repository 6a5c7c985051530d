"""Tiny real media files built from bytes at run time, for tests and benchmarks.

Each is the smallest file its real parser accepts (Pillow, the MP4/WebM box walkers in
app/evidence.py); nothing is downloaded or committed as a binary.
"""

from __future__ import annotations

import io
import wave
import zipfile
from collections.abc import Iterable

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


def mp4(handler: bytes = b"vide", *, moov: bool = True) -> bytes:
    """ftyp + moov (one track with this handler) + mdat, as a phone writes them."""
    ftyp = box(b"ftyp", b"isom" + (0x200).to_bytes(4, "big") + b"isomiso2mp41")
    hdlr = box(b"hdlr", bytes(8) + handler + bytes(12) + b"Handler\x00")
    track = box(b"trak", box(b"tkhd", bytes(84)) + box(b"mdia", box(b"mdhd", bytes(24)) + hdlr))
    movie = box(b"moov", box(b"mvhd", bytes(100)) + track)
    return ftyp + (movie if moov else b"") + box(b"mdat", bytes(range(256)) * 8)


def heic(*, meta: bool = True) -> bytes:
    ftyp = box(b"ftyp", b"heic" + bytes(4) + b"mif1heic")
    return (
        ftyp
        + (box(b"meta", bytes(4) + box(b"hdlr", bytes(24))) if meta else b"")
        + box(b"mdat", bytes(64))
    )


def ebml(element_id: bytes, payload: bytes) -> bytes:
    assert len(payload) < 127
    return element_id + bytes([0x80 | len(payload)]) + payload


def webm(track_type: int = 1, *, segment_size: int | None = None) -> bytes:
    """EBML header (DocType webm) + Segment > Tracks > TrackEntry > TrackType + Cluster."""
    header = ebml(b"\x1a\x45\xdf\xa3", ebml(b"\x42\x86", b"\x01") + ebml(b"\x42\x82", b"webm"))
    entry = ebml(b"\xae", ebml(b"\xd7", b"\x01") + ebml(b"\x83", bytes([track_type])))
    body = ebml(b"\x16\x54\xae\x6b", entry) + ebml(b"\x1f\x43\xb6\x75", ebml(b"\xe7", b"\x00"))
    declared = len(body) if segment_size is None else segment_size
    size = bytes([0x01]) + declared.to_bytes(7, "big")  # an 8-byte EBML size
    return header + b"\x18\x53\x80\x67" + size + body


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
