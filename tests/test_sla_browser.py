"""In a real browser the list reads like a heat map: each SLA state its own colour, with text."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from .conftest import LiveServer, artifact

pytestmark = pytest.mark.browser

TAG = "slademo"  # a word only these tickets carry, so the list can be narrowed to them


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _rgb(css_color: str) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return r, g, b


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@pytest.fixture(scope="module")
def sla_tickets(live_server):
    """Tickets in eight SLA states on the shared server, keyed by state."""
    now = dt.datetime.now(dt.timezone.utc)
    specs = {
        "far": {"due": _iso(now + dt.timedelta(days=30))},
        "soon": {"due": _iso(now + dt.timedelta(hours=5))},
        "overdue": {"due": _iso(now - dt.timedelta(days=2, hours=1))},
        "half-target": {"priority": "high", "created_at": _iso(now - dt.timedelta(hours=12))},
        "on-hold": {"status": "on_hold", "hold_reason": "Waiting on vendor"},
        "resolved": {"status": "resolved"},
        "closed": {"status": "closed"},
        "cancelled": {"status": "cancelled"},
    }
    made = {}
    for name, extra in specs.items():
        body = {"title": f"{TAG} {name}", "requester": "Heat Map", **extra}
        status, ticket = live_server.api("POST", "/api/v1/tickets", body)
        assert status == 201, ticket
        made[name] = ticket
    return made


def test_each_sla_state_has_its_own_colour_and_text(app_page, live_server, sla_tickets):
    page = app_page
    statuses = "&".join(
        f"status={s}" for s in ("open", "in_progress", "on_hold", "resolved", "closed", "cancelled")
    )
    page.goto(f"{live_server.base_url}/?q={TAG}&{statuses}")
    expect(page.locator("tr.ticket-row")).to_have_count(len(sla_tickets))
    expect(page.get_by_role("heading", name="Colours")).to_be_visible()

    bands, chips = {}, {}
    for name, ticket in sla_tickets.items():
        row = page.locator(f'tr.ticket-row[data-ticket-id="{ticket["id"]}"]')
        chip = row.locator(".sla-chip")
        expect(chip).to_be_visible()
        # The API's colour for the same ticket, at the same moment give or take a second.
        _, fresh = live_server.api("GET", f"/api/v1/tickets/{ticket['id']}")
        expected = _hex_rgb(fresh["sla"]["color"])
        shown = _rgb(chip.evaluate("el => getComputedStyle(el).backgroundColor"))
        assert max(abs(a - b) for a, b in zip(shown, expected, strict=True)) <= 4, name
        band = row.locator("td").first.evaluate("el => getComputedStyle(el).boxShadow")
        assert _rgb(band) == shown, (name, band)  # the row's band is the chip's colour
        bands[name], chips[name] = shown, chip

    # Distinct colours for distinct states (closed and cancelled share "finished" grey).
    distinct = {k: v for k, v in bands.items() if k != "cancelled"}
    assert len(set(distinct.values())) == len(distinct), distinct
    assert bands["closed"] == bands["cancelled"]

    # Colour is never the only signal: the label says it in words.
    expect(chips["far"]).to_have_text(re.compile(r"due in (29|30) d"))
    expect(chips["soon"]).to_have_text(re.compile(r"due in [45] h"))
    expect(chips["overdue"]).to_contain_text("overdue 2 d")
    expect(chips["half-target"]).to_have_text(re.compile(r"open 1[12] h of 1 d target"))
    expect(chips["on-hold"]).to_have_text("on hold: waiting on vendor")
    expect(chips["resolved"]).to_have_text("resolved")
    expect(chips["cancelled"]).to_have_text("cancelled")

    # The label's ink stays readable on its colour (WCAG AA for normal text).
    for name, chip in chips.items():
        ratio = chip.evaluate(
            """el => {
              const lum = c => { const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(v => {
                v = v / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
              const s = getComputedStyle(el);
              const a = lum(s.color), b = lum(s.backgroundColor);
              return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }"""
        )
        assert ratio >= 4.5, (name, ratio)

    page.screenshot(path=artifact("sla-list-dark.png"), full_page=True)
    page.set_viewport_size({"width": 600, "height": 900})
    page.screenshot(path=artifact("sla-list-narrow-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.screenshot(path=artifact("sla-list-light.png"), full_page=True)


def test_ticket_page_and_settings_show_sla(app_page, live_server, sla_tickets):
    page = app_page
    page.goto(f"{live_server.base_url}/tickets/{sla_tickets['overdue']['id']}")
    expect(page.locator(".ticket-head .sla-chip")).to_contain_text("overdue 2 d")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Effective configuration")).to_be_visible()
    expect(page.locator(".no-problems")).to_be_visible()
    page.screenshot(path=artifact("settings-dark.png"), full_page=True)


def test_broken_config_banner_in_the_browser(page, tmp_path):
    """A second small server whose config.json is broken: the page says so, and still works."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    text = (
        '{\n  "sla": {\n    "colors": {"on_hold": "lavender"},\n'
        '    "due_window_hours": "a week"\n  }\n}\n'
    )
    (data_dir / "config.json").write_text(text, encoding="utf-8")
    server = LiveServer(data_dir)
    try:
        page.goto(server.login_url)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("problem with your configuration")
        expect(alert).to_contain_text("line 3, column 27 (sla.colors.on_hold)")
        expect(alert).to_contain_text("line 4, column 25 (sla.due_window_hours)")
        expect(page.get_by_role("heading", name="No tickets yet")).to_be_visible()
        page.screenshot(path=artifact("config-banner-dark.png"), full_page=True)
        alert.get_by_role("link", name="See the settings in effect").click()
        expect(page.locator(".problems li")).to_have_count(2)
    finally:
        server.stop()
