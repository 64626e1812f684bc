"""The JSON API under /api/v1 (see ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for

from .. import __version__, search, tickets
from ..errors import ValidationError
from ..serialise import ticket_to_dict, update_to_dict
from ..workflow import STATUS_KEYS
from . import get_session, state
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
    statuses = request.args.getlist("status")
    bad = [s for s in statuses if s not in STATUS_KEYS]
    if bad:
        raise ValidationError(
            f"Unknown status {bad[0]!r}. Use one of: {', '.join(STATUS_KEYS)}.", "status"
        )
    per_page = request.args.get("per_page", 50, type=int) or 50
    if not 1 <= per_page <= 500:
        raise ValidationError("per_page must be between 1 and 500.", "per_page")
    query = search.TicketQuery(
        q=request.args.get("q", ""),
        page=max(1, request.args.get("page", 1, type=int) or 1),
        per_page=per_page,
    )
    if statuses:
        query.statuses = statuses
    page = search.list_tickets(get_session(), query)
    return {
        "items": [_ticket_json(t, with_updates=False) for t in page.items],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
    }


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
    session = get_session()
    update = tickets.add_note(session, ticket_id, _json_body())
    session.commit()
    resp = jsonify(update_to_dict(update))
    resp.status_code = 201
    return resp
