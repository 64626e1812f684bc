"""Consistent copies of a live data folder: the database copy before an upgrade, and
`tickettracker backup` / `restore` zips (issue 8)."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path


def timestamp(now: dt.datetime | None = None) -> str:
    """A sortable UTC time for file names: 20261203T161755Z."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_database(src: Path, dest: Path) -> None:
    """A consistent copy of a database that may be in use, written whole or not at all.

    SQLite's online backup API copies every page in one step under a read transaction, so the
    copy is one committed state even while the app keeps writing (WAL readers never block).
    """
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # private copy
    source = sqlite3.connect(src, timeout=30)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target)
            # The copy stands alone: one file, no -wal beside it.
            target.execute("PRAGMA journal_mode=DELETE")
            problem = target.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    if problem != "ok":
        partial.unlink(missing_ok=True)
        raise OSError(f"the copy of {src.name} does not check out: {problem}")
    fsync_file(partial)
    os.replace(partial, dest)
    fsync_dir(dest.parent)
