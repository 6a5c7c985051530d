"""Draw MCX's home-screen icons into static/icons/ (run once; the PNGs are committed).

    .venv/bin/python scripts/make_icons.py

The motif is a badge (a medal with a check mark on two ribbon tails) in the brand blue of
static/mcx.css, drawn from shapes rather than a font so the output is the same on every machine.
Two families: `icon-*.png` (purpose "any": a rounded tile on transparency) and `maskable-*.png`
(purpose "maskable": full bleed, the motif inside the central safe circle of 80 % diameter that
Android keeps whatever mask it applies). Plus `favicon.ico` (16, 32 and 48 px tiles) for the
browser tab and the `/favicon.ico` every browser asks for.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "static" / "icons"
SIZES = (192, 512)
BRAND = (31, 95, 191, 255)  # --brand in static/mcx.css, and the manifest's theme_color
WHITE = (255, 255, 255, 255)
RIBBON = (214, 226, 246, 255)  # a pale brand tint: the tails read as behind the medal
SUPERSAMPLE = 4  # draw big, then downscale: Pillow's shapes have no anti-aliasing of their own


def _motif(draw: ImageDraw.ImageDraw, left: float, top: float, side: float) -> None:
    """The badge in the square (left, top, side), in pixels of the supersampled canvas."""

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + x * side, top + y * side)

    for sign in (-1, 1):  # the two ribbon tails, mirrored about the centre line
        tail = [(0.5 + sign * dx, y) for dx, y in ((0.06, 0.58), (0.2, 0.58), (0.3, 0.97))]
        tail += [(0.5 + sign * 0.2, 0.88), (0.5 + sign * 0.1, 0.99)]
        draw.polygon([at(x, y) for x, y in tail], fill=RIBBON)
    cx, cy, r = 0.5, 0.4, 0.36
    draw.ellipse([at(cx - r, cy - r), at(cx + r, cy + r)], fill=WHITE)
    ring = 0.27
    draw.ellipse(
        [at(cx - ring, cy - ring), at(cx + ring, cy + ring)],
        outline=BRAND,
        width=round(0.045 * side),
    )
    check = [at(0.38, 0.41), at(0.47, 0.5), at(0.63, 0.32)]
    draw.line(check, fill=BRAND, width=round(0.075 * side), joint="curve")


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    """One icon of `size` pixels square: a maskable (full-bleed) one, or a rounded tile."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle([0, 0, big, big], fill=BRAND)
        side = big * 0.56  # the motif's corners stay inside the 80 % safe circle
    else:
        draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=round(big * 0.22), fill=BRAND)
        side = big * 0.74
    offset = (big - side) / 2
    _motif(draw, offset, offset, side)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        for maskable, stem in ((False, "icon"), (True, "maskable")):
            path = OUT / f"{stem}-{size}.png"
            draw_icon(size, maskable=maskable).save(path, optimize=True)
            print(f"{path.relative_to(ROOT)}  {path.stat().st_size} bytes")
    favicon = OUT / "favicon.ico"
    draw_icon(48, maskable=False).save(favicon, sizes=[(16, 16), (32, 32), (48, 48)])
    print(f"{favicon.relative_to(ROOT)}  {favicon.stat().st_size} bytes")


if __name__ == "__main__":
    main()
