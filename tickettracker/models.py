"""Database tables (SQLAlchemy 2.0 declarative). Times are stored as UTC and returned aware."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

TITLE_MAX = 200


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, stored as naive UTC (sorts as text), aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    pass


ticket_tags = Table(
    "ticket_tags",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_ticket_tags_tag", "tag_id", "ticket_id"),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Tags are matched case-insensitively; the first spelling used is kept.
    name: Mapped[str] = mapped_column(String(100, collation="NOCASE"), unique=True)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    requester: Mapped[str] = mapped_column(String(200), default="")
    priority: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default="open")
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    # SLA clock: seconds spent in finished On Hold periods, and the start of the current one.
    hold_seconds: Mapped[int] = mapped_column(Integer, default=0)
    hold_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A due date is either a day (due_date set; due at the end of that local day) or an
    # instant (due_date None). due_at is always the instant, for sorting and filtering.
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    tags: Mapped[list[Tag]] = relationship(secondary=ticket_tags, order_by=Tag.name)
    watchers: Mapped[list[Watcher]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="Watcher.position"
    )
    links: Mapped[list[Link]] = relationship(
        primaryjoin="and_(Link.ticket_id == Ticket.id, Link.update_id.is_(None))",
        cascade="all, delete-orphan",
        order_by="Link.id",
        overlaps="update,links",
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    updates: Mapped[list[Update]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="Update.id"
    )

    __table_args__ = (
        Index("ix_tickets_status_updated", "status", "updated_at", "id"),
        Index("ix_tickets_updated", "updated_at", "id"),
        Index("ix_tickets_due", "due_at", "id"),
        Index("ix_tickets_created", "created_at", "id"),
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    @property
    def watcher_names(self) -> list[str]:
        return [w.name for w in self.watchers]

    @property
    def live_attachments(self) -> list[Attachment]:
        return [a for a in self.attachments if a.removed_at is None]


class Watcher(Base):
    __tablename__ = "watchers"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    ticket: Mapped[Ticket] = relationship(back_populates="watchers")

    __table_args__ = (
        Index("ix_watchers_name", "name", "ticket_id"),
        Index("ix_watchers_ticket", "ticket_id"),
    )


class Update(Base):
    """One entry of a ticket's update log. Never edited or deleted: it is an audit trail."""

    __tablename__ = "updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))  # note | status | change | attachment
    body: Mapped[str] = mapped_column(Text, default="")
    changes_json: Mapped[str] = mapped_column(Text, default="[]")

    ticket: Mapped[Ticket] = relationship(back_populates="updates")
    links: Mapped[list[Link]] = relationship(
        back_populates="update", order_by="Link.id", overlaps="links"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="update", order_by="Attachment.id", overlaps="attachments"
    )

    __table_args__ = (Index("ix_updates_ticket", "ticket_id", "id"),)

    @property
    def changes(self) -> list[dict[str, Any]]:
        return json.loads(self.changes_json or "[]")

    @changes.setter
    def changes(self, value: list[dict[str, Any]]) -> None:
        self.changes_json = json.dumps(value, ensure_ascii=False)


class Link(Base):
    __tablename__ = "links"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    update_id: Mapped[int | None] = mapped_column(ForeignKey("updates.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(500), default="")

    update: Mapped[Update | None] = relationship(back_populates="links", overlaps="links")

    __table_args__ = (Index("ix_links_ticket", "ticket_id"),)

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "title": self.title}


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    update_id: Mapped[int | None] = mapped_column(ForeignKey("updates.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")
    update: Mapped[Update | None] = relationship(
        back_populates="attachments", overlaps="attachments"
    )

    __table_args__ = (
        Index("ix_attachments_ticket", "ticket_id"),
        Index("ix_attachments_sha", "sha256"),
    )
