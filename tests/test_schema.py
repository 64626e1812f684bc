"""Schema versions and upgrades (issue 8): models and migrations agree, an older database is
copied and then upgraded with its data intact, a failed upgrade changes nothing, and a newer
database is refused."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tickettracker import db, schema
from tickettracker.models import Base

from .conftest import REPO_ROOT, newer_data_dir

FIXTURES = Path(__file__).parent / "fixtures"
CORE_DB = FIXTURES / "core-schema.db"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def schema_of(path: Path) -> dict:
    """Every table, column, key, unique constraint and index, in a form independent of the
    order columns were added and of how the CREATE statement was spelled."""
    con = sqlite3.connect(path)
    out: dict = {"application_id": con.execute("PRAGMA application_id").fetchone()[0]}
    rows = con.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchall()
    virtual = [n for t, n, _, sql in rows if t == "table" and sql.startswith("CREATE VIRTUAL")]
    for type_, name, table, sql in rows:
        if type_ == "table" and name in virtual:
            out[name] = ("virtual", " ".join(sql.split()))
        elif type_ == "table" and any(name.startswith(v + "_") for v in virtual):
            continue  # FTS shadow tables follow from the virtual table
        elif type_ == "table":
            columns = sorted(
                (c[1], c[2].upper(), c[3], c[4], c[5])
                for c in con.execute(f'PRAGMA table_xinfo("{name}")')
            )
            keys = sorted(
                (f[2], f[3], f[4], f[5], f[6])
                for f in con.execute(f'PRAGMA foreign_key_list("{name}")')
            )
            uniques = sorted(
                tuple(c[2] for c in con.execute(f'PRAGMA index_info("{i[1]}")'))
                for i in con.execute(f'PRAGMA index_list("{name}")')
                if i[3] == "u"
            )
            out[name] = ("table", columns, keys, uniques)
        elif type_ == "index" and sql:
            cols = [
                c[2] for c in con.execute(f'PRAGMA index_xinfo("{name}")') if c[5]
            ]  # key columns only; None for an expression
            where = sql.split(" WHERE ", 1)[1] if " WHERE " in sql else ""
            unique = sql.upper().startswith("CREATE UNIQUE")
            out[name] = ("index", table, unique, cols, re.sub(r'[\s"]', "", where))
        else:
            out[name] = (type_, table, " ".join((sql or "").split()))
    con.close()
    return out


def migrations_copy(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    """The real migrations in a scratch folder, plus extra revision files (name -> source)."""
    location = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, location, ignore=shutil.ignore_patterns("__pycache__"))
    for name, source in (extra or {}).items():
        (location / "versions" / name).write_text(source, encoding="utf-8")
    return location


def extra_revision(rev: str, down: str, body: str) -> dict[str, str]:
    source = (
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
        "depends_on = None\n\n\ndef upgrade():\n" + body + "\n"
    )
    return {f"{rev}.py": source}


def core_data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(CORE_DB, data / "tickettracker.db")
    return data


# --- models and migrations agree -------------------------------------------------------------


def test_the_migrations_have_one_head():
    assert schema.head_revision() in schema.known_revisions()


def test_two_heads_are_reported(tmp_path):
    head = schema.head_revision()
    location = migrations_copy(
        tmp_path,
        {
            **extra_revision("0901_a", head, "    pass"),
            **extra_revision("0902_b", head, "    pass"),
        },
    )
    with pytest.raises(RuntimeError, match="2 heads"):
        schema.head_revision(location)


def test_a_migrated_database_equals_a_new_one(tmp_path):
    """If this fails, models.py (or search.create_index) changed without a migration, or a
    migration does not produce what models.py declares. See docs/SCHEMA.md."""
    new_engine = db.make_engine(tmp_path / "new.db")
    assert db.init_db(new_engine).action == "created"
    new_engine.dispose()
    migrated_engine = db.make_engine(tmp_path / "migrated.db")
    schema.build_by_migrations(migrated_engine)
    migrated_engine.dispose()

    new, migrated = schema_of(tmp_path / "new.db"), schema_of(tmp_path / "migrated.db")
    assert set(new) == set(migrated), "tables or indexes differ (see docs/SCHEMA.md)"
    for name in new:
        assert new[name] == migrated[name], f"{name} differs between a new and a migrated database"


def test_autogenerate_finds_nothing_to_do(tmp_path):
    """The same check through Alembic's own comparison (types, nullability, keys)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = db.make_engine(tmp_path / "migrated.db")
    schema.build_by_migrations(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": schema.comparison_filter(conn)},
        )
        diffs = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diffs == [], "models.py and the migrations disagree; draft a migration (docs/SCHEMA.md)"


def test_a_model_change_without_a_migration_is_caught(tmp_path):
    """The two checks above can fail: a column only in the models is found."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import Column, Integer, MetaData

    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["tickets"].append_column(Column("forgotten", Integer))
    engine = db.make_engine(tmp_path / "migrated.db")
    schema.build_by_migrations(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": schema.comparison_filter(conn)}
        )
        diffs = compare_metadata(context, metadata)
    engine.dispose()
    assert [d[0] for d in diffs] == ["add_column"]


# --- upgrading an older database ----------------------------------------------------------------


def test_core_database_is_copied_then_upgraded_with_its_data_intact(tmp_path):
    from tickettracker.web import create_app

    data = core_data_dir(tmp_path)
    before_dump = dump(data / "tickettracker.db")
    expected = json.loads((FIXTURES / "core-schema.json").read_text(encoding="utf-8"))

    app = create_app(data, {"TESTING": True})
    st = app.extensions["tickettracker"]
    try:
        # The copy came first, and holds exactly the old data.
        copies = sorted((data / "backups").glob("before-upgrade-*-0001_core.db"))
        assert len(copies) == 1
        assert dump(copies[0]) == before_dump
        assert not (data / "backups" / (copies[0].name + ".partial")).exists()
        assert copies[0].stat().st_mode & 0o777 == 0o600

        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {st.token}"
        for old in expected["tickets"]:
            new = client.get(f"/api/v1/tickets/{old['id']}").get_json()
            for key, value in old.items():
                assert new[key] == value, f"ticket {old['id']}: {key} changed"
        found = client.get("/api/v1/tickets?q=VPN").get_json()
        assert [t["id"] for t in found["items"]] == [2]
        with st.engine.connect() as conn:
            assert schema.database_revision(conn) == schema.head_revision()
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA application_id").scalar() == schema.APPLICATION_ID
    finally:
        st.engine.dispose()

    # Opening again changes nothing and copies nothing.
    engine = db.make_engine(data / "tickettracker.db")
    assert db.init_db(engine).action == "current"
    engine.dispose()
    assert len(list((data / "backups").glob("*.db"))) == 1


def test_a_table_rebuild_in_a_migration_keeps_every_child_row(tmp_path):
    """SQLite rebuilds a table to alter it (copy, drop, rename). With foreign keys on, the drop
    would cascade and delete every log entry; the upgrade switches them off and checks the
    keys before committing."""
    head = schema.head_revision()
    body = (
        "    with op.batch_alter_table('tickets', recreate='always') as batch:\n"
        "        batch.add_column(sa.Column('extra', sa.Text(), nullable=True))\n"
    )
    location = migrations_copy(tmp_path, extra_revision("0900_rebuild", head, body))
    data = core_data_dir(tmp_path)
    counts_before = _counts(data / "tickettracker.db")

    engine = db.make_engine(data / "tickettracker.db")
    result = schema.open_database(engine, backups_dir=data / "backups", location=location)
    engine.dispose()

    assert (result.action, result.previous, result.revision) == (
        "upgraded",
        "0001_core",
        "0900_rebuild",
    )
    assert _counts(data / "tickettracker.db") == counts_before
    con = sqlite3.connect(data / "tickettracker.db")
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert "extra" in [c[1] for c in con.execute("PRAGMA table_info(tickets)")]
    con.close()


def test_a_migration_may_drop_the_search_index_to_have_it_rebuilt(tmp_path):
    head = schema.head_revision()
    body = "    op.execute('DROP TABLE ticket_fts')\n"
    location = migrations_copy(tmp_path, extra_revision("0900_reindex", head, body))
    data = core_data_dir(tmp_path)
    engine = db.make_engine(data / "tickettracker.db")
    schema.open_database(engine, backups_dir=data / "backups", location=location)
    engine.dispose()
    con = sqlite3.connect(data / "tickettracker.db")
    indexed = con.execute("SELECT count(*) FROM ticket_fts").fetchone()[0]
    hits = con.execute("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH 'vpn'").fetchall()
    con.close()
    assert indexed == 5 and hits == [(2,)]


def _counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    tables = ["tickets", "updates", "watchers", "links", "tags", "ticket_tags"]
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    con.close()
    assert counts["updates"] > 0
    return counts


def test_a_failed_upgrade_leaves_the_database_byte_identical(tmp_path, caplog):
    from tickettracker.web import create_app

    head = schema.head_revision()
    body = (
        "    op.add_column('tickets', sa.Column('half_done', sa.Integer(), nullable=True))\n"
        "    op.execute(\"UPDATE tickets SET title = 'overwritten'\")\n"
        "    op.execute('DELETE FROM updates')\n"
        "    raise RuntimeError('injected failure in step two')\n"
    )
    location = migrations_copy(tmp_path, extra_revision("0900_boom", head, body))
    data = core_data_dir(tmp_path)
    original = sha256(data / "tickettracker.db")

    engine = db.make_engine(data / "tickettracker.db")
    with pytest.raises(schema.UpgradeFailed) as info:
        schema.open_database(engine, backups_dir=data / "backups", location=location)
    engine.dispose()

    message = str(info.value)
    assert "injected failure in step two" in message
    assert "from schema 0001_core to 0900_boom" in message
    assert "Nothing was changed" in message
    copies = list((data / "backups").glob("before-upgrade-*.db"))
    assert len(copies) == 1 and str(copies[0]) in message
    assert sha256(data / "tickettracker.db") == original
    assert not (data / "tickettracker.db-wal").exists()
    # ... and the real app, which knows no such step, still opens it and upgrades it.
    app = create_app(data, {"TESTING": True})
    app.extensions["tickettracker"].engine.dispose()
    # The details (traceback) went to the log, not to the user's screen.
    failures = [r for r in caplog.records if r.exc_info and "failed" in r.getMessage()]
    assert "injected failure in step two" in str(failures[0].exc_info[1])


# --- databases this app must not touch ----------------------------------------------------------


def test_a_newer_database_is_refused_and_left_alone(tmp_path):
    from tickettracker.web import create_app

    data = newer_data_dir(tmp_path)
    original = sha256(data / "tickettracker.db")
    with pytest.raises(schema.DatabaseTooNew, match="newer TicketTracker.*9999_from_the_future"):
        create_app(data, {"TESTING": True})
    assert sha256(data / "tickettracker.db") == original
    assert list((data / "backups").iterdir()) == []


def _start_refused(data: Path) -> subprocess.CompletedProcess:
    """Start the app on `data`; it must refuse with exit code 2 and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "tickettracker", "--data-dir", str(data), "--no-open"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


@pytest.mark.process
def test_the_command_explains_a_newer_database_without_a_traceback(tmp_path):
    data = newer_data_dir(tmp_path)
    proc = _start_refused(data)
    assert proc.stderr.startswith("tickettracker: The database ")
    assert "was last used by a newer TicketTracker (schema 9999_from_the_future)" in proc.stderr
    assert "Install the newer TicketTracker" in proc.stderr


def test_a_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    original = sha256(path)
    engine = db.make_engine(path)
    with pytest.raises(schema.NotOurDatabase, match="is not a TicketTracker database"):
        db.init_db(engine)
    engine.dispose()
    assert sha256(path) == original


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not SQLite at all" * 200)
    engine = db.make_engine(path)
    with pytest.raises(schema.NotOurDatabase, match="cannot be read as a database"):
        db.init_db(engine)
    engine.dispose()
    assert path.read_bytes() == b"this is not SQLite at all" * 200


# --- a database damaged in its schema -----------------------------------------------------------


def _damaged_data_dir(tmp_path: Path, damage: str) -> Path:
    data = tmp_path / "data"
    (data / "backups").mkdir(parents=True)
    engine = db.make_engine(data / "tickettracker.db")
    db.init_db(engine)
    engine.dispose()
    con = sqlite3.connect(data / "tickettracker.db")
    con.execute(damage)
    con.commit()
    con.close()
    return data


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("DROP TABLE attachments", "it has no table attachments"),
        ("ALTER TABLE tickets DROP COLUMN notes", "its table tickets has no column notes"),
    ],
)
def test_a_database_missing_a_table_or_column_is_refused(tmp_path, damage, problem):
    from tickettracker.web import create_app

    data = _damaged_data_dir(tmp_path, damage)
    original = sha256(data / "tickettracker.db")
    with pytest.raises(schema.DatabaseDamaged) as caught:
        create_app(data, {"TESTING": True})
    message = str(caught.value)
    assert message.startswith(f"The database {data / 'tickettracker.db'} is damaged: {problem}.")
    assert "restore" in message and "Nothing was changed." in message
    assert sha256(data / "tickettracker.db") == original
    assert list((data / "backups").iterdir()) == []


def test_an_upgrade_that_leaves_a_table_missing_is_refused(tmp_path):
    """A database of the first release without a table the models need: after the upgrade
    (in its transaction) the check finds it, and the upgrade rolls back."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(CORE_DB, data / "tickettracker.db")
    con = sqlite3.connect(data / "tickettracker.db")
    con.execute("DROP TABLE links")
    con.commit()
    con.close()
    before = dump(data / "tickettracker.db")
    engine = db.make_engine(data / "tickettracker.db")
    try:
        with pytest.raises(schema.DatabaseDamaged, match="it has no table links"):
            db.init_db(engine, backups_dir=data / "backups")
    finally:
        engine.dispose()
    assert dump(data / "tickettracker.db") == before


@pytest.mark.process
def test_starting_on_a_damaged_database_says_so_in_one_line(tmp_path):
    data = _damaged_data_dir(tmp_path, "DROP TABLE attachments")
    proc = _start_refused(data)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tickettracker: The database ")
    assert "is damaged: it has no table attachments." in lines[0]
    assert "tickettracker restore" in lines[0]
