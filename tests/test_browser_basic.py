"""A real browser creates a ticket through the form and finds it in the list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import artifact

pytestmark = pytest.mark.browser


def test_create_ticket_through_the_form(app_page, live_server):
    page = app_page
    page.get_by_role("link", name="+ New ticket").first.click()
    page.get_by_label("Title (required)").fill("Projector in room 4 flickers")
    page.get_by_label("Requester").fill("Dana")
    page.get_by_label("Tags").fill("av, room-4")
    page.get_by_role("button", name="Create ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+$"))
    expect(page.locator(".ticket-title")).to_have_text("Projector in room 4 flickers")
    page.get_by_role("link", name="← All tickets").click()
    row = page.locator("tr.ticket-row", has_text="Projector in room 4 flickers")
    expect(row).to_be_visible()
    expect(row.locator(".requester")).to_have_text("Dana")
    page.screenshot(path=artifact("list-dark.png"), full_page=True)


def test_page_without_token_explains_how_to_open(page, live_server):
    page.goto(live_server.base_url + "/")
    expect(page.get_by_role("heading", name="TicketTracker is private")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Projector")
