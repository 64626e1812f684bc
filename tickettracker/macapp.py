"""Build a double-clickable TicketTracker.app that starts the installed `tickettracker` (macOS).

The bundle is small and holds no Python: Info.plist, the icon as .icns, and a shell script
as the executable, which gives the installed command the environment a terminal would (Finder
starts apps with a bare PATH and no locale) and logs to ~/Library/Logs/TicketTracker/. Nothing
here needs macOS, so the bundle can be built and checked on any system.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import struct
from pathlib import Path

from tickettracker import __version__, icons

APP_NAME = "TicketTracker"
BUNDLE_ID = "org.tickettracker.TicketTracker"
MIN_MACOS = "10.15"

# icns element types holding PNG data, with the pixel size each one holds. The @2x types
# (ic11..ic14, ic10) are what Retina screens use; this is the set Apple's iconutil writes.
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic13", 256),
    (b"ic08", 256),
    (b"ic14", 512),
    (b"ic09", 512),
    (b"ic10", 1024),
)

# Finder and the Dock start apps with PATH=/usr/bin:/bin:/usr/sbin:/sbin and no LANG.
LAUNCHER = """\
#!/bin/sh
# TicketTracker.app launcher, written by `tickettracker install-desktop`.
# It starts the installed command with the environment a terminal would give it.
COMMAND={command}
PATH="/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin${{PATH:+:$PATH}}"
LANG="${{LANG:-en_US.UTF-8}}"
export PATH LANG

if [ ! -x "$COMMAND" ]; then
    msg="TicketTracker is no longer installed at $COMMAND. Install it again with pip,"
    msg="$msg then run: tickettracker install-desktop"
    osascript -e 'on run argv' \\
        -e 'display alert "TicketTracker cannot start" message (item 1 of argv)' \\
        -e 'end run' "$msg" >/dev/null 2>&1 || echo "$msg" >&2
    exit 1
fi

# Older macOS passes a process serial number (-psn_...) that the app does not take.
for arg do
    shift
    case $arg in -psn_*) ;; *) set -- "$@" "$arg" ;; esac
done

# Output would otherwise be lost: keep it where Console.app finds it, and keep it small.
LOG_DIR="$HOME/Library/Logs/TicketTracker"
mkdir -p "$LOG_DIR" && LOG="$LOG_DIR/launcher.log" || LOG=/dev/null
if [ -f "$LOG" ] && [ "$(wc -c <"$LOG")" -gt 1000000 ]; then
    mv -f "$LOG" "$LOG.1"
fi
exec "$COMMAND" "$@" >>"$LOG" 2>&1
"""


class BundleError(Exception):
    """An expected problem building or removing the app bundle, with a message for the user."""


def default_folder() -> Path:
    """Where the app goes by default: the user's own Applications folder (no admin rights)."""
    return Path.home() / "Applications"


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """An .icns file holding the given PNG renderings (by pixel size), with a table of contents."""
    elements = [(kind, pngs[size]) for kind, size in ICNS_TYPES]
    toc = b"".join(kind + struct.pack(">I", len(data) + 8) for kind, data in elements)
    elements.insert(0, (b"TOC ", toc))
    body = b"".join(kind + struct.pack(">I", len(data) + 8) + data for kind, data in elements)
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def app_icns() -> bytes:
    """The packaged icon as .icns."""
    return icns_bytes({size: icons.png(size).read_bytes() for size in icons.PNG_SIZES})


def info_plist(command: str) -> dict[str, object]:
    """The bundle's Info.plist as a dictionary."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleExecutable": APP_NAME,
        "CFBundleIconFile": f"{APP_NAME}.icns",
        "CFBundlePackageType": "APPL",
        "CFBundleSignature": "????",
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleShortVersionString": __version__,
        "CFBundleVersion": __version__,
        "CFBundleDevelopmentRegion": "en",
        "LSMinimumSystemVersion": MIN_MACOS,
        "LSApplicationCategoryType": "public.app-category.productivity",
        "NSHighResolutionCapable": True,
        "NSSupportsAutomaticGraphicsSwitching": True,
        "NSRequiresAquaSystemAppearance": False,  # follow the system's dark mode
        "NSHumanReadableCopyright": "TicketTracker, a private, local-first help desk.",
        # Not read by macOS: records which command this bundle starts, for people and tests.
        "TicketTrackerCommand": command,
    }


def _is_ours(app: Path) -> bool:
    try:
        with (app / "Contents" / "Info.plist").open("rb") as f:
            return plistlib.load(f).get("CFBundleIdentifier") == BUNDLE_ID
    except (OSError, plistlib.InvalidFileException, AttributeError):
        return False


def build(command: str | Path, folder: Path | None = None) -> Path:
    """Write TicketTracker.app into `folder` (default ~/Applications); returns the bundle path."""
    command = str(command)
    if not os.path.isabs(command):
        raise BundleError(f"The app needs the command's full path, not {command!r}.")
    folder = folder if folder is not None else default_folder()
    app = folder / f"{APP_NAME}.app"
    if app.exists() and not _is_ours(app):
        raise BundleError(f"{app} exists and is not a TicketTracker bundle; move it away first.")
    # Build beside the target and swap it in, so a failure never leaves half a bundle.
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{APP_NAME}.app.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    contents = staging / "Contents"
    (contents / "MacOS").mkdir(parents=True)
    (contents / "Resources").mkdir()
    with (contents / "Info.plist").open("wb") as f:
        plistlib.dump(info_plist(command), f)
    (contents / "PkgInfo").write_bytes(b"APPL????")
    (contents / "Resources" / f"{APP_NAME}.icns").write_bytes(app_icns())
    launcher = contents / "MacOS" / APP_NAME
    launcher.write_text(LAUNCHER.format(command=shlex.quote(command)), encoding="utf-8")
    launcher.chmod(0o755)
    if app.exists():
        shutil.rmtree(app)
    staging.rename(app)
    return app


def remove(folder: Path | None = None) -> Path | None:
    """Delete the TicketTracker.app built by `build`; returns its path, or None if absent."""
    app = (folder if folder is not None else default_folder()) / f"{APP_NAME}.app"
    if not app.exists():
        return None
    if not _is_ours(app):
        raise BundleError(f"{app} is not a TicketTracker bundle built here; left it alone.")
    shutil.rmtree(app)
    return app
