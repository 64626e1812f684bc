"""Engine, connection settings and schema creation. SQL text lives here and in search.py only."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from .models import Base

SCHEMA_VERSION = 1


def _on_connect(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's BEGIN go through; we issue BEGIN IMMEDIATE ourselves (see _on_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: every acknowledged commit survives power loss, not only a process crash. The cost
    # (one fsync of the WAL per commit) is small next to losing a user's acknowledged edit.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
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


def init_db(engine: Engine) -> None:
    """Create the schema on a new database."""
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        from . import search

        search.create_index(conn)
        conn.exec_driver_sql(f"PRAGMA user_version={SCHEMA_VERSION}")


def make_sessionmaker(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions for reading, or (write=True) for one short write transaction each."""
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    return sessionmaker(bind, expire_on_commit=False)
