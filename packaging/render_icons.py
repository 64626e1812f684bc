"""Render the app icon's PNG sizes from its SVG sources (needs rsvg-convert: librsvg2-bin).

The PNGs are committed, so only run this after changing an SVG:
    python packaging/render_icons.py
The 16 px size has its own pixel-aligned drawing (tickettracker-16.svg), because the full
drawing blurs at that size; every other size is rendered from tickettracker.svg.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parent.parent / "tickettracker" / "static" / "icons"
# 1024 is only for the macOS icon (512 pt at 2x); the freedesktop theme uses up to 512.
SIZES = (16, 32, 48, 64, 128, 256, 512, 1024)


def source_for(size: int) -> Path:
    """The SVG drawn for this pixel size."""
    small = ICONS / f"tickettracker-{size}.svg"
    return small if small.exists() else ICONS / "tickettracker.svg"


def main() -> int:
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        print("rsvg-convert not found: apt-get install librsvg2-bin", file=sys.stderr)
        return 1
    for size in SIZES:
        out = ICONS / f"tickettracker-{size}.png"
        subprocess.run(
            [rsvg, "--width", str(size), "--height", str(size), str(source_for(size)), "-o", out],
            check=True,
        )
        print(f"{out.name}: {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
