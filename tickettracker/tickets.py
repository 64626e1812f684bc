"""Ticket services: create, change, note. Every change writes the update log itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import attachments, search
from .config import priority_keys
from .errors import Conflict, NotFound, ValidationError
from .fields import (
    REQUESTER_MAX,
    TAG_MAX,
    clean_hold_reason,
    clean_line,
    clean_links,
    clean_names,
    clean_text,
    clean_title,
    format_due,
    parse_due,
    parse_timestamp,
)
from .models import Attachment, Link, Tag, Ticket, Update, Watcher
from .workflow import STATUSES, check_transition

EDITABLE_FIELDS = (
    "title",
    "description",
    "notes",
    "requester",
    "watchers",
    "priority",
    "due",
    "tags",
    "links",
)
NOTE_MAX = 100_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def get_ticket(session: Session, ticket_id: int, *, updates: str = "full") -> Ticket:
    """Load one ticket with its tags, watchers, links and files, or raise NotFound.

    `updates`: "full" loads the update log with each entry's links and files, "bare" the
    entries alone (what the index needs), "none" nothing (the ticket page reads the log
    with `history` instead).
    """
    options = [
        selectinload(Ticket.tags),
        selectinload(Ticket.watchers),
        selectinload(Ticket.links),
        selectinload(Ticket.attachments),
    ]
    if updates == "full":
        options += [
            selectinload(Ticket.updates).selectinload(Update.links),
            selectinload(Ticket.updates).selectinload(Update.attachments),
        ]
    elif updates == "bare":
        options.append(selectinload(Ticket.updates))
    ticket = session.scalars(
        select(Ticket).where(Ticket.id == ticket_id).options(*options)
    ).one_or_none()
    if ticket is None:
        raise NotFound(f"There is no ticket #{ticket_id}.")
    return ticket


@dataclass(slots=True)
class HistoryEntry:
    """One entry of the update log, as the ticket page shows it."""

    id: int
    kind: str
    body: str
    created_at: dt.datetime
    changes: list[dict[str, Any]]  # field changes (files aside)
    added: list[dict[str, Any]]  # files this entry attached to the ticket
    removed: list[dict[str, Any]]  # files this entry removed from the ticket
    links: list[Any] = dataclasses.field(default_factory=list)  # rows with url and title
    attachments: list[Attachment] = dataclasses.field(default_factory=list)  # the note's own files


def history(session: Session, ticket: Ticket) -> list[HistoryEntry]:
    """The ticket's update log, oldest first, read as plain rows.

    A long log read as tracked ORM objects (with their links and files) cost the ticket page
    more than everything else on it. Files come from the ticket's own list (loaded already).
    """
    entries: dict[int, HistoryEntry] = {}
    rows = session.execute(
        select(Update.id, Update.kind, Update.body, Update.created_at, Update.changes_json)
        .where(Update.ticket_id == ticket.id)
        .order_by(Update.id)
    )
    for update_id, kind, body, created_at, changes_json in rows:
        changes, added, removed = [], [], []
        for change in json.loads(changes_json or "[]"):
            if change.get("field") != "attachment":
                changes.append(change)
            elif change.get("new"):
                added.append(change)
            elif change.get("old"):
                removed.append(change)
        entries[update_id] = HistoryEntry(
            update_id, kind, body, created_at, changes, added, removed
        )
    links = session.execute(  # all the ticket's links (by ticket_id), then the notes' here
        select(Link.update_id, Link.url, Link.title)
        .where(Link.ticket_id == ticket.id)
        .order_by(Link.id)
    )
    for link in links:
        if link.update_id in entries:
            entries[link.update_id].links.append(link)
    for attachment in ticket.attachments:  # ordered by id, like the note's own list
        if attachment.update_id in entries:
            entries[attachment.update_id].attachments.append(attachment)
    return list(entries.values())


def _refuse_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(
            f"Unknown field {name!r}; the fields are: {', '.join(sorted(allowed))}.", name
        )


def _clean_priority(value: Any, config: dict, current: str | None = None) -> str:
    keys = priority_keys(config)
    if value is None or value == "":
        return config["default_priority"]
    # A priority the configuration no longer has stays as long as nobody changes it (issue 4).
    if value not in keys and value != current:
        raise ValidationError(
            f"Unknown priority {value!r}. Choose one of: {', '.join(keys)}.", "priority"
        )
    return value


def _clean_fields(
    data: dict[str, Any], config: dict, tz: dt.tzinfo | None, ticket: Ticket | None = None
) -> dict[str, Any]:
    """Validate the editable fields present in `data`; returns their clean values.

    Every field is checked, and the first problem raised carries the others (`more`), so a
    form can say everything that is wrong at once."""
    cleaners: dict[str, Callable[[Any], Any]] = {
        "title": clean_title,
        "description": lambda v: clean_text(v, "description", NOTE_MAX),
        "notes": lambda v: clean_text(v, "notes", NOTE_MAX),
        "requester": lambda v: clean_line(v, "requester", REQUESTER_MAX),
        "watchers": lambda v: clean_names(v, "watchers"),
        "tags": lambda v: clean_names(v, "tags", TAG_MAX),
        "priority": lambda v: _clean_priority(
            v, config, ticket.priority if ticket is not None else None
        ),
        "due": lambda v: parse_due(v, tz),
        "links": clean_links,
    }
    out: dict[str, Any] = {}
    problems: list[ValidationError] = []
    for name, clean in cleaners.items():
        if name in data:
            try:
                out[name] = clean(data[name])
            except ValidationError as exc:
                problems.append(exc)
    if problems:
        first, *others = problems
        first.more = list(others)
        raise first
    return out


def _tags(session: Session, names: list[str]) -> list[Tag]:
    if not names:
        return []
    existing = {
        t.name.casefold(): t for t in session.scalars(select(Tag).where(Tag.name.in_(names)))
    }
    tags = []
    for name in names:
        tag = existing.get(name.casefold())
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            existing[name.casefold()] = tag
        tags.append(tag)
    return tags


def _current(ticket: Ticket, field: str) -> Any:
    """A field's raw value in API form (what the log's old/new hold)."""
    if field == "tags":
        return ticket.tag_names
    if field == "watchers":
        return ticket.watcher_names
    if field == "links":
        return [link.to_dict() for link in ticket.links]
    if field == "due":
        return format_due(ticket.due_date, ticket.due_at)
    return getattr(ticket, field)


def _apply(session: Session, ticket: Ticket, field: str, value: Any) -> None:
    if field == "tags":
        ticket.tags = _tags(session, value)
    elif field == "watchers":
        ticket.watchers = [Watcher(name=n, position=i) for i, n in enumerate(value)]
    elif field == "links":
        ticket.links = [Link(url=v["url"], title=v["title"]) for v in value]
    elif field == "due":
        ticket.due_date, ticket.due_at = value
    else:
        setattr(ticket, field, value)


def _hold_reason_for(data: dict[str, Any], status: str) -> str:
    """The cleaned hold_reason of `data`; refused when the ticket will not be on hold."""
    reason = clean_hold_reason(data.get("hold_reason"))
    if reason and status in STATUSES and status != "on_hold":
        raise ValidationError(
            f"A hold reason only goes with the On Hold status, and this ticket will be "
            f"{STATUSES[status].label}: send status on_hold with the reason, or leave "
            "hold_reason out.",
            "hold_reason",
        )
    return reason


def _clean_note(data: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    body = clean_text(data.get("note") if "note" in data else data.get("body"), "note", NOTE_MAX)
    links = clean_links(data.get("note_links"), "note_links") if "note_links" in data else []
    return body, links


def create_ticket(
    session: Session,
    data: dict[str, Any],
    *,
    config: dict,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
) -> Ticket:
    """Create a ticket from API/form data; the log starts with its creation."""
    now = now or utcnow()
    _refuse_unknown(data, {*EDITABLE_FIELDS, "status", "hold_reason", "created_at"})
    if "title" not in data:
        raise ValidationError(
            "A ticket needs a title: say in a few words what it is about.", "title"
        )
    fields = _clean_fields(data, config, tz)
    created_at = (
        parse_timestamp(data["created_at"], "created_at", now=now)
        if data.get("created_at")
        else now
    )
    status = data.get("status") or "open"
    reason = _hold_reason_for(data, status)
    hold_reason = None
    if status != "open":
        hold_reason = check_transition("open", status, reason)
    ticket = Ticket(
        title=fields["title"],
        description=fields.get("description", ""),
        notes=fields.get("notes", ""),
        requester=fields.get("requester", ""),
        priority=fields.get("priority", config["default_priority"]),
        status=status,
        hold_reason=hold_reason,
        hold_seconds=0,
        hold_since=created_at if status == "on_hold" else None,
        created_at=created_at,
        updated_at=max(created_at, now) if not data.get("created_at") else created_at,
    )
    for field in ("watchers", "tags", "links", "due"):
        if field in fields:
            _apply(session, ticket, field, fields[field])
    session.add(ticket)
    changes = [{"field": "status", "old": None, "new": status}]
    if hold_reason:
        changes.append({"field": "hold_reason", "old": None, "new": hold_reason})
    log = Update(created_at=created_at, kind="status", body="")
    log.changes = changes
    search.log_entry(session, ticket, log)
    return ticket


def change_ticket(
    session: Session,
    ticket_id: int,
    data: dict[str, Any],
    *,
    config: dict,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
) -> Ticket:
    """Change fields and/or status (with hold_reason) and optionally add a note, in one entry.

    `expected_updated_at` (ISO) guards against overwriting a change made since the user
    loaded the ticket: it raises Conflict instead.
    """
    now = now or utcnow()
    allowed = set(EDITABLE_FIELDS) | {
        "status",
        "hold_reason",
        "note",
        "note_links",
        "expected_updated_at",
    }
    _refuse_unknown(data, allowed)
    ticket = get_ticket(session, ticket_id)
    expected = data.get("expected_updated_at")
    if expected and parse_timestamp(expected, "expected_updated_at") != ticket.updated_at:
        raise Conflict(
            "This ticket was changed after you opened it. Reload it to see the change, then "
            "make yours again.",
            "expected_updated_at",
        )
    fields = _clean_fields(data, config, tz, ticket)
    body, note_links = _clean_note(data)
    changes: list[dict[str, Any]] = []
    kind = "change"

    new_status = data.get("status")
    given_reason = _hold_reason_for(data, new_status if new_status is not None else ticket.status)
    if new_status is not None and new_status != ticket.status:
        reason = check_transition(ticket.status, new_status, given_reason)
        changes.append({"field": "status", "old": ticket.status, "new": new_status})
        if ticket.status == "on_hold" and ticket.hold_since is not None:
            ticket.hold_seconds += max(0, int((now - ticket.hold_since).total_seconds()))
            ticket.hold_since = None
        if reason != ticket.hold_reason:
            changes.append({"field": "hold_reason", "old": ticket.hold_reason, "new": reason})
        ticket.hold_reason = reason
        if new_status == "on_hold":
            ticket.hold_since = now
        ticket.status = new_status
        kind = "status"
    else:
        if fields and STATUSES[ticket.status].terminal:
            raise Conflict(
                f"This ticket is {ticket.status}; its fields can no longer be changed. "
                "You can still add a note.",
                "status",
            )
        reason = given_reason
        if new_status == "on_hold" and ticket.status == "on_hold" and not reason:
            raise ValidationError(
                "To change why the ticket is on hold, pick a reason or type your own.",
                "hold_reason",
            )
        if ticket.status == "on_hold" and reason and reason != ticket.hold_reason:
            changes.append({"field": "hold_reason", "old": ticket.hold_reason, "new": reason})
            ticket.hold_reason = reason

    for field, value in fields.items():
        old = _current(ticket, field)
        _apply(session, ticket, field, value)
        new = _current(ticket, field)
        if old != new:
            changes.append({"field": field, "old": old, "new": new})

    if not changes and not body and not note_links:
        return ticket  # nothing changed: no empty log entry
    if not changes:
        kind = "note"
    entry = Update(created_at=now, kind=kind, body=body)
    entry.changes = changes
    entry.links = [Link(ticket_id=ticket.id, url=v["url"], title=v["title"]) for v in note_links]
    search.log_entry(session, ticket, entry, now)
    return ticket


def add_note(
    session: Session,
    ticket_id: int,
    data: dict[str, Any],
    *,
    files: Sequence[attachments.IncomingFile] = (),
    now: dt.datetime | None = None,
) -> Update:
    """Add a note (text, links and/or files) to a ticket's log.

    The files' bytes are made durable before their rows are added, so a row never points at
    bytes that are not on disk; the caller commits.
    """
    now = now or utcnow()
    _refuse_unknown(data, {"body", "links"})
    # The log's entries are needed for the index (their text), not their links and files.
    ticket = get_ticket(session, ticket_id, updates="bare")
    body = clean_text(data.get("body"), "body", NOTE_MAX)
    links = clean_links(data.get("links"))
    if not body.strip() and not links and not files:
        raise ValidationError("The note is empty: write something or add a link or file.", "body")
    stored = attachments.store_files(files)
    entry = Update(created_at=now, kind="note", body=body)
    entry.links = [Link(ticket_id=ticket.id, url=v["url"], title=v["title"]) for v in links]
    rows = attachments.new_rows(ticket, stored, now)
    entry.attachments = rows
    ticket.attachments.extend(rows)
    search.log_entry(session, ticket, entry, now)
    return entry


def priority_usage(session: Session) -> dict[str, int]:
    """How many tickets use each priority key (to spot keys the configuration lost)."""
    rows = session.execute(select(Ticket.priority, func.count()).group_by(Ticket.priority))
    return {key: count for key, count in rows}
