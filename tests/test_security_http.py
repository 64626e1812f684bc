"""Every refusal over real HTTP, against the app running as its own process (issue 7)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tickettracker.web.auth import cookie_name
from tickettracker.web.headers import CONTENT_SECURITY_POLICY

from .conftest import AppProcess

pytestmark = pytest.mark.process


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body)


@dataclass
class Running:
    proc: AppProcess
    data_dir: Path
    port: int
    token: str

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cookie(self) -> str:
        return f"{cookie_name(self.token)}={self.token}"

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | str | None = None,
        host: str | None = None,
    ) -> Reply:
        """One raw request; `host` replaces the Host header (None: the right one)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host if host is not None else f"127.0.0.1:{self.port}")
            payload = body.encode() if isinstance(body, str) else body
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if payload is not None:
                conn.putheader("Content-Length", str(len(payload)))
            conn.endheaders(payload)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def api(self, method: str, path: str, data=None) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.request(
            method, path, headers=headers, body=None if data is None else json.dumps(data)
        )

    def with_cookie(self, method: str, path: str, **kw) -> Reply:
        headers = {"Cookie": self.cookie, **kw.pop("headers", {})}
        return self.request(method, path, headers=headers, **kw)

    def csrf_token(self) -> str:
        page = self.with_cookie("GET", "/tickets/new").body
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def count(self) -> int:
        return self.api("GET", "/api/v1/tickets").json()["total"]


def start(data_dir: Path) -> Running:
    proc = AppProcess(data_dir, "--no-open")
    base_url, token = proc.wait_for_url()
    return Running(proc, data_dir, int(base_url.rsplit(":", 1)[1]), token)


def stop(running: Running) -> None:
    assert running.proc.terminate() == 0
    for stream in (running.proc.proc.stdout, running.proc.proc.stderr):
        stream.close()


@pytest.fixture(scope="module")
def app_proc(tmp_path_factory) -> Iterator[Running]:
    running = start(tmp_path_factory.mktemp("sec") / "data")
    yield running
    stop(running)


def urlencoded(fields: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(fields)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def assert_secure_headers(reply: Reply, *, data: bool = True) -> None:
    assert reply.header("Content-Security-Policy") is not None, "no CSP"
    assert reply.header("Content-Security-Policy").startswith(CONTENT_SECURITY_POLICY)
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("Referrer-Policy") == "no-referrer"
    assert reply.header("X-Frame-Options") == "DENY"
    if data:
        assert reply.header("Cache-Control") == "no-store"


def assert_no_data_and_no_trace(reply: Reply, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in reply.body
    assert "Traceback" not in reply.body and 'File "' not in reply.body


# --- who gets in ---------------------------------------------------------------------------


def test_no_token_is_refused_with_how_to_open(app_proc):
    app_proc.api("POST", "/api/v1/tickets", {"title": "Payroll export secret"})
    page = app_proc.request("GET", "/")
    assert page.status == 401
    assert "Run the tickettracker command" in page.body
    assert_no_data_and_no_trace(page, "Payroll export secret")
    assert_secure_headers(page)
    api = app_proc.request("GET", "/api/v1/tickets")
    assert api.status == 401 and "Payroll" not in api.body
    assert api.json()["error"].startswith("TicketTracker only opens")
    assert app_proc.request("GET", "/tickets/1").status == 401


def test_wrong_token_is_refused(app_proc):
    wrong = "x" * len(app_proc.token)
    link = app_proc.request("GET", f"/?token={wrong}")
    assert link.status == 403 and link.header("Set-Cookie") is None
    assert "not valid for this data folder" in link.body
    assert_secure_headers(link)
    bearer = app_proc.request(
        "GET", "/api/v1/tickets", headers={"Authorization": "Bearer " + wrong}
    )
    assert bearer.status == 401
    cookie = app_proc.request("GET", "/", headers={"Cookie": f"{cookie_name(app_proc.token)}=x"})
    assert cookie.status == 401
    posted = app_proc.request(
        "POST", "/api/v1/tickets", headers={"Authorization": "Bearer " + wrong}, body="{}"
    )
    assert posted.status == 401


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",  # DNS rebinding: the attacker's name, our address and port
        "evil.example",
        "127.0.0.1:{other}",
        "localhost",
        "127.0.0.1.evil.example:{port}",
        "[::1]:{port}",
        "",
    ],
)
def test_foreign_host_header_is_refused_even_with_the_token(app_proc, host):
    host = host.format(port=app_proc.port, other=app_proc.port + 1)
    for path in ("/", "/api/v1/tickets", "/static/app.css", f"/?token={app_proc.token}"):
        reply = app_proc.request(
            "GET", path, host=host, headers={"Authorization": f"Bearer {app_proc.token}"}
        )
        assert reply.status == 403, (host, path)
        assert reply.header("Set-Cookie") is None
        assert_no_data_and_no_trace(reply, "Payroll", app_proc.token)
        assert_secure_headers(reply)


def test_own_names_are_accepted(app_proc):
    for host in (
        f"127.0.0.1:{app_proc.port}",
        f"localhost:{app_proc.port}",
        f"LOCALHOST:{app_proc.port}",
    ):
        reply = app_proc.request(
            "GET",
            "/api/v1/health",
            host=host,
            headers={"Authorization": f"Bearer {app_proc.token}"},
        )
        assert reply.status == 200, host


def test_request_without_any_host_header_is_refused(app_proc):
    with socket.create_connection(("127.0.0.1", app_proc.port), timeout=10) as sock:
        sock.sendall(
            b"GET /api/v1/health HTTP/1.0\r\n"
            + f"Authorization: Bearer {app_proc.token}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 403") or answer.startswith(b"HTTP/1.1 403"), answer[:80]


def test_token_link_sets_a_strict_cookie_and_cleans_the_url(app_proc):
    reply = app_proc.request("GET", f"/tickets/new?token={app_proc.token}&x=1")
    assert reply.status == 303
    assert reply.header("Location") == "/tickets/new?x=1"
    cookie = reply.header("Set-Cookie")
    assert cookie.startswith(f"{cookie_name(app_proc.token)}={app_proc.token};")
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert flags["samesite"] == "SameSite=Strict"
    assert flags["path"] == "Path=/"
    assert "expires" not in flags and "max-age" not in flags, "a session cookie only"
    assert_secure_headers(reply)
    log = (app_proc.data_dir / "logs" / "tickettracker.log").read_text()
    assert app_proc.token not in log, "the access token was written to the log"


@pytest.mark.parametrize("path", ["/%09/evil.example/x", "/%5C/evil.example", "/%0A/evil.example"])
def test_token_link_never_redirects_to_another_site(app_proc, path):
    # Browsers drop tabs and line breaks from an address and read "\\" as "/": a decoded
    # path put back as it was would send the browser to //evil.example.
    reply = app_proc.request("GET", f"{path}?token={app_proc.token}")
    assert reply.status == 303
    location = reply.header("Location")
    assert location.startswith("/") and not location.startswith("//")
    assert not any(ch in location for ch in "\t\n\\"), location


def test_theme_switch_only_redirects_into_the_app(app_proc):
    token = app_proc.csrf_token()
    for target, expected in [
        ("/tickets/new?x=1", "/tickets/new?x=1"),
        ("/\t/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
    ]:
        reply = app_proc.with_cookie(
            "POST",
            "/preferences/theme",
            headers=FORM,
            body=urlencoded(dict(theme="dark", next=target, csrf_token=token)),
        )
        assert reply.status == 303, target
        assert reply.header("Location") == expected, target


def test_numbers_too_long_for_the_database_are_not_found_not_a_crash(app_proc):
    huge = "9" * 23
    for path in (f"/tickets/{huge}", f"/tickets/{huge}/edit", f"/attachments/{huge}/preview"):
        reply = app_proc.with_cookie("GET", path)
        assert reply.status == 404, path
        assert "not saved" not in reply.body
    for method in ("GET", "PATCH", "DELETE"):
        resource = "attachments" if method == "DELETE" else "tickets"
        reply = app_proc.api(
            method, f"/api/v1/{resource}/{huge}", {} if method == "PATCH" else None
        )
        assert reply.status == 404, method
        assert "error" in reply.json()
    listing = app_proc.with_cookie("GET", f"/?page={huge}")
    assert listing.status == 200
    api_listing = app_proc.api("GET", f"/api/v1/tickets?page={huge}&per_page=5")
    assert api_listing.status == 200 and api_listing.json()["items"] == []
    odd = app_proc.api("GET", "/api/v1/tickets?page=%C2%B2")  # a superscript two
    assert odd.status == 422 and odd.json()["field"] == "page"
    log = (app_proc.data_dir / "logs" / "tickettracker.log").read_text()
    assert "OverflowError" not in log and "Traceback" not in log


# --- CSRF -------------------------------------------------------------------------------------


def test_cross_origin_form_post_without_csrf_token_is_refused(app_proc):
    before = app_proc.count()
    for origin in ("http://evil.example", f"http://127.0.0.1:{app_proc.port + 1}", "null"):
        reply = app_proc.with_cookie(
            "POST",
            "/tickets/new",
            headers={**FORM, "Origin": origin},
            body=urlencoded(dict(title="forged by " + origin)),
        )
        assert reply.status == 403, origin
        assert "sent from outside TicketTracker" in reply.body
        assert_secure_headers(reply)
    note = app_proc.with_cookie(
        "POST",
        "/tickets/1/notes",
        headers={**FORM, "Origin": "http://evil.example"},
        body=urlencoded(dict(body="forged note")),
    )
    assert note.status == 403
    assert app_proc.count() == before


def test_cross_origin_form_post_with_csrf_token_is_accepted(app_proc):
    before = app_proc.count()
    reply = app_proc.with_cookie(
        "POST",
        "/tickets/new",
        headers={**FORM, "Origin": "null"},
        body=urlencoded(dict(title="sent from our own page", csrf_token=app_proc.csrf_token())),
    )
    assert reply.status == 303
    assert re.fullmatch(r"/tickets/\d+", reply.header("Location"))
    assert app_proc.count() == before + 1


def test_same_origin_post_is_accepted_by_its_origin(app_proc):
    reply = app_proc.with_cookie(
        "POST",
        "/tickets/new",
        headers={**FORM, "Origin": app_proc.origin},
        body=urlencoded(dict(title="same origin")),
    )
    assert reply.status == 303


def test_api_with_bearer_token_needs_no_csrf_token(app_proc):
    created = app_proc.api("POST", "/api/v1/tickets", {"title": "from a script"})
    assert created.status == 201
    assert_secure_headers(created)
    ticket_id = created.json()["id"]
    patched = app_proc.api("PATCH", f"/api/v1/tickets/{ticket_id}", {"status": "in_progress"})
    assert patched.status == 200
    note = app_proc.api("POST", f"/api/v1/tickets/{ticket_id}/updates", {"body": "ok"})
    assert note.status == 201


def test_api_with_cookie_needs_the_csrf_header(app_proc):
    body = json.dumps({"title": "fetch from a page"})
    headers = {"Content-Type": "application/json"}
    refused = app_proc.with_cookie("POST", "/api/v1/tickets", headers=headers, body=body)
    assert refused.status == 403
    accepted = app_proc.with_cookie(
        "POST",
        "/api/v1/tickets",
        headers={**headers, "X-CSRF-Token": app_proc.csrf_token()},
        body=body,
    )
    assert accepted.status == 201


# --- headers everywhere -----------------------------------------------------------------------


def test_headers_on_pages_api_static_and_errors(app_proc):
    assert_secure_headers(app_proc.with_cookie("GET", "/"))
    assert_secure_headers(app_proc.with_cookie("GET", "/tickets/1"))
    assert_secure_headers(app_proc.api("GET", "/api/v1/tickets"))
    assert_secure_headers(app_proc.api("GET", "/api/v1/tickets/1"))
    static = app_proc.request("GET", "/static/app.css")
    assert static.status == 200
    assert_secure_headers(static, data=False)
    missing = app_proc.with_cookie("GET", "/no/such/page")
    assert missing.status == 404
    assert_secure_headers(missing)
    api_missing = app_proc.api("GET", "/api/v1/tickets/999999")
    assert api_missing.status == 404
    assert_secure_headers(api_missing)
    wrong_method = app_proc.api("DELETE", "/api/v1/tickets")
    assert wrong_method.status == 405
    assert_secure_headers(wrong_method)
    invalid = app_proc.api("POST", "/api/v1/tickets", {"title": ""})
    assert invalid.status == 422
    assert_secure_headers(invalid)


def test_downloads_get_the_headers_too(app_proc):
    """Attachment downloads (issue 6) pass through the same middleware as every response."""
    reply = app_proc.api("GET", "/api/v1/attachments/999999")
    assert reply.status == 404
    assert_secure_headers(reply)


# --- a real crash -----------------------------------------------------------------------------


def test_a_crash_shows_a_plain_page_and_logs_the_traceback(tmp_path):
    running = start(tmp_path / "data")
    try:
        created = running.api("POST", "/api/v1/tickets", {"title": "Keep me", "tags": ["x"]})
        assert created.status == 201
        # Damage the database under the running app: a real failure, not a mocked one.
        with sqlite3.connect(running.data_dir / "tickettracker.db") as db:
            db.execute("ALTER TABLE tags RENAME TO tags_lost")
        page = running.with_cookie("GET", "/tickets/1")
        assert page.status == 500
        assert "Something went wrong" in page.body
        assert_no_data_and_no_trace(page, "tags_lost", "sqlite3", "OperationalError")
        assert_secure_headers(page)
        api = running.api("GET", "/api/v1/tickets/1")
        assert api.status == 500
        assert set(api.json()) == {"error", "field"}
        assert "tags_lost" not in api.body and "Traceback" not in api.body
        assert_secure_headers(api)
        log = (running.data_dir / "logs" / "tickettracker.log").read_text()
        assert "Traceback (most recent call last)" in log and "no such table" in log
    finally:
        stop(running)
    assert "Traceback" not in "".join(running.proc.lines)


# --- the data folder ---------------------------------------------------------------------------


def test_data_folder_is_0700_and_token_and_database_0600(app_proc):
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(app_proc.data_dir) == 0o700
    assert mode(app_proc.data_dir / "token") == 0o600
    assert (app_proc.data_dir / "token").read_text().strip() == app_proc.token
    assert mode(app_proc.data_dir / "tickettracker.db") == 0o600
    for sub in ("uploads", "backups", "logs"):
        assert mode(app_proc.data_dir / sub) == 0o700, sub


def test_nobody_can_forge_a_line_in_the_log(app_proc: Running):
    """The address a refused request asked for is logged; its %0a and %00 stay inside it."""
    forged = "2026-12-04 09:00:00,000 ERROR forged line"
    reply = app_proc.request("GET", "/x%0a" + forged.replace(" ", "%20") + "%00end")
    assert reply.status in (401, 404)
    text = (app_proc.data_dir / "logs" / "tickettracker.log").read_text(encoding="utf-8")
    assert "\x00" not in text
    assert not any(line.startswith(forged) for line in text.splitlines())
    assert "/x\\x0a" + forged + "\\x00end" in text
