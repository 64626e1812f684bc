"""A real browser searches, filters by tags (ANY, then ALL), sorts, and goes back (issue 5)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import artifact

pytestmark = pytest.mark.browser


def titles(page) -> list[str]:
    return page.locator("tr.ticket-row td.title a").all_inner_texts()


def test_search_filter_sort_and_back(app_page, live_server):
    # Words and tags of their own, so other tests' tickets on the shared server do not count.
    made = [
        ("Quokka printer jams", ["qk-office", "qk-print"], "2031-05-03"),
        ("Quokka printer offline", ["qk-print"], "2031-05-01"),
        ("Quokka laptop battery", ["qk-office"], None),
        ("Quokka badge reader", ["qk-door"], "2031-05-02"),
    ]
    for title, tags, due in made:
        status, _ = live_server.api(
            "POST", "/api/v1/tickets", {"title": title, "tags": tags, "due": due}
        )
        assert status == 201
    page = app_page
    page.goto(live_server.base_url + "/")

    # Searching as you type: the list follows the box without pressing Enter.
    page.get_by_label("Search tickets").fill("quok")
    expect(page.locator("p.count")).to_have_text("4 tickets matching “quok”")
    page.get_by_label("Search tickets").fill("quokka printer")
    expect(page.locator("p.count")).to_have_text("2 tickets matching “quokka printer”")
    expect(page).to_have_url(re.compile(r"q=quokka\+printer"))
    page.get_by_label("Search tickets").fill("quokka")
    expect(page.locator("p.count")).to_have_text("4 tickets matching “quokka”")

    # Tags, ANY: either tag.
    page.get_by_label("Tags").fill("qk-office, qk-print")
    page.get_by_label("Tags").press("Enter")
    expect(page.locator("p.count")).to_have_text("3 tickets matching “quokka”")
    # ALL: both tags. Switching applies at once.
    page.get_by_label("All (AND)").check()
    expect(page.locator("p.count")).to_have_text("1 ticket matching “quokka”")
    assert titles(page) == ["Quokka printer jams"]
    expect(page).to_have_url(re.compile(r"tag_mode=all"))

    # Back to ANY, then sort by due date: soonest first, no due date last.
    page.get_by_label("Any (OR)").check()
    expect(page.locator("p.count")).to_have_text("3 tickets matching “quokka”")
    page.get_by_label("Sort by").select_option("due")
    expect(page).to_have_url(re.compile(r"sort=due"))
    expect(page.locator("tr.ticket-row").first).to_contain_text("Quokka printer offline")
    assert titles(page) == [
        "Quokka printer offline",
        "Quokka printer jams",
        "Quokka laptop battery",
    ]
    page.screenshot(path=artifact("search-sorted-by-due.png"), full_page=True)

    # The back button walks back through the same states.
    page.go_back()
    expect(page.get_by_label("Sort by")).to_have_value("relevance")
    expect(page.locator("p.count")).to_have_text("3 tickets matching “quokka”")
    page.go_back()
    expect(page.get_by_label("All (AND)")).to_be_checked()
    expect(page.locator("p.count")).to_have_text("1 ticket matching “quokka”")
    page.go_back()
    expect(page.get_by_label("Any (OR)")).to_be_checked()
    expect(page.locator("p.count")).to_have_text("3 tickets matching “quokka”")
    # Before the tags: the search as typed (one entry for the whole burst of typing) ...
    page.go_back()
    expect(page.get_by_label("Tags")).to_have_value("")
    expect(page.locator("p.count")).to_have_text("4 tickets matching “quokka”")
    expect(page.get_by_label("Search tickets")).to_have_value("quokka")
    # ... and before the search, the unfiltered list: Back does not leave the list.
    page.go_back()
    expect(page).to_have_url(live_server.base_url + "/")
    expect(page.get_by_label("Search tickets")).to_have_value("")
    expect(page.locator("p.count")).not_to_contain_text("matching")
    # Forward walks the same states again.
    page.go_forward()
    expect(page.locator("p.count")).to_have_text("4 tickets matching “quokka”")
    expect(page.get_by_label("Search tickets")).to_have_value("quokka")
    page.go_forward()
    page.go_forward()
    expect(page.get_by_label("All (AND)")).to_be_checked()
    expect(page.locator("p.count")).to_have_text("1 ticket matching “quokka”")

    # A tag chip in the list is a filter of its own.
    page.locator("tr.ticket-row a.chip", has_text="qk-print").first.click()
    expect(page).to_have_url(re.compile(r"tag=qk-print"))
    expect(page.get_by_label("Tags")).to_have_value("qk-print")
    expect(page.locator("p.count")).to_have_text("2 tickets matching “quokka”")

    # The dashboard strip filters too.
    page.locator("a.tile", has_text="Due this week").click()
    expect(page).to_have_url(re.compile(r"due=week"))
    expect(page.get_by_label("Due", exact=True)).to_have_value("week")
    page.screenshot(path=artifact("search-dashboard.png"), full_page=True)


def history_length(page) -> int:
    return page.evaluate("history.length")


def test_back_after_live_search_returns_to_the_list(app_page, live_server):
    status, ticket = live_server.api(
        "POST", "/api/v1/tickets", {"title": "Wombat paper tray", "tags": ["wb-back"]}
    )
    assert status == 201
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}")
    page.get_by_role("link", name="← All tickets").click()
    expect(page).to_have_url(live_server.base_url + "/")
    unfiltered = page.locator("p.count").inner_text()
    before = history_length(page)

    # Typed key by key, as a person does: the list follows, one new entry for the burst.
    box = page.get_by_label("Search tickets")
    box.press_sequentially("wombat", delay=30)
    expect(page.locator("p.count")).to_have_text("1 ticket matching “wombat”")
    box.press_sequentially(" pap", delay=30)
    expect(page.locator("p.count")).to_have_text("1 ticket matching “wombat pap”")
    expect(page).to_have_url(re.compile(r"q=wombat\+pap"))
    assert history_length(page) == before + 1

    page.go_back()
    expect(page).to_have_url(live_server.base_url + "/")
    expect(box).to_have_value("")
    expect(page.locator("p.count")).to_have_text(unfiltered)
    page.go_back()
    expect(page).to_have_url(f"{live_server.base_url}/tickets/{ticket['id']}")


def test_live_search_on_the_first_page_keeps_the_app_on_back(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        page.goto(live_server.login_url)
        expect(page.locator("p.count")).to_be_visible()
        start = page.url
        page.get_by_label("Search tickets").press_sequentially("wombat", delay=30)
        expect(page.locator("p.count")).to_contain_text("matching “wombat”")
        page.go_back()
        expect(page).to_have_url(start)
        expect(page.get_by_label("Search tickets")).to_have_value("")
    finally:
        context.close()


def test_apply_sends_the_box_text_and_adds_no_duplicate_entry(app_page, live_server):
    for title in ("Numbat pasted words", "Numbat other"):
        status, _ = live_server.api(
            "POST", "/api/v1/tickets", {"title": title, "tags": ["nb-apply"]}
        )
        assert status == 201
    page = app_page
    page.goto(live_server.base_url + "/?tag=nb-apply")
    expect(page.locator("p.count")).to_have_text("2 tickets")
    # A paste the live search has not seen yet (no input event), then Apply at once.
    page.get_by_label("Search tickets").evaluate("box => { box.value = 'numbat pasted' }")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=numbat\+pasted"))
    expect(page.get_by_label("Search tickets")).to_have_value("numbat pasted")
    expect(page.locator("p.count")).to_have_text("1 ticket matching “numbat pasted”")

    # The same with Enter in the box, while the live search is still waiting to run.
    box = page.get_by_label("Search tickets")
    box.fill("numbat other")
    box.press("Enter")
    expect(page.locator("p.count")).to_have_text("1 ticket matching “numbat other”")
    expect(box).to_have_value("numbat other")

    # A filter that applies itself adds one entry; Apply right after it adds none.
    length = history_length(page)
    sort_before = page.get_by_label("Sort by").input_value()
    assert sort_before != "created"
    page.get_by_label("Sort by").select_option("created")
    expect(page).to_have_url(re.compile(r"sort=created"))
    assert history_length(page) == length + 1
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Sort by")).to_have_value("created")
    assert history_length(page) == length + 1
    page.go_back()
    expect(page.get_by_label("Sort by")).to_have_value(sort_before)
    expect(page.locator("p.count")).to_have_text("1 ticket matching “numbat other”")
