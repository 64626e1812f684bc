"""The `tickettracker` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")

    from .launcher import LaunchOptions, run

    mode = "browser" if args.browser else "none" if args.no_open else "window"
    try:
        data_dir = resolve_data_dir(args.data_dir)
        return run(LaunchOptions(data_dir=Path(data_dir), port=args.port, mode=mode))
    except DataDirError as exc:
        print(f"tickettracker: {exc}", file=sys.stderr)
        return 2
