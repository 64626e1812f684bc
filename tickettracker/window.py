"""The native window. The only module that imports pywebview, and only when a window opens."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


class WindowUnavailable(Exception):
    """No window can be opened here; the message says why in one line."""


def display_problem() -> str | None:
    """Why no window can open on this machine, or None when one probably can."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return "No display found (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


def _prepare_environment() -> None:
    # QtWebEngine refuses to start as root unless Chromium's sandbox is switched off.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = (flags + " --no-sandbox").strip()


def open_window(
    url: str,
    *,
    title: str = "TicketTracker",
    on_ready: Callable[[Callable[[], None]], None] | None = None,
) -> None:
    """Open the app in a native window and block until the user closes it.

    `on_ready` is called (in a background thread) with a function that closes the window,
    so signal handlers can shut the window down cleanly.
    """
    problem = display_problem()
    if problem:
        raise WindowUnavailable(problem)
    _prepare_environment()
    try:
        import webview
    except ImportError as exc:  # pragma: no cover - pywebview is a dependency
        raise WindowUnavailable(f"pywebview is not installed ({exc})") from exc

    webview.settings["ALLOW_DOWNLOADS"] = True
    webview.settings["OPEN_EXTERNAL_LINKS_IN_BROWSER"] = True
    window = webview.create_window(title, url, width=1200, height=800, min_size=(480, 400))

    def started() -> None:
        if on_ready is not None:
            on_ready(window.destroy)

    try:
        webview.start(started, private_mode=False)
    except webview.errors.WebViewException as exc:
        raise WindowUnavailable(f"No window toolkit is available ({exc})") from exc
    except ImportError as exc:
        raise WindowUnavailable(f"The window toolkit could not be loaded ({exc})") from exc
