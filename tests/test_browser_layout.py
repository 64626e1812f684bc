"""Long unbroken text and narrow windows: the list keeps its columns, no page scrolls sideways.

A pasted URL, a long e-mail address, hundreds of tags or a long hold reason on one ticket
must not squeeze the other rows of the list, and no page may get wider than the window, at
1280 px and at a phone's 375 px, in the dark and the light theme.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import artifact

pytestmark = pytest.mark.browser

LONG_URL_TITLE = (
    "Broken link https://intranet.example.com/sites/finance/Shared%20Documents/Forms/"
    "AllItems.aspx?RootFolder=Q4"
)
LONG_EMAIL = "maximilian.mustermann@finance-department.example.com"
HOLD_REASON = (
    "Waiting for the vendor to send a replacement part, which they said would take about "
    "three weeks, and then for facilities to install it"
)


def page_width(page) -> dict:
    return page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, view: window.innerWidth})"
    )


def assert_no_sideways_scroll(page, what: str) -> None:
    width = page_width(page)
    assert width["scroll"] <= width["view"], f"{what}: page is {width['scroll']} px wide"


def boxes(page, selector: str) -> list[dict]:
    return page.locator(selector).evaluate_all(
        """els => els.map(e => {
            const r = e.getBoundingClientRect();
            return {left: r.left, right: r.right, width: r.width, height: r.height,
                    text: e.textContent, title: e.getAttribute('title'),
                    scrollWidth: e.scrollWidth, clientWidth: e.clientWidth};
        })"""
    )


@pytest.fixture(scope="module")
def long_tickets(live_server):
    """Ordinary tickets and troublesome ones, all tagged lay-bulk."""
    made = {}

    def create(key, body):
        status, ticket = live_server.api("POST", "/api/v1/tickets", body)
        assert status == 201, ticket
        made[key] = ticket["id"]

    for i in range(3):
        create(
            f"plain{i}",
            {"title": f"Printer {i} jams", "requester": "ann", "tags": ["lay-bulk", "printer"]},
        )
    create(
        "url",
        {"title": LONG_URL_TITLE, "requester": LONG_EMAIL, "tags": ["lay-bulk", "sharepoint"]},
    )
    create("unbroken", {"title": "x" * 200, "requester": "r" * 200, "tags": ["lay-bulk"]})
    create("tags", {"title": "Many tags", "tags": ["lay-bulk"] + [f"t{i:03}" for i in range(300)]})
    create("hold", {"title": "Held for parts", "tags": ["lay-bulk"]})
    status, _ = live_server.api(
        "PATCH",
        f"/api/v1/tickets/{made['hold']}",
        {"status": "on_hold", "hold_reason": HOLD_REASON},
    )
    assert status == 200
    create(
        "link",
        {
            "title": "Long link",
            "requester": "q" * 200,
            "description": "d" * 3000,
            "tags": ["lay-link", "y" * 100],
            "links": [{"url": "https://example.com/" + "b" * 500, "title": ""}],
        },
    )
    status, _ = live_server.api(
        "POST",
        f"/api/v1/tickets/{made['link']}/updates",
        {"body": "n" * 800, "links": [{"url": "https://docs.example.com/" + "c" * 400}]},
    )
    assert status == 201
    # A change of links is logged with both URLs in full.
    status, _ = live_server.api(
        "PATCH",
        f"/api/v1/tickets/{made['link']}",
        {"links": [{"url": "https://example.com/" + "e" * 400, "title": ""}]},
    )
    assert status == 200
    return made


def test_one_long_row_does_not_squeeze_the_others(app_page, live_server, long_tickets):
    page = app_page
    page.goto(live_server.base_url + "/?tag=lay-bulk")
    expect(page.locator("p.count")).to_have_text("7 tickets")
    page.screenshot(path=artifact("layout-list-long-1280-dark.png"), full_page=True)
    assert_no_sideways_scroll(page, "list")

    # Every SLA badge stays on one line, and its column is as wide as the widest badge.
    chips = boxes(page, "td.sla .sla-chip")
    assert len(chips) == 7
    heights = {round(c["height"]) for c in chips}
    assert len(heights) == 1, f"SLA badges wrap: heights {heights}"
    assert max(heights) < 30
    sla_cells = boxes(page, "td.sla")
    assert min(c["width"] for c in sla_cells) >= max(c["width"] for c in chips)
    # The ordinary label is shown whole (the trial saw this column shrink to ~110 px).
    plain = [c for c in chips if c["text"].strip().startswith("open")]
    assert plain and all(c["scrollWidth"] <= c["clientWidth"] for c in plain)
    assert min(c["width"] for c in sla_cells) > 150

    # The long hold reason is cut with an ellipsis; the full label is in the title.
    held = page.locator(f'tr[data-ticket-id="{long_tickets["hold"]}"] .sla-chip')
    assert HOLD_REASON in held.get_attribute("title")
    held_box = boxes(page, f'tr[data-ticket-id="{long_tickets["hold"]}"] .sla-chip')[0]
    assert held_box["scrollWidth"] > held_box["clientWidth"]
    assert held_box["width"] <= 15 * 15  # 14rem + padding at the 15 px root size
    assert held.evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"

    # Tag chips never break inside a word.
    chip_heights = {round(c["height"]) for c in boxes(page, "td.tags a.chip")}
    assert len(chip_heights) == 1, f"tag chips wrap: heights {chip_heights}"

    # The ordinary rows keep a readable title column and a single-line title.
    for key in ("plain0", "plain1", "plain2"):
        row = f'tr[data-ticket-id="{long_tickets[key]}"]'
        title = boxes(page, f"{row} td.title")[0]
        assert title["width"] >= 180, f"title column squeezed to {title['width']} px"
        link = boxes(page, f"{row} td.title a")[0]
        assert link["height"] < 30, "an ordinary title wraps"
        assert boxes(page, row)[0]["height"] < 60

    # Long text wraps inside its own cell.
    for key in ("url", "unbroken"):
        row = f'tr[data-ticket-id="{long_tickets[key]}"]'
        for cell in ("td.title", "td.requester"):
            box = boxes(page, f"{row} {cell}")[0]
            assert box["scrollWidth"] <= box["clientWidth"] + 1, f"{key} {cell} overflows"

    # A ticket with 301 tags shows 8 chips and a link to the ticket for the rest.
    row = page.locator(f'tr[data-ticket-id="{long_tickets["tags"]}"]')
    expect(row.locator("a.chip")).to_have_count(8)
    more = row.locator("a.more-tags")
    expect(more).to_have_text("+293 more")
    expect(more).to_have_attribute("href", f"/tickets/{long_tickets['tags']}")
    assert boxes(page, f'tr[data-ticket-id="{long_tickets["tags"]}"]')[0]["height"] < 150


@pytest.mark.parametrize("scheme", ["dark", "light"])
@pytest.mark.parametrize("width", [1280, 375])
def test_no_page_scrolls_sideways(browser, live_server, long_tickets, width, scheme):
    context = browser.new_context(viewport={"width": width, "height": 812}, color_scheme=scheme)
    if not live_server.api("GET", "/api/v1/backups")[1]["items"]:
        assert live_server.api("POST", "/api/v1/backups")[0] == 201  # the list has a row
    try:
        page = context.new_page()
        page.goto(live_server.login_url)
        # A file with a long name, on the ticket and in a note.
        page.goto(f"{live_server.base_url}/tickets/{long_tickets['link']}")
        if width == 1280 and scheme == "dark":
            page.locator("#ticket_files").set_input_files(
                files=[{"name": "f" * 200 + ".txt", "mimeType": "text/plain", "buffer": b"hi"}]
            )
            page.get_by_role("button", name="Attach", exact=True).click()
            expect(page.locator(".files .attachment")).to_have_count(1)
        for path, name in (
            ("/?tag=lay-bulk", "list"),
            (f"/tickets/{long_tickets['link']}", "ticket"),
            (f"/tickets/{long_tickets['hold']}", "ticket-on-hold"),
            ("/settings", "settings"),
            ("/tickets/new", "new"),
            ("/data", "data"),
        ):
            page.goto(live_server.base_url + path)
            page.screenshot(path=artifact(f"layout-{name}-{width}-{scheme}.png"), full_page=True)
            assert_no_sideways_scroll(page, f"{name} at {width} px")

        # The ticket page's long links and text stay inside their cards.
        page.goto(f"{live_server.base_url}/tickets/{long_tickets['link']}")
        for card in (".details", ".log"):
            right = boxes(page, card)[0]["right"]
            for inner in ("a", ".text", ".change", "input[type=file]", ".hint", "dd"):
                for box in boxes(page, f"{card} {inner}"):
                    assert box["right"] <= right + 0.5, f"{card} {inner} runs past the card"
    finally:
        context.close()


def test_phone_layout(browser, live_server, long_tickets):
    context = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        page.goto(live_server.login_url)

        # Settings: the config blocks scroll inside their own card.
        page.goto(live_server.base_url + "/settings")
        assert_no_sideways_scroll(page, "settings")
        sections = boxes(page, ".settings-section")
        assert all(s["right"] <= 375 for s in sections)
        pres = boxes(page, ".settings-section pre")
        assert any(p["scrollWidth"] > p["clientWidth"] for p in pres)

        # Ticket page: the file input and its hint stay inside the card.
        page.goto(f"{live_server.base_url}/tickets/{long_tickets['plain0']}")
        card = boxes(page, ".details")[0]
        for selector in (".upload-form input[type=file]", ".upload-form .hint"):
            box = boxes(page, selector)[0]
            assert box["right"] <= card["right"], f"{selector} runs past the card"

        # On hold: the header's badge stays one line; the reason is shown whole beside it.
        page.goto(f"{live_server.base_url}/tickets/{long_tickets['hold']}")
        assert_no_sideways_scroll(page, "ticket on hold")
        badge = boxes(page, ".ticket-head .sla-chip")[0]
        assert badge["height"] < 30 and badge["right"] <= 375
        assert HOLD_REASON in badge["title"]
        expect(page.locator(".ticket-head .hold-reason")).to_contain_text(HOLD_REASON)

        # The list: the filters fold behind a summary, so tickets show on the first screen.
        page.goto(live_server.base_url + "/?tag=lay-bulk")
        panel = page.locator("details.filter-panel")
        expect(panel).not_to_have_attribute("open", "")
        expect(page.get_by_label("Sort by")).to_be_hidden()
        assert page.locator("tr.ticket-row").first.bounding_box()["y"] < 812
        expect(panel.locator("summary")).to_contain_text("(filtered)")
        page.screenshot(path=artifact("layout-list-phone-folded.png"))
        panel.locator("summary").click()
        expect(page.get_by_label("Sort by")).to_be_visible()
        page.screenshot(path=artifact("layout-list-phone-open.png"))
        # Folded again, then the window gets wide: the panel opens, its summary hidden.
        panel.locator("summary").click()
        expect(page.get_by_label("Sort by")).to_be_hidden()
        page.set_viewport_size({"width": 1280, "height": 812})
        expect(page.get_by_label("Sort by")).to_be_visible()
        expect(panel.locator("summary")).to_be_hidden()
    finally:
        context.close()


def test_desktop_filters_stay_open(app_page, live_server):
    page = app_page
    page.goto(live_server.base_url + "/")
    expect(page.locator("details.filter-panel")).to_have_attribute("open", "")
    expect(page.locator("details.filter-panel > summary")).to_be_hidden()
    expect(page.get_by_label("Sort by")).to_be_visible()
