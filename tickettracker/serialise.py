"""Tickets and log entries in their JSON (API and export) form."""

from __future__ import annotations

from typing import Any

from .fields import format_due
from .models import Attachment, Ticket, Update


def iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def attachment_to_dict(att: Attachment) -> dict[str, Any]:
    return {
        "id": att.id,
        "filename": att.filename,
        "size": att.size,
        "content_type": att.content_type,
        "sha256": att.sha256,
        "update_id": att.update_id,
        "created_at": iso(att.created_at),
    }


def update_to_dict(update: Update) -> dict[str, Any]:
    return {
        "id": update.id,
        "created_at": iso(update.created_at),
        "kind": update.kind,
        "body": update.body,
        "changes": update.changes,
        "links": [link.to_dict() for link in update.links],
        "attachments": [attachment_to_dict(a) for a in update.attachments],
    }


def ticket_to_dict(ticket: Ticket, *, with_updates: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ticket.id,
        "title": ticket.title,
        "description": ticket.description,
        "notes": ticket.notes,
        "requester": ticket.requester,
        "watchers": ticket.watcher_names,
        "priority": ticket.priority,
        "status": ticket.status,
        "hold_reason": ticket.hold_reason,
        "due": format_due(ticket.due_date, ticket.due_at),
        "tags": ticket.tag_names,
        "links": [{"url": link.url, "title": link.title} for link in ticket.links],
        "attachments": [attachment_to_dict(a) for a in ticket.live_attachments],
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }
    if with_updates:
        data["updates"] = [update_to_dict(u) for u in ticket.updates]
    return data
