"""Build TicketTracker.app, a double-clickable launcher for the installed `tickettracker`.

Run it with the Python that has TicketTracker installed (so the app finds its command):
    ~/.venvs/tickettracker/bin/python packaging/macos/build_app.py
It writes ~/Applications/TicketTracker.app (no admin rights needed); `--dest FOLDER` puts it
elsewhere, `--command PATH` names the command to start, `--remove` deletes the app again,
`--icns FILE` only writes the icon (for the self-contained builds in README.md).
`tickettracker install-desktop` on macOS does the same from an installed package.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from tickettracker import desktop, macapp
except ImportError:  # run from a source checkout whose package is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tickettracker import desktop, macapp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build or remove TicketTracker.app.")
    parser.add_argument(
        "--dest",
        type=Path,
        default=macapp.default_folder(),
        help="folder to put TicketTracker.app in (default: %(default)s)",
    )
    parser.add_argument(
        "--command",
        help="full path of the tickettracker command to start (default: the installed one)",
    )
    parser.add_argument("--remove", action="store_true", help="delete the app instead")
    parser.add_argument(
        "--icns",
        type=Path,
        metavar="FILE",
        help="only write the app icon as an .icns file (for PyInstaller or Briefcase)",
    )
    args = parser.parse_args(argv)
    if args.icns:
        args.icns.write_bytes(macapp.app_icns())
        print(f"Wrote {args.icns}")
        return 0
    try:
        if args.remove:
            removed = macapp.remove(args.dest)
            print(f"Removed {removed}" if removed else f"No TicketTracker.app in {args.dest}")
            return 0
        command = args.command or str(desktop.find_command())
        app = macapp.build(command, args.dest)
    except (desktop.LauncherError, macapp.BundleError) as exc:
        print(f"build_app: {exc}", file=sys.stderr)
        return 1
    print(f"Built {app} (starts {command})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
