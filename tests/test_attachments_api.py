"""Attachments through the JSON API and the pages (Flask test client, real files)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote

import pytest

from .test_attachments_service import NAMES, PNG

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def fetch(client, url: str):
    """GET a file response and close it (file responses hold the file open until closed)."""
    resp = client.get(url)
    resp.get_data()  # read it all, then let go of the file
    resp.close()
    return resp


def new_ticket(client, **data) -> int:
    data.setdefault("title", "Scanner offline")
    resp = client.post("/api/v1/tickets", json=data)
    assert resp.status_code == 201
    return resp.get_json()["id"]


def browser_name(name: str) -> str:
    """How browsers write a file name into multipart (HTML's rules): quotes as %22."""
    return name.replace('"', "%22").replace("\n", "%0A").replace("\r", "%0D")


def upload(client, ticket_id: int, *files: tuple[str, bytes, str], field: str = "file"):
    return client.post(
        f"/api/v1/tickets/{ticket_id}/attachments",
        data={
            field: [(io.BytesIO(data), browser_name(name), ctype) for name, data, ctype in files]
        },
        content_type="multipart/form-data",
    )


def uploads_content(data_dir: Path) -> list[str]:
    root = data_dir / "uploads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def row_count(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "tickettracker.db") as conn:
        return conn.execute("SELECT count(*) FROM attachments").fetchone()[0]


def set_limit_mb(app, value: float) -> None:
    app.extensions["tickettracker"].loaded.config["uploads"]["max_file_mb"] = value


def test_upload_list_download_round_trip(client):
    tid = new_ticket(client)
    blob = os.urandom(200_000)
    resp = upload(client, tid, ("dump.bin", blob, "application/octet-stream"), ("e", b"", ""))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    first, empty = body["attachments"]
    assert first["filename"] == "dump.bin" and first["size"] == len(blob)
    assert first["sha256"] == hashlib.sha256(blob).hexdigest()
    assert empty["size"] == 0 and empty["content_type"] == "application/octet-stream"
    assert body["update"]["kind"] == "attachment"
    assert [c["new"]["id"] for c in body["update"]["changes"]] == [first["id"], empty["id"]]

    listed = client.get(f"/api/v1/tickets/{tid}/attachments").get_json()["items"]
    assert [a["id"] for a in listed] == [first["id"], empty["id"]]
    ticket = client.get(f"/api/v1/tickets/{tid}").get_json()
    assert [a["filename"] for a in ticket["attachments"]] == ["dump.bin", "e"]

    got = fetch(client, f"/api/v1/attachments/{first['id']}")
    assert got.status_code == 200
    assert hashlib.sha256(got.data).hexdigest() == first["sha256"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert fetch(client, f"/api/v1/attachments/{empty['id']}").data == b""


@pytest.mark.parametrize("name", NAMES)
def test_names_round_trip_through_the_api(client, name):
    tid = new_ticket(client)
    att = upload(client, tid, (name, b"x", "text/plain")).get_json()["attachments"][0]
    assert att["filename"] == name
    header = fetch(client, f"/api/v1/attachments/{att['id']}").headers["Content-Disposition"]
    assert unquote(header.split("filename*=UTF-8''")[1]) == name


def test_note_with_files_and_links_as_multipart(client):
    tid = new_ticket(client)
    resp = client.post(
        f"/api/v1/tickets/{tid}/updates",
        data={
            "body": "Photos of the jam",
            "links": json.dumps([{"url": "https://example.com/manual", "title": "Manual"}]),
            "file": [(io.BytesIO(PNG), "jam.png", "image/png"), (io.BytesIO(b"b"), "b.txt")],
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    note = resp.get_json()
    assert note["kind"] == "note" and note["body"] == "Photos of the jam"
    assert note["links"] == [{"url": "https://example.com/manual", "title": "Manual"}]
    assert [a["filename"] for a in note["attachments"]] == ["jam.png", "b.txt"]
    assert all(a["update_id"] == note["id"] for a in note["attachments"])
    only_files = client.post(
        f"/api/v1/tickets/{tid}/updates",
        data={"file": [(io.BytesIO(b"c"), "c.txt")]},
        content_type="multipart/form-data",
    )
    assert only_files.status_code == 201 and only_files.get_json()["body"] == ""


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"links": "not json"}, "links", "must be JSON"),
        ({"links": json.dumps([{"url": "javascript:alert(1)"}])}, "links", "http://"),
        ({"links": json.dumps([{"url": "data:text/html,x"}])}, "links", "http://"),
        ({"body": "", "links": ""}, "body", "empty"),
        ({"body": "x", "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_multipart_notes_are_explained(client, data, field, words):
    tid = new_ticket(client)
    resp = client.post(
        f"/api/v1/tickets/{tid}/updates", data=data, content_type="multipart/form-data"
    )
    assert resp.status_code == 422
    assert resp.get_json()["field"] == field and words in resp.get_json()["error"]


def test_attach_needs_multipart_and_the_file_field(client):
    tid = new_ticket(client)
    resp = client.post(f"/api/v1/tickets/{tid}/attachments", json={"file": "x"})
    assert resp.status_code == 422 and "multipart/form-data" in resp.get_json()["error"]
    resp = upload(client, tid, ("a.txt", b"a", "text/plain"), field="files")
    assert resp.status_code == 422 and "'file'" in resp.get_json()["error"]
    resp = client.post(
        f"/api/v1/tickets/{tid}/attachments", data={}, content_type="multipart/form-data"
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "file"
    assert upload(client, 999, ("a.txt", b"a", "text/plain")).status_code == 404


def test_over_the_limit_is_413_with_no_residue(app, client, data_dir):
    tid = new_ticket(client)
    set_limit_mb(app, 0.01)  # small, so the test client's body stays in memory
    resp = upload(
        client,
        tid,
        ("small.txt", b"fits", "text/plain"),
        ("huge.iso", b"\x00" * 30_000, "application/octet-stream"),
    )
    assert resp.status_code == 413
    err = resp.get_json()
    assert err["field"] == "file"
    assert "'huge.iso' is 29.3 KB; files may be at most 10.2 KB" in err["error"]
    assert row_count(data_dir) == 0
    assert uploads_content(data_dir) == []  # neither file, nor any temp file
    history = client.get(f"/api/v1/tickets/{tid}").get_json()["updates"]
    assert [u["kind"] for u in history] == ["status"]


def test_failed_write_leaves_no_row(client, data_dir):
    tid = new_ticket(client)
    tmp = data_dir / "uploads" / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.rmdir()
    tmp.write_text("a file where the temp folder should be")  # fails for root too
    resp = upload(client, tid, ("report.pdf", b"%PDF-1.4", "application/pdf"))
    assert resp.status_code == 507
    assert "could not be saved" in resp.get_json()["error"]
    assert row_count(data_dir) == 0
    assert uploads_content(data_dir) == ["tmp"]  # only the obstacle itself


def test_same_bytes_twice_one_file_two_attachments(client, data_dir):
    tid = new_ticket(client)
    a = upload(client, tid, ("a.bin", b"\x01\x02\x03", "")).get_json()["attachments"][0]
    b = upload(client, tid, ("b.bin", b"\x01\x02\x03", "")).get_json()["attachments"][0]
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert uploads_content(data_dir) == [f"{a['sha256'][:2]}/{a['sha256']}"]
    assert row_count(data_dir) == 2


def test_preview_only_for_real_raster_images(client):
    tid = new_ticket(client)
    png, svg, html, fake = upload(
        client,
        tid,
        ("shot.png", PNG, "image/png"),
        ("logo.svg", SVG, "image/svg+xml"),
        ("page.html", HTML, "text/html"),
        ("fake.png", HTML, "image/png"),
    ).get_json()["attachments"]
    shown = fetch(client, f"/attachments/{png['id']}/preview")
    assert shown.status_code == 200 and shown.mimetype == "image/png"
    assert shown.headers["Content-Disposition"].startswith("inline;")
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    for att in (svg, html, fake):
        assert fetch(client, f"/attachments/{att['id']}/preview").status_code == 404
        got = fetch(client, f"/attachments/{att['id']}")
        assert got.mimetype == "application/octet-stream"
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert svg["content_type"] == "image/svg+xml" and fake["content_type"] != "image/png"


def test_remove_through_the_api_is_logged(client):
    tid = new_ticket(client)
    att = upload(client, tid, ("old.txt", b"old", "text/plain")).get_json()["attachments"][0]
    resp = client.delete(f"/api/v1/attachments/{att['id']}")
    assert resp.status_code == 200
    assert resp.get_json()["changes"][0]["old"]["filename"] == "old.txt"
    assert client.get(f"/api/v1/tickets/{tid}").get_json()["attachments"] == []
    assert fetch(client, f"/api/v1/attachments/{att['id']}").data == b"old"  # history keeps it
    again = client.delete(f"/api/v1/attachments/{att['id']}")
    assert again.status_code == 409 and "already removed" in again.get_json()["error"]
    assert client.delete("/api/v1/attachments/999").status_code == 404


def test_missing_bytes_are_explained(client, data_dir):
    tid = new_ticket(client)
    att = upload(client, tid, ("gone.txt", b"gone", "text/plain")).get_json()["attachments"][0]
    (data_dir / "uploads" / att["sha256"][:2] / att["sha256"]).unlink()
    resp = fetch(client, f"/api/v1/attachments/{att['id']}")
    assert resp.status_code == 404 and "backup" in resp.get_json()["error"]


# --- pages -------------------------------------------------------------------------------


def test_page_attach_show_and_remove(client):
    tid = new_ticket(client)
    resp = client.post(
        f"/tickets/{tid}/attachments",
        data={"file": [(io.BytesIO(PNG), "screen.png", "image/png"), (io.BytesIO(b""), "")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303 and resp.headers["Location"].endswith("#files")
    html = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert html.count('class="attachment-preview"') == 2  # in Files and in the log entry
    assert "Attached a file to the ticket" in html
    att_id = client.get(f"/api/v1/tickets/{tid}").get_json()["attachments"][0]["id"]
    resp = client.post(f"/tickets/{tid}/attachments/{att_id}/remove")
    assert resp.status_code == 303
    html = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert "No files yet." in html
    assert "Removed" in html and "screen.png" in html
    assert client.post(f"/tickets/{tid + 1}/attachments/{att_id}/remove").status_code == 404


def test_page_note_with_files_and_errors(app, client):
    tid = new_ticket(client)
    resp = client.post(
        f"/tickets/{tid}/notes",
        data={"body": "", "links": "", "file": [(io.BytesIO(b"%PDF"), "quote.pdf")]},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    html = client.get(f"/tickets/{tid}").get_data(as_text=True)
    assert "quote.pdf" in html and 'class="file-badge"' in html and ">PDF<" in html

    bad_link = client.post(
        f"/tickets/{tid}/notes",
        data={"body": "keep me", "links": "javascript:alert(1)", "file": [(io.BytesIO(b"x"), "x")]},
        content_type="multipart/form-data",
    )
    assert bad_link.status_code == 422
    html = bad_link.get_data(as_text=True)
    assert "keep me" in html and "choose them again" in html

    set_limit_mb(app, 0.001)
    too_big = client.post(
        f"/tickets/{tid}/notes",
        data={"body": "my text", "file": [(io.BytesIO(b"y" * 5000), "big.log")]},
        content_type="multipart/form-data",
    )
    assert too_big.status_code == 413
    html = too_big.get_data(as_text=True)
    assert "my text" in html and "files may be at most 1 KB" in html
    assert 'data-max-bytes="1048"' in html
