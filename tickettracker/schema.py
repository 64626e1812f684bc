"""Schema versions and upgrades with no user action (issue 8). Adding a migration: docs/SCHEMA.md.

The schema's version is the Alembic revision stored in the database (table alembic_version).
Opening a database file does one of these:

- a new, empty file: create the current schema (models + search index) and stamp it with the
  newest revision, in one transaction;
- an older revision (or a file made before migrations existed, which counts as the baseline):
  first a consistent copy goes to <data-dir>/backups/ (SQLite's online backup API), then all
  migrations run in ONE transaction; if anything fails, the transaction rolls back and the file
  is exactly as it was, and the error says so;
- a revision this app does not know: a newer app wrote it, so refuse and change nothing;
- the newest revision: nothing to upgrade.

After any upgrade, every table and column models.py declares must be there; a database that
lacks one (damaged, or edited by hand) is refused with DatabaseDamaged, and nothing changes.
Every open ends by letting search.create_index bring the full-text table and the list indexes
in step with the code (it is idempotent, and rebuilds the index when its layout changed).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from . import __version__
from .datadir import DataDirError
from .search import DERIVED_TABLES

log = logging.getLogger("tickettracker")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The schema of the first release (the core), which had no alembic_version table yet.
BASELINE_REVISION = "0001_core"
VERSION_TABLE = "alembic_version"
# PRAGMA application_id marks the file as ours ("TkTr"), so a stray SQLite file is not mistaken
# for a ticket database.
APPLICATION_ID = 0x546B5472


class SchemaError(DataDirError):
    """This app cannot use the database as it is. Nothing in it was changed."""


class DatabaseTooNew(SchemaError):
    pass


class UpgradeFailed(SchemaError):
    pass


class NotOurDatabase(SchemaError):
    pass


class DatabaseDamaged(SchemaError):
    """A table or column the app needs is missing: the file was damaged or edited by hand.

    `problem` says what is missing ("it has no table attachments"), for messages that give
    their own advice (a restore refusing a backup, say)."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass
class OpenResult:
    action: str  # created | current | upgraded
    revision: str
    previous: str | None = None
    backup: Path | None = None


# --- the migration scripts ------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _scripts(location: str):
    from alembic.script import ScriptDirectory

    return ScriptDirectory(location)


def head_revision(location: Path | None = None) -> str:
    """The newest revision; more than one head means two migrations need merging."""
    heads = _scripts(str(location or MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(
            f"The migrations have {len(heads)} heads ({', '.join(sorted(heads))}): point one "
            "migration's down_revision at the other (see docs/SCHEMA.md)."
        )
    return heads[0]


def known_revisions(location: Path | None = None) -> set[str]:
    return {s.revision for s in _scripts(str(location or MIGRATIONS_DIR)).walk_revisions()}


def alembic_config(conn: Connection, location: Path | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(location or MIGRATIONS_DIR))
    cfg.set_main_option("file_template", "%%(rev)s")  # revision ids carry their own words
    cfg.attributes["connection"] = conn
    return cfg


def comparison_filter(conn: Connection) -> Callable[..., bool]:
    """Alembic's include_object hook: leave out what models.py does not declare on purpose.

    Full-text (virtual) tables and their shadow tables, and the list indexes and derived
    tables search.py creates, live outside the models. tests/test_schema.py compares a
    migrated database with a new one object by object, so these are still checked, only not
    by autogenerate.
    """
    virtual = [
        name
        for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'"
        )
    ]

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if not reflected or compare_to is not None or name is None:
            return True
        if type_ == "table":
            if name in DERIVED_TABLES:
                return False
            return not any(name == v or name.startswith(v + "_") for v in virtual)
        return type_ != "index"

    return include


# --- reading the state of a file -----------------------------------------------------------


@dataclass
class _State:
    revision: str | None  # None: an empty file
    stamped: bool  # False: made before migrations existed (needs its version record)


def _state(rows: Callable[[str], list[tuple]]) -> _State:
    """What the file holds, from `rows(sql)`; raises NotOurDatabase for anything else."""
    tables = {name for (name,) in rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    app_id = rows("PRAGMA application_id")[0][0]
    if VERSION_TABLE in tables and app_id == APPLICATION_ID:
        versions = rows(f"SELECT version_num FROM {VERSION_TABLE}")
        if len(versions) == 1:
            return _State(versions[0][0], True)
    elif app_id == 0 and not tables:
        return _State(None, False)
    elif app_id == 0 and VERSION_TABLE not in tables and {"tickets", "updates"} <= tables:
        return _State(BASELINE_REVISION, False)
    raise NotOurDatabase(
        "is not a TicketTracker database (or its version record is damaged). Nothing was "
        "changed. Start with another --data-dir, or restore a backup into a new folder with "
        "'tickettracker restore'."
    )


def database_revision(conn: Connection) -> str | None:
    """The revision of the database behind `conn` (None for an empty file)."""
    return _state(lambda sql: conn.exec_driver_sql(sql).fetchall()).revision


def _read_state(engine: Engine) -> _State:
    """Read the file with a plain connection that sets nothing (no WAL switch, no pragmas),
    so a file that turns out not to be ours is not modified by looking at it."""
    import sqlite3

    path = _db_path(engine)
    if path is None or not path.exists() or path.stat().st_size == 0:
        return _State(None, False)
    try:
        con = sqlite3.connect(path, timeout=10)
        try:
            return _state(lambda sql: con.execute(sql).fetchall())
        finally:
            con.close()
    except NotOurDatabase as exc:
        raise NotOurDatabase(f"{path} {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise NotOurDatabase(
            f"{path} cannot be read as a database ({exc}). Nothing was changed. If the file is "
            "damaged, restore a backup into a new folder with 'tickettracker restore'."
        ) from None


def _db_path(engine: Engine) -> Path | None:
    name = engine.url.database
    return Path(name) if name and name != ":memory:" else None


def missing_from_schema(rows: Callable[[str], list[tuple]]) -> str | None:
    """What of the tables and columns models.py declares the database lacks, in words, or
    None when all are there. One PRAGMA per table: cheap enough for every open."""
    from .models import Base

    for table in Base.metadata.sorted_tables:
        have = {row[1] for row in rows(f'PRAGMA table_info("{table.name}")')}
        if not have:
            return f"it has no table {table.name}"
        missing = [column.name for column in table.columns if column.name not in have]
        if missing:
            s = "s" * (len(missing) > 1)
            return f"its table {table.name} has no column{s} {', '.join(missing)}"
    return None


def _check_tables(conn: Connection) -> None:
    """Refuse a database whose tables are not all there (run before search.create_index,
    which would fail on them with an SQL error)."""
    problem = missing_from_schema(lambda sql: conn.exec_driver_sql(sql).fetchall())
    if problem is not None:
        raise DatabaseDamaged("", problem)


def _damaged_message(engine: Engine, problem: str, backups_dir: Path | None) -> str:
    where = _db_path(engine)
    folder = backups_dir or (where.parent / "backups" if where else None)
    backups = f" (backups are in {folder})" if folder else ""
    return (
        f"The database {where} is damaged: {problem}. Nothing was changed. Restore a backup"
        f"{backups} into a new folder with 'tickettracker restore BACKUP.zip --data-dir "
        "NEW_FOLDER', then start TicketTracker with --data-dir NEW_FOLDER."
    )


# --- opening --------------------------------------------------------------------------------


def open_database(
    engine: Engine,
    *,
    backups_dir: Path | None = None,
    location: Path | None = None,
    now: dt.datetime | None = None,
    upgrade: bool = True,
) -> OpenResult:
    """Create, check or upgrade the database behind `engine` (see the module docstring).

    upgrade=False (a command running beside the app) refuses instead of upgrading.
    """
    head = head_revision(location)
    state = _read_state(engine)
    if state.revision is None:
        if _in_transaction(engine, lambda conn: _create(conn, location, head)):
            return OpenResult("created", head)
        state = _read_state(engine)  # another process created it meanwhile
    current = state.revision
    if current not in known_revisions(location):
        raise DatabaseTooNew(_too_new_message(engine, current, head))
    if current == head and state.stamped:
        try:
            _in_transaction(engine, _refresh_index)
        except DatabaseDamaged as exc:
            raise DatabaseDamaged(
                _damaged_message(engine, exc.problem, backups_dir), exc.problem
            ) from None
        return OpenResult("current", head)

    if not upgrade:
        raise SchemaError(
            f"The database {_db_path(engine)} needs an upgrade (schema {current} to {head}), "
            "which is only done while no TicketTracker is running on it. Quit the running one "
            "(it is an older version) and try again."
        )
    backup = _backup_before_upgrade(engine, current, backups_dir, now)
    try:
        _in_transaction(engine, lambda conn: _upgrade(conn, location), foreign_keys=False)
    except DatabaseDamaged as exc:  # rolled back: the file is as it was
        raise DatabaseDamaged(
            _damaged_message(engine, exc.problem, backups_dir), exc.problem
        ) from None
    except Exception as exc:
        log.exception("Upgrading the database from %s to %s failed", current, head)
        raise UpgradeFailed(_failed_message(engine, current, head, exc, backup)) from None
    log.info("Upgraded the database from %s to %s (copy first: %s)", current, head, backup)
    return OpenResult("upgraded", head, previous=current, backup=backup)


def _in_transaction(engine: Engine, work, *, foreign_keys: bool = True):
    """Run work(conn) in one BEGIN IMMEDIATE transaction; foreign_keys=False switches the
    checks off for it (the pragma has no effect inside a transaction, so it is set before)."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if not foreign_keys:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                return work(conn)
        finally:
            if not foreign_keys:
                raw.execute("PRAGMA foreign_keys=ON")


def _create(conn: Connection, location: Path | None, head: str) -> bool:
    from alembic import command

    from . import search
    from .models import Base

    if database_revision(conn) is not None:  # re-read under the write lock
        return False
    Base.metadata.create_all(conn)
    search.create_index(conn)
    conn.exec_driver_sql(f"PRAGMA application_id={APPLICATION_ID}")
    command.stamp(alembic_config(conn, location), head)
    return True


def _refresh_index(conn: Connection) -> None:
    from . import search

    _check_tables(conn)
    search.create_index(conn)


def _upgrade(conn: Connection, location: Path | None) -> None:
    from alembic import command

    from . import search

    state = _state(lambda sql: conn.exec_driver_sql(sql).fetchall())  # under the write lock
    cfg = alembic_config(conn, location)
    violations_before = len(conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall())
    if not state.stamped:
        command.stamp(cfg, state.revision)
    command.upgrade(cfg, "head")
    _check_tables(conn)
    search.create_index(conn)
    conn.exec_driver_sql(f"PRAGMA application_id={APPLICATION_ID}")
    violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if len(violations) > violations_before:
        table, rowid, parent, _ = violations[0]
        raise RuntimeError(
            f"the upgrade left {len(violations)} rows pointing at missing rows (first: "
            f"{table} row {rowid} -> {parent})"
        )


def build_by_migrations(engine: Engine, location: Path | None = None) -> None:
    """Bring an empty database to the newest revision by running every migration (for tests
    and for drafting the next migration), then the search index, as an upgrade would."""

    def work(conn: Connection) -> None:
        from alembic import command

        from . import search

        command.upgrade(alembic_config(conn, location), "head")
        search.create_index(conn)
        conn.exec_driver_sql(f"PRAGMA application_id={APPLICATION_ID}")

    _in_transaction(engine, work, foreign_keys=False)


def _backup_before_upgrade(
    engine: Engine, current: str, backups_dir: Path | None, now: dt.datetime | None
) -> Path | None:
    from .backup import copy_database, timestamp

    db_path = _db_path(engine)
    if db_path is None:
        return None
    folder = backups_dir or db_path.parent / "backups"
    dest = folder / f"before-upgrade-{timestamp(now)}-{current}.db"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        copy_database(db_path, dest)
    except Exception as exc:
        log.exception("The copy before the upgrade failed")
        raise UpgradeFailed(
            f"TicketTracker {__version__} needs to upgrade the database in {db_path.parent}, "
            f"but could not first save a copy to {folder}: {exc}. Nothing was changed. Free "
            "some disk space (or fix the folder's permissions) and start TicketTracker again."
        ) from None
    return dest


def _too_new_message(engine: Engine, current: str, head: str) -> str:
    where = _db_path(engine)
    return (
        f"The database {where} was last used by a newer TicketTracker (schema {current}); "
        f"this is TicketTracker {__version__}, which knows schemas up to {head}. Nothing was "
        "changed. Install the newer TicketTracker to open it (pip install --upgrade "
        "tickettracker), or use another --data-dir."
    )


def _failed_message(
    engine: Engine, current: str, head: str, exc: Exception, backup: Path | None
) -> str:
    where = _db_path(engine)
    copy = f" A copy taken before the attempt is at {backup}." if backup else ""
    return (
        f"TicketTracker {__version__} could not upgrade the database {where} from schema "
        f"{current} to {head}: {exc}. Nothing was changed: the database is exactly as it "
        f"was.{copy} You can keep using the previous TicketTracker version with it; please "
        "report this problem with the log file from the logs folder."
    )
