"""Full-text index and the ticket list query. (Minimal first version.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session, selectinload

from .models import Ticket
from .workflow import ACTIVE_STATUSES


def create_index(conn: Connection) -> None:
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_fts USING fts5("
        "title, body, tokenize='unicode61 remove_diacritics 2')"
    )


def reindex_ticket(session: Session, ticket: Ticket) -> None:
    """Rewrite the ticket's row in the index, inside the caller's transaction."""
    body = "\n".join(
        [ticket.description, ticket.notes, ticket.requester]
        + ticket.watcher_names
        + ticket.tag_names
        + [u.body for u in ticket.updates]
    )
    session.execute(text("DELETE FROM ticket_fts WHERE rowid = :id"), {"id": ticket.id})
    session.execute(
        text("INSERT INTO ticket_fts(rowid, title, body) VALUES (:id, :title, :body)"),
        {"id": ticket.id, "title": ticket.title, "body": body},
    )


@dataclass
class TicketQuery:
    q: str = ""
    statuses: list[str] = field(default_factory=lambda: list(ACTIVE_STATUSES))
    page: int = 1
    per_page: int = 50


@dataclass
class TicketPage:
    items: list[Ticket]
    total: int
    page: int
    per_page: int


def list_tickets(session: Session, query: TicketQuery) -> TicketPage:
    stmt = select(Ticket)
    if query.statuses:
        stmt = stmt.where(Ticket.status.in_(query.statuses))
    if query.q.strip():
        words = " ".join('"' + w.replace('"', '""') + '"*' for w in query.q.split())
        ids = (
            select(text("rowid")).select_from(text("ticket_fts")).where(text("ticket_fts MATCH :m"))
        )
        stmt = stmt.where(Ticket.id.in_(ids)).params(m=words)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    items = session.scalars(
        stmt.options(selectinload(Ticket.tags))
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    return TicketPage(list(items), total, query.page, query.per_page)
