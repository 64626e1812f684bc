"""Backups and restores (issue 8): a consistent zip while the app keeps writing, restored
only into an empty folder and only when every checksum and the database check out."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tickettracker import backup
from tickettracker.web import create_app

from . import richdata
from .conftest import REPO_ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tickettracker", *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def post(base: str, token: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201
        return json.loads(resp.read())


def rows(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def rich_dir(app) -> Path:
    st = app.extensions["tickettracker"]
    with st.write_sessions() as session:
        richdata.build(session, st.config, st.data_dir)
        session.commit()
    st.engine.dispose()
    return st.data_dir


@pytest.mark.process
def test_backup_while_the_app_writes_then_restore_and_compare(start_app, data_dir, tmp_path):
    app = start_app(data_dir, "--no-open")
    base, token = app.wait_for_url()
    # An attachment's bytes first, then its row (the order the app keeps).
    sha = richdata.store_bytes(data_dir, b"scan " * 10_000)
    first = post(base, token, "/api/v1/tickets", {"title": "Has a file"})
    con = sqlite3.connect(data_dir / "tickettracker.db", timeout=30)
    con.execute(
        "INSERT INTO attachments (ticket_id, filename, size, content_type, sha256, created_at)"
        " VALUES (?, 'scan.pdf', 50000, 'application/pdf', ?, '2026-01-01 00:00:00')",
        (first["id"], sha),
    )
    con.commit()
    con.close()

    acked: list[dict] = []
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            ticket = post(base, token, "/api/v1/tickets", {"title": f"T{n}", "tags": ["load"]})
            post(base, token, f"/api/v1/tickets/{ticket['id']}/updates", {"body": f"note {n}"})
            acked.append(ticket)

    writer = threading.Thread(target=write)
    writer.start()
    zips = []
    try:
        for _ in range(3):
            time.sleep(0.3)  # let some writes land between backups
            acked_before = len(acked)
            out = run_cli("backup", str(tmp_path), "--data-dir", str(data_dir))
            assert out.returncode == 0, out.stderr
            assert out.stdout.startswith("Backed up ")
            assert ", 1 attached file and the settings to " in out.stdout
            zips.append((Path(out.stdout.split(" to ")[1].rsplit(" (", 1)[0]), acked_before))
    finally:
        stop.set()
        writer.join(60)
    assert app.terminate() == 0
    assert len(acked) > 20, "the writer hardly wrote anything: the test proves little"

    live = data_dir / "tickettracker.db"
    live_tickets = dict(rows(live, "SELECT id, title FROM tickets"))
    for n, (zip_path, acked_before) in enumerate(zips):
        target = tmp_path / f"restored-{n}"
        out = run_cli("restore", str(zip_path), "--data-dir", str(target))
        assert out.returncode == 0, out.stderr
        assert "passed its integrity check and every file its checksum" in out.stdout
        db = target / "tickettracker.db"
        restored = dict(rows(db, "SELECT id, title FROM tickets"))
        # Everything acknowledged before the backup started is in it ...
        assert {t["id"] for t in acked[:acked_before]} <= set(restored)
        # ... and it is one consistent moment of the live data: same rows, no torn ticket.
        assert all(live_tickets[i] == title for i, title in restored.items())
        notes = dict(rows(db, "SELECT ticket_id, count(*) FROM updates GROUP BY ticket_id"))
        assert all(notes[i] in (1, 2) for i in restored)
        assert rows(db, "PRAGMA foreign_key_check") == []
        stored = target / "uploads" / sha[:2] / sha
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
        assert (target / "config.json").read_bytes() == (data_dir / "config.json").read_bytes()
        assert not (target / "token").exists()  # the restored folder makes its own secret


def test_restore_opens_in_the_app_with_everything(rich_dir, tmp_path):
    info = backup.make_backup(rich_dir, tmp_path)
    assert (info.tickets, info.files, info.warnings) == (5, 2, [])
    result = backup.restore_backup(info.path, tmp_path / "restored")
    assert (result.tickets, result.files) == (5, 2)

    before, after = create_app(rich_dir), create_app(tmp_path / "restored")
    try:
        tokens = [a.extensions["tickettracker"].token for a in (before, after)]
        assert tokens[0] != tokens[1]
        views = []
        for app, token in zip((before, after), tokens, strict=True):
            client = app.test_client()
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            views.append([client.get(f"/api/v1/tickets/{i}").get_json() for i in range(1, 6)])
        for view in views:
            for ticket in view:
                ticket.pop("sla", None)
        assert views[0] == views[1]
    finally:
        for app in (before, after):
            app.extensions["tickettracker"].engine.dispose()


def test_what_a_backup_holds(rich_dir, tmp_path):
    (rich_dir / "window.json").write_text("{}", encoding="utf-8")  # someone's future state file
    (rich_dir / ".window.json.tmp").write_text("{", encoding="utf-8")
    (rich_dir / "uploads" / "tmp").mkdir()
    (rich_dir / "uploads" / "tmp" / "upload-x.part").write_bytes(b"half")
    (rich_dir / "backups" / "old.zip").write_bytes(b"not in the new one")
    info = backup.make_backup(rich_dir, tmp_path / "b.zip")
    with zipfile.ZipFile(info.path) as zf:
        names = sorted(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    uploads = [n for n in names if n.startswith("uploads/")]
    assert len(uploads) == 2
    assert sorted(set(names) - set(uploads)) == [
        "config.json",
        "manifest.json",
        "tickettracker.db",
        "window.json",
    ]
    assert manifest["format"] == "tickettracker-backup" and manifest["tickets"] == 5
    assert manifest["schema"] == "0001_core"
    assert info.path.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*partial"))


def test_a_non_empty_folder_is_never_restored_into(rich_dir, tmp_path):
    info = backup.make_backup(rich_dir, tmp_path)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    out = run_cli("restore", str(info.path), "--data-dir", str(target))
    assert out.returncode == 1
    assert out.stderr.startswith(f"tickettracker: The folder {target} is not empty (1 item in it)")
    assert "--data-dir" in out.stderr and "Traceback" not in out.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def _rewrite(zip_path: Path, dest: Path, change) -> Path:
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(dest, "w") as out:
        manifest = json.loads(src.read("manifest.json"))
        for name in src.namelist():
            if name != "manifest.json":
                data = change(name, src.read(name), manifest)
                if data is not None:
                    out.writestr(name, data)
        out.writestr("manifest.json", json.dumps(manifest))
    return dest


def test_a_damaged_backup_restores_nothing(rich_dir, tmp_path):
    info = backup.make_backup(rich_dir, tmp_path)

    def flip(name, data, manifest):
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("uploads/") else data

    damaged = _rewrite(info.path, tmp_path / "damaged.zip", flip)
    with pytest.raises(backup.BackupError, match="does not match the checksum"):
        backup.restore_backup(damaged, tmp_path / "target")
    assert not (tmp_path / "target").exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(backup.BackupError, match="does not match the checksum"):
        backup.restore_backup(damaged, empty)
    assert list(empty.iterdir()) == []

    def escape(name, data, manifest):
        if name == "config.json":
            manifest["files"]["../escaped.json"] = manifest["files"].pop(name)
            return None
        return data

    evil = _rewrite(info.path, tmp_path / "evil.zip", escape)
    with pytest.raises(backup.BackupError, match="list of files is not valid"):
        backup.restore_backup(evil, tmp_path / "target2")
    assert not (tmp_path / "escaped.json").exists()

    def bad_db(name, data, manifest):
        if name == "tickettracker.db":
            data = data[:4096] + b"\x00" * (len(data) - 4096)  # every page after the first
            manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        return data

    broken = _rewrite(info.path, tmp_path / "broken.zip", bad_db)
    with pytest.raises(backup.BackupError, match="integrity check"):
        backup.restore_backup(broken, tmp_path / "target3")
    assert not (tmp_path / "target3").exists()

    (tmp_path / "plain.zip").write_bytes(b"PK not really")
    with pytest.raises(backup.BackupError, match="is not a TicketTracker backup"):
        backup.restore_backup(tmp_path / "plain.zip", tmp_path / "target4")


def test_the_backup_list(rich_dir, tmp_path):
    import datetime as dt

    later = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    made = backup.make_backup(rich_dir, now=later)
    assert made.path.parent == rich_dir / "backups"
    assert made.path.name == "tickettracker-backup-20260501T100000Z.zip"
    shutil.copyfile(
        rich_dir / "tickettracker.db", rich_dir / "backups" / "before-upgrade-x-0001_core.db"
    )
    listed = backup.list_backups(rich_dir)
    assert [b.kind for b in listed] == ["before-upgrade", "backup"]
    assert listed[1].path == made.path and listed[1].tickets == 5 and listed[1].files == 2
    with pytest.raises(backup.BackupError, match="already exists"):
        backup.make_backup(rich_dir, made.path)


def test_a_backup_is_only_written_into_a_folder_or_as_a_zip(rich_dir, tmp_path):
    with pytest.raises(backup.BackupError, match="There is no folder .*ending in .zip"):
        backup.make_backup(rich_dir, tmp_path / "usb")
    assert list(tmp_path.iterdir()) == [rich_dir]


def test_a_restored_folder_is_private_whatever_the_umask(rich_dir, tmp_path):
    """Folders 0700 and files 0600, as the data folder keeps them (datadir.ensure_data_dir)."""
    (rich_dir / "notes" / "2026").mkdir(parents=True)  # a nested folder of some future feature
    (rich_dir / "notes" / "2026" / "a.txt").write_text("private", encoding="utf-8")
    info = backup.make_backup(rich_dir, tmp_path)
    old = os.umask(0o022)  # the usual one: new folders 0755, new files 0644
    try:
        backup.restore_backup(info.path, tmp_path / "restored")
    finally:
        os.umask(old)
    restored = tmp_path / "restored"
    modes = {
        p.relative_to(tmp_path).as_posix(): p.stat().st_mode & 0o777
        for p in (restored, *restored.rglob("*"))
    }
    assert {"restored/uploads", "restored/backups", "restored/logs"} <= set(modes)
    assert "restored/notes/2026/a.txt" in modes and len(modes) > 8
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)
    }
    assert wrong == {}


def test_backups_started_in_the_same_second_each_get_a_name_of_their_own(rich_dir):
    """Two Back up now clicks (or API calls) at once: both succeed, the second gets -2."""
    import datetime as dt

    now = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
    start = threading.Barrier(4)
    made: list[backup.BackupInfo] = []
    failed: list[BaseException] = []

    def back_up() -> None:
        start.wait()
        try:
            made.append(backup.make_backup(rich_dir, now=now))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    threads = [threading.Thread(target=back_up) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failed == []
    stem = "tickettracker-backup-20260501T100000Z"
    assert sorted(b.path.name for b in made) == [
        f"{stem}-2.zip",
        f"{stem}-3.zip",
        f"{stem}-4.zip",
        f"{stem}.zip",
    ]
    # No temp file is left, and none was shared: every zip holds the whole, checked snapshot.
    assert sorted(p.name for p in (rich_dir / "backups").iterdir()) == sorted(
        b.path.name for b in made
    )
    for n, info in enumerate(made):
        assert (info.tickets, info.files, info.warnings) == (5, 2, [])
        result = backup.restore_backup(info.path, rich_dir.parent / f"restored-{n}")
        assert result.tickets == 5


def test_a_snapshot_copy_uses_one_temp_file_of_its_own(rich_dir, tmp_path):
    """The database copy's temp name is not the zip's temp name with .partial added twice."""
    dest = tmp_path / "copy.db"
    (tmp_path / "copy.db.partial").mkdir()  # where the old fixed temp name would go
    backup.copy_database(rich_dir / "tickettracker.db", dest)
    assert rows(dest, "SELECT count(*) FROM tickets") == [(5,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [rich_dir.name, "copy.db", "copy.db.partial"]
    )


def test_a_backup_holds_only_the_files_its_database_refers_to(rich_dir, tmp_path):
    """A snapshot: blobs no attachment row points at (left by a restore, say) stay out of it
    and stay on disk; a removed attachment's bytes go in (its history keeps them)."""
    stray = richdata.store_bytes(rich_dir, b"bytes of a desk that was restored over")
    removed = richdata.store_bytes(rich_dir, b"removed, but its history still links it")
    con = sqlite3.connect(rich_dir / "tickettracker.db")
    con.execute(
        "INSERT INTO attachments (ticket_id, filename, size, content_type, sha256, created_at,"
        " removed_at) VALUES (1, 'old.txt', 40, 'text/plain', ?, '2026-01-01 00:00:00',"
        " '2026-01-02 00:00:00')",
        (removed,),
    )
    con.commit()
    con.close()

    info = backup.make_backup(rich_dir, tmp_path)
    with zipfile.ZipFile(info.path) as zf:
        uploads = sorted(n for n in zf.namelist() if n.startswith("uploads/"))
        manifest = json.loads(zf.read("manifest.json"))
    assert backup.upload_name(stray) not in uploads
    assert backup.upload_name(removed) in uploads
    assert info.files == len(uploads) == 3
    assert sorted(n for n in manifest["files"] if n.startswith("uploads/")) == uploads
    assert (rich_dir / backup.upload_name(stray)).is_file()  # never deleted from uploads/


@pytest.mark.parametrize("dest", ["/sys/", "/sys/x.zip", "/proc/x.zip"])
def test_a_backup_into_a_folder_that_cannot_be_written(rich_dir, dest):
    out = run_cli("backup", dest, "--data-dir", str(rich_dir))
    assert out.returncode == 1
    folder = "/proc" if dest.startswith("/proc") else "/sys"
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"tickettracker: Cannot write a backup in {folder}: ")
    assert "Choose a folder you can write to" in lines[0]
    assert "partial" not in lines[0] and "Errno" not in lines[0]
    if dest.startswith("/sys"):
        assert "permission denied" in lines[0]
    assert list((rich_dir / "backups").iterdir()) == []
