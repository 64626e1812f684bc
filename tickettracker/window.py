"""The native window. The only module that imports pywebview, and only when a window opens."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from importlib.resources import as_file
from pathlib import Path

from . import icons, windowstate

# Matches the desktop entry (tickettracker.desktop, StartupWMClass) so the menu, dock and
# task switcher group the window under the launcher's name and icon.
APP_ID = "tickettracker"


class WindowUnavailable(Exception):
    """No window can be opened here; the message says why in one line."""


def display_problem(environ=None) -> str | None:
    """Why no window can open on this machine, or None when one probably can.

    Checked before any toolkit loads: Qt aborts the whole process (not an exception) when it
    cannot reach the display, so a stale DISPLAY must be caught here.
    """
    if not (sys.platform.startswith("linux") or "bsd" in sys.platform):
        return None
    environ = os.environ if environ is None else environ
    display, wayland = environ.get("DISPLAY", ""), environ.get("WAYLAND_DISPLAY", "")
    if not display and not wayland:
        return "No display found (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    if wayland and _wayland_reachable(wayland, environ):
        return None
    if display and _x_display_reachable(display):
        return None
    shown = f"DISPLAY={display}" if display else f"WAYLAND_DISPLAY={wayland}"
    return f"Cannot connect to the display ({shown})"


def _connects(family: int, address) -> bool:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(address)
        return True
    except OSError:
        return False


def _x_display_reachable(display: str) -> bool:
    """Whether an X server answers at DISPLAY ([host]:number[.screen])."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return False
    if host.startswith("/"):  # a socket path (macOS XQuartz style)
        return _connects(socket.AF_UNIX, f"{host}:{number}")
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        # Linux X servers listen on an abstract socket as well as the file.
        return _connects(socket.AF_UNIX, "\0" + path) or _connects(socket.AF_UNIX, path)
    return _connects(socket.AF_INET, (host, 6000 + int(number)))


def _wayland_reachable(name: str, environ) -> bool:
    path = name if name.startswith("/") else os.path.join(environ.get("XDG_RUNTIME_DIR", ""), name)
    return _connects(socket.AF_UNIX, path)


def _prepare_environment() -> None:
    # QtWebEngine refuses to start as root unless Chromium's sandbox is switched off.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags:
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = (flags + " --no-sandbox").strip()


def _preferred_gui() -> str | None:
    """GTK where the system has it (pywebview's own order), else straight to Qt.

    Without PyGObject pywebview would log a GTK import traceback before falling back to Qt.
    """
    if os.environ.get("PYWEBVIEW_GUI") or not sys.platform.startswith("linux"):
        return None
    import importlib.util

    return None if importlib.util.find_spec("gi") is not None else "qt"


def open_window(
    url: str,
    *,
    title: str = "TicketTracker",
    on_ready: Callable[[Callable[[], None]], None] | None = None,
    state_file: Path | None = None,
) -> None:
    """Open the app in a native window and block until the user closes it.

    `on_ready` is called (in a background thread) with a function that closes the window,
    so signal handlers can shut the window down cleanly. `state_file` (window.json in the
    data folder) remembers the window's size and position from one launch to the next.
    """
    webview = _load_webview()
    webview.settings["ALLOW_DOWNLOADS"] = True
    webview.settings["OPEN_EXTERNAL_LINKS_IN_BROWSER"] = True
    remembered = windowstate.load(state_file) if state_file else windowstate.Geometry()
    geometry = windowstate.fit(remembered, _screens(webview))
    window = webview.create_window(
        title,
        url,
        width=geometry.width,
        height=geometry.height,
        x=geometry.x,
        y=geometry.y,
        maximized=geometry.maximized,
        min_size=windowstate.MIN_SIZE,
    )
    tracker = windowstate.Tracker(geometry)
    window.events.moved += tracker.moved
    window.events.resized += tracker.resized
    window.events.maximized += lambda: tracker.set_maximized(True)
    window.events.restored += lambda: tracker.set_maximized(False)
    window.events.before_show += _dress_qt_window
    window.events.initialized += _fix_downloads
    window.events.closing += lambda window: _settle_qt_geometry(window, tracker)

    def started() -> None:
        if on_ready is not None:
            on_ready(window.destroy)

    _start(webview, started)
    if state_file is not None:
        windowstate.save(state_file, tracker.geometry)


def show_problem(page: str, *, title: str = "TicketTracker could not start") -> None:
    """Show `page` (self-contained HTML saying why the app could not start) in a small native
    window and block until the user closes it: someone who started TicketTracker from a menu
    or the Dock never sees what the command printed."""
    webview = _load_webview()
    window = webview.create_window(title, html=page, width=640, height=340, min_size=(420, 240))
    window.events.before_show += _dress_qt_window
    _start(webview)


def _load_webview():
    problem = display_problem()
    if problem:
        raise WindowUnavailable(problem)
    _prepare_environment()
    try:
        import webview
    except ImportError as exc:  # pragma: no cover - pywebview is a dependency
        raise WindowUnavailable(f"pywebview is not installed ({exc})") from exc
    return webview


def _start(webview, started: Callable[[], None] | None = None) -> None:
    """Run pywebview's GUI loop until its last window closes."""
    # pywebview wants the icon as a file path (GTK and Qt show it; Cocoa uses the bundle's).
    with as_file(icons.png(256)) as icon:
        try:
            webview.start(started, private_mode=False, icon=str(icon), gui=_preferred_gui())
        except webview.errors.WebViewException as exc:
            raise WindowUnavailable(f"No window toolkit is available ({exc})") from exc
        except ImportError as exc:
            raise WindowUnavailable(f"The window toolkit could not be loaded ({exc})") from exc


def _screens(webview) -> list[windowstate.Screen]:
    try:
        return [windowstate.Screen(s.x, s.y, s.width, s.height) for s in webview.screens]
    except Exception:  # a backend that cannot list screens yet: the geometry is used unchecked
        return []


def _is_qt(native: object) -> bool:
    return type(native).__module__ == "webview.platforms.qt"


def _dress_qt_window(window) -> None:
    """Qt touches pywebview has no option for. Runs on the GUI thread just before showing."""
    native = window.native
    if not _is_qt(native):
        return  # GTK names the window after the command; Cocoa's menu already has Cmd+Q
    from qtpy.QtGui import QGuiApplication, QKeySequence
    from qtpy.QtWidgets import QShortcut

    QGuiApplication.setApplicationName(APP_ID)  # X11 WM_CLASS
    QGuiApplication.setDesktopFileName(APP_ID)  # Wayland app id
    # Ctrl+Q (Cmd+Q on macOS) quits like the close button: the launcher then stops the server.
    native.tickettracker_quit = QShortcut(QKeySequence("Ctrl+Q"), native)
    native.tickettracker_quit.activated.connect(native.close)


def _settle_qt_geometry(window, tracker: windowstate.Tracker) -> None:
    # Events arrive on threads of their own, so the last one seen may not be the last one
    # sent; as the window closes, Qt's own answer is the reliable one.
    native = window.native
    if _is_qt(native) and not native.isMinimized():
        tracker.settle(
            native.x(), native.y(), native.width(), native.height(), native.isMaximized()
        )


def _fix_downloads(window, renderer: str = "") -> None:
    """Make downloads save under the file's own name on pywebview's Qt backend.

    pywebview's Qt handler offers the URL's last path segment as the name (here an id) and
    calls setPath(), which Qt 6 no longer has, so downloads silently never saved. Runs when
    the toolkit is chosen, before the window exists (pywebview's `initialized` event).
    """
    gui = getattr(window, "gui", None)
    if getattr(gui, "__name__", "") == "webview.platforms.qt":
        gui.BrowserView.on_download_requested = _qt_save_download


def _qt_save_download(view, download) -> None:
    """Ask where to save a download (the Downloads folder and the file's name proposed)."""
    import platformdirs
    from qtpy.QtWidgets import QFileDialog

    if hasattr(download, "suggestedFileName"):  # Qt 6: the Content-Disposition name
        name = download.suggestedFileName() or download.downloadFileName()
    else:  # Qt 5
        name = Path(download.path()).name
    folder = Path(platformdirs.user_downloads_dir())
    path, _ = QFileDialog.getSaveFileName(view, "Save file", str(folder / name))
    if not path:
        download.cancel()
        return
    target = Path(path)
    if hasattr(download, "setDownloadFileName"):
        download.setDownloadDirectory(str(target.parent))
        download.setDownloadFileName(target.name)
    else:
        download.setPath(str(target))
    download.accept()
