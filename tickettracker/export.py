"""Export: every ticket with its whole history to JSON (lossless, re-importable), or the
tickets to CSV for spreadsheets (issue 8).

The JSON form is built from the tables' columns, not from a hand-kept list, so a column added
to models.py is exported (and imported, see importing.py) without anyone remembering to; only
the columns named in RELATION_COLUMNS are written as nested lists instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Collection, Iterator
from typing import IO, Any

from sqlalchemy import Column, Date, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, selectinload

from . import __version__
from .fields import format_due
from .models import Base, Ticket, Update, UTCDateTime

FORMAT = "tickettracker-export"
FORMAT_VERSION = 1
# Columns written as nesting instead of as values: the parent's id is implied by where the
# row sits, and an update's changes are written as a list rather than as JSON text.
RELATION_COLUMNS = {
    "updates": {"ticket_id", "changes_json"},
    "attachments": {"ticket_id"},
}
BATCH = 500

CSV_COLUMNS = (
    "id",
    "title",
    "description",
    "notes",
    "requester",
    "watchers",
    "priority",
    "status",
    "hold_reason",
    "due",
    "tags",
    "links",
    "attachments",
    "created_at",
    "updated_at",
)
# A cell starting with one of these is a formula to a spreadsheet ("CSV injection"): export
# puts an apostrophe in front, which spreadsheets hide, and import takes it off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def column_value(column: Column, value: Any) -> Any:
    """A column's value in JSON form: times as ISO 8601 with offset, days as YYYY-MM-DD."""
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return value.isoformat()
    if isinstance(column.type, Date):
        return value.isoformat()
    return value


def row_to_dict(obj: Base, skip: Collection[str] = ()) -> dict[str, Any]:
    """Every column of a row, in table order, keyed by column name."""
    mapper = sa_inspect(type(obj))
    return {
        c.name: column_value(c, getattr(obj, mapper.get_property_by_column(c).key))
        for c in obj.__table__.columns
        if c.name not in skip
    }


def ticket_record(ticket: Ticket) -> dict[str, Any]:
    """One ticket, lossless: its columns, then its lists, then its log (oldest first)."""
    data = row_to_dict(ticket)
    data["due"] = format_due(ticket.due_date, ticket.due_at)  # for people; due_at/due_date rule
    data["watchers"] = ticket.watcher_names
    data["tags"] = ticket.tag_names
    data["links"] = [link.to_dict() for link in ticket.links]
    data["attachments"] = [
        row_to_dict(a, RELATION_COLUMNS["attachments"]) for a in ticket.attachments
    ]
    data["updates"] = [update_record(u) for u in ticket.updates]
    return data


def update_record(update: Update) -> dict[str, Any]:
    data = row_to_dict(update, RELATION_COLUMNS["updates"])
    data["changes"] = update.changes
    data["links"] = [link.to_dict() for link in update.links]
    return data


def iter_tickets(session: Session) -> Iterator[Ticket]:
    """Every ticket in id order, loaded in batches so memory does not grow with the backlog."""
    last = 0
    while True:
        batch = session.scalars(
            select(Ticket)
            .where(Ticket.id > last)
            .order_by(Ticket.id)
            .limit(BATCH)
            .options(
                selectinload(Ticket.tags),
                selectinload(Ticket.watchers),
                selectinload(Ticket.links),
                selectinload(Ticket.attachments),
                selectinload(Ticket.updates).selectinload(Update.links),
            )
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].id
        session.expunge_all()


def header(now: dt.datetime, revision: str | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported_at": now.isoformat(),
        "app_version": __version__,
        "schema": revision,
    }


def write_json(
    session: Session, out: IO[str], *, now: dt.datetime, revision: str | None = None
) -> int:
    """Write the whole export as one JSON document, a ticket at a time; returns the count."""
    head = json.dumps(header(now, revision), ensure_ascii=False, indent=1)
    out.write(head[:-2] + ',\n "tickets": [')
    count = 0
    for ticket in iter_tickets(session):
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(ticket_record(ticket), ensure_ascii=False))
        count += 1
    out.write("\n ]\n}\n")
    return count


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_row(ticket: Ticket) -> list[str]:
    values = {
        "id": str(ticket.id),
        "title": ticket.title,
        "description": ticket.description,
        "notes": ticket.notes,
        "requester": ticket.requester,
        "watchers": ", ".join(ticket.watcher_names),
        "priority": ticket.priority,
        "status": ticket.status,
        "hold_reason": ticket.hold_reason or "",
        "due": format_due(ticket.due_date, ticket.due_at) or "",
        "tags": ", ".join(ticket.tag_names),
        "links": "\n".join(f"{link.url} {link.title}".strip() for link in ticket.links),
        "attachments": "\n".join(a.filename for a in ticket.live_attachments),
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
    }
    return [_cell(values[name]) for name in CSV_COLUMNS]


def write_csv(session: Session, out: IO[str]) -> int:
    """The tickets as CSV (one row each, no history), header row first; returns the count.

    `out` should be opened with newline="" (the csv module writes CRLF row ends itself) and,
    for spreadsheets, encoding="utf-8-sig" so they recognise UTF-8.
    """
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for ticket in iter_tickets(session):
        writer.writerow(csv_row(ticket))
        count += 1
    return count
