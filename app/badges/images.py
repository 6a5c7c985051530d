"""Badge images: the issuer's own file when set (a PNG under static/), else one drawn here."""

from __future__ import annotations

import io
import textwrap
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from app.badges.records import Achievement
from app.settings import Settings

STATIC = Path(__file__).resolve().parent.parent.parent / "static"
SIZE = 512
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def issuer_image(settings: Settings, achievement: Achievement) -> bytes | None:
    """The achievement's own PNG, when its badge_image names one MCX serves itself."""
    name = achievement.badge_image
    if not name:
        return None
    for prefix in (f"{settings.base_url}/static/", "/static/"):
        if name.startswith(prefix):
            relative = name.removeprefix(prefix)
            path = (STATIC / relative).resolve()
            if path.is_relative_to(STATIC) and path.is_file():
                data = path.read_bytes()
                if data.startswith(PNG_MAGIC):
                    return data
    return None


def badge_png(settings: Settings, achievement: Achievement) -> bytes:
    return issuer_image(settings, achievement) or drawn_png(
        achievement.title, achievement.organisation.name
    )


@lru_cache(maxsize=256)
def drawn_png(title: str, issuer: str) -> bytes:
    """A plain round badge with the title and issuer: what a wallet shows when none was given."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, SIZE - 8, SIZE - 8), fill=(31, 95, 191, 255))
    draw.ellipse((40, 40, SIZE - 40, SIZE - 40), outline=(255, 255, 255, 255), width=8)
    font = ImageFont.load_default(size=34)
    small = ImageFont.load_default(size=24)
    lines = textwrap.wrap(title, width=18)[:4]
    y = SIZE // 2 - 22 * len(lines) - 10
    for line in lines:
        draw.text((SIZE // 2, y), line, font=font, fill="white", anchor="mt")
        y += 44
    draw.text((SIZE // 2, y + 12), issuer[:30], font=small, fill=(220, 230, 255), anchor="mt")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def drawn_svg(title: str, issuer: str) -> str:
    """The same badge as SVG (escaped text), the carrier for SVG baking."""
    from xml.sax.saxutils import escape

    lines = textwrap.wrap(title, width=18)[:4]
    texts = "".join(
        f'<text x="256" y="{200 + 44 * i}" font-family="sans-serif" font-size="34" '
        f'fill="#fff" text-anchor="middle">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">'
        f"<title>{escape(title)}</title>"
        '<circle cx="256" cy="256" r="248" fill="#1f5fbf"/>'
        '<circle cx="256" cy="256" r="212" fill="none" stroke="#fff" stroke-width="8"/>'
        f"{texts}"
        f'<text x="256" y="{220 + 44 * len(lines)}" font-family="sans-serif" font-size="24" '
        f'fill="#dce6ff" text-anchor="middle">{escape(issuer[:30])}</text>'
        "</svg>"
    )
