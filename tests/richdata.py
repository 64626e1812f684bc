"""A small data set with everything a ticket can hold, made through the services: history of
every kind, hold time, both kinds of due date, tags, watchers, links on tickets and notes,
attachments (live, removed, on a note), Unicode, empty and multi-line text, microseconds."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tickettracker import search, tickets
from tickettracker.models import Attachment, Update

T0 = dt.datetime(2026, 1, 5, 8, 15, 0, 123456, tzinfo=dt.timezone.utc)
BERLIN = ZoneInfo("Europe/Berlin")


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def store_bytes(data_dir: Path, data: bytes) -> str:
    """Put bytes where the uploads folder keeps them (uploads/<2 hex>/<sha256>)."""
    sha = hashlib.sha256(data).hexdigest()
    path = data_dir / "uploads" / sha[:2] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha


def build(session: Session, config: dict, data_dir: Path) -> list[int]:
    """Create the tickets (the caller commits); returns their ids."""
    ids = []

    def create(data: dict, hours: float) -> int:
        ticket = tickets.create_ticket(session, data, config=config, now=at(hours), tz=BERLIN)
        ids.append(ticket.id)
        return ticket.id

    def change(ticket_id: int, data: dict, hours: float) -> None:
        tickets.change_ticket(session, ticket_id, data, config=config, now=at(hours), tz=BERLIN)

    a = create(
        {
            "title": "Drucker im 2. Stock staut — 打印机卡纸 🖨️",
            "description": "Line one\nLine two\n\n  indented, trailing space ",
            "notes": "=SUM(A1:A3) looks like a formula",
            "requester": "Zoë O'Brien <zoe@example.com>",
            "watchers": ["Bo", "chidi", "Ana Souza"],
            "priority": "high",
            "tags": ["Hardware", "printer", "2F"],
            "due": "2026-02-10",
            "links": [
                {"url": "https://example.com/manual?a=1&b=2", "title": 'Manual, "v2"'},
                {"url": "mailto:vendor@example.com", "title": ""},
            ],
        },
        0,
    )
    change(a, {"status": "in_progress", "note": "Looking at it"}, 1)
    tickets.add_note(
        session,
        a,
        {"body": "Ordered a roller", "links": [{"url": "https://example.com/o/7", "title": "7"}]},
        now=at(2.5),
    )
    change(a, {"status": "on_hold", "hold_reason": "Waiting on parts"}, 3)
    change(a, {"status": "in_progress"}, 27.25)
    change(a, {"priority": "normal", "tags": ["hardware"], "watchers": "Bo; Dana"}, 28)

    b = create(
        {
            "title": "VPN drops hourly",
            "priority": "urgent",
            "due": "2026-01-20 17:30",
            "created_at": "2025-12-31T23:59:59.999999+00:00",
        },
        5,
    )
    change(b, {"status": "resolved", "note": ""}, 6)
    change(b, {"status": "closed"}, 7)

    c = create({"title": "Old duplicate", "status": "on_hold", "hold_reason": "Custom: ask Bo"}, 8)
    change(c, {"status": "cancelled", "note": "Duplicate of the printer ticket"}, 9)

    d = create({"title": "  Laptop for the new hire  ", "priority": "low", "requester": ""}, 10)
    tickets.add_note(session, d, {"body": "x" * 5000}, now=at(11))

    create({"title": "Empty ticket"}, 12)

    # Attachments: one on the ticket itself, one on a note, one removed later.
    session.flush()
    shot = store_bytes(data_dir, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    log = store_bytes(data_dir, "журнал — log ✓\n".encode() * 50)
    note = Update(created_at=at(30), kind="attachment", body="Photo of the jam")
    note.changes = [{"field": "attachments", "old": None, "new": ["jam.png"]}]
    ticket_a = tickets.get_ticket(session, a)
    ticket_a.updates.append(note)
    session.flush()
    ticket_a.attachments.extend(
        [
            Attachment(
                filename="jam.png",
                size=8 + 1024,
                content_type="image/png",
                sha256=shot,
                created_at=at(30),
                update=note,
            ),
            Attachment(
                filename="printer log (copy).txt",
                size=len("журнал — log ✓\n".encode()) * 50,
                content_type="text/plain",
                sha256=log,
                created_at=at(31),
            ),
            Attachment(
                filename="no extension",
                size=8 + 1024,
                content_type="application/octet-stream",
                sha256=shot,
                created_at=at(32),
                removed_at=at(33),
            ),
        ]
    )
    ticket_a.updated_at = at(33)
    session.flush()
    search.reindex_ticket(session, ticket_a)
    return ids
