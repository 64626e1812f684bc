"""The window's size and position, remembered between launches in <data-dir>/window.json.

Pure functions and a small tracker; the window module feeds it pywebview's events.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

STATE_FILE = "window.json"
DEFAULT_SIZE = (1200, 800)
MIN_SIZE = (480, 400)
# How much of the title bar must lie on a screen for a remembered position to be used.
VISIBLE_MARGIN = 48
# A window placed by the toolkit (first launch) leaves this share of the screen for panels,
# docks and its own title bar.
UNPLACED_SHARE = 0.9


@dataclass(frozen=True)
class Geometry:
    width: int = DEFAULT_SIZE[0]
    height: int = DEFAULT_SIZE[1]
    x: int | None = None  # None: let the toolkit centre the window
    y: int | None = None
    maximized: bool = False


@dataclass(frozen=True)
class Screen:
    x: int
    y: int
    width: int
    height: int


def load(path: Path) -> Geometry:
    """The remembered geometry, or the default when the file is missing or not ours to trust."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Geometry()
    if not isinstance(data, dict):
        return Geometry()

    def number(key: str) -> int | None:
        value = data.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 100_000
        return value if ok else None

    width, height = number("width"), number("height")
    x, y = number("x"), number("y")
    geometry = Geometry(maximized=data.get("maximized") is True)
    if width is not None and height is not None:
        geometry = replace(geometry, width=width, height=height)
    if x is not None and y is not None:
        geometry = replace(geometry, x=x, y=y)
    return geometry


def save(path: Path, geometry: Geometry) -> None:
    """Write the geometry; a data folder that cannot be written only loses this nicety."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(geometry), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def fit(geometry: Geometry, screens: list[Screen]) -> Geometry:
    """Make a remembered geometry usable on today's screens.

    Sizes are kept within the minimum and the largest screen; a position that would put the
    title bar off every screen (a monitor was unplugged, the resolution dropped) is dropped,
    so the window opens centred instead of out of reach. A window without a position (the
    first launch, or one just dropped) is kept a little smaller than the screen, so that
    centred it clears the panels and shows its title bar.
    """
    if not screens:
        return replace(
            geometry,
            width=max(geometry.width, MIN_SIZE[0]),
            height=max(geometry.height, MIN_SIZE[1]),
        )
    share = 1.0 if geometry.x is not None and geometry.y is not None else UNPLACED_SHARE
    width, height = _fit_size(geometry, screens, share)
    x, y = geometry.x, geometry.y
    if x is not None and y is not None:
        on_screen = any(
            s.x - width + VISIBLE_MARGIN <= x <= s.x + s.width - VISIBLE_MARGIN
            and s.y <= y <= s.y + s.height - VISIBLE_MARGIN
            for s in screens
        )
        if not on_screen:
            x = y = None
            width, height = _fit_size(geometry, screens, UNPLACED_SHARE)
    return replace(geometry, width=width, height=height, x=x, y=y)


def _fit_size(geometry: Geometry, screens: list[Screen], share: float) -> tuple[int, int]:
    width = min(geometry.width, int(max(s.width for s in screens) * share))
    height = min(geometry.height, int(max(s.height for s in screens) * share))
    return max(width, MIN_SIZE[0]), max(height, MIN_SIZE[1])


class Tracker:
    """Follows the window's moves and resizes; pywebview reports them from several threads."""

    def __init__(self, start: Geometry) -> None:
        self._lock = threading.Lock()
        self.geometry = start

    def moved(self, x: int, y: int) -> None:
        with self._lock:
            if not self.geometry.maximized:  # keep the position to restore to
                self.geometry = replace(self.geometry, x=int(x), y=int(y))

    def resized(self, width: int, height: int) -> None:
        with self._lock:
            if not self.geometry.maximized:
                self.geometry = replace(self.geometry, width=int(width), height=int(height))

    def set_maximized(self, maximized: bool) -> None:
        with self._lock:
            self.geometry = replace(self.geometry, maximized=maximized)

    def settle(self, x: int, y: int, width: int, height: int, maximized: bool) -> None:
        """The toolkit's own final word, read as the window closes."""
        with self._lock:
            if maximized:
                self.geometry = replace(self.geometry, maximized=True)
            else:
                self.geometry = Geometry(int(width), int(height), int(x), int(y), False)
