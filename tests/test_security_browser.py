"""In a real browser: hostile text never runs, and another local site cannot post as the user."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from .conftest import artifact

pytestmark = pytest.mark.browser

# Each probe either sets a global or opens a dialog if it ever runs. No commas or semicolons:
# tags and watchers are split on them.
PROBES = [
    "<script>window.__xss=1</script>",
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__xss=2">',
    "<img src=x onerror=alert(2)>",
    '"><svg onload="window.__xss=3">',
    "'><svg/onload=alert(3)>",
    "javascript:alert(4)",
    "</textarea><script>alert(5)</script>",
]

WATCH = """
window.__dialogs = [];
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""

INJECTED = "script:not([src]), img[src='x'], [onerror], [onload], iframe, object, embed"


@pytest.fixture(scope="module")
def hostile_tickets(live_server) -> list[int]:
    """One ticket per probe, the probe in every field a user can write."""
    ids = []
    for n, probe in enumerate(PROBES):
        status, ticket = live_server.api(
            "POST",
            "/api/v1/tickets",
            {
                "title": f"XSS{n} {probe}",
                "description": probe,
                "notes": probe,
                "requester": probe,
                "watchers": [probe, "ann@example.com"],
                "tags": [probe],
                "links": [
                    {
                        "url": f"https://example.com/{n}?q=\"'><svg/onload=alert({n})>",
                        "title": probe,
                    }
                ],
            },
        )
        assert status == 201, ticket
        tid = ticket["id"]
        status, body = live_server.api(
            "PATCH",
            f"/api/v1/tickets/{tid}",
            {"status": "on_hold", "hold_reason": probe, "note": probe},
        )
        assert status == 200, body
        status, body = live_server.api(
            "POST",
            f"/api/v1/tickets/{tid}/updates",
            {"body": probe, "links": [{"url": "mailto:ann@example.com", "title": probe}]},
        )
        assert status == 201, body
        ids.append(tid)
    return ids


def watch(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script(WATCH)
    return dialogs


def assert_nothing_ran(page: Page, dialogs: list[str]) -> None:
    assert dialogs == [], f"a probe opened a dialog: {dialogs}"
    assert page.evaluate("window.__xss") is None, "a probe set its global"
    assert page.evaluate("window.__violations") == [], "CSP blocked something the page tried"
    assert page.locator(INJECTED).count() == 0, "user text became markup"


def test_hostile_text_shows_literally_on_the_list(app_page, live_server, hostile_tickets):
    page = app_page
    dialogs = watch(page)
    page.goto(live_server.base_url + "/?q=XSS")
    for n, probe in enumerate(PROBES):
        row = page.locator("tr.ticket-row", has_text=f"XSS{n} ")
        expect(row.locator(".title a")).to_have_text(f"XSS{n} {probe}")
        expect(row.locator(".requester")).to_have_text(probe)
        expect(row.locator(".chip")).to_have_text(probe)
        expect(row.locator(".sla-chip")).to_contain_text(probe)
    page.screenshot(path=artifact("xss-list.png"), full_page=True)
    assert_nothing_ran(page, dialogs)


def test_hostile_text_shows_literally_on_the_ticket_page(app_page, live_server, hostile_tickets):
    page = app_page
    dialogs = watch(page)
    for n, tid in enumerate(hostile_tickets):
        probe = PROBES[n]
        page.goto(f"{live_server.base_url}/tickets/{tid}")
        expect(page.locator(".ticket-title")).to_have_text(f"XSS{n} {probe}")
        expect(page).to_have_title(f"#{tid} XSS{n} {probe} · TicketTracker")
        details = page.locator(".details")
        expect(details).to_contain_text(probe)
        for text_block in page.locator(".details .text").all():
            expect(text_block).to_have_text(probe)
        expect(details.locator(".chip")).to_have_text(probe)
        link = details.locator(".links a")
        expect(link).to_have_text(probe)
        expect(link).to_have_attribute(
            "href", f"https://example.com/{n}?q=\"'><svg/onload=alert({n})>"
        )
        expect(page.locator(".ticket-meta .hold-reason")).to_have_text(f"Reason: {probe}")
        log = page.locator(".log .entries")
        expect(log.locator(".text").last).to_have_text(probe)
        expect(log.locator(".links a").last).to_have_text(probe)
        expect(log.locator(".links a").last).to_have_attribute("href", "mailto:ann@example.com")
        expect(log).to_contain_text(f"Hold reason: none → {probe}")
        # The edit form gives every value back as text inside its fields.
        page.goto(f"{live_server.base_url}/tickets/{tid}/edit")
        expect(page.get_by_label("Title (required)")).to_have_value(f"XSS{n} {probe}")
        expect(page.get_by_label("Description")).to_have_value(probe)
        expect(page.get_by_label("Requester")).to_have_value(probe)
        assert_nothing_ran(page, dialogs)
        if n == 2:
            page.goto(f"{live_server.base_url}/tickets/{tid}")
            page.screenshot(path=artifact("xss-ticket.png"), full_page=True)
    assert_nothing_ran(page, dialogs)


def test_search_text_is_echoed_literally(app_page, live_server):
    page = app_page
    dialogs = watch(page)
    probe = '"><img src=x onerror=alert(9)>zzqq'
    page.goto(live_server.base_url + "/")
    page.get_by_label("Search tickets").fill(probe)
    page.get_by_label("Search tickets").press("Enter")
    expect(page.locator(".empty")).to_contain_text(probe)
    expect(page.get_by_label("Search tickets")).to_have_value(probe)
    assert_nothing_ran(page, dialogs)


def test_a_javascript_link_is_refused_in_the_form(app_page, live_server):
    page = app_page
    dialogs = watch(page)
    page.goto(live_server.base_url + "/tickets/new")
    page.get_by_label("Title (required)").fill("Link probe ticket")
    page.get_by_label("Links").fill("javascript:alert(document.domain) click me")
    page.get_by_role("button", name="Create ticket").click()
    expect(page.locator(".form-error")).to_contain_text("not a link we can open")
    expect(page.get_by_label("Title (required)")).to_have_value("Link probe ticket")
    expect(page.get_by_label("Links")).to_have_value("javascript:alert(document.domain) click me")
    assert_nothing_ran(page, dialogs)
    status, found = live_server.api("GET", "/api/v1/tickets?q=probe")
    assert all(t["title"] != "Link probe ticket" for t in found["items"])


# --- another site on this machine tries to post as the user ----------------------------------


class _AttackerPage(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = (
            "<!doctype html><title>Win a prize</title>"
            f'<form method="post" action="{self.target}/tickets/new">'
            '<input name="title" value="Planted by another site">'
            "<button>Claim</button></form>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def attacker(live_server) -> Iterator[str]:
    """A page on another port of 127.0.0.1: same site for cookies, another origin."""
    handler = type("Attacker", (_AttackerPage,), {"target": live_server.base_url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_form_on_another_local_site_cannot_post_as_the_user(app_page, live_server, attacker):
    page = app_page  # holds the app's cookie, which SameSite lets through to this post
    page.goto(attacker)
    with page.expect_response(lambda r: r.url.endswith("/tickets/new")) as posted:
        page.get_by_role("button", name="Claim").click()
    assert posted.value.status == 403
    expect(page.locator("main")).to_contain_text("sent from outside TicketTracker")
    status, found = live_server.api("GET", "/api/v1/tickets?q=Planted")
    assert found["total"] == 0


def test_our_own_form_and_script_pass_the_check(app_page, live_server):
    page = app_page
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token and len(token) == 64
    # What a script of ours does: fetch() with the token from the meta tag.
    result = page.evaluate(
        """async () => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const send = headers => fetch('/api/v1/tickets', {method: 'POST',
                headers: {'Content-Type': 'application/json', ...headers},
                body: JSON.stringify({title: 'Made by fetch'})}).then(r => r.status);
            return [await send({}), await send({'X-CSRF-Token': token})];
        }"""
    )
    # Same-origin fetch sends our own Origin, which is accepted even without the header.
    assert result == [201, 201]
