"""The access rules through the Flask test client: CSRF, headers, links and the templates.

Over real HTTP against the running process: test_security_http.py; in a browser:
test_security_browser.py.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from tickettracker.fields import link_href
from tickettracker.web.csrf import FORM_FIELD, HEADER
from tickettracker.web.headers import CONTENT_SECURITY_POLICY, security_headers

TEMPLATES = Path(__file__).resolve().parent.parent / "tickettracker" / "templates"


@pytest.fixture
def cookie_client(app):
    """A test client let in the way the window is: by the cookie from the token link."""
    client = app.test_client()
    token = app.extensions["tickettracker"].token
    assert client.get(f"/?token={token}").status_code == 303
    return client


def csrf_of(client) -> str:
    html = client.get("/tickets/new").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert match, "the new-ticket form carries no CSRF field"
    meta = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', html)
    assert meta and meta.group(1) == match.group(1), "the page has no matching csrf-token meta"
    return match.group(1)


def ticket_count(app) -> int:
    client = app.test_client()
    token = app.extensions["tickettracker"].token
    return client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).json["total"]


# --- CSRF ------------------------------------------------------------------------------------


def test_form_post_without_csrf_token_is_refused_and_saves_nothing(app, cookie_client):
    resp = cookie_client.post("/tickets/new", data={"title": "forged"})
    assert resp.status_code == 403
    assert "sent from outside TicketTracker" in resp.get_data(as_text=True)
    assert ticket_count(app) == 0


def test_form_post_with_csrf_token_is_accepted(app, cookie_client):
    resp = cookie_client.post(
        "/tickets/new", data={"title": "mine", FORM_FIELD: csrf_of(cookie_client)}
    )
    assert resp.status_code == 303
    assert ticket_count(app) == 1


def test_wrong_csrf_token_is_refused(app, cookie_client):
    resp = cookie_client.post("/tickets/new", data={"title": "x", FORM_FIELD: "0" * 64})
    assert resp.status_code == 403
    assert ticket_count(app) == 0


def test_multipart_form_carries_the_token_too(app, cookie_client):
    data = {"title": "with a file field", FORM_FIELD: csrf_of(cookie_client)}
    resp = cookie_client.post("/tickets/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303
    resp = cookie_client.post(
        "/tickets/new", data={"title": "x"}, content_type="multipart/form-data"
    )
    assert resp.status_code == 403


def test_script_requests_use_the_header(app, cookie_client):
    token = csrf_of(cookie_client)
    ok = cookie_client.post(
        "/api/v1/tickets", json={"title": "from a script"}, headers={HEADER: token}
    )
    assert ok.status_code == 201
    refused = cookie_client.post("/api/v1/tickets", json={"title": "no header"})
    assert refused.status_code == 403
    assert refused.json["error"].startswith("This change was sent from outside")
    for method in ("patch", "put", "delete"):
        assert getattr(cookie_client, method)("/api/v1/tickets/1", json={}).status_code == 403


def test_own_origin_or_referer_is_enough(app, cookie_client):
    host = "http://localhost"  # the test client's own origin
    assert (
        cookie_client.post(
            "/tickets/new", data={"title": "a"}, headers={"Origin": host}
        ).status_code
        == 303
    )
    assert (
        cookie_client.post(
            "/tickets/new", data={"title": "b"}, headers={"Referer": host + "/tickets/new"}
        ).status_code
        == 303
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # what a sandboxed frame or a no-referrer page sends
        {"Origin": "http://localhost.evil.example"},
        {"Referer": "http://evil.example/http://localhost/"},
    ],
)
def test_foreign_origin_without_token_is_refused(app, cookie_client, headers):
    assert (
        cookie_client.post("/tickets/new", data={"title": "x"}, headers=headers).status_code == 403
    )
    assert ticket_count(app) == 0


def test_bearer_requests_need_no_csrf_token(client):
    resp = client.post("/tickets/new", data={"title": "by script"})
    assert resp.status_code == 303
    assert client.post("/api/v1/tickets", json={"title": "api"}).status_code == 201


def test_csrf_token_is_only_given_to_those_let_in(app):
    html = app.test_client().get("/").get_data(as_text=True)
    assert "csrf" not in html


# --- access -----------------------------------------------------------------------------------


def test_401_names_the_scheme(app):
    resp = app.test_client().get("/api/v1/tickets")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_link_never_redirects_off_site(app):
    token = app.extensions["tickettracker"].token
    resp = app.test_client().get(
        f"/x?token={token}&q=1", environ_overrides={"PATH_INFO": "//evil.example/x"}
    )
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/evil.example/x?q=1"


def test_foreign_host_is_refused_even_with_the_token(client):
    resp = client.get("/", headers={"Host": "evil.example"})
    assert resp.status_code == 403
    assert "This address is not TicketTracker" in resp.get_data(as_text=True)


# --- headers -----------------------------------------------------------------------------------


def test_headers_on_a_page(client):
    resp = client.get("/")
    assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


def test_policy_allows_no_inline_script_and_no_framing():
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_header_rules_by_kind_of_response():
    def headers(path, **given):
        return dict(security_headers(path, [(k.replace("_", "-"), v) for k, v in given.items()]))

    page = headers("/", Content_Type="text/html; charset=utf-8", Cache_Control="max-age=60")
    assert page["Cache-Control"] == "no-store"
    assert headers("/api/v1/x", Content_Type="application/json")["Cache-Control"] == "no-store"
    static = headers("/static/app.css", Content_Type="text/css", Cache_Control="no-cache")
    assert static["Cache-Control"] == "no-cache" and static["X-Frame-Options"] == "DENY"
    download = headers(
        "/api/v1/attachments/1",
        Content_Type="application/octet-stream",
        Content_Disposition="attachment; filename=x",
        Cache_Control="no-cache",
    )
    assert download["Cache-Control"] == "no-store"
    assert download["Content-Security-Policy"].endswith("; sandbox")
    preview = headers(
        "/attachments/1/preview",
        Content_Type="image/png",
        Content_Disposition="inline; filename=x.png",
        Cache_Control="no-cache, max-age=0",
    )
    assert preview["Cache-Control"] == "no-store"
    assert headers("/x.bin", Content_Type="image/png")["Cache-Control"] == "no-store"
    revalidated = headers("/x.png", Content_Type="image/png", Cache_Control="no-cache, max-age=0")
    assert revalidated["Cache-Control"] == "no-store"
    chosen = headers("/sla.css", Content_Type="text/css", Cache_Control="private, max-age=9")
    assert chosen["Cache-Control"] == "private, max-age=9"
    overridden = headers("/", Content_Type="text/html", X_Frame_Options="SAMEORIGIN")
    assert overridden["X-Frame-Options"] == "DENY"


# --- links and templates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/",
        "http:alert(1)",
        "https://example.com/\x00",
        "",
        None,
    ],
)
def test_link_href_refuses_what_a_browser_would_run(url):
    assert link_href(url) is None


def test_link_href_keeps_web_and_mail_links():
    for url in ("https://example.com/a?b=1", "http://x.example", "mailto:ann@example.com"):
        assert link_href(url) == url


def test_a_stored_bad_link_is_shown_as_text(app, client):
    """Data from elsewhere (an import, an old version) is checked again when shown."""
    from tickettracker.models import Link

    client.post("/api/v1/tickets", json={"title": "t", "links": ["https://ok.example/"]})
    st = app.extensions["tickettracker"]
    with st.write_sessions() as session:
        link = session.query(Link).one()
        link.url = "javascript:alert(1)"
        session.commit()
    html = client.get("/tickets/1").get_data(as_text=True)
    assert 'href="javascript' not in html
    assert "javascript:alert(1)" in html


def template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_templates_keep_escaping_on_and_script_out(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"\|\s*safe\b", text), "|safe turns escaping off"
    assert "autoescape false" not in text and "Markup" not in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline <script> is blocked by CSP"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handlers are blocked by CSP"
    assert not re.search(r"\sstyle\s*=", text), "inline styles are blocked by CSP"
    assert not re.search(r"href=\"\{\{[^}]*\burl\b(?![^}]*link_href)", text), (
        "build hrefs from stored URLs through |link_href"
    )


@pytest.mark.parametrize("path", template_files(), ids=lambda p: p.name)
def test_every_post_form_carries_the_csrf_field(path):
    text = path.read_text(encoding="utf-8")
    for form in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
        if re.search(r"method=\"post\"", form.group(0)[:300], re.I):
            assert "{{ csrf_field() }}" in form.group(1), f"a POST form in {path.name}"


def test_the_database_is_private_even_in_a_shared_folder(tmp_path):
    from tickettracker.web import create_app

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    app = create_app(shared, {"TESTING": True})
    try:
        db = shared / "tickettracker.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        for extra in ("tickettracker.db-wal", "tickettracker.db-shm", "token"):
            if (shared / extra).exists():
                assert stat.S_IMODE((shared / extra).stat().st_mode) == 0o600, extra
    finally:
        app.extensions["tickettracker"].engine.dispose()
