"""Attaching files in a real browser: file picker, drag and drop, pasting an image, previews,
downloads compared byte for byte, the size limit checked before sending, and no script."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tickettracker.attachments import format_size

from .conftest import artifact

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 20 + b"\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>x()</script></svg>'


def picture(width: int = 320, height: int = 200, colour=(40, 120, 220)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(img)
    for x in range(0, width, 20):
        draw.line([(x, 0), (width - x, height)], fill=(250, 200, 60), width=3)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def new_ticket(live_server, title: str) -> int:
    status, body = live_server.api("POST", "/api/v1/tickets", {"title": title})
    assert status == 201
    return body["id"]


def open_ticket(page: Page, live_server, ticket_id: int) -> None:
    page.goto(f"{live_server.base_url}/tickets/{ticket_id}")


def transfer(page: Page, name: str, data: bytes, mime: str):
    """A DataTransfer holding one file, made inside the page (as a drop or paste carries)."""
    return page.evaluate_handle(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            return dt;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )


def downloaded(page: Page, link) -> tuple[str, bytes]:
    with page.expect_download() as info:
        link.click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def preview_loaded(img) -> bool:
    return img.evaluate("(el) => el.complete && el.naturalWidth > 0")


def test_file_picker_preview_and_download(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Printer prints stripes")
    open_ticket(page, live_server, tid)
    png = picture()
    page.get_by_label("Attach files to the ticket").set_input_files(
        [
            {"name": "stripes on page.png", "mimeType": "image/png", "buffer": png},
            {"name": "报告 2026.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )
    pending = page.locator("#files .pending-files li")
    expect(pending).to_have_count(2)
    expect(pending.nth(1)).to_contain_text("报告 2026.pdf")
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/tickets/{tid}#files$"))

    files = page.locator("#files .attachment")
    expect(files).to_have_count(2)
    img = files.nth(0).locator("img.attachment-preview")
    expect(img).to_be_visible()
    assert preview_loaded(img)
    expect(files.nth(1).locator(".file-badge")).to_have_text("PDF")
    expect(files.nth(1)).to_contain_text(format_size(len(PDF)))
    entry = page.locator("ol.entries > li").last
    expect(entry).to_contain_text("Attached 2 files to the ticket")
    expect(entry.locator("img.attachment-preview")).to_be_visible()

    name, data = downloaded(page, page.get_by_role("link", name="Download 报告 2026.pdf").first)
    assert name == "报告 2026.pdf" and data == PDF
    name, data = downloaded(page, files.nth(0).get_by_role("link", name=re.compile("Download")))
    assert name == "stripes on page.png"
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(png).hexdigest()

    # Click the preview to see it at full width, again to shrink it.
    img.click()
    expect(files.nth(0)).to_have_class(re.compile("expanded"))
    img.click()
    expect(files.nth(0)).not_to_have_class(re.compile("expanded"))

    files.nth(0).get_by_role("button", name="Remove stripes on page.png from the ticket").click()
    expect(page.locator("#files .attachment")).to_have_count(1)
    expect(page.locator("ol.entries > li").last).to_contain_text("Removed stripes on page.png")


def test_drag_and_drop_onto_files_and_onto_the_note(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Badge reader beeps")
    open_ticket(page, live_server, tid)

    # Dropped on "Files": attached to the ticket at once.
    log_bytes = b"2026-03-02 09:00 reader 4: CRC error\n" * 50
    dropped = transfer(page, "reader.log", log_bytes, "text/plain")
    page.dispatch_event("#files", "dragover", {"dataTransfer": dropped})
    expect(page.locator(".drop-hint")).to_be_visible()
    expect(page.locator("#files")).to_have_class(re.compile("drop-target"))
    page.dispatch_event("#files", "drop", {"dataTransfer": dropped})
    expect(page).to_have_url(re.compile(rf"/tickets/{tid}#files$"))
    expect(page.locator("#files .attachment")).to_have_count(1)
    expect(page.locator("#files .attachment")).to_contain_text("reader.log")
    expect(page.locator(".drop-hint")).to_be_hidden()

    # Dropped anywhere else: it joins the note being written, sent with it.
    photo = picture(200, 120, (200, 60, 60))
    dropped = transfer(page, "reader photo.png", photo, "image/png")
    page.dispatch_event("ol.entries", "dragover", {"dataTransfer": dropped})
    expect(page.locator("#log-end")).to_have_class(re.compile("drop-target"))
    page.dispatch_event("ol.entries", "drop", {"dataTransfer": dropped})
    expect(page.locator("#log-end .pending-files li")).to_have_count(1)
    expect(page.locator("#log-end .pending-files")).to_contain_text("reader photo.png")
    page.get_by_label("Note", exact=True).fill("Photo of the reader's display")
    page.get_by_role("button", name="Add note").click()
    entry = page.locator("ol.entries > li").last
    expect(entry).to_contain_text("Photo of the reader's display")
    img = entry.locator("img.attachment-preview")
    expect(img).to_be_visible()
    assert preview_loaded(img)
    name, data = downloaded(page, entry.get_by_role("link", name="Download reader photo.png"))
    assert name == "reader photo.png" and data == photo
    name, data = downloaded(page, page.get_by_role("link", name="Download reader.log").first)
    assert data == log_bytes


def test_pasting_an_image_and_a_note_of_only_files(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Screen flickers")
    open_ticket(page, live_server, tid)
    shot = picture(160, 90, (30, 160, 90))
    clip = transfer(page, "image.png", shot, "image/png")
    page.evaluate(
        "(dt) => document.body.dispatchEvent("
        "new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }))",
        clip,
    )
    pending = page.locator("#log-end .pending-files li")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text(re.compile(r"Pasted image \d{4}-\d\d-\d\d \d\d-\d\d-\d\d\.png"))
    # Changed one's mind: take it out, paste again, send the note with no text at all.
    pending.get_by_role("button").click()
    expect(pending).to_have_count(0)
    page.evaluate(
        "(dt) => document.body.dispatchEvent("
        "new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }))",
        clip,
    )
    page.get_by_role("button", name="Add note").click()
    entry = page.locator("ol.entries > li").last
    expect(entry.locator("img.attachment-preview")).to_be_visible()
    name, data = downloaded(page, entry.get_by_role("link", name=re.compile("Download Pasted")))
    assert name.startswith("Pasted image ") and data == shot


@contextmanager
def upload_limit_mb(live_server, value: float):
    uploads = live_server.app.extensions["tickettracker"].loaded.config["uploads"]
    old = uploads["max_file_mb"]
    uploads["max_file_mb"] = value
    try:
        yield
    finally:
        uploads["max_file_mb"] = old


def test_too_large_is_refused_before_sending_and_by_the_server(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Big capture")
    with upload_limit_mb(live_server, 0.01):  # 10.2 KB
        open_ticket(page, live_server, tid)
        page.get_by_label("Files for the note").set_input_files(
            [
                {
                    "name": "capture.pcap",
                    "mimeType": "application/octet-stream",
                    "buffer": b"x" * 50_000,
                },
                {"name": "small.txt", "mimeType": "text/plain", "buffer": b"fits"},
                {"name": "edge.bin", "mimeType": "text/plain", "buffer": b"y" * 10_486},
            ]
        )
        error = page.locator("#log-end .upload-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("“capture.pcap” is 48.8 KB; files may be at most 10.2 KB")
        # One byte over the limit rounds to the limit: the exact size is said instead.
        expect(error).to_contain_text(
            "“edge.bin” is 10,486 bytes, just over 10.2 KB; files may be at most 10.2 KB"
        )
        expect(page.locator("#log-end .pending-files li")).to_have_count(1)
        page.get_by_role("button", name="Add note").click()
        entry = page.locator("ol.entries > li").last
        expect(entry).to_contain_text("small.txt")
        expect(entry).not_to_contain_text("capture.pcap")


def test_without_javascript_the_picker_still_works(browser, live_server):
    context = browser.new_context(java_script_enabled=False, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(live_server.login_url)
        tid = new_ticket(live_server, "No script here")
        open_ticket(page, live_server, tid)
        page.get_by_label("Files for the note").set_input_files(
            {"name": "plain.txt", "mimeType": "text/plain", "buffer": b"no js needed"}
        )
        page.get_by_label("Note", exact=True).fill("Sent by a browser without JavaScript")
        page.get_by_role("button", name="Add note").click()
        entry = page.locator("ol.entries > li").last
        expect(entry).to_contain_text("plain.txt")
        expect(entry).to_contain_text("Sent by a browser without JavaScript")
    finally:
        context.close()


def test_svg_and_html_are_never_shown_inline(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Suspicious files")
    open_ticket(page, live_server, tid)
    page.get_by_label("Attach files to the ticket").set_input_files(
        [
            {"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": SVG},
            {"name": "page.html", "mimeType": "text/html", "buffer": b"<script>x()</script>"},
        ]
    )
    page.get_by_role("button", name="Attach", exact=True).click()
    files = page.locator("#files .attachment")
    expect(files).to_have_count(2)
    expect(files.locator("img")).to_have_count(0)
    expect(files.nth(0).locator(".file-badge")).to_have_text("SVG")
    name, data = downloaded(page, files.nth(0).get_by_role("link", name="Download logo.svg"))
    assert name == "logo.svg" and data == SVG


def test_screenshots_of_a_ticket_with_files(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Conference room display shows no signal")
    open_ticket(page, live_server, tid)
    page.get_by_label("Attach files to the ticket").set_input_files(
        [
            {"name": "display back panel.png", "mimeType": "image/png", "buffer": picture()},
            {
                "name": "Invoice 2026-0042 — Displays & Co.pdf",
                "mimeType": "application/pdf",
                "buffer": PDF,
            },
            {"name": "x" * 180 + ".log", "mimeType": "text/plain", "buffer": b"long name"},
        ]
    )
    page.get_by_role("button", name="Attach", exact=True).click()
    page.get_by_label("Note", exact=True).fill("Cable swapped, still no signal. Photo attached.")
    page.get_by_label("Files for the note").set_input_files(
        [
            {
                "name": "after swap.png",
                "mimeType": "image/png",
                "buffer": picture(240, 160, (90, 60, 160)),
            },
            {"name": "notes", "mimeType": "application/octet-stream", "buffer": b"no extension"},
        ]
    )
    page.get_by_role("button", name="Add note").click()
    page.get_by_label("Files for the note").set_input_files(
        [{"name": "pending one.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04"}]
    )
    page.dispatch_event(
        "ol.entries", "dragover", {"dataTransfer": transfer(page, "a.txt", b"a", "text/plain")}
    )
    page.evaluate("() => window.scrollTo(0, 0)")  # the sticky top bar stays on top
    page.screenshot(path=artifact("ticket-attachments-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.screenshot(path=artifact("ticket-attachments-light.png"), full_page=True)
    page.set_viewport_size({"width": 420, "height": 900})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=artifact("ticket-attachments-narrow.png"), full_page=True)
    # Long names are cut with an ellipsis inside their card, never widening the page.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 420


def test_a_note_being_typed_survives_a_reload_until_it_is_added(app_page, live_server):
    page = app_page
    tid = new_ticket(live_server, "Draft keeper")
    open_ticket(page, live_server, tid)
    box = page.locator("#log-end").get_by_label("Note", exact=True)
    box.fill("Half-written thought")
    page.reload()
    expect(page.locator("#log-end").get_by_label("Note", exact=True)).to_have_value(
        "Half-written thought"
    )
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("ol.entries > li").last).to_contain_text("Half-written thought")
    page.reload()
    expect(page.locator("#log-end").get_by_label("Note", exact=True)).to_have_value("")
