"""`tickettracker backup | restore | export | import`: the data commands (issue 8)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from .datadir import (
    CONFIG_NAME,
    DB_NAME,
    DataDirError,
    InstanceLock,
    ensure_data_dir,
    make_private,
    resolve_data_dir,
)

COMMANDS = ("backup", "restore", "export", "import")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the data commands to the `tickettracker` parser's subcommands."""

    def data_dir_option(parser: argparse.ArgumentParser, what: str) -> None:
        # SUPPRESS: `tickettracker --data-dir X backup` and `tickettracker backup --data-dir X`
        # both work; the later one wins.
        parser.add_argument("--data-dir", metavar="FOLDER", default=argparse.SUPPRESS, help=what)

    backup = commands.add_parser(
        "backup",
        help="save a consistent copy of everything in one zip (also while the app runs)",
        description="Write the database (a consistent snapshot, safe while TicketTracker runs), "
        "the attached files and the configuration into one zip file.",
    )
    backup.add_argument(
        "dest",
        nargs="?",
        metavar="DEST",
        help="an existing folder to write a dated zip in, or a new file name ending in .zip "
        "(default: the data folder's backups/ folder)",
    )
    data_dir_option(backup, "the data folder to back up")

    restore = commands.add_parser(
        "restore",
        help="unpack a backup zip into a new, empty data folder",
        description="Unpack a backup made by 'tickettracker backup' into a new or empty "
        "folder, checking every file's checksum and the database's integrity first. An "
        "existing data folder is never overwritten.",
    )
    restore.add_argument("zip", metavar="ZIP", help="the backup file")
    data_dir_option(restore, "the new, empty folder to restore into")

    export = commands.add_parser(
        "export",
        help="write all tickets to JSON (complete, re-importable) or CSV (for spreadsheets)",
        description="JSON holds every ticket with its whole history, tags, links and "
        "attachment details, and imports back exactly. CSV holds one row per ticket.",
    )
    export.add_argument(
        "output",
        nargs="?",
        metavar="FILE",
        help="the .json or .csv file to write, or an existing folder to write it in (default "
        "or '-': the screen); an existing file is never replaced without --force",
    )
    export.add_argument(
        "--format",
        choices=("json", "csv"),
        help="default: from FILE's extension (.json or .csv); json on the screen or into a folder",
    )
    export.add_argument("--force", action="store_true", help="replace FILE if it exists")
    data_dir_option(export, "the data folder to export")

    imp = commands.add_parser(
        "import",
        help="add tickets from our JSON export or from a CSV file with a header row",
        description="All or nothing: every problem in the file is listed (CSV: by line) and, "
        "if there is any, nothing is imported. CSV columns: title, description, requester, "
        "watchers, priority, status, due, tags, created_at (and notes, hold_reason, links); "
        "only title is required.",
    )
    imp.add_argument("file", metavar="FILE", help="the .json or .csv file")
    imp.add_argument("--format", choices=("json", "csv"), help="default: from FILE's extension")
    imp.add_argument(
        "--files",
        metavar="FOLDER",
        action="append",
        default=[],
        help="JSON: where the attachments' bytes are (an old data folder or its uploads "
        "folder); may be given more than once",
    )
    imp.add_argument(
        "--without-missing-files",
        action="store_true",
        help="JSON: import anyway, leaving out attachments whose bytes cannot be found",
    )
    imp.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="also import tickets that are already here (same title, requester and creation "
        "time as a ticket here); without it they are skipped",
    )
    imp.add_argument(
        "--dry-run", action="store_true", help="check the file and report, import nothing"
    )
    data_dir_option(imp, "the data folder to import into (created if new)")


def run(args: argparse.Namespace) -> int:
    """Run one data command; messages for the user, never a traceback for expected trouble."""
    from .backup import BackupError
    from .importing import FileUnreadable, ImportRefused

    handlers = {"backup": _backup, "restore": _restore, "export": _export, "import": _import}
    try:
        data_dir = resolve_data_dir(getattr(args, "data_dir", None))
        return handlers[args.command](args, data_dir)
    except ImportRefused as exc:
        problems = exc.report.problems
        if len(problems) == 1 and problems[0].where == "the file" and not problems[0].field:
            # One thing wrong with the whole file: one line, naming it.
            _err(f"tickettracker: {args.file} {problems[0].message} Nothing was imported.")
            return 1
        for problem in problems[:200]:
            _err(str(problem))
        if len(problems) > 200:
            _err(f"... and {len(problems) - 200} more.")
        _err(f"tickettracker: {exc}")
        return 1
    except (BackupError, DataDirError) as exc:
        _err(f"tickettracker: {exc}")
        return 1 if isinstance(exc, BackupError) else 2
    except FileUnreadable as exc:
        _err(f"tickettracker: {exc.message} Nothing was imported.")
        return 1
    except OSError as exc:
        # Whatever the checks above did not foresee (a name too long, a disk that fails):
        # one line, not a traceback.
        name = f" {exc.filename}" if exc.filename else ""
        _err(
            f"tickettracker: cannot use{name}: {exc.strerror or exc}. Check the name and "
            "that you may read and write there."
        )
        return 1


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _count(n: int | None, noun: str, plural: str | None = None) -> str:
    return f"{n or 0} {noun if n == 1 else plural or noun + 's'}"


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _backup(args: argparse.Namespace, data_dir: Path) -> int:
    from .backup import make_backup

    if not (data_dir / DB_NAME).exists():
        raise DataDirError(f"There is no TicketTracker data in {data_dir}: nothing to back up.")
    info = make_backup(data_dir, _backup_dest(args.dest) if args.dest else None)
    print(
        f"Backed up {_count(info.tickets, 'ticket')}, {_count(info.files, 'attached file')} "
        f"and the settings to {info.path} ({_size(info.size)})."
    )
    for warning in info.warnings:
        _err(f"Warning: {warning}")
    return 0


def _backup_dest(given: str) -> Path:
    """Where `backup DEST` writes: into an existing folder, or the .zip file named. Anything
    else is refused, so a folder that is not there (a USB stick not mounted) never becomes a
    file of that name."""
    dest = Path(given).expanduser()
    if dest.is_dir():
        return dest
    # Path() drops a trailing separator, so the name as typed says whether a folder was meant.
    if given.endswith(("/", os.sep)) or dest.suffix.lower() != ".zip":
        if dest.exists():
            raise DataDirError(
                f"{given} is a file, not a folder; give a folder, or a new file name ending "
                "in .zip."
            )
        raise DataDirError(
            f"There is no folder {given}: create it first, or give a file name ending in .zip."
        )
    if not dest.parent.is_dir():
        raise DataDirError(f"The folder {dest.parent} does not exist; create it first.")
    return dest


def _restore(args: argparse.Namespace, data_dir: Path) -> int:
    from . import schema
    from .backup import restore_backup

    source = Path(args.zip).expanduser()
    if source.is_dir():
        raise DataDirError(f"{args.zip} is a folder; give the backup's .zip file.")
    if not source.is_file():
        raise DataDirError(f"There is no file {args.zip}.")
    result = restore_backup(source, data_dir)
    print(
        f"Restored {_count(result.tickets, 'ticket')} and "
        f"{_count(result.files, 'attached file')} into {data_dir}; the database passed its "
        "integrity check and every file its checksum."
    )
    for warning in result.warnings:
        _err(f"Warning: {warning}")
    if result.schema and result.schema not in schema.known_revisions():
        _err(
            f"Note: this backup was made by a newer TicketTracker (schema {result.schema}); "
            "install that version to open it."
        )
    print(f"Open it with: tickettracker --data-dir {data_dir}")
    return 0


@contextlib.contextmanager
def open_data(data_dir: Path, *, create: bool = False, writing: bool = False) -> Iterator[Engine]:
    """The data folder's database for a command, upgraded first if no app is running on it
    (an app that runs has its database at its own version already). A writing command keeps
    the folder's lock while it works, so an app starting meanwhile cannot take its
    half-copied files for leftovers; a reading one lets go at once."""
    from . import db
    from .config import ensure_user_config

    if not create and not (data_dir / DB_NAME).exists():
        raise DataDirError(
            f"There is no TicketTracker data in {data_dir}. Choose the folder with --data-dir."
        )
    ensure_data_dir(data_dir)
    ensure_user_config(data_dir / CONFIG_NAME)
    lock = InstanceLock(data_dir)
    alone = lock.acquire()
    engine = db.make_engine(data_dir / DB_NAME)
    try:
        from . import schema

        schema.open_database(engine, backups_dir=data_dir / "backups", upgrade=alone)
        make_private(data_dir / DB_NAME)
        if alone and not writing:
            lock.release()
            alone = False
        yield engine
    finally:
        engine.dispose()
        if alone:
            lock.release()


def _format(given: str | None, path: str) -> str:
    """The format a file is in: what its extension says, or what --format says. A clash
    between the two, or neither, is refused rather than guessed."""
    suffix = Path(path).suffix.lower()
    named = suffix[1:] if suffix in (".json", ".csv") else None
    if given and named and given != named:
        raise DataDirError(
            f"{path} ends in {suffix} but --format {given} was given; name the file "
            f"{Path(path).stem}.{given}, or leave --format out."
        )
    if given or named:
        return given or named
    raise DataDirError(
        f"Cannot tell the format from the name {path}: end it in .json (every ticket with its "
        "history, re-importable) or .csv (for spreadsheets), or add --format json or "
        "--format csv."
    )


def _export_dest(args: argparse.Namespace, now: dt.datetime) -> tuple[Path, str]:
    """Where an export goes and in which format; refuses to replace a file without --force."""
    from .backup import timestamp

    dest = Path(args.output).expanduser()
    if dest.is_dir():  # like backup: a folder gets a new file with a dated name
        fmt = args.format or "json"
        name = f"tickettracker-export-{timestamp(now)}"
        dest = dest / f"{name}.{fmt}"
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{name}-{n}.{fmt}")
        return dest, fmt
    fmt = _format(args.format, args.output)
    if not dest.parent.is_dir():
        raise DataDirError(f"The folder {dest.parent} does not exist; create it first.")
    if dest.exists() and not args.force:
        raise DataDirError(
            f"{args.output} already exists; choose another file name, or add --force to replace it."
        )
    return dest, fmt


def _export(args: argparse.Namespace, data_dir: Path) -> int:
    from sqlalchemy.orm import Session

    from . import export, schema

    to_screen = not args.output or args.output == "-"
    now = dt.datetime.now(dt.timezone.utc)
    if to_screen:
        fmt = args.format or "json"
    else:
        dest, fmt = _export_dest(args, now)
    with open_data(data_dir) as engine, Session(engine) as session:
        revision = schema.head_revision()
        if to_screen:
            out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False)  # noqa: SIM115
            with out:
                count = _write(export, fmt, session, out, now, revision)
            _err(f"Exported {_count(count, 'ticket')}.")
            return 0
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
        try:
            encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
            with os.fdopen(fd, "w", encoding=encoding, newline="") as out:
                count = _write(export, fmt, session, out, now, revision)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
    print(f"Exported {_count(count, 'ticket')} to {dest}.")
    return 0


def _write(export, fmt: str, session, out, now: dt.datetime, revision: str) -> int:
    if fmt == "csv":
        return export.write_csv(session, out)
    return export.write_json(session, out, now=now, revision=revision)


def _import(args: argparse.Namespace, data_dir: Path) -> int:
    from . import db, importing
    from .config import load_config

    source = Path(args.file).expanduser()
    if source.is_dir():
        raise DataDirError(f"{args.file} is a folder; give the .json or .csv file to import.")
    if not source.is_file():
        raise DataDirError(f"There is no file {args.file}.")
    fmt = _format(args.format, args.file)
    try:
        fh = open(source, "rb")  # noqa: SIM115 - closed below, after the import
    except OSError as exc:
        raise DataDirError(
            f"Cannot read {args.file}: {exc.strerror}. Check its permissions."
        ) from None
    with fh, open_data(data_dir, create=True, writing=True) as engine:
        session = db.make_sessionmaker(engine, write=True)()
        try:
            if fmt == "csv":
                config = load_config(data_dir / CONFIG_NAME).config
                with importing.csv_text(fh) as stream:
                    report = importing.import_csv(
                        session,
                        stream,
                        config=config,
                        name=args.file,
                        allow_duplicates=args.allow_duplicates,
                    )
            else:
                report = importing.import_json(
                    session,
                    importing.load_json(fh, args.file),
                    uploads=data_dir / "uploads",
                    file_sources=[Path(f).expanduser() for f in args.files],
                    without_missing_files=args.without_missing_files,
                    allow_duplicates=args.allow_duplicates,
                )
            if args.dry_run:
                session.rollback()
                print(f"The file is fine: {_count(report.tickets, 'ticket')} would be imported.")
            else:
                session.commit()
                history = (
                    f" ({_count(report.updates, 'log entry', 'log entries')}, "
                    f"{_count(report.attachments, 'attachment')})"
                    if fmt == "json"
                    else ""
                )
                print(f"Imported {_count(report.tickets, 'ticket')}{history} into {data_dir}.")
        finally:
            session.close()
    if report.skipped:
        n = report.skipped
        print(
            f"{'Would skip' if args.dry_run else 'Skipped'} {_count(n, 'ticket')} already "
            f"here ({importing.DUPLICATE_RULE}). To import {'it' if n == 1 else 'them'} "
            "anyway, add --allow-duplicates."
        )
    for note in report.notes:
        print(note)
    return 0
