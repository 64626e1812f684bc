"""Engine, connection settings and schema creation. SQL text lives here and in search.py only.

Durability settings (issue 8; the README's "How your data is kept safe" says the same):

- journal_mode=WAL: a commit appends to the write-ahead log and never rewrites the database
  in place, so a crash at any moment leaves either the old or the new state; readers never
  block the writer.
- synchronous=FULL: the log is fsynced at every commit, so an acknowledged change survives a
  power cut too, not only a killed process (NORMAL would be safe against a crash of the app
  but could lose the last commits on power loss). Cost: one fsync per user action.
- fullfsync=ON: on macOS a plain fsync leaves data in the drive's cache; F_FULLFSYNC flushes
  it. Ignored on other systems.
- foreign_keys=ON: no log entry, watcher, link or attachment row can point at a missing ticket.
- busy_timeout=10000: a second writer (a backup, an import, a script) waits up to 10 s for
  the lock instead of failing with "database is locked".
- journal_size_limit: after a checkpoint the log file shrinks back to at most 64 MiB, so one
  big import does not leave a huge file behind.
- Writers start with BEGIN IMMEDIATE (see _on_begin), and each user action is one
  transaction committed at the request boundary.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA fullfsync=ON",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_size_limit=67108864",
)


def _on_connect(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's BEGIN go through; we issue BEGIN IMMEDIATE ourselves (see _on_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    for pragma in PRAGMAS:
        cur.execute(pragma)
    cur.close()


def _on_begin(conn) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE), so two writers queue on the busy
    # timeout instead of one failing half-way with "database is locked".
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(db_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{db_path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def init_db(engine: Engine, *, backups_dir: Path | None = None):
    """Create the schema on a new database, or upgrade an older one (copy taken first).

    Raises schema.SchemaError (a DataDirError) with a message for the user when the file
    cannot be used: written by a newer app, not ours, or a failed upgrade (nothing changed).
    """
    from . import schema

    return schema.open_database(engine, backups_dir=backups_dir)


def make_sessionmaker(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions for reading, or (write=True) for one short write transaction each."""
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    return sessionmaker(bind, expire_on_commit=False)
