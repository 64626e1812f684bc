"""A ticket's whole life in a real browser: every status, every log entry, the end states."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import artifact

pytestmark = pytest.mark.browser


def change_status(page: Page, label: str, note: str = "", reason: str | None = None) -> None:
    page.get_by_label("New status").select_option(label=label)
    if reason is not None:
        page.get_by_label("Hold reason").select_option(label=reason)
    if note:
        page.get_by_label("Note (optional)").fill(note)
    page.get_by_role("button", name="Change status").click()


def history(page: Page):
    return page.locator("ol.entries > li")


def test_ticket_through_its_whole_life(app_page, live_server):
    page = app_page
    page.goto(live_server.base_url + "/tickets/new")
    page.get_by_label("Title (required)").fill("New starter needs a laptop")
    page.get_by_label("Requester").fill("Hiring team")
    page.get_by_label("Watchers").fill("it@example.com, Sam")
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_label("Due day").fill("2026-12-10")
    page.get_by_label("Due time").fill("17:30")
    page.get_by_label("Tags").fill("onboarding, hardware")
    page.get_by_label("Description", exact=True).fill("Starts Monday.\nNeeds a docking station.")
    page.get_by_label("Notes (working notes").fill("Order from the usual vendor")
    page.get_by_label("Links").fill("https://vendor.example/order/42 Vendor order")
    page.get_by_role("button", name="Create ticket").click()
    expect(page).to_have_url(re.compile(r"/tickets/\d+$"))

    meta = page.locator(".ticket-meta")
    expect(meta).to_contain_text("Open")
    expect(meta).to_contain_text("Priority: High")
    expect(meta).to_contain_text("Due 2026-12-10 17:30")
    details = page.locator(".details")
    for text in ("Hiring team", "it@example.com, Sam", "onboarding", "Starts Monday."):
        expect(details).to_contain_text(text)
    expect(page.get_by_role("link", name="Vendor order")).to_have_attribute(
        "href", "https://vendor.example/order/42"
    )
    expect(history(page)).to_have_count(1)
    expect(history(page).nth(0)).to_contain_text("Created as Open")

    change_status(page, "▶ In Progress", note="Picked it up")
    expect(history(page)).to_have_count(2)
    expect(history(page).nth(1)).to_contain_text("Status: Open → In Progress")
    expect(history(page).nth(1)).to_contain_text("Picked it up")

    # On Hold without a reason is refused with a message next to the field, keeping the choice
    # and the note.
    change_status(page, "‖ On Hold", note="Vendor called")
    expect(page.locator(".field-error")).to_contain_text("needs a reason")
    expect(page.get_by_label("New status")).to_have_value("on_hold")
    expect(page.get_by_label("Note (optional)")).to_have_value("Vendor called")
    expect(history(page)).to_have_count(2)

    change_status(page, "‖ On Hold", reason="Waiting on vendor")
    expect(page.locator(".ticket-meta")).to_contain_text("On Hold")
    expect(page.locator(".ticket-meta")).to_contain_text("Reason: Waiting on vendor")
    expect(history(page).nth(2)).to_contain_text("Status: In Progress → On Hold")
    expect(history(page).nth(2)).to_contain_text("Hold reason: none → Waiting on vendor")

    # The reason can change while the ticket stays on hold.
    page.get_by_label("New status").select_option(label="‖ On Hold (change the reason)")
    page.get_by_label("Or your own reason").fill("Vendor shipping the part Friday")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".ticket-meta")).to_contain_text("Reason: Vendor shipping the part Friday")
    expect(history(page).nth(3)).to_contain_text(
        "Hold reason: Waiting on vendor → Vendor shipping the part Friday"
    )

    change_status(page, "▶ In Progress")
    expect(history(page).nth(4)).to_contain_text("Status: On Hold → In Progress")

    page.get_by_label("Note", exact=True).fill("Laptop imaged, waiting for pickup")
    page.get_by_role("button", name="Add note").click()
    expect(history(page).nth(5)).to_contain_text("Laptop imaged, waiting for pickup")

    change_status(page, "✓ Resolved", note="Handed over")
    expect(history(page).nth(6)).to_contain_text("Status: In Progress → Resolved")
    change_status(page, "■ Closed")
    expect(history(page).nth(7)).to_contain_text("Status: Resolved → Closed")

    # A closed ticket offers no status change and no edit, but still takes notes.
    expect(page.get_by_label("New status")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit ticket")).to_have_count(0)
    expect(page.locator(".terminal-note")).to_contain_text("can no longer change")
    page.screenshot(path=artifact("ticket-closed-dark.png"), full_page=True)

    # Newest-first toggle reverses the history.
    page.get_by_role("link", name="Show newest first").click()
    expect(history(page).nth(0)).to_contain_text("Status: Resolved → Closed")


def test_edit_logs_field_changes(app_page, live_server):
    status, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "Monitor flickers"})
    assert status == 201
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}")
    page.get_by_role("link", name="Edit ticket").click()
    page.get_by_label("Priority").select_option(label="Urgent")
    page.get_by_label("Due day").fill("2026-12-24")
    page.get_by_label("Title (required)").fill("Monitor flickers badly")
    page.get_by_role("button", name="Save changes").click()
    last = history(page).last
    expect(last).to_contain_text("Title: Monitor flickers → Monitor flickers badly")
    expect(last).to_contain_text("Priority: Normal → Urgent")
    expect(last).to_contain_text("Due: none → 2026-12-24")


def test_cancelled_ticket_is_struck_through(app_page, live_server):
    _, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "Duplicate request"})
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}")
    change_status(page, "✕ Cancelled")
    title = page.locator(".ticket-title")
    expect(title).to_have_css("text-decoration-line", "line-through")
    page.goto(live_server.base_url + "/?status=cancelled")
    link = page.get_by_role("link", name="Duplicate request")
    expect(link).to_have_css("text-decoration-line", "line-through")
    expect(page.locator("tr", has=link).locator(".status")).to_contain_text("Cancelled")


def test_edits_made_meanwhile_are_merged_not_overwritten(app_page, live_server):
    _, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "Shared printer"})
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}/edit")
    # Someone (a script, another window) changes another field meanwhile.
    live_server.api("PATCH", f"/api/v1/tickets/{ticket['id']}", {"requester": "Finance"})
    page.get_by_label("Title (required)").fill("Shared printer offline")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".ticket-title")).to_have_text("Shared printer offline")
    _, now = live_server.api("GET", f"/api/v1/tickets/{ticket['id']}")
    assert now["requester"] == "Finance"  # their change survived
    assert now["title"] == "Shared printer offline"  # and so did ours


def test_same_field_changed_meanwhile_is_a_conflict_the_user_resolves(app_page, live_server):
    _, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "Scanner"})
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}/edit")
    live_server.api("PATCH", f"/api/v1/tickets/{ticket['id']}", {"requester": "Finance"})
    page.get_by_label("Requester").fill("Legal")
    page.get_by_label("Tags").fill("hardware")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".form-error")).to_contain_text("requester changed elsewhere")
    _, now = live_server.api("GET", f"/api/v1/tickets/{ticket['id']}")
    assert now["requester"] == "Finance" and now["tags"] == []  # nothing saved yet
    expect(page.get_by_label("Requester")).to_have_value("Legal")  # the user's text is kept
    # Saving again is a deliberate choice: the user's version wins.
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".ticket-title")).to_have_text("Scanner")
    _, now = live_server.api("GET", f"/api/v1/tickets/{ticket['id']}")
    assert now["requester"] == "Legal" and now["tags"] == ["hardware"]


def test_saving_again_after_a_conflict_keeps_the_other_changes_the_user_left_alone(
    app_page, live_server
):
    _, ticket = live_server.api(
        "POST", "/api/v1/tickets", {"title": "Badge reader", "requester": "Eve"}
    )
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}/edit")
    # A script changes the title (which the user is about to change too) and the requester
    # (which the user leaves alone).
    live_server.api(
        "PATCH",
        f"/api/v1/tickets/{ticket['id']}",
        {"title": "Badge reader at door 3", "requester": "Script Person"},
    )
    page.get_by_label("Title (required)").fill("Badge reader broken")
    page.get_by_label("Tags").fill("security")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".form-error")).to_contain_text("title changed elsewhere")
    # The other version of the clashing field is shown; the field the user left alone now
    # holds the other change, not the stale value the form was opened with.
    expect(page.locator("#title-theirs")).to_contain_text("Badge reader at door 3")
    expect(page.get_by_label("Title (required)")).to_have_value("Badge reader broken")
    expect(page.get_by_label("Requester")).to_have_value("Script Person")
    expect(page.locator("#requester-theirs")).to_have_count(0)
    page.screenshot(path=str(artifact("edit-conflict.png")), full_page=True)
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".ticket-title")).to_have_text("Badge reader broken")
    _, now = live_server.api("GET", f"/api/v1/tickets/{ticket['id']}")
    assert now["title"] == "Badge reader broken" and now["tags"] == ["security"]
    assert now["requester"] == "Script Person"  # the other change survived
    changes = [c for u in now["updates"] for c in u["changes"] if c["field"] == "requester"]
    assert [(c["old"], c["new"]) for c in changes] == [("Eve", "Script Person")]


def test_status_note_survives_a_ticket_cancelled_in_another_window(app_page, live_server):
    _, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "Projector bulb"})
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}")
    # Another window cancels the ticket while this one still offers the status form.
    live_server.api("PATCH", f"/api/v1/tickets/{ticket['id']}", {"status": "cancelled"})
    change_status(page, "✓ Resolved", note="Swapped the bulb; works again.")
    expect(page.locator(".form-error")).to_contain_text("Your note is below")
    expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    box = page.get_by_label("Note", exact=True)
    expect(box).to_have_value("Swapped the bulb; works again.")
    page.get_by_role("button", name="Add note").click()
    expect(history(page).last).to_contain_text("Swapped the bulb; works again.")
    _, now = live_server.api("GET", f"/api/v1/tickets/{ticket['id']}")
    assert now["status"] == "cancelled"


def test_theme_switch_and_narrow_window(app_page, live_server):
    page = app_page
    live_server.api(
        "POST",
        "/api/v1/tickets",
        {"title": "Badge reader offline", "requester": "Front desk", "tags": ["facilities"]},
    )
    page.goto(live_server.base_url + "/")
    dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.get_by_role("button", name="Light").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark_bg != light_bg
    page.screenshot(path=artifact("list-light.png"))
    page.get_by_role("button", name="System").click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", "light")

    page.set_viewport_size({"width": 600, "height": 900})
    row = page.locator("tr.ticket-row", has_text="Badge reader offline")
    expect(row).to_be_visible()
    expect(page.locator("table.tickets thead")).to_be_hidden()  # stacked cards, no header row
    assert page.evaluate("document.documentElement.scrollWidth") <= 600
    page.screenshot(path=artifact("list-narrow.png"), full_page=True)


def test_long_unbroken_text_wraps_and_long_changes_show_in_full(app_page, live_server):
    long_word = "https://intranet.example/" + "x" * 170
    _, ticket = live_server.api(
        "POST",
        "/api/v1/tickets",
        {"title": long_word, "description": "First version of a long description. " * 8},
    )
    live_server.api(
        "PATCH",
        f"/api/v1/tickets/{ticket['id']}",
        {
            "status": "on_hold",
            "hold_reason": "waiting-" * 60,
            "description": "Second version of a long description. " * 8,
            "due": "2026-12-20T09:00:00+00:00",
        },
    )
    page = app_page
    for path in ("/?status=on_hold", f"/tickets/{ticket['id']}"):
        page.goto(live_server.base_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"{path} is {width} px wide"
    change = page.locator("details.long-change")
    expect(change.locator("summary")).to_have_text("Description changed")
    change.locator("summary").click()
    expect(change).to_contain_text("First version of a long description. " * 2)
    expect(change).to_contain_text("Second version of a long description. " * 2)
    # A due time in the log is shown in local time, like everywhere else.
    expect(page.locator("ol.entries")).not_to_contain_text("T09:00:00+00:00")
    page.screenshot(path=artifact("ticket-long-text.png"), full_page=True)


def test_typed_note_survives_attaching_a_file_and_clears_once_sent(app_page, live_server):
    _, ticket = live_server.api("POST", "/api/v1/tickets", {"title": "Scanner driver"})
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{ticket['id']}")
    page.get_by_label("Note", exact=True).fill("Half-written note about the driver")
    page.get_by_label("Attach files to the ticket").set_input_files(
        {"name": "driver.log", "mimeType": "text/plain", "buffer": b"log line\n"}
    )
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page.locator(".entries")).to_contain_text("driver.log")
    expect(page.get_by_label("Note", exact=True)).to_have_value(
        "Half-written note about the driver"
    )
    page.get_by_role("button", name="Add note").click()
    expect(history(page).last).to_contain_text("Half-written note about the driver")
    page.reload()
    expect(page.get_by_label("Note", exact=True)).to_have_value("")
