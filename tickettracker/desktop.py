"""Install and uninstall the freedesktop launcher (menu entry and icons) for this user, no root.

Files go under $XDG_DATA_HOME (default ~/.local/share): applications/tickettracker.desktop and
the icon in every size of the hicolor theme. Desktop environments watch these folders, so the
entry shows up in the application menu without a cache update. Uninstall removes exactly the
files install writes, and the folders install had to create (it notes them inside the
.desktop file), so a clean account is left as it was found.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tickettracker import icons

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

APP_ID = "tickettracker"
DESKTOP_FILE = f"{APP_ID}.desktop"
COMMAND = "tickettracker"

# A comment line per folder install created, read back by uninstall.
_MADE_FOLDER = "# made-folder: "

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")


class LauncherError(Exception):
    """An expected problem installing the launcher, with a message meant for the user."""


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset, empty or relative (as the spec says)."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def find_command() -> Path:
    """The installed `tickettracker` console script: beside this Python first, then on PATH.

    In a frozen build (PyInstaller) the app's own executable is the command.
    """
    if getattr(sys, "frozen", False):
        return Path(sys.executable).absolute()
    beside = Path(sys.executable).parent / COMMAND
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which(COMMAND)
    if found:
        return Path(found).absolute()
    raise LauncherError(
        f"Cannot find the installed `{COMMAND}` command (looked in {beside.parent} and on "
        f"PATH). Install TicketTracker with pip first, then run this again."
    )


def exec_arg(arg: str) -> str:
    """Quote one argument for an Exec line, then escape it as a desktop-entry string value."""
    if "\n" in arg or "\r" in arg:
        raise LauncherError(f"Cannot put a path containing a line break in a launcher: {arg!r}")
    arg = arg.replace("%", "%%")
    if any(c in _RESERVED for c in arg):
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        arg = f'"{inner}"'
    return _string_value(arg)


def _string_value(text: str) -> str:
    return text.replace("\\", "\\\\")


def desktop_entry(command: str, made_folders: list[Path] | tuple[Path, ...] = ()) -> str:
    """The text of tickettracker.desktop launching `command` (an absolute path or a bare name)."""
    exe = exec_arg(command)
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=TicketTracker",
        "GenericName=Help Desk",
        "Comment=Track tickets and their complete history, privately on this computer",
        f"Exec={exe}",
        # TryExec hides the entry (rather than showing a broken one) if the command is removed.
        *([f"TryExec={_string_value(command)}"] if os.path.isabs(command) else []),
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Office;ProjectManagement;",
        "Keywords=ticket;helpdesk;help desk;support;issue;tracker;",
        "StartupNotify=true",
        f"StartupWMClass={APP_ID}",
        "Actions=browser;",
        "",
        "[Desktop Action browser]",
        "Name=Open in Web Browser",
        f"Exec={exe} --browser",
    ]
    if made_folders:
        lines += ["", "# Folders created by `tickettracker install-desktop`, removed again by"]
        lines += ["# `tickettracker uninstall-desktop` when they are empty:"]
        lines += [f"{_MADE_FOLDER}{folder}" for folder in made_folders]
    return "\n".join(lines) + "\n"


def _icon_files(base: Path) -> dict[Path, Traversable]:
    """Where each packaged icon goes in the user's hicolor theme."""
    theme = base / "icons" / "hicolor"
    wanted = {theme / "scalable" / "apps" / f"{APP_ID}.svg": icons.svg()}
    for size in icons.THEME_SIZES:
        wanted[theme / f"{size}x{size}" / "apps" / f"{APP_ID}.png"] = icons.png(size)
    return wanted


def _recorded_folders(entry: Path) -> list[Path]:
    try:
        text = entry.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    prefix = _MADE_FOLDER
    return [Path(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]


def _make_folder(folder: Path, made: list[Path]) -> None:
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir()
        made.append(parent)


def _write(path: Path, data: bytes) -> None:
    # Write beside and rename: the desktop watches these folders and must never read half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def install(command: str | Path | None = None) -> list[Path]:
    """Install the menu entry and icons for this user; returns the files written."""
    exe = str(command) if command is not None else str(find_command())
    base = data_home()
    entry = base / "applications" / DESKTOP_FILE
    made = _recorded_folders(entry)  # a reinstall keeps what the first install created
    files = _icon_files(base)
    for path in [entry, *files]:
        _make_folder(path.parent, made)
    for path, source in files.items():
        _write(path, source.read_bytes())
    # The entry goes last: once it appears, its icon is already in place.
    _write(entry, desktop_entry(exe, made).encode("utf-8"))
    return [*files, entry]


def uninstall() -> list[Path]:
    """Remove what install wrote (and the folders it created, if empty); returns what went."""
    base = data_home()
    entry = base / "applications" / DESKTOP_FILE
    made = _recorded_folders(entry)
    removed = []
    for path in [entry, *_icon_files(base)]:
        if path.is_file():
            path.unlink()
            removed.append(path)
    # Deepest first, and only when empty: anything the user put there stays.
    for folder in sorted(made, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            continue
        removed.append(folder)
    return removed
