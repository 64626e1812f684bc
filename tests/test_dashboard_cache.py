"""The dashboard strip is kept between requests; it must never show counts a change outdated."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import time_machine

START = dt.datetime(2026, 3, 10, 9, 0, 30, tzinfo=dt.timezone.utc)


def tiles(client) -> dict[str, int]:
    api = {c["key"]: c["count"] for c in client.get("/api/v1/dashboard").get_json()["counts"]}
    html = client.get("/").get_data(as_text=True)
    shown = dict(
        re.findall(r'class="tile tile-(\w+)[^"]*"[^>]*>\s*<span class="tile-count">([\d,]+)', html)
    )
    page = {key: int(value.replace(",", "")) for key, value in shown.items()}
    assert page == {k: api[k] for k in page}  # the page and the API agree
    return page


def test_counts_follow_every_change_and_the_clock(client, data_dir):
    with time_machine.travel(START, tick=False):  # a frozen clock: writes share one instant
        late = client.post("/api/v1/tickets", json={"title": "Late", "due": "2026-03-09"})
        assert tiles(client)["overdue"] == 1 and tiles(client)["open"] == 1
        late_id = late.get_json()["id"]
        client.patch(f"/api/v1/tickets/{late_id}", json={"due": "2026-03-20"})  # same instant
        assert tiles(client)["overdue"] == 0 and tiles(client)["open"] == 1
        client.patch(f"/api/v1/tickets/{late_id}", json={"due": "2026-03-01"})
        assert tiles(client)["overdue"] == 1
        client.patch(f"/api/v1/tickets/{late_id}", json={"status": "resolved"})
        assert tiles(client)["overdue"] == 0 and tiles(client)["open"] == 0

        soon = client.post(
            "/api/v1/tickets", json={"title": "Soon", "due": "2026-03-10T09:30:00+00:00"}
        )
        assert soon.status_code == 201
        assert tiles(client)["overdue"] == 0

    # Half an hour on, with no write in between: the due time has passed.
    with time_machine.travel(START + dt.timedelta(minutes=31), tick=False):
        assert tiles(client)["overdue"] == 1

        # Another process puts the ticket on hold (the app did not write it).
        with sqlite3.connect(data_dir / "tickettracker.db") as conn:
            conn.execute(
                "UPDATE tickets SET status = 'on_hold', hold_reason = 'Parts' WHERE title = 'Soon'"
            )
        assert tiles(client)["on_hold"] == 1
