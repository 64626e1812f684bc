"""Restoring a backup over the running app's own data, from the Your data page or the API.

Nothing changes until everything is known to be good:

1. the backup is unpacked into `<data-dir>/.restoring/` with backup.restore_backup (every
   checksum, the database's integrity) and its database brought to this app's schema the way
   opening the app does;
2. what is here now is saved as a new backup with make_backup (the "safety backup"), so the
   restore can be undone by restoring that one;
3. the backup's attached files go into uploads/ (content-addressed: files already there are
   kept, new ones are renamed in fsynced, as attachments.py does), before any row points at them;
4. SQLite's online backup API copies the checked database into the live file in one write
   transaction: other writers wait, readers see the old data until it commits, and a crash or
   an error half-way leaves the old data (the transaction rolls back).

Writes that land between the safety backup and the copy would be in neither, so the copy
checks, once it holds the write lock, that no one committed since the safety backup began
(PRAGMA data_version); if someone did, it rolls back and says to try again.

The settings (config.json) and the access token stay as they are.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from . import __version__, backup, db, schema
from .datadir import DB_NAME
from .errors import Conflict, DomainError, NotFound, StorageFailed
from .models import Ticket

log = logging.getLogger("tickettracker")

WORK_DIR = backup.RESTORING  # left out of backups (backup.SKIP_TOP)
SAFETY_SUFFIX = "-before-restore.zip"
# How long the copy waits for another writer (an import beside the app, say) to finish.
LOCK_WAIT_SECONDS = 30.0
_SQLITE_OK, _SQLITE_BUSY, _SQLITE_LOCKED = 0, 5, 6  # sqlite3.SQLITE_* from Python 3.11

# One restore at a time in this process (and one app process per data folder).
_running = threading.Lock()


class RestoreRefused(DomainError):
    """The backup cannot be restored (damaged, not ours, from a newer app); nothing changed."""

    status = 422


class RestoreBusy(Conflict):
    """Another restore is running, or the data changed while restoring; nothing changed."""


@dataclass
class RestoreDone:
    name: str  # the backup restored
    created_at: dt.datetime  # when that backup was made
    tickets: int
    files: int  # attached files in the backup
    copied: int  # of those, how many were not in uploads/ already
    safety_backup: backup.BackupInfo
    warnings: list[str] = field(default_factory=list)


def find_backup(data_dir: Path, name: str) -> backup.BackupInfo:
    """The backup zip `name` as list_backups lists it; only those names, never a path."""
    for item in backup.list_backups(data_dir):
        if item.kind == "backup" and item.path.name == name:
            return item
    why = backup.why_not_a_backup(data_dir, name)
    if why is not None:
        raise RestoreRefused(f"{name} cannot be restored: {why} Nothing here was changed.")
    raise NotFound(f"There is no backup named {name!r} to restore.")


def count_tickets(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Ticket)) or 0


def restore_in_place(
    data_dir: Path, name: str, *, engine: Engine, now: dt.datetime | None = None
) -> RestoreDone:
    """Replace the tickets, history and attached files of the running app's data folder with
    those of the backup `name` (see the module docstring). `engine` is the app's: its pooled
    connections are dropped afterwards, so none keeps anything from before."""
    item = find_backup(data_dir, name)
    if not _running.acquire(blocking=False):
        raise RestoreBusy("Another restore is running; wait for it to finish, then try again.")
    work = data_dir / WORK_DIR
    try:
        shutil.rmtree(work, ignore_errors=True)  # left by a restore cut short (a crash)
        live = data_dir / DB_NAME
        watch = sqlite3.connect(live, timeout=10, isolation_level=None)
        try:
            baseline = _data_version(watch)  # before the safety backup's snapshot
            checked, result = _check(item.path, name, work)
            safety = _safety_backup(data_dir, now)
            copied, warnings = _place_uploads(item.path, checked.parent, data_dir / "uploads")
            _match_page_size(checked, watch)
            _replace_database(checked, live, watch, baseline)
        finally:
            watch.close()
            shutil.rmtree(work, ignore_errors=True)
        engine.dispose()
    finally:
        _running.release()
    log.info("Restored %s (%s tickets); safety backup %s", name, result.tickets, safety.path.name)
    return RestoreDone(
        name,
        item.created_at,
        result.tickets,
        result.files,
        copied,
        safety,
        result.warnings + warnings,
    )


def _check(zip_path: Path, name: str, work: Path) -> tuple[Path, backup.RestoreResult]:
    """Unpack and check the backup in `work`, then bring its database to this app's schema;
    returns the checked database file."""
    target = work / "data"
    try:
        work.mkdir(mode=0o700)
        result = backup.restore_backup(zip_path, target)
    except backup.BackupError as exc:
        message = f"{exc} Nothing here was changed.".replace(str(zip_path), name)
        raise RestoreRefused(message) from None
    except OSError as exc:
        raise StorageFailed(
            f"Could not unpack {name} to check it ({exc.strerror or exc}). Nothing here was "
            "changed. Check that the disk has free space for a copy of the backup."
        ) from None
    if result.schema not in schema.known_revisions():
        raise RestoreRefused(
            f"{name} was made by a newer TicketTracker (schema {result.schema}); this is "
            f"TicketTracker {__version__}. Install the newer version to restore it. Nothing "
            "here was changed."
        )
    checked = target / DB_NAME
    engine = db.make_engine(checked)
    try:
        schema.open_database(engine, backups_dir=target / "backups")
    except schema.DatabaseDamaged as exc:  # found when an older backup was upgraded
        raise RestoreRefused(
            f"The database in {name} is damaged: {exc.problem}. Nothing here was changed; try "
            "another backup."
        ) from None
    except schema.SchemaError as exc:
        log.error("The database in %s cannot be used: %s", name, exc)
        raise RestoreRefused(
            f"The database in {name} cannot be used by this TicketTracker ({type(exc).__name__}"
            "; the details are in the log file). Nothing here was changed."
        ) from None
    finally:
        engine.dispose()  # the last connection: its log is checkpointed into the file
    return checked, result


def _safety_backup(data_dir: Path, now: dt.datetime | None) -> backup.BackupInfo:
    """Save what is here now as `tickettracker-backup-<time>-before-restore.zip`."""
    now = now or dt.datetime.now(dt.timezone.utc)
    folder = data_dir / "backups"
    stem = f"tickettracker-backup-{backup.timestamp(now)}"
    dest, n = folder / f"{stem}{SAFETY_SUFFIX}", 1
    while dest.exists():  # two restores within one second
        n += 1
        dest = folder / f"{stem}-{n}{SAFETY_SUFFIX}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        return backup.make_backup(data_dir, dest, now=now)
    except (backup.BackupError, OSError) as exc:
        raise StorageFailed(
            f"Nothing was restored: what is here now could not be saved first ({exc}). Free "
            "some disk space and try again."
        ) from None


def _place_uploads(zip_path: Path, unpacked: Path, uploads: Path) -> tuple[int, list[str]]:
    """Move the backup's attached files into uploads/, each under its SHA-256 as the app keeps
    them; files already there stay. Returns how many were new, and warnings."""
    files = backup.read_manifest(zip_path).get("files", {})
    copied, warnings = 0, []
    try:
        for arcname, facts in sorted(files.items()):
            if not arcname.startswith("uploads/"):
                continue
            sha = facts.get("sha256", "")
            if arcname != backup.upload_name(sha):  # damaged on disk when it was backed up
                warnings.append(f"{arcname} was not restored: it does not match its own hash")
                continue
            source, target = unpacked / arcname, uploads / sha[:2] / sha
            if target.is_file() and target.stat().st_size == source.stat().st_size:
                continue
            if not target.parent.is_dir():
                target.parent.mkdir(mode=0o700)
                backup.fsync_dir(uploads)
            # Same disk: the unpacked copy is already checked and fsynced, so a rename is the
            # durable write (temp file, fsync, rename, fsync the folder).
            os.replace(source, target)
            backup.fsync_dir(target.parent)
            copied += 1
    except OSError as exc:
        raise StorageFailed(
            f"Could not copy the backup's attached files into {uploads} ({exc.strerror or exc})."
            " Your tickets were not changed; free some disk space and try again."
        ) from None
    return copied, warnings


def _data_version(con: sqlite3.Connection) -> int:
    return con.execute("PRAGMA data_version").fetchone()[0]


def _match_page_size(checked: Path, watch: sqlite3.Connection) -> None:
    """SQLite cannot copy into a WAL database with another page size: rewrite the checked
    copy with the live file's (a backup from a machine with other defaults)."""
    wanted = watch.execute("PRAGMA page_size").fetchone()[0]
    con = sqlite3.connect(checked, isolation_level=None)
    try:
        if con.execute("PRAGMA page_size").fetchone()[0] != wanted:
            con.execute("PRAGMA journal_mode=DELETE")
            con.execute(f"PRAGMA page_size={int(wanted)}")
            con.execute("VACUUM")
    finally:
        con.close()


class _DataChanged(Exception):
    pass


class _Waited(Exception):
    pass


def _replace_database(checked: Path, live: Path, watch: sqlite3.Connection, baseline: int) -> None:
    """Copy `checked` over the live database in one write transaction (see the docstring)."""
    source = sqlite3.connect(checked, isolation_level=None)
    target = sqlite3.connect(live, timeout=10, isolation_level=None)
    locked = False
    started = time.monotonic()

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal locked
        if status in (_SQLITE_BUSY, _SQLITE_LOCKED):
            if time.monotonic() - started > LOCK_WAIT_SECONDS:
                raise _Waited
            return
        if status == _SQLITE_OK and not locked:
            # The first page is written and the write lock held, nothing committed yet: from
            # here on no one else can write, so check that no one did since the safety backup.
            locked = True
            if _data_version(watch) != baseline:
                raise _DataChanged

    try:
        if source.execute("PRAGMA page_count").fetchone()[0] < 2:
            # One step would copy and commit it before the check could run; a database of
            # ours always has more pages than that (one per table and index at least).
            raise RestoreRefused("The backup's database is empty. Nothing here was changed.")
        for pragma in db.PRAGMAS:  # synchronous=FULL: the commit is on disk when it returns
            target.execute(pragma)
        # One page per step, so the check above runs before the step that commits.
        source.backup(target, pages=1, progress=progress)
    except _DataChanged:
        raise RestoreBusy(
            "The tickets changed while the backup was being restored (another window, a "
            "script or an import saved something), so nothing was restored. Try again."
        ) from None
    except _Waited:
        raise RestoreBusy(
            "Another program kept writing to the tickets (an import, perhaps), so nothing was "
            "restored. Try again when it has finished."
        ) from None
    except sqlite3.Error as exc:
        log.error("Copying the restored database failed: %s", exc)
        raise StorageFailed(
            f"Could not write the restored database ({exc}). Nothing was restored: the "
            "tickets are as they were. Check that the disk has free space and try again."
        ) from None
    finally:
        target.close()
        source.close()
