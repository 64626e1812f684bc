"""SLA colours and the configuration in the running app: banner, settings, API, unknown keys."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest

from tickettracker.web import create_app

from .conftest import URL_LINE

CONFIG_NAME = "config.json"


def make_app(data_dir: Path, config_text: str | None = None):
    """The app on `data_dir`, with config.json holding `config_text` before it starts."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if config_text is not None:
        (data_dir / CONFIG_NAME).write_text(config_text, encoding="utf-8")
    return create_app(data_dir, {"TESTING": True})


def client_for(app):
    client = app.test_client()
    token = app.extensions["tickettracker"].token
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def open_app(data_dir):
    """Start apps on demand (a restart is just another call); dispose their engines after."""
    apps = []

    def start(config_text: str | None = None):
        app = make_app(data_dir, config_text)
        apps.append(app)
        return app, client_for(app)

    yield start
    for app in apps:
        app.extensions["tickettracker"].engine.dispose()


def page_text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def banner(resp) -> str:
    match = re.search(r'<div class="banner" role="alert">(.*?)</div>', page_text(resp), re.S)
    return match.group(1) if match else ""


# --- a broken config.json: banner on every page, and the app still serves ---------------------

BROKEN = {
    "syntax": ('{\n  "sla": {"due_window_hours": 24,,}\n}\n', None, "line 2, column"),
    "wrong-type": ('{"sla": {"pause_on_hold": "yes"}}', "sla.pause_on_hold", "true/false"),
    "bad-colour": ('{"sla": {"colors": {"on_hold": "lavender"}}}', "sla.colors.on_hold", "#rrggbb"),
    "gradient": (
        '{"sla": {"due_gradient": [{"at": 0.9, "color": "#000000"}, '
        '{"at": 0.1, "color": "#ffffff"}]}}',
        "sla.due_gradient[1].at",
        "rising order",
    ),
    "priority": ('{"priorities": [{"key": "p1", "label": "P1"}]}', "priorities[0]", "target_hours"),
    "default-priority": ('{"default_priority": "medium"}', "default_priority", "medium"),
    "not-an-object": ("[]", None, "one JSON object"),
    "empty": ("", None, "empty"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_config_shows_a_banner_and_the_app_serves(open_app, data_dir, kind):
    text, key, words = BROKEN[kind]
    app, client = open_app(text)
    config_file = str(data_dir / CONFIG_NAME)

    created = client.post("/api/v1/tickets", json={"title": "Still works"})
    assert created.status_code == 201
    assert created.get_json()["sla"]["color"].startswith("#")
    for path in ("/", "/tickets/1", "/tickets/new", "/settings"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        shown = banner(resp)
        assert config_file in shown, path
        assert words in shown, (path, shown)
        if key:
            assert f"({key})" in shown
    assert "Still works" in page_text(client.get("/"))

    problems = client.get("/api/v1/config").get_json()["problems"]
    assert problems and problems[0]["file"] == config_file
    assert problems[0]["key"] == key
    assert (data_dir / CONFIG_NAME).read_text(encoding="utf-8") == text  # never rewritten


def test_good_config_has_no_banner(open_app):
    _, client = open_app()
    resp = client.get("/")
    assert banner(resp) == "" and 'class="banner"' not in resp.get_data(as_text=True)
    assert client.get("/api/v1/config").get_json()["problems"] == []


def test_unreadable_config_is_reported_and_left_alone(open_app, data_dir):
    (data_dir / CONFIG_NAME).mkdir(parents=True)  # a folder in the file's place
    _, client = open_app()
    assert client.get("/").status_code == 200
    assert "cannot read" in banner(client.get("/"))
    assert (data_dir / CONFIG_NAME).is_dir()


# --- the effective configuration: /settings and GET /api/v1/config ----------------------------


def test_api_config_returns_the_effective_config(open_app, data_dir):
    text = '{"sla": {"colors": {"resolved": "#00AA00"}}, "list": {"page_size": 0}}'
    _, client = open_app(text)
    body = client.get("/api/v1/config").get_json()
    assert body["config"]["sla"]["colors"]["resolved"] == "#00aa00"
    assert body["config"]["sla"]["colors"]["on_hold"] == "#c4b5fd"
    assert body["config"]["list"]["page_size"] == 50
    assert body["problems"] == [
        {
            "file": str(data_dir / CONFIG_NAME),
            "line": 1,
            "column": text.index("0}") + 1,
            "key": "list.page_size",
            "error": body["problems"][0]["error"],
        }
    ]
    assert "greater than 0" in body["problems"][0]["error"]


def test_api_config_needs_the_token(open_app):
    app, _ = open_app()
    assert app.test_client().get("/api/v1/config").status_code == 401


def test_settings_page_says_where_each_part_came_from(open_app, data_dir):
    (data_dir).mkdir(parents=True)
    text = '{"hold_reasons": ["Waiting on the moon"], "sla": {"colors": {"on_hold": "nope"}}}'
    _, client = open_app(text)
    page = page_text(client.get("/settings"))
    assert str(data_dir / CONFIG_NAME) in page
    sections = dict(
        re.findall(
            r'<h2 id="section-([a-z_]+)">.*?<span class="source[^"]*">([^<]+)</span>', page, re.S
        )
    )
    assert sections["hold_reasons"] == "from your config.json"
    assert sections["priorities"] == "built-in default"
    assert sections["sla"] == "built-in default"  # its only override was broken
    assert "Waiting on the moon" in page
    assert "sla.colors.on_hold" in page and "#rrggbb" in page


def test_first_start_writes_the_file_and_settings_says_so(open_app, data_dir):
    _, client = open_app()
    assert json.loads((data_dir / CONFIG_NAME).read_text(encoding="utf-8"))["priorities"]
    page = page_text(client.get("/settings"))
    assert "from your config.json (same as the built-in default)" in page
    assert "None: everything in the file was understood." in page


# --- SLA on every ticket in the API and the pages ---------------------------------------------


def test_sla_on_every_ticket_in_the_api(open_app):
    _, client = open_app()
    now = dt.datetime.now(dt.timezone.utc)
    client.post(
        "/api/v1/tickets", json={"title": "Late", "due": (now - dt.timedelta(days=3)).isoformat()}
    )
    client.post(
        "/api/v1/tickets", json={"title": "Calm", "due": (now + dt.timedelta(days=20)).isoformat()}
    )
    client.post(
        "/api/v1/tickets",
        json={"title": "Parked", "status": "on_hold", "hold_reason": "Waiting on parts"},
    )
    items = {t["title"]: t for t in client.get("/api/v1/tickets").get_json()["items"]}
    assert set(items["Late"]["sla"]) == {"color", "urgency", "label"}
    assert items["Late"]["sla"] == {"color": "#ef4444", "urgency": 1.0, "label": "overdue 3 d"}
    assert items["Calm"]["sla"]["color"] == "#3b82f6" and items["Calm"]["sla"]["urgency"] == 0
    assert items["Parked"]["sla"]["label"] == "on hold: waiting on parts"
    assert items["Parked"]["sla"]["color"] == "#c4b5fd"
    one = client.get(f"/api/v1/tickets/{items['Late']['id']}").get_json()
    assert one["sla"] == items["Late"]["sla"]
    patched = client.patch(f"/api/v1/tickets/{items['Late']['id']}", json={"status": "resolved"})
    assert patched.get_json()["sla"] == {"color": "#bbf7d0", "urgency": 0.0, "label": "resolved"}


def test_list_rows_carry_colour_class_label_and_legend(open_app):
    _, client = open_app()
    now = dt.datetime.now(dt.timezone.utc)
    client.post(
        "/api/v1/tickets", json={"title": "Late", "due": (now - dt.timedelta(days=3)).isoformat()}
    )
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<tr class="ticket-row sla-due-100"', page)
    assert "overdue 3 d" in page and "⚠" in page
    assert 'aria-labelledby="sla-legend-title"' in page
    css_url = re.search(r'<link rel="stylesheet" href="(/sla\.css\?v=[0-9a-f]+)">', page).group(1)
    css = client.get(css_url)
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert ".sla-due-100{--sla:#ef4444;" in css.get_data(as_text=True)
    assert 'style="' not in page  # colours come from the stylesheet: a strict CSP stays possible


def test_recoloured_from_config_json(open_app, data_dir):
    _, client = open_app()
    first_url = re.search(
        r'href="(/sla\.css\?v=[0-9a-f]+)"', client.get("/").get_data(as_text=True)
    )[1]
    override = {"sla": {"colors": {"on_hold": "#123456"}, "due_window_hours": 24}}
    (data_dir / CONFIG_NAME).write_text(json.dumps(override), encoding="utf-8")
    _, client = open_app()  # a restart reads it
    page = client.get("/").get_data(as_text=True)
    url = re.search(r'href="(/sla\.css\?v=[0-9a-f]+)"', page)[1]
    assert url != first_url  # the browser cannot keep the old colours cached
    assert ".sla-on-hold{--sla:#123456;" in client.get(url).get_data(as_text=True)
    assert client.get("/api/v1/config").get_json()["config"]["sla"]["due_window_hours"] == 24


# --- a priority the configuration lost ----------------------------------------------------------

WITH_CRITICAL = json.dumps(
    {
        "priorities": [
            {"key": "critical", "label": "Critical", "target_hours": 1},
            {"key": "normal", "label": "Normal", "target_hours": 72},
        ]
    }
)


def test_tickets_with_a_removed_priority_still_work(open_app, data_dir):
    _, client = open_app(WITH_CRITICAL)
    for title in ("Server room flooded", "Coffee machine"):
        priority = "critical" if title.startswith("Server") else "normal"
        assert (
            client.post("/api/v1/tickets", json={"title": title, "priority": priority}).status_code
            == 201
        )

    # The user removes "critical" from config.json and restarts.
    (data_dir / CONFIG_NAME).write_text("{}", encoding="utf-8")
    _, client = open_app()
    shown = banner(client.get("/"))
    assert '1 ticket uses the priority "critical"' in shown and "sort last" in shown

    listing = page_text(client.get("/"))
    assert "Server room flooded" in listing and "unknown (critical)" in listing
    ticket = client.get("/api/v1/tickets/1").get_json()
    assert ticket["priority"] == "critical"  # nothing lost: the key is kept as stored
    assert ticket["sla"]["label"].endswith("of 3 d target")  # the default priority's target

    # Editing other fields keeps the old key; only a real change must pick a known one.
    resp = client.patch(
        "/api/v1/tickets/1", json={"title": "Server room flooded again", "priority": "critical"}
    )
    assert resp.status_code == 200 and resp.get_json()["priority"] == "critical"
    edit_page = page_text(client.get("/tickets/1/edit"))
    assert '<option value="critical" selected>unknown (critical)</option>' in edit_page
    form = {"title": "Server room dry", "priority": "critical", "due_day": "", "due_time": ""}
    assert client.post("/tickets/1/edit", data=form).status_code == 303
    assert client.get("/api/v1/tickets/1").get_json()["title"] == "Server room dry"
    resp = client.patch("/api/v1/tickets/2", json={"priority": "critical"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "priority"

    # Settings and the API count again; once the ticket moves on, the problem is gone.
    assert "critical" in page_text(client.get("/settings"))
    problems = client.get("/api/v1/config").get_json()["problems"]
    assert [p["key"] for p in problems] == ["priorities"]
    client.patch("/api/v1/tickets/1", json={"priority": "urgent"})
    assert client.get("/api/v1/config").get_json()["problems"] == []


# --- the command line prints the same problems ----------------------------------------------


@pytest.mark.process
def test_cli_prints_config_problems_at_start(start_app, data_dir):
    data_dir.mkdir(parents=True)
    text = '{\n  "sla": {\n    "colors": {"on_hold": "lavender"}\n  }\n}\n'
    (data_dir / CONFIG_NAME).write_text(text, encoding="utf-8")
    app = start_app(data_dir, "--no-open")
    app.wait_for_url()
    printed = "".join(app.lines)
    expected = f"{data_dir / CONFIG_NAME}, line 3, column 27 (sla.colors.on_hold)"
    assert f"Configuration problem in {expected}: " in printed
    assert "#rrggbb" in printed
    assert URL_LINE.search(printed)
    assert app.terminate() == 0
    assert (data_dir / CONFIG_NAME).read_text(encoding="utf-8") == text


def test_many_config_problems_show_three_and_fold_the_rest(open_app):
    colours = {k: "nope" for k in ("on_hold", "resolved", "closed", "cancelled", "unknown")}
    _, client = open_app(json.dumps({"sla": {"colors": colours}}))
    shown = banner(client.get("/"))
    visible, folded = shown.split("<details", 1)
    assert visible.count("<li>") == 3
    assert re.search(r"<summary>(\d+) more problems</summary>", folded)
    total = len(client.get("/api/v1/config").get_json()["problems"])
    assert total > 3 and f"<summary>{total - 3} more problem" in folded
    assert folded.count("<li>") == total - 3
