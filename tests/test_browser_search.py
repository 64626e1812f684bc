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
