"""The app icon shipped in the package: an SVG plus PNG renderings (static/icons/)."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importlib.resources.abc is new in 3.11; only the type checker needs it
    from importlib.resources.abc import Traversable

# Sizes installed into the freedesktop hicolor theme; 1024 is kept for the macOS icon only.
THEME_SIZES = (16, 32, 48, 64, 128, 256, 512)
PNG_SIZES = (*THEME_SIZES, 1024)

_ICONS = "static/icons"


def svg() -> Traversable:
    """The scalable icon (also the page favicon)."""
    return files("tickettracker").joinpath(f"{_ICONS}/tickettracker.svg")


def png(size: int) -> Traversable:
    """The PNG rendering of the icon at `size` x `size` pixels."""
    if size not in PNG_SIZES:
        raise ValueError(f"no {size} px icon; sizes are {', '.join(map(str, PNG_SIZES))}")
    return files("tickettracker").joinpath(f"{_ICONS}/tickettracker-{size}.png")
