"""The "Your data" page and API (issue 8): back up now, the backup list and downloads, export
downloads, import with every problem listed; reachable from the settings page."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from .conftest import artifact
from .test_exchange import BAD_CSV
from .test_restore import cookie_client


def test_settings_links_to_the_data_page(client):
    page = client.get("/settings").get_data(as_text=True)
    assert 'href="/data"' in page
    page = client.get("/data").get_data(as_text=True)
    assert "Back up now" in page and "No backups yet." in page
    assert "tickettracker restore BACKUP.zip --data-dir NEW_FOLDER" in page


def test_back_up_now_list_and_download(client, app):
    client.post("/api/v1/tickets", json={"title": "Keep me"})
    resp = client.post("/data/backups")
    assert resp.status_code == 303
    name = re.search(r"made=([^&#]+)", resp.headers["Location"]).group(1)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Backup saved: <strong>{name}</strong>" in page
    assert page.count("<tr>") == 2  # header + one backup

    with client.get(f"/data/backups/{name}") as download:
        assert download.status_code == 200
        assert download.headers["Content-Disposition"].startswith("attachment")
        data = download.data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert json.loads(zf.read("manifest.json"))["tickets"] == 1
    for bad in ("..%2Fconfig.json", "nothing.zip", "..", "config.json"):
        assert client.get(f"/data/backups/{bad}").status_code == 404

    listed = client.get("/api/v1/backups").get_json()["items"]
    assert [b["name"] for b in listed] == [name]
    made = client.post("/api/v1/backups")  # within the same second: a name of its own
    assert made.status_code == 201 and made.get_json()["tickets"] == 1
    assert made.get_json()["name"] != name


def test_two_backups_at_once_both_succeed(app):
    """Back up now from two tabs (or two scripts) at the same moment: two backups."""
    import threading

    token = app.extensions["tickettracker"].token
    start = threading.Barrier(3)
    answers: list = []

    def back_up() -> None:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        start.wait()
        resp = client.post("/api/v1/backups")
        answers.append((resp.status_code, resp.get_json()))

    threads = [threading.Thread(target=back_up) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [status for status, _ in answers] == [201, 201, 201], answers
    names = {body["name"] for _, body in answers}
    assert len(names) == 3
    backups = app.extensions["tickettracker"].data_dir / "backups"
    assert sorted(p.name for p in backups.iterdir()) == sorted(names)


def test_back_up_now_when_the_backups_folder_cannot_be_written(app, client):
    """A folder the app may not write in (here one of the kernel's, which refuses even
    root): one plain line naming the folder, the reason and what to do."""
    backups = app.extensions["tickettracker"].data_dir / "backups"
    backups.rmdir()
    backups.symlink_to("/sys/kernel")
    resp = client.post("/api/v1/backups")
    assert resp.status_code == 507
    message = resp.get_json()["error"]
    assert message.startswith(f"Cannot write a backup in {backups}: permission denied.")
    assert "partial" not in message and "Errno" not in message

    page = cookie_client(app)
    token = re.search(
        r'name="csrf_token" value="([0-9a-f]+)"', page.get("/data").get_data(as_text=True)
    ).group(1)
    resp = page.post("/data/backups", data={"csrf_token": token})
    assert resp.status_code == 507
    assert f"Cannot write a backup in {backups}: permission denied." in resp.get_data(as_text=True)


def test_export_downloads(client):
    client.post("/api/v1/tickets", json={"title": "Exported", "tags": ["x"]})
    with client.get("/data/export.json") as resp:
        disposition = resp.headers["Content-Disposition"]
        assert disposition.startswith("attachment; filename=tickettracker-export-")
        doc = json.loads(resp.data)
    assert [t["title"] for t in doc["tickets"]] == ["Exported"]
    with client.get("/api/v1/export?format=csv") as resp:
        assert resp.data.startswith(b"\xef\xbb\xbfid,title,")
    assert client.get("/api/v1/export?format=xml").status_code == 422


def test_import_from_the_page(client):
    good = b'title,priority,tags\nFrom a spreadsheet,High,"a, b"\n'
    resp = client.post(
        "/data/import",
        data={"file": (io.BytesIO(good), "list.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    assert "Imported 1 ticket." in client.get(resp.headers["Location"]).get_data(as_text=True)
    ticket = client.get("/api/v1/tickets").get_json()["items"][0]
    assert (ticket["title"], ticket["priority"], ticket["tags"]) == (
        "From a spreadsheet",
        "high",
        ["a", "b"],
    )

    resp = client.post(
        "/data/import",
        data={"file": (io.BytesIO(BAD_CSV.encode()), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "4 problems found; nothing was imported." in page
    for line in ("line 3: due:", "line 6: priority:", "line 7: title:", "line 8: created_at:"):
        assert line in page
    assert client.get("/api/v1/tickets").get_json()["total"] == 1

    resp = client.post(
        "/data/import",
        data={"file": (io.BytesIO(b"hello"), "notes.txt")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422 and "a .json file" in resp.get_data(as_text=True)


@pytest.mark.browser
def test_data_page_in_the_browser(app_page, live_server, tmp_path):
    page = app_page
    page.goto(live_server.base_url + "/settings")
    page.get_by_role("link", name="Your data: backups, restore, export and import").click()
    page.get_by_role("button", name="Back up now").click()
    page.get_by_role("status").filter(has_text="Backup saved").wait_for()
    assert page.locator("table.backups tbody tr").count() >= 1

    good = tmp_path / "tickets.csv"
    good.write_text("title,status,due\nImported in the browser,In Progress,2026-05-01\n")
    page.set_input_files("#import-file", str(good))
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_role("status").filter(has_text="Imported 1 ticket.").wait_for()
    page.screenshot(path=str(artifact("data-page.png")), full_page=True)

    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    page.set_input_files("#import-file", str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    problems = page.get_by_role("list", name="Problems in the file")
    problems.wait_for()
    assert problems.locator("li").count() == 4
    page.screenshot(path=str(artifact("data-page-import-problems.png")), full_page=True)
