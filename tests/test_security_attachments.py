"""Attachments under the access rules: uploads need the CSRF token, downloads carry every
security header and never render in the app's origin, hostile file names show as text."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .conftest import artifact
from .test_security_browser import assert_nothing_ran, watch
from .test_security_http import Running, assert_secure_headers, start, stop

HTML = b"<!doctype html><script>document.title='ran'</script><p>hello"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
NAME_PROBES = [
    "<script>window.__xss=1</script>.html",
    '<img src=x onerror="window.__xss=2">.png',
    '"><svg onload=alert(3)>.svg',
    "javascript:alert(4).txt",
]


def multipart(fields: dict[str, str], files: list[tuple[str, bytes, str]]) -> tuple[str, bytes]:
    """A multipart/form-data body as a browser writes it (quotes in names as %22)."""
    boundary = "----tt" + secrets.token_hex(8)
    parts: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + value.encode() + b"\r\n")
    for filename, data, ctype in files:
        quoted = filename.replace('"', "%22")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{quoted}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def stored_files(running: Running) -> list[str]:
    root = running.data_dir / "uploads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def app_proc(tmp_path_factory) -> Iterator[Running]:
    running = start(tmp_path_factory.mktemp("secatt") / "data")
    yield running
    stop(running)


def new_ticket(running: Running) -> int:
    reply = running.api("POST", "/api/v1/tickets", {"title": "Has files"})
    assert reply.status == 201
    return reply.json()["id"]


def attachments_of(running: Running, ticket_id: int) -> list[dict]:
    return running.api("GET", f"/api/v1/tickets/{ticket_id}").json()["attachments"]


@pytest.mark.process
def test_upload_form_without_csrf_token_is_refused_and_leaves_nothing(app_proc):
    tid = new_ticket(app_proc)
    before = stored_files(app_proc)
    ctype, body = multipart({}, [("page.html", HTML, "text/html")])
    reply = app_proc.with_cookie(
        "POST",
        f"/tickets/{tid}/attachments",
        headers={"Content-Type": ctype, "Origin": "http://evil.example"},
        body=body,
    )
    assert reply.status == 403
    assert "sent from outside TicketTracker" in reply.body
    assert attachments_of(app_proc, tid) == []
    assert stored_files(app_proc) == before

    ctype, body = multipart(
        {"csrf_token": app_proc.csrf_token()}, [("page.html", HTML, "text/html")]
    )
    reply = app_proc.with_cookie(
        "POST", f"/tickets/{tid}/attachments", headers={"Content-Type": ctype}, body=body
    )
    assert reply.status == 303
    assert [a["filename"] for a in attachments_of(app_proc, tid)] == ["page.html"]


@pytest.mark.process
def test_api_upload_with_bearer_token_needs_no_csrf_token(app_proc):
    tid = new_ticket(app_proc)
    ctype, body = multipart({}, [("shot.png", PNG, "image/png")])
    reply = app_proc.request(
        "POST",
        f"/api/v1/tickets/{tid}/attachments",
        headers={"Authorization": f"Bearer {app_proc.token}", "Content-Type": ctype},
        body=body,
    )
    assert reply.status == 201, reply.body
    assert_secure_headers(reply)


@pytest.mark.process
def test_downloads_and_previews_carry_every_header_and_never_render(app_proc):
    tid = new_ticket(app_proc)
    ctype, body = multipart({}, [("page.html", HTML, "text/html"), ("shot.png", PNG, "image/png")])
    reply = app_proc.request(
        "POST",
        f"/api/v1/tickets/{tid}/attachments",
        headers={"Authorization": f"Bearer {app_proc.token}", "Content-Type": ctype},
        body=body,
    )
    assert reply.status == 201, reply.body
    html_id, png_id = (a["id"] for a in attachments_of(app_proc, tid))

    for reply in (
        app_proc.api("GET", f"/api/v1/attachments/{html_id}"),
        app_proc.with_cookie("GET", f"/attachments/{html_id}"),
    ):
        assert reply.status == 200
        assert reply.body.encode() == HTML
        assert reply.header("Content-Disposition").startswith("attachment;")
        assert not reply.header("Content-Type").startswith("text/html")
        assert_secure_headers(reply)
        assert reply.header("Content-Security-Policy").endswith("; sandbox")

    preview = app_proc.with_cookie("GET", f"/attachments/{png_id}/preview")
    assert preview.status == 200
    assert preview.header("Content-Type") == "image/png"
    assert_secure_headers(preview)
    assert preview.header("Content-Security-Policy").endswith("; sandbox")
    assert app_proc.request("GET", f"/attachments/{png_id}").status == 401
    assert app_proc.request("GET", f"/api/v1/attachments/{png_id}").status == 401


@pytest.mark.browser
def test_hostile_file_names_show_as_text(app_page, live_server):
    status, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "File name probes"})
    assert status == 201
    tid = ticket["id"]
    import urllib.request

    ctype, body = multipart({}, [(name, b"x", "application/octet-stream") for name in NAME_PROBES])
    req = urllib.request.Request(
        f"{live_server.base_url}/api/v1/tickets/{tid}/attachments",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {live_server.token}", "Content-Type": ctype},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201
        json.loads(resp.read())

    page = app_page
    dialogs = watch(page)
    page.goto(f"{live_server.base_url}/tickets/{tid}")
    names = page.locator(".attachment .file-name")  # on the ticket and in the log entry
    expect(names.first).to_be_visible()
    shown = names.all_inner_texts()
    assert set(shown) == set(NAME_PROBES), shown
    for link in page.locator(".attachment a.download").all():
        assert re.fullmatch(r"/attachments/\d+", link.get_attribute("href"))
    page.screenshot(path=artifact("xss-attachments.png"), full_page=True)
    assert_nothing_ran(page, dialogs)
