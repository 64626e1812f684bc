"""The `tickettracker` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__, datacli
from .datadir import DataDirError, resolve_data_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickettracker",
        description="TicketTracker: a private help desk that keeps your tickets on your own disk.",
    )
    parser.add_argument("--version", action="version", version=f"TicketTracker {__version__}")
    parser.add_argument(
        "--data-dir",
        metavar="FOLDER",
        help="the folder holding your tickets (default: $TICKETTRACKER_DATA_DIR or the "
        "platform's user data folder)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port on 127.0.0.1 to serve on (default 0: any free port)",
    )
    show = parser.add_mutually_exclusive_group()
    show.add_argument(
        "--browser", action="store_true", help="open in your web browser instead of a window"
    )
    show.add_argument(
        "--no-open",
        action="store_true",
        help="open nothing: print the address (with its access token) and serve until Ctrl+C",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands (without one, the app starts)"
    )
    install = commands.add_parser(
        "install-desktop",
        help="add TicketTracker to your application menu (Linux) or ~/Applications (macOS)",
        description="Add a launcher with TicketTracker's icon for your account only (no admin "
        "rights): an application-menu entry on Linux, TicketTracker.app in ~/Applications on "
        "macOS. It starts this installed tickettracker command.",
    )
    install.add_argument(
        "--command",
        dest="launch_command",
        metavar="PATH",
        help="full path of the tickettracker command to start (default: this installed one)",
    )
    commands.add_parser(
        "uninstall-desktop",
        help="remove what install-desktop added",
        description="Remove the launcher and icons that install-desktop added.",
    )
    datacli.add_commands(commands)
    return parser


def desktop_command(command: str, launch_command: str | None = None) -> int:
    """install-desktop / uninstall-desktop: the launcher that fits this system."""
    from . import desktop, macapp

    try:
        if sys.platform == "darwin":
            if command == "uninstall-desktop":
                app = macapp.remove()
                print(f"Removed {app}." if app else "TicketTracker.app was not installed.")
            else:
                exe = launch_command or str(desktop.find_command())
                print(f"Built {macapp.build(exe)}: it starts {exe}.")
                print("Open it from Finder or Launchpad; drag it to the Dock to keep it there.")
            return 0
        if sys.platform == "win32":
            print("tickettracker: install-desktop does not support Windows yet.", file=sys.stderr)
            return 2
        if command == "uninstall-desktop":
            removed = desktop.uninstall()
            print(
                f"Removed {len(removed)} launcher files and folders."
                if removed
                else "The TicketTracker launcher was not installed."
            )
        else:
            written = desktop.install(launch_command or desktop.find_command())
            print(f"Installed {written[-1]} and the icon in {len(written) - 1} sizes.")
            print("TicketTracker is now in your application menu.")
        return 0
    except (desktop.LauncherError, macapp.BundleError, OSError) as exc:
        print(f"tickettracker: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    data_dir_flag = getattr(args, "data_dir", None)
    if data_dir_flag is not None and not data_dir_flag.strip():
        parser.error("--data-dir needs a folder name (leave the option out to use the default)")
    if args.command in ("install-desktop", "uninstall-desktop"):
        return desktop_command(args.command, getattr(args, "launch_command", None))
    if args.command in datacli.COMMANDS:
        return datacli.run(args)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")

    from .launcher import LaunchOptions, run, tell_start_problem

    mode = "browser" if args.browser else "none" if args.no_open else "window"
    try:
        data_dir = resolve_data_dir(args.data_dir)
        return run(LaunchOptions(data_dir=Path(data_dir), port=args.port, mode=mode))
    except DataDirError as exc:
        print(f"tickettracker: {exc}", file=sys.stderr)
        tell_start_problem(str(exc), mode)
        return 2
