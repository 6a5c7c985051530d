"""Baking: an Open Badge carried inside its own image.

PNG: an iTXt chunk, keyword `openbadges` (2.0) or `openbadgecredential` (3.0), placed right
after IHDR; the image's own bytes are kept as they are. SVG, as the baking sections write it:
OB 3.0 `<openbadges:credential>` (https://purl.imsglobal.org/ob/v3p0) carries a VC-JWT in its
`verify` attribute, or a JSON credential with an embedded proof as CDATA text; OB 2.0
`<openbadges:assertion verify="ASSERTION URL">` (http://openbadges.org) carries the assertion
JSON as CDATA. Reading accepts both placements (and the JWT as text, as older bakers wrote
it), walks PNG chunks without decoding pixels and parses SVG without entities.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
OB2_KEYWORD = "openbadges"
OB3_KEYWORD = "openbadgecredential"
OB2_NS = "http://openbadges.org"
OB3_NS = "https://purl.imsglobal.org/ob/v3p0"
MAX_IMAGE_BYTES = 5 * 1024 * 1024


class BakingError(ValueError):
    """The image is not a badge MCX can read; the message says why in plain words."""


@dataclass(frozen=True)
class Baked:
    version: str  # "2.0" or "3.0"
    payload: str  # an OB 2.0 assertion (JSON or URL), or an OB 3.0 credential (JWT or JSON)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(png: bytes) -> list[tuple[bytes, bytes, int, int]]:
    if not png.startswith(PNG_MAGIC):
        raise BakingError("This file is not a PNG image.")
    found = []
    at = len(PNG_MAGIC)
    while at < len(png):
        if at + 12 > len(png):
            raise BakingError("The PNG image is cut short.")
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(png):
            raise BakingError("The PNG image is cut short.")
        data = png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[end - 4 : end])
        if zlib.crc32(kind + data) != crc:
            raise BakingError("The PNG image is damaged (a chunk fails its checksum).")
        found.append((kind, data, at, end))
        at = end
        if kind == b"IEND":
            break
    if not found or found[0][0] != b"IHDR":
        raise BakingError("The PNG image has no header.")
    return found


def _itxt_keyword(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode("latin-1")


def bake_png(png: bytes, payload: str, *, version: str = "3.0") -> bytes:
    """The PNG with the badge in an iTXt chunk (any earlier badge chunk replaced)."""
    keyword = OB3_KEYWORD if version == "3.0" else OB2_KEYWORD
    chunks = _chunks(png)
    # iTXt: keyword, NUL, compression flag 0, method 0, empty language, NUL, empty
    # translated keyword, NUL, then UTF-8 text.
    itxt = _chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + payload.encode())
    out = bytearray(PNG_MAGIC)
    for index, (kind, data, start, end) in enumerate(chunks):
        if kind == b"iTXt" and _itxt_keyword(data) in (OB2_KEYWORD, OB3_KEYWORD):
            continue
        out += png[start:end]
        if index == 0:
            out += itxt
    return bytes(out)


def unbake_png(png: bytes) -> Baked:
    for kind, data, _start, _end in _chunks(png):
        if kind != b"iTXt":
            continue
        keyword = _itxt_keyword(data)
        if keyword not in (OB2_KEYWORD, OB3_KEYWORD):
            continue
        rest = data[len(keyword) + 1 :]
        if len(rest) < 2:
            raise BakingError("The badge chunk in this PNG is damaged.")
        compressed, _method, rest = rest[0], rest[1], rest[2:]
        _language, _, rest = rest.partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        if compressed:
            try:
                text = zlib.decompressobj().decompress(text, MAX_IMAGE_BYTES)
            except zlib.error:
                raise BakingError("The badge chunk in this PNG is damaged.") from None
        try:
            payload = text.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise BakingError("The badge chunk in this PNG is not text.") from None
        return Baked("3.0" if keyword == OB3_KEYWORD else "2.0", payload)
    raise BakingError("This PNG image carries no Open Badge.")


_SVG_START = re.compile(r"<svg\b[^>]*>", re.IGNORECASE)


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def bake_svg(
    svg: str, payload: str, *, version: str = "3.0", assertion_url: str | None = None
) -> str:
    """The SVG with the badge as the first child of its root element, in the standard form:
    OB 3.0 a JWT in `verify`, JSON as CDATA; OB 2.0 `verify` = the hosted assertion's URL
    (`assertion_url`, else the payload when it is a URL) with the JSON as CDATA."""
    match = _SVG_START.search(svg)
    if match is None:
        raise BakingError("This file is not an SVG image.")
    start = match.group(0)
    namespace, tag = (OB3_NS, "credential") if version == "3.0" else (OB2_NS, "assertion")
    if "xmlns:openbadges" not in start:
        start = start[:-1].rstrip("/") + f" xmlns:openbadges={quoteattr(namespace)}>"
    payload = payload.strip()
    is_json = payload.startswith("{")
    if version == "3.0":
        if is_json:
            element = f"<openbadges:{tag}>{_cdata(payload)}</openbadges:{tag}>"
        else:
            element = f"<openbadges:{tag} verify={quoteattr(payload)}></openbadges:{tag}>"
    else:
        verify = assertion_url or ("" if is_json else payload)
        if not verify:
            raise BakingError("An OB 2.0 SVG needs the assertion's URL for `verify`.")
        body = _cdata(payload) if is_json else ""
        element = f"<openbadges:{tag} verify={quoteattr(verify)}>{body}</openbadges:{tag}>"
    return svg[: match.start()] + start + element + svg[match.end() :]


def unbake_svg(svg: bytes | str) -> Baked:
    try:
        root = ElementTree.fromstring(svg)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise BakingError("This SVG image cannot be read.") from None
    for namespace, tag, version in ((OB3_NS, "credential", "3.0"), (OB2_NS, "assertion", "2.0")):
        element = root.find(f".//{{{namespace}}}{tag}")
        if element is None:
            continue
        text = "".join(element.itertext()).strip()
        verify = element.get("verify", "").strip()
        # OB 3.0: a JWT lives in `verify`; OB 2.0: the JSON is the badge, `verify` its URL.
        first, second = (verify, text) if version == "3.0" else (text, verify)
        payload = first or second
        if not payload:
            raise BakingError("The badge element in this SVG is empty.")
        return Baked(version, payload)
    raise BakingError("This SVG image carries no Open Badge.")


def unbake(data: bytes) -> Baked:
    """The badge inside an uploaded PNG or SVG."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError("The image is larger than 5 MB; badge images are small.")
    if data.startswith(PNG_MAGIC):
        return unbake_png(data)
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        return unbake_svg(data)
    raise BakingError("Upload a baked badge image: a PNG or an SVG file.")
