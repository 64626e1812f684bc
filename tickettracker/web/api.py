"""The JSON API under /api/v1 (see ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for

from .. import __version__, attachments, search, tickets
from ..errors import ValidationError
from ..serialise import attachment_to_dict, ticket_to_dict, update_to_dict
from . import get_session, state, uploads
from .slaview import sla_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(
            "Send a JSON object in the request body (Content-Type: application/json).", None
        )
    return data


def _ticket_json(ticket, *, with_updates: bool = True) -> dict[str, Any]:
    data = ticket_to_dict(ticket, with_updates=with_updates)
    data["sla"] = sla_json(ticket)
    return data


@bp.get("/health")
def health():
    return {"ok": True, "version": __version__}


@bp.get("/tickets")
def list_tickets():
    query = search.TicketQuery.from_args(request.args, per_page=50)
    page = search.list_tickets(get_session(), query, config=state().config)
    body: dict[str, Any] = {
        "items": [_ticket_json(t, with_updates=False) for t in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "sort": page.sort,
        "order": page.order,
    }
    if page.problems:
        body["problems"] = page.problems
    if page.notice:
        body["notice"] = page.notice
    return body


@bp.get("/dashboard")
def dashboard():
    counts = state().dashboard.counts(get_session())
    return {"counts": [{"key": c.key, "label": c.label, "count": c.count} for c in counts]}


@bp.post("/tickets")
def create_ticket():
    session = get_session()
    ticket = tickets.create_ticket(session, _json_body(), config=state().config)
    session.commit()
    resp = jsonify(_ticket_json(ticket))
    resp.status_code = 201
    resp.headers["Location"] = url_for("api.get_ticket", ticket_id=ticket.id)
    return resp


@bp.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):
    return _ticket_json(tickets.get_ticket(get_session(), ticket_id))


@bp.patch("/tickets/<int:ticket_id>")
def patch_ticket(ticket_id: int):
    session = get_session()
    ticket = tickets.change_ticket(session, ticket_id, _json_body(), config=state().config)
    session.commit()
    return _ticket_json(ticket)


@bp.post("/tickets/<int:ticket_id>/updates")
def add_update(ticket_id: int):
    """A note: JSON (`body`, `links`), or multipart with `body`, `links` (JSON) and `file`s."""
    session = get_session()
    if uploads.is_multipart():
        data, files = uploads.multipart_note_data(request.form), uploads.require_files()
    else:
        data, files = _json_body(), []
    update = tickets.add_note(session, ticket_id, data, files=files)
    session.commit()
    resp = jsonify(update_to_dict(update))
    resp.status_code = 201
    return resp


@bp.get("/tickets/<int:ticket_id>/attachments")
def list_attachments(ticket_id: int):
    ticket = tickets.get_ticket(get_session(), ticket_id)
    return {"items": [attachment_to_dict(a) for a in ticket.live_attachments]}


@bp.post("/tickets/<int:ticket_id>/attachments")
def add_attachments(ticket_id: int):
    """Attach files (multipart field `file`, repeatable) to the ticket itself."""
    if not uploads.is_multipart():
        raise ValidationError(
            "Send the files as multipart/form-data, each in a field named 'file'.", "file"
        )
    session = get_session()
    entry, added = attachments.attach_to_ticket(session, ticket_id, uploads.require_files())
    session.commit()
    resp = jsonify(
        {"attachments": [attachment_to_dict(a) for a in added], "update": update_to_dict(entry)}
    )
    resp.status_code = 201
    return resp


@bp.get("/attachments/<int:attachment_id>")
def download_attachment(attachment_id: int):
    return uploads.file_response(attachments.get_attachment(get_session(), attachment_id))


@bp.delete("/attachments/<int:attachment_id>")
def remove_attachment(attachment_id: int):
    session = get_session()
    entry = attachments.remove_attachment(session, attachment_id)
    session.commit()
    return update_to_dict(entry)
