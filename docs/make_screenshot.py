"""Make docs/screenshot.png: the ticket list in dark mode, on a small made-up help desk.

Starts the real app on a temporary data folder, fills it through the JSON API and has
Chromium (Playwright) take the picture. Run from a checkout with the test extra installed:

    .venv/bin/python docs/make_screenshot.py
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout, for tests.chromium
from tests.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

# (title, requester, priority, due in hours or None, tags, status, hold reason)
TICKETS = [
    ("Duplicate: VPN drops", "Priya N.", "normal", None, ["vpn"], "cancelled", None),
    ("Conference room display flickers", "Facilities", "normal", None, ["av"], "resolved", None),
    ("Renew TLS certificate for intranet", "IT", "high", 260, ["security"], "open", None),
    ("Order toner for 2nd floor printer", "Office", "low", 130, ["printer"], "open", None),
    (
        "Accounting software licence renewal",
        "Finance",
        "normal",
        50,
        ["licences"],
        "on_hold",
        "Waiting on vendor",
    ),  # fmt: skip
    ("VPN drops every 20 minutes", "Priya N.", "urgent", None, ["vpn", "network"], "open", None),
    ("Backup job failed on NAS", "IT", "high", -30, ["backup"], "in_progress", None),
    (
        "New starter laptop: Jonas",
        "HR",
        "normal",
        29,
        ["hardware", "onboarding"],
        "in_progress",
        None,
    ),  # fmt: skip
    ("Wi-Fi slow in meeting room B", "Facilities", "normal", 80, ["network"], "open", None),
]


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="tickettracker-shot-"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickettracker", "--no-open", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://\S+", proc.stdout.readline()).group(0)
        base, token = url.split("/?token=")

        def api(method: str, path: str, body: dict) -> dict:
            request = urllib.request.Request(
                base + path,
                data=json.dumps(body).encode(),
                method=method,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as reply:
                return json.load(reply)

        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        for title, requester, priority, due_in, tags, status, reason in TICKETS:
            created = now - dt.timedelta(hours=6)
            fields = {"title": title, "requester": requester, "priority": priority, "tags": tags}
            if due_in is not None:
                fields["due"] = (now + dt.timedelta(hours=due_in)).isoformat()
            fields["created_at"] = created.isoformat()
            ticket = api("POST", "/api/v1/tickets", fields)
            if status != "open":
                change = {"status": status, **({"hold_reason": reason} if reason else {})}
                api("PATCH", f"/api/v1/tickets/{ticket['id']}", change)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1040}, color_scheme="dark")
            page.goto(url)
            page.goto(base + "/?status=open,in_progress,on_hold,resolved,cancelled&sort=urgency")
            page.screenshot(path=str(HERE / "screenshot.png"))
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"wrote {HERE / 'screenshot.png'}")


if __name__ == "__main__":
    main()
