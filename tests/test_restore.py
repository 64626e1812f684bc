"""Restoring a backup over the running app's data (Your data page, API): the tickets, history
and files are the backup's afterwards, what was there is saved first and comes back exactly,
and a backup that does not check out changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tickettracker import backup, restore, schema
from tickettracker.datadir import DB_NAME

from . import richdata
from .conftest import REPO_ROOT, LiveServer, artifact
from .test_backup import _rewrite

CORE_DB = REPO_ROOT / "tests" / "fixtures" / "core-schema.db"
CORE_JSON = REPO_ROOT / "tests" / "fixtures" / "core-schema.json"


def dump(data_dir: Path) -> list[str]:
    """Every row of every table, as SQL: equal dumps are equal databases."""
    con = sqlite3.connect(data_dir / DB_NAME)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def exported(client) -> list[dict]:
    with client.get("/data/export.json") as resp:
        return json.loads(resp.data)["tickets"]


def uploads(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "uploads"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def st(app):
    return app.extensions["tickettracker"]


@pytest.fixture
def rich_zip(tmp_path) -> Path:
    """A backup of another data folder with everything a ticket can hold (two files too)."""
    from tickettracker.web import create_app

    other = create_app(tmp_path / "other")
    ost = other.extensions["tickettracker"]
    try:
        with ost.write_sessions() as session:
            richdata.build(session, ost.config, ost.data_dir)
            session.commit()
    finally:
        ost.engine.dispose()
    return backup.make_backup(ost.data_dir, tmp_path / "rich.zip").path


def put_in_backups(st, zip_path: Path, name: str = "tickettracker-backup-x.zip") -> str:
    shutil.copyfile(zip_path, st.data_dir / "backups" / name)
    return name


def test_restore_replaces_tickets_history_and_files(client, st, rich_zip, tmp_path):
    client.post("/api/v1/tickets", json={"title": "Here before the restore"})
    name = put_in_backups(st, rich_zip)
    client.get("/")  # the dashboard counts are cached now

    done = restore.restore_in_place(st.data_dir, name, engine=st.engine)
    assert (done.name, done.tickets, done.files, done.copied) == (name, 5, 2, 2)
    assert done.safety_backup.path.name.endswith("-before-restore.zip")

    # The same tickets, history and attachment details as the folder the backup was made of.
    from tickettracker.web import create_app

    original = create_app(tmp_path / "other")
    try:
        token = original.extensions["tickettracker"].token
        other = original.test_client()
        other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        assert exported(client) == exported(other)
        assert (
            client.get("/api/v1/dashboard").get_json() == other.get("/api/v1/dashboard").get_json()
        )
    finally:
        original.extensions["tickettracker"].engine.dispose()
    titles = [t["title"] for t in exported(client)]
    assert "Here before the restore" not in titles and len(titles) == 5

    # Every attached file downloads byte for byte as it was stored.
    stored = uploads(tmp_path / "other")
    downloads = 0
    for ticket in exported(client):
        for att in ticket["attachments"]:
            with client.get(f"/api/v1/attachments/{att['id']}") as resp:
                if resp.status_code == 404:  # a removed attachment keeps its row only
                    continue
                data = resp.data
            sha = hashlib.sha256(data).hexdigest()
            assert stored[f"{sha[:2]}/{sha}"] == data
            downloads += 1
    assert downloads >= 2
    assert not (st.data_dir / restore.WORK_DIR).exists()
    assert json.loads((st.data_dir / "config.json").read_text()) is not None  # kept


def test_the_safety_backup_brings_back_what_was_there(client, st, rich_zip):
    client.post("/api/v1/tickets", json={"title": "Mine", "tags": ["keep"]})
    ticket = client.post("/api/v1/tickets", json={"title": "With a note"}).get_json()
    client.post(
        f"/api/v1/tickets/{ticket['id']}/attachments",
        data={"file": (io.BytesIO(b"my own bytes"), "mine.txt")},
        content_type="multipart/form-data",
    )
    before, before_export, before_files = dump(st.data_dir), exported(client), uploads(st.data_dir)
    name = put_in_backups(st, rich_zip)

    done = restore.restore_in_place(st.data_dir, name, engine=st.engine)
    assert exported(client) != before_export
    safety = done.safety_backup
    assert safety.path.parent == st.data_dir / "backups" and safety.tickets == 2
    assert [b.path for b in backup.list_backups(st.data_dir) if b.path == safety.path]

    again = restore.restore_in_place(st.data_dir, safety.path.name, engine=st.engine)
    assert again.tickets == 2 and again.copied == 0  # its file never left uploads/
    assert dump(st.data_dir) == before
    assert exported(client) == before_export
    after_files = uploads(st.data_dir)
    assert {k: after_files[k] for k in before_files} == before_files
    with client.get(f"/api/v1/attachments/{before_export[1]['attachments'][0]['id']}") as resp:
        assert resp.data == b"my own bytes"


def _schema_from_the_future(zip_path: Path, dest: Path, tmp_path: Path) -> Path:
    def change(name, data, manifest):
        if name != DB_NAME:
            return data
        db = tmp_path / "future.db"
        db.write_bytes(data)
        con = sqlite3.connect(db)
        con.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        con.commit()
        con.close()
        data = db.read_bytes()
        manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        manifest["schema"] = "9999_from_the_future"
        return data

    return _rewrite(zip_path, dest, change)


def test_a_backup_that_does_not_check_out_changes_nothing(client, st, rich_zip, tmp_path):
    client.post("/api/v1/tickets", json={"title": "Stays"})
    before, before_files = dump(st.data_dir), uploads(st.data_dir)
    folder = st.data_dir / "backups"

    def flip(name, data, manifest):
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("uploads/") else data

    def bad_db(name, data, manifest):
        if name == DB_NAME:
            data = data[:4096] + b"\x00" * (len(data) - 4096)
            manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        return data

    cases = {
        "damaged.zip": (
            _rewrite(rich_zip, folder / "damaged.zip", flip),
            "does not match the checksum",
        ),
        "broken.zip": (_rewrite(rich_zip, folder / "broken.zip", bad_db), "integrity check"),
        "future.zip": (
            _schema_from_the_future(rich_zip, folder / "future.zip", tmp_path),
            "made by a newer TicketTracker",
        ),
    }
    for name, (_path, message) in cases.items():
        with pytest.raises(restore.RestoreRefused, match=message) as caught:
            restore.restore_in_place(st.data_dir, name, engine=st.engine)
        assert "Nothing here was changed." in caught.value.message
        assert str(st.data_dir) not in caught.value.message  # the name, not the whole path
        assert dump(st.data_dir) == before and uploads(st.data_dir) == before_files
        assert not (st.data_dir / restore.WORK_DIR).exists()
    # A check that fails leaves no backup behind either: the safety backup comes after it.
    assert sorted(p.name for p in folder.iterdir()) == sorted(cases)
    assert [t["title"] for t in client.get("/api/v1/tickets").get_json()["items"]] == ["Stays"]

    # Only names of files in backups/ are looked at, never a path.
    for bad in ("../config.json", "nothing.zip", "token", "..", "x/../damaged.zip"):
        with pytest.raises(restore.NotFound):
            restore.restore_in_place(st.data_dir, bad, engine=st.engine)


def test_a_file_in_backups_that_is_not_listed_is_named_with_the_reason(client, st, rich_zip):
    """Not "there is no backup named X" for a file that is there: why it cannot be restored."""
    before = dump(st.data_dir)
    folder = st.data_dir / "backups"

    def newer_format(name, data, manifest):
        manifest["format_version"] = backup.FORMAT_VERSION + 1
        return data

    _rewrite(rich_zip, folder / "newer.zip", newer_format)
    (folder / "random.zip").write_bytes(bytes(range(256)) * 40)
    (folder / "cut-short.zip").write_bytes(rich_zip.read_bytes()[:3000])
    with zipfile.ZipFile(folder / "no-manifest.zip", "w") as zf:
        zf.writestr("tickettracker.db", b"")
    shutil.copyfile(st.data_dir / DB_NAME, folder / "before-upgrade-20260101T000000Z-0001_core.db")
    cases = {
        "newer.zip": "newer.zip was made by a newer TicketTracker (backup format 2); install",
        "random.zip": "random.zip is not a zip file, so it is not a TicketTracker backup",
        "cut-short.zip": "cut-short.zip is damaged (cut short or corrupted)",
        "no-manifest.zip": "no-manifest.zip is a zip file but not a TicketTracker backup",
        "before-upgrade-20260101T000000Z-0001_core.db": "is a copy of the database taken "
        "before an upgrade, not a backup",
    }
    for name, message in cases.items():
        assert name not in [
            b["name"]
            for b in client.get("/api/v1/backups").get_json()["items"]
            if b["kind"] == "backup"
        ]
        resp = client.post(f"/api/v1/backups/{name}/restore")
        assert resp.status_code == 422, name
        error = resp.get_json()["error"]
        assert error.startswith(f"{name} cannot be restored: ")
        assert message in error
        assert "Nothing here was changed." in error and str(folder) not in error
    assert dump(st.data_dir) == before
    assert client.post("/api/v1/backups/nothing.zip/restore").status_code == 404
    # The Your data page lists the zips among them, greyed, each with its reason.
    page = client.get("/data").get_data(as_text=True)
    listed = page[page.index('class="muted unusable-backups"') :]
    for name in ("newer.zip", "random.zip", "cut-short.zip", "no-manifest.zip"):
        assert f'<span class="name">{name}</span>: {name} ' in listed


def test_nothing_is_restored_when_what_is_here_cannot_be_saved_first(client, st, rich_zip):
    client.post("/api/v1/tickets", json={"title": "Stays"})
    before = dump(st.data_dir)
    name = put_in_backups(st, rich_zip)
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
    # Something in the way of the safety backup (a link where its file goes, pointing
    # nowhere): writing it fails for real.
    blocker = f"tickettracker-backup-{backup.timestamp(now)}-before-restore.zip"
    (st.data_dir / "backups" / blocker).symlink_to(st.data_dir / "nowhere")
    with pytest.raises(restore.StorageFailed, match="Nothing was restored"):
        restore.restore_in_place(st.data_dir, name, engine=st.engine, now=now)
    assert dump(st.data_dir) == before
    assert not (st.data_dir / restore.WORK_DIR).exists()


def test_a_write_between_the_safety_backup_and_the_copy_stops_the_restore(
    client, st, rich_zip, monkeypatch
):
    """A ticket saved after the safety backup was taken would be in neither: refused."""
    name = put_in_backups(st, rich_zip)
    take_safety_backup = restore._safety_backup

    def and_then_someone_saves(*args, **kwargs):
        info = take_safety_backup(*args, **kwargs)
        client.post("/api/v1/tickets", json={"title": "Saved meanwhile"})
        return info

    monkeypatch.setattr(restore, "_safety_backup", and_then_someone_saves)
    with pytest.raises(restore.RestoreBusy, match="Try again"):
        restore.restore_in_place(st.data_dir, name, engine=st.engine)
    titles = [t["title"] for t in client.get("/api/v1/tickets").get_json()["items"]]
    assert titles == ["Saved meanwhile"]


def test_an_older_schema_is_upgraded_as_opening_the_app_does(client, st, tmp_path):
    old = tmp_path / "old"
    (old / "uploads").mkdir(parents=True)
    shutil.copyfile(CORE_DB, old / DB_NAME)
    made = backup.make_backup(old, st.data_dir / "backups")
    assert made.schema == schema.BASELINE_REVISION

    done = restore.restore_in_place(st.data_dir, made.path.name, engine=st.engine)
    expected = json.loads(CORE_JSON.read_text(encoding="utf-8"))["tickets"]
    assert done.tickets == len(expected)
    con = sqlite3.connect(st.data_dir / DB_NAME)
    try:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (schema.head_revision(),)
        ]
    finally:
        con.close()
    assert [t["title"] for t in exported(client)] == [t["title"] for t in expected]
    assert client.get("/api/v1/tickets?q=duplex").get_json()["total"] >= 1  # search index too


def test_a_backup_with_another_page_size(client, st, rich_zip, tmp_path):
    """SQLite copies into a WAL database only at its own page size: the copy is rewritten."""

    def bigger_pages(name, data, manifest):
        if name != DB_NAME:
            return data
        db = tmp_path / "pages.db"
        db.write_bytes(data)
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA page_size=16384")
        con.execute("VACUUM")
        con.close()
        data = db.read_bytes()
        manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        return data

    name = "tickettracker-backup-pages.zip"
    _rewrite(rich_zip, st.data_dir / "backups" / name, bigger_pages)
    assert restore.restore_in_place(st.data_dir, name, engine=st.engine).tickets == 5
    assert len(exported(client)) == 5


# --- the page and the API --------------------------------------------------------------------


def cookie_client(app):
    """A browser-like client: let in by the token link, so changes need the CSRF token."""
    client = app.test_client()
    token = app.extensions["tickettracker"].token
    client.get(f"/?token={token}")
    return client


def test_the_page_flow(app, st, rich_zip):
    browser = cookie_client(app)
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {st.token}"
    api.post("/api/v1/tickets", json={"title": "Here now"})
    name = put_in_backups(st, rich_zip)

    data_page = browser.get("/data").get_data(as_text=True)
    link = f'href="/data/backups/{name}/restore"'
    assert link in data_page
    # The new way comes first; the terminal way into a new folder stays, below it.
    assert data_page.index("Restore…") < data_page.index("tickettracker restore BACKUP.zip")

    page = browser.get(f"/data/backups/{name}/restore").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", "", re.sub(r"\s+", " ", page))
    assert "Everything in this TicketTracker (all tickets, their history and their attached" in text
    assert "is replaced by the backup of" in text and "5 tickets and 2 files" in text
    assert "There is 1 ticket here now." in text
    assert "first saved as a new backup" in text and "undo this by restoring that one" in text
    assert "Your settings (config.json) are kept as they are" in text
    assert 'href="/data#backups">Cancel</a>' in page
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)

    # Without the CSRF token (a form from another program on this machine): refused.
    refused = browser.post(f"/data/backups/{name}/restore")
    assert refused.status_code == 403
    assert api.get("/api/v1/tickets").get_json()["total"] == 1

    resp = browser.post(f"/data/backups/{name}/restore", data={"csrf_token": token})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location.startswith("/data?") and location.endswith("#backups")
    done = browser.get(location).get_data(as_text=True)
    safety = [
        b.path.name for b in backup.list_backups(st.data_dir) if "before-restore" in b.path.name
    ]
    assert len(safety) == 1
    message = re.sub(
        r"\s+", " ", re.search(r'<p class="done" role="status">(.*?)</p>', done, re.S).group(1)
    )
    assert f"Restored <strong>{name}</strong>: 5 tickets." in message
    assert f"What was here before is saved as <strong>{safety[0]}</strong>" in message
    assert "Backup taken before a restore" in done
    assert len(exported(api)) == 5

    # A damaged backup: the page says why, and nothing changed.
    (st.data_dir / "backups" / "plain.zip").write_bytes(b"PK not a zip")
    refused = browser.get("/data/backups/plain.zip/restore")
    assert refused.status_code == 422
    assert "plain.zip cannot be restored: " in refused.get_data(as_text=True)
    for bad in ("..%2Fconfig.json", "nothing.zip", "token"):
        assert browser.get(f"/data/backups/{bad}/restore").status_code == 404
        assert (
            browser.post(f"/data/backups/{bad}/restore", data={"csrf_token": token}).status_code
            == 404
        )


def test_a_failed_restore_is_explained_on_the_data_page(app, st, rich_zip, tmp_path):
    browser = cookie_client(app)
    token = re.search(
        r'name="csrf_token" value="([0-9a-f]+)"', browser.get("/data").get_data(as_text=True)
    ).group(1)
    future = _schema_from_the_future(
        rich_zip, st.data_dir / "backups" / "tickettracker-backup-future.zip", tmp_path
    )
    resp = browser.post(f"/data/backups/{future.name}/restore", data={"csrf_token": token})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'class="form-error" role="alert"' in page
    assert f"{future.name} was made by a newer TicketTracker" in page
    assert "Nothing here was changed." in page


def test_the_api(client, st, rich_zip, tmp_path):
    client.post("/api/v1/tickets", json={"title": "Here now"})
    name = put_in_backups(st, rich_zip)
    resp = client.post(f"/api/v1/backups/{name}/restore")
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["restored"], body["tickets"], body["files"]) == (name, 5, 2)
    assert body["safety_backup"].endswith("-before-restore.zip")
    listed = [b["name"] for b in client.get("/api/v1/backups").get_json()["items"]]
    assert body["safety_backup"] in listed

    undo = client.post(f"/api/v1/backups/{body['safety_backup']}/restore").get_json()
    assert undo["tickets"] == 1
    assert [t["title"] for t in client.get("/api/v1/tickets").get_json()["items"]] == ["Here now"]

    missing = client.post("/api/v1/backups/nothing.zip/restore")
    assert missing.status_code == 404 and "nothing.zip" in missing.get_json()["error"]
    future = _schema_from_the_future(rich_zip, st.data_dir / "backups" / "future.zip", tmp_path)
    refused = client.post(f"/api/v1/backups/{future.name}/restore")
    assert refused.status_code == 422
    assert "newer TicketTracker" in refused.get_json()["error"]


# --- in the browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_restore_in_the_browser(page, tmp_path):
    """On a server of its own: the shared live server's tickets stay as other tests expect."""
    server = LiveServer(tmp_path / "data")
    try:
        server.api("POST", "/api/v1/tickets", {"title": "In the backup"})
        status, made = server.api("POST", "/api/v1/backups")
        assert status == 201
        server.api("POST", "/api/v1/tickets", {"title": "Made after the backup"})

        page.goto(server.login_url)
        page.goto(server.base_url + "/data")
        page.get_by_role("link", name="Restore…").click()
        page.get_by_role("heading", name=re.compile(r"^Restore the backup of")).wait_for()
        page.screenshot(path=str(artifact("restore-confirm.png")), full_page=True)
        page.get_by_role("button", name="Restore", exact=True).click()
        status_line = page.get_by_role("status").filter(has_text="Restored")
        status_line.wait_for()
        assert made["name"] in status_line.inner_text()
        assert "1 ticket." in status_line.inner_text()
        page.screenshot(path=str(artifact("restore-done.png")))  # what the user sees

        page.goto(server.base_url + "/")
        page.get_by_role("link", name="In the backup").wait_for()
        assert page.get_by_role("link", name="Made after the backup").count() == 0
    finally:
        server.stop()


# --- a database damaged in its schema ---------------------------------------------------------


def _without_attachments(zip_path: Path, dest: Path, tmp_path: Path) -> Path:
    """The trial's damaged backup: the attachments table dropped, the checksums made to fit."""

    def change(name, data, manifest):
        if name != DB_NAME:
            return data
        db = tmp_path / "damaged.db"
        db.write_bytes(data)
        con = sqlite3.connect(db)
        con.execute("DROP TABLE attachments")
        con.commit()
        con.close()
        data = db.read_bytes()
        manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        return data

    return _rewrite(zip_path, dest, change)


def test_a_backup_damaged_in_its_schema_is_refused(client, st, rich_zip, tmp_path):
    client.post("/api/v1/tickets", json={"title": "Stays"})
    before, before_files = dump(st.data_dir), uploads(st.data_dir)
    name = "tickettracker-backup-damaged.zip"
    damaged = _without_attachments(rich_zip, st.data_dir / "backups" / name, tmp_path)

    resp = client.post(f"/api/v1/backups/{name}/restore")
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error.startswith(f"The database in {name} is damaged: it has no table attachments.")
    assert "Nothing here was changed." in error and "\n" not in error
    assert dump(st.data_dir) == before and uploads(st.data_dir) == before_files
    assert sorted(p.name for p in (st.data_dir / "backups").iterdir()) == [name]

    # tickettracker restore into a new folder: one line, and no folder made.
    target = tmp_path / "restored"
    out = subprocess.run(
        [sys.executable, "-m", "tickettracker", "restore", str(damaged), "--data-dir", str(target)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.splitlines() == [
        f"tickettracker: The database in {damaged} is damaged: it has no table attachments. "
        "Nothing was restored; try another backup."
    ]
    assert not target.exists()
