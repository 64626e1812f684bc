"""The ticket list: full-text index, filters, sorts, pages and the dashboard counts (issue 5).

Every write calls ``reindex_ticket`` inside its own transaction, so the FTS5 index is never
stale. Every list query is built so that its cost grows with the page size and the number
of matches, not with the backlog: each sort walks an index in order (see ``_ORDERS``), and
the counts come from covering indexes. SQL text lives here and in db.py only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    column,
    func,
    intersect,
    literal,
    literal_column,
    not_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from .config import priority_keys, priority_target_hours
from .errors import ValidationError
from .models import Attachment, Link, Tag, Ticket, Update, Watcher, ticket_tags
from .searchtext import (
    FTS_TOKENIZER,
    MAX_DUE_DAYS,
    and_all,
    column_filter,
    index_text,
    parse_query,
    phrase,
)
from .workflow import ACTIVE_STATUSES, STATUS_KEYS

# --- the index --------------------------------------------------------------------------

FTS_COLUMNS = (
    "title",
    "description",
    "notes",
    "requester",
    "watchers",
    "tags",
    "updates",
    "attachments",
    "state",
)
# What the search box searches; `state` holds the status (see _state_token), so a search
# filtered by status is answered by the index alone, without reading a ticket row.
TEXT_COLUMNS = FTS_COLUMNS[:-1]
# bm25 weights, column by column: a word in the title or tags says more than one in a note.
FTS_WEIGHTS = (8.0, 2.0, 1.5, 3.0, 2.0, 4.0, 1.0, 2.0, 0.0)

# Indexes the list queries walk. Kept here, next to the queries that need them.
LIST_INDEXES = (
    # Dashboard counts and status filters by due date: overdue, due today, due this week.
    "CREATE INDEX IF NOT EXISTS ix_tickets_status_due ON tickets(status, due_at, id)",
    # Priority sort: one group per priority, each in id order.
    "CREATE INDEX IF NOT EXISTS ix_tickets_priority ON tickets(priority, id)",
    # Urgency sort, tickets without a due date: per status and priority, in the order of the
    # SLA clock start (created plus time on hold). The expression must match _CLOCK_START.
    # Its leading columns also serve the counts per priority and per urgency tier.
    # (A partial index WHERE due_at IS NULL would be smaller, but SQLite's planner then
    # prefers ix_tickets_status_due and a sort, 50 times slower at 20,000 tickets.)
    "CREATE INDEX IF NOT EXISTS ix_tickets_sla_clock ON tickets(status, priority, due_at, "
    "julianday(created_at) + hold_seconds / 86400.0, id)",
    # The same for tickets on hold, whose clock stands still: urgency is fixed by how long
    # it ran before the hold. The expression must match _HOLD_CLOCK.
    "CREATE INDEX IF NOT EXISTS ix_tickets_hold_clock ON tickets(status, priority, due_at, "
    "julianday(created_at) + hold_seconds / 86400.0 - julianday(hold_since), id) "
    "WHERE status = 'on_hold'",
    # Counts of filtered lists (tags, a search with other filters) check each match's status:
    # this narrow index answers without reading the wide ticket row (3 times faster).
    "CREATE INDEX IF NOT EXISTS ix_tickets_id_status ON tickets(id, status)",
    # The ticket page loads each log entry's links and files by update id.
    "CREATE INDEX IF NOT EXISTS ix_links_update ON links(update_id)",
    "CREATE INDEX IF NOT EXISTS ix_attachments_update ON attachments(update_id)",
)
# How many tickets there are per status, priority and with/without a due date, kept by
# triggers in the writer's transaction: the default list's total and the dashboard's status
# counts read a few dozen rows instead of counting the backlog.
# Tables search.py derives from the tickets and rebuilds itself (not in models.py, so not in
# the migrations either; see docs/SCHEMA.md).
DERIVED_TABLES = ("ticket_counts",)
COUNTS_DDL = (
    "CREATE TABLE ticket_counts (status TEXT NOT NULL, priority TEXT NOT NULL, "
    "has_due INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (status, priority, has_due)) "
    "WITHOUT ROWID",
    "INSERT INTO ticket_counts SELECT status, priority, due_at IS NOT NULL, count(*) "
    "FROM tickets GROUP BY 1, 2, 3",
    "CREATE TRIGGER ticket_counts_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO ticket_counts VALUES (new.status, new.priority, new.due_at IS NOT NULL, 1) "
    "ON CONFLICT DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER ticket_counts_delete AFTER DELETE ON tickets BEGIN "
    "UPDATE ticket_counts SET n = n - 1 WHERE status = old.status "
    "AND priority = old.priority AND has_due = (old.due_at IS NOT NULL); END",
    "CREATE TRIGGER ticket_counts_update AFTER UPDATE OF status, priority, due_at ON tickets "
    "WHEN old.status IS NOT new.status OR old.priority IS NOT new.priority "
    "OR (old.due_at IS NULL) != (new.due_at IS NULL) BEGIN "
    "UPDATE ticket_counts SET n = n - 1 WHERE status = old.status "
    "AND priority = old.priority AND has_due = (old.due_at IS NOT NULL); "
    "INSERT INTO ticket_counts VALUES (new.status, new.priority, new.due_at IS NOT NULL, 1) "
    "ON CONFLICT DO UPDATE SET n = n + 1; END",
)
_COUNTS_SQL = "SELECT status, priority, has_due, n FROM ticket_counts WHERE n > 0"
_FTS = table("ticket_fts", column("rowid"), column("rank"))
_CLOCK_START = literal_column("julianday(tickets.created_at) + tickets.hold_seconds / 86400.0")
_HOLD_CLOCK = literal_column(
    "julianday(tickets.created_at) + tickets.hold_seconds / 86400.0 - julianday(tickets.hold_since)"
)
_PRIORITIES_SQL = "SELECT DISTINCT priority FROM ticket_counts WHERE n > 0"


def _fts_exists(conn: Connection) -> list[str] | None:
    rows = conn.exec_driver_sql("PRAGMA table_info(ticket_fts)").fetchall()
    return [row[1] for row in rows] or None


def create_index(conn: Connection) -> None:
    """Create the full-text table and list indexes (rebuilding an index of an older layout)."""
    columns = _fts_exists(conn)
    rebuild = columns is not None and tuple(columns) != FTS_COLUMNS
    if rebuild:
        conn.exec_driver_sql("DROP TABLE ticket_fts")
    if columns is None or rebuild:
        conn.exec_driver_sql(
            f"CREATE VIRTUAL TABLE ticket_fts USING fts5({', '.join(FTS_COLUMNS)}, "
            f"tokenize=\"{FTS_TOKENIZER}\", prefix='2 3')"
        )
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        conn.exec_driver_sql(
            f"INSERT INTO ticket_fts(ticket_fts, rank) VALUES ('rank', 'bm25({weights})')"
        )
    for statement in LIST_INDEXES:
        conn.exec_driver_sql(statement)
    has_counts = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ticket_counts'"
    ).first()
    if not has_counts:
        for statement in COUNTS_DDL:
            conn.exec_driver_sql(statement)
    # A table made anew on a database that already holds tickets (a migration dropped it to
    # force a rebuild, say) is filled now, so the index is never silently empty.
    created_on_data = columns is None and conn.exec_driver_sql("SELECT 1 FROM tickets").first()
    if rebuild or created_on_data:
        rebuild_index(conn)


def _row_values(
    title: str,
    description: str,
    notes: str,
    requester: str,
    watchers: Iterable[str],
    tags: Iterable[str],
    updates: Iterable[str],
    attachments: Iterable[str],
    status: str,
) -> tuple[str, ...]:
    parts = (
        title,
        description,
        notes,
        requester,
        "\n".join(watchers),
        "\n".join(tags),
        "\n".join(updates),
        "\n".join(attachments),
    )
    return (*(index_text(p or "") for p in parts), _state_token(status))


def _state_token(status: str) -> str:
    """The status as one token of the `state` column (the tokenizer splits at "_")."""
    return status.replace("_", "")


_INSERT_ROW = (
    f"INSERT INTO ticket_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})"
)


def log_entry(
    session: Session, ticket: Ticket, entry: Update, now: dt.datetime | None = None
) -> None:
    """Add `entry` to the ticket's log (`now` becomes its last change) and bring the index up
    to date, in the caller's transaction: every change is logged and findable at once."""
    ticket.updates.append(entry)
    if now is not None:
        ticket.updated_at = now
    session.flush()
    reindex_ticket(session, ticket)


def reindex_ticket(session: Session, ticket: Ticket) -> None:
    """Rewrite the ticket's row in the index, inside the caller's transaction."""
    values = _row_values(
        ticket.title,
        ticket.description,
        "\n".join(filter(None, [ticket.notes, ticket.hold_reason])),
        ticket.requester,
        ticket.watcher_names,
        ticket.tag_names,
        (u.body for u in ticket.updates if u.body),
        (a.filename for a in ticket.attachments if a.removed_at is None),
        ticket.status,
    )
    conn = session.connection()
    conn.exec_driver_sql("DELETE FROM ticket_fts WHERE rowid = ?", (ticket.id,))
    conn.exec_driver_sql(_INSERT_ROW, (ticket.id, *values))


def rebuild_index(conn: Connection, batch: int = 2000) -> int:
    """Rebuild the whole index from the tickets (after a bulk import); returns the count."""
    conn.exec_driver_sql("DELETE FROM ticket_fts")
    sql = """
        SELECT t.id, t.title, t.description, t.notes, t.hold_reason, t.requester, t.status,
          (SELECT group_concat(name, char(10)) FROM watchers WHERE ticket_id = t.id),
          (SELECT group_concat(g.name, char(10)) FROM ticket_tags tt JOIN tags g
             ON g.id = tt.tag_id WHERE tt.ticket_id = t.id),
          (SELECT group_concat(body, char(10)) FROM updates WHERE ticket_id = t.id
             AND body != ''),
          (SELECT group_concat(filename, char(10)) FROM attachments WHERE ticket_id = t.id
             AND removed_at IS NULL)
        FROM tickets t WHERE t.id > ? ORDER BY t.id LIMIT ?"""
    last, count = 0, 0
    while True:
        rows = conn.exec_driver_sql(sql, (last, batch)).fetchall()
        if not rows:
            break
        out = []
        for tid, title, desc, notes, hold, req, status, watchers, tags, updates, files in rows:
            out.append(
                (
                    tid,
                    *_row_values(
                        title,
                        desc,
                        "\n".join(filter(None, [notes, hold])),
                        req,
                        [watchers or ""],
                        [tags or ""],
                        [updates or ""],
                        [files or ""],
                        status,
                    ),
                )
            )
        conn.exec_driver_sql(_INSERT_ROW, out)  # executemany
        last, count = rows[-1][0], count + len(rows)
    conn.exec_driver_sql("INSERT INTO ticket_fts(ticket_fts) VALUES ('optimize')")
    return count


# --- what the user asks for ---------------------------------------------------------------

SORTS = ("relevance", "urgency", "due", "priority", "updated", "created")
DEFAULT_ORDER = {
    "relevance": "desc",  # best match first
    "urgency": "desc",  # most urgent first
    "due": "asc",  # soonest first
    "priority": "asc",  # config order: urgent first
    "updated": "desc",  # most recent first
    "created": "desc",
}
DEFAULT_SORT = "updated"
DUE_FILTERS = ("overdue", "today", "week", "none")
# Statuses in which a ticket still owes work: due-date filters and counts look at these only
# (a resolved ticket with a past due date is not overdue).
OWED_STATUSES = ("open", "in_progress", "on_hold")
# Statuses with an SLA urgency (sla.py): resolved, closed and cancelled are not urgent.
URGENT_STATUSES = ("open", "in_progress", "on_hold")
# Relevance ranking costs time for every match; past this many, rank by recency instead.
RANK_LIMIT = 10_000
# Past this many matches, a sorted page walks the sort's index and probes the matches.
DRIVE_LIMIT = 2_000
MAX_PER_PAGE = 500
MAX_PAGE_NUMBER = 10**9


@dataclass
class TicketQuery:
    """A list request: the search box plus the filter and sort controls (URL parameters)."""

    q: str = ""
    statuses: list[str] = field(default_factory=list)  # empty: not closed or cancelled
    priorities: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tag_mode: str = "any"  # any | all
    requester: str = ""
    watcher: str = ""
    due: str = ""  # overdue | today | week | none | a number of days
    sort: str = ""  # empty: relevance when searching, else DEFAULT_SORT
    order: str = ""  # empty: the sort's natural order
    page: int = 1
    per_page: int = 50

    @classmethod
    def from_args(
        cls, args: Any, *, per_page: int = 50, problems: list[str] | None = None
    ) -> TicketQuery:
        """Read URL parameters (a Werkzeug MultiDict); raise ValidationError naming the bad one.

        With `problems` (the list page), a bad value is not raised: it is replaced by its
        default, the other parameters still apply, and a message saying both goes in there.
        """
        found: list[tuple[ValidationError, str]] = []  # (what is wrong, what we do instead)

        def one(name: str) -> str:
            return (args.get(name) or "").strip()

        def number(name: str, default: int, instead: str) -> int:
            raw = one(name)
            if not raw:
                return default
            digits = raw.lstrip("0")
            if not (raw.isascii() and raw.isdigit()) or not digits:
                message = f"{name} must be a whole number of 1 or more, not {raw[:40]!r}."
                found.append((ValidationError(message, name), instead))
                return default
            # Far past any real page, and small enough that its offset stays a SQLite integer.
            return int(digits) if len(digits) <= 9 else MAX_PAGE_NUMBER

        statuses = [s.strip() for v in args.getlist("status") for s in v.split(",") if s.strip()]
        priorities = [p.strip() for v in args.getlist("priority") for p in v.split(",")]
        raw = {name: one(name) for name in ("tag_mode", "due", "sort", "order")}
        query = cls(
            q=args.get("q") or "",
            statuses=statuses,
            priorities=[p for p in priorities if p],
            tags=[t.strip() for v in args.getlist("tag") for t in v.split(",") if t.strip()],
            tag_mode=raw["tag_mode"].lower() or "any",
            requester=one("requester"),
            watcher=one("watcher"),
            due=raw["due"].lower(),
            sort=raw["sort"].lower(),
            order=raw["order"].lower(),
            page=number("page", 1, "Showing the first page."),
            per_page=number("per_page", per_page, f"Showing {per_page} per page."),
        )
        fallbacks = {
            "status": ("statuses", None, "Ignored it."),
            "tag_mode": ("tag_mode", "any", "Showing tickets with any of the tags."),
            "due": ("due", "", "Not filtering by due date."),
            "sort": ("sort", "", "Using the usual sort."),
            "order": ("order", "", "Using the sort's usual order."),
            "per_page": ("per_page", per_page, f"Showing {per_page} per page."),
        }
        for problem in query.issues(raw):
            attr, default, instead = fallbacks[problem.field or ""]
            if attr == "statuses":
                query.statuses = [s for s in query.statuses if s in STATUS_KEYS or s == "all"]
            else:
                setattr(query, attr, default)
            found.append((problem, instead))
        if found and problems is None:
            raise found[0][0]
        for problem, instead in found:
            problems.append(f"{problem.message} {instead}")  # type: ignore[union-attr]
        return query

    def issues(self, raw: dict[str, str] | None = None) -> list[ValidationError]:
        """What is wrong with the parameter values; `raw` (name -> as given) to quote them."""
        raw = raw or {}

        def given(name: str) -> str:
            return repr((raw.get(name) or getattr(self, name))[:40])

        out = []
        for status in self.statuses:
            if status not in STATUS_KEYS and status != "all":
                out.append(
                    ValidationError(
                        f"Unknown status {status[:40]!r}. Use one of: {', '.join(STATUS_KEYS)} "
                        "or all.",
                        "status",
                    )
                )
        if self.tag_mode not in ("any", "all"):
            out.append(
                ValidationError(
                    f"Unknown tag_mode {given('tag_mode')}: use any or all.", "tag_mode"
                )
            )
        if self.due and self.due not in DUE_FILTERS and not _days(self.due):
            out.append(
                ValidationError(
                    f"Unknown due filter {given('due')}: use overdue, today, week, none or a "
                    f"number of days from 1 to {MAX_DUE_DAYS}, such as 3.",
                    "due",
                )
            )
        if self.sort and self.sort not in SORTS:
            out.append(
                ValidationError(
                    f"Unknown sort {given('sort')}: use one of {', '.join(SORTS)}.", "sort"
                )
            )
        if self.order and self.order not in ("asc", "desc"):
            out.append(
                ValidationError(f"order must be asc or desc, not {given('order')}.", "order")
            )
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            out.append(
                ValidationError(
                    f"per_page must be between 1 and {MAX_PER_PAGE}, not {self.per_page}.",
                    "per_page",
                )
            )
        return out

    def check(self) -> None:
        """Raise ValidationError for a parameter value the list does not understand."""
        problems = self.issues()
        if problems:
            raise problems[0]


def _days(value: str) -> int | None:
    value = value[:-1] if value.endswith("d") else value
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_DUE_DAYS else None


@dataclass(slots=True)
class ListRow:
    """What a row of the list page shows of a ticket, and what its SLA state is computed from.

    Read as plain rows, not ORM objects: building 50 tracked tickets cost the page more
    than its queries.
    """

    id: int
    title: str
    requester: str
    priority: str
    status: str
    hold_reason: str | None
    hold_seconds: int
    hold_since: dt.datetime | None
    due_at: dt.datetime | None
    due_date: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime
    tag_names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TicketRow(ListRow):
    """All the API's list shows of a ticket, read as plain rows like ListRow."""

    description: str = ""
    notes: str = ""
    watcher_names: list[str] = field(default_factory=list)
    links: list[Any] = field(default_factory=list)  # rows with url and title
    live_attachments: list[Any] = field(default_factory=list)  # rows, as serialise reads them


def _columns(cls: type) -> list[Any]:
    table = Ticket.__table__.c
    return [getattr(Ticket, f.name) for f in dataclasses.fields(cls) if f.name in table]


_ROW_COLUMNS = _columns(ListRow)
_FULL_COLUMNS = _columns(TicketRow)
_ATTACHMENT_COLUMNS = [
    Attachment.ticket_id,
    Attachment.id,
    Attachment.filename,
    Attachment.size,
    Attachment.content_type,
    Attachment.sha256,
    Attachment.update_id,
    Attachment.created_at,
]


@dataclass
class TicketPage:
    items: list[Any]  # TicketRow (full, for the API) or ListRow (the list page)
    total: int
    page: int
    per_page: int
    sort: str = DEFAULT_SORT
    order: str = "desc"
    text: str = ""  # the free text searched for
    problems: list[str] = field(default_factory=list)  # qualifiers we could not use
    notice: str = ""  # e.g. why results are not ranked by relevance
    statuses: list[str] = field(default_factory=list)  # the statuses actually shown

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# --- filters ------------------------------------------------------------------------------


@dataclass
class _Spec:
    """The query resolved against the configuration: what every SQL statement filters on."""

    conditions: list[ColumnElement[bool]]
    match: str | None  # FTS5 expression (free text, requester, watcher) or None
    has_text: bool
    sort: str
    descending: bool
    problems: list[str]
    statuses: frozenset[str] = frozenset(STATUS_KEYS)
    priorities: frozenset[str] | None = None  # None: any
    # Only status and priority filters: counts come from ticket_counts, not the tickets.
    simple: bool = False
    status_condition: ColumnElement[bool] | None = None  # also in `conditions`, if any
    fts_condition: ColumnElement[bool] | None = None  # also in `conditions`
    fts_probe: ColumnElement[bool] | None = None  # the same, for walking a sort's index
    tag_condition: ColumnElement[bool] | None = None  # also in `conditions`
    tag_probe: ColumnElement[bool] | None = None  # the same, for walking a sort's index
    # Status, priority and due filters, each with the same test written as a probe.
    column_probes: tuple[tuple[ColumnElement[bool], ColumnElement[bool]], ...] = ()

    @property
    def fts_only(self) -> bool:
        """The search (with its status filter) is the only condition."""
        return self.fts_condition is not None and len(self.conditions) == 1

    def probing(self, columns: bool = False) -> _Spec:
        """This spec with the match lists (search, tags) probed while a sort index drives
        the query; with `columns`, the status, priority and due filters too.

        Probing the columns suits the sorts by a time alone (updated, created): their walk
        down (time, id) then stops after a page. Left as they are, SQLite reads every ticket
        of each status from a status index and sorts them all, looking each up in the
        table when the index lacks the sort's time or the filter's due date."""
        pairs = [(self.fts_condition, self.fts_probe), (self.tag_condition, self.tag_probe)]
        if columns:
            pairs += self.column_probes
        return self._swap(pairs, fts_condition=None, tag_condition=None)

    def driven_by_matches(self) -> _Spec:
        """This spec with the status, priority and due filters probed, so that the match
        list (search, tags) drives the query and only matching tickets are read. Without
        table statistics SQLite would rather read every ticket of each status."""
        if self.fts_condition is None and self.tag_condition is None:
            return self
        return self._swap(list(self.column_probes))

    def _swap(self, pairs, **changes) -> _Spec:
        probes = {id(driving): probe for driving, probe in pairs if driving is not None}
        if not probes:
            return self
        status = self.status_condition
        return dataclasses.replace(
            self,
            conditions=[probes.get(id(c), c) for c in self.conditions],
            status_condition=probes.get(id(status), status) if status is not None else None,
            column_probes=tuple(pair for pair in self.column_probes if id(pair[0]) not in probes),
            **changes,
        )


def _julian(moment: dt.datetime) -> float:
    return moment.timestamp() / 86400.0 + 2440587.5


def _local_midnight(now: dt.datetime, tz: dt.tzinfo, days: int = 0) -> dt.datetime:
    day = now.astimezone(tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.timezone.utc)


def _probed(column):
    """`column` written so that SQLite tests it on each row but drives no index with it
    (a unary + in front of the column)."""
    return literal_column(f"+tickets.{column.key}", type_=column.type)


def due_condition(
    due: str, now: dt.datetime, tz: dt.tzinfo, *, probe: bool = False
) -> ColumnElement[bool]:
    """The SQL condition for a due filter (see DUE_FILTERS; digits mean within N days).

    `probe`: the same test, tested on each row of a walk down the sort's index."""
    due_at = _probed(Ticket.due_at) if probe else Ticket.due_at
    status = _probed(Ticket.status) if probe else Ticket.status
    if due == "none":
        return due_at.is_(None)
    owed = status.in_(OWED_STATUSES)
    if due == "overdue":
        return and_(owed, due_at < now)
    if due == "today":
        end = _local_midnight(now, tz, 1)
    elif due == "week":
        end = _local_midnight(now, tz, 7)  # today and the six days after it
    else:  # within N days: up to the end of the local day N days from today
        end = _local_midnight(now, tz, (_days(due) or 0) + 1)
    # A day's due date runs out at the next midnight (sla.end_of_day): that instant still
    # belongs to the day, hence <=.
    return and_(owed, due_at >= now, due_at <= end)


def _tags_condition(groups: Sequence[Sequence[str]], *, probe: bool = False) -> ColumnElement[bool]:
    """The ticket carries a tag of every group (any within a group; names ignore case).

    The groups are intersected on the (tag, ticket) index before any ticket row is read:
    three times faster than one IN per group at 100,000 tickets. `probe`: the same test
    written so that SQLite walks the sort's index and looks each ticket up in the tagged
    set, rather than read every tagged ticket and sort them (see DRIVE_LIMIT).
    """
    selects = [
        select(ticket_tags.c.ticket_id).where(
            ticket_tags.c.tag_id.in_(select(Tag.id).where(Tag.name.in_(list(names))))
        )
        for names in groups
    ]
    tagged = (selects[0] if len(selects) == 1 else intersect(*selects)).cte("tagged")
    column = literal_column("+tickets.id") if probe else Ticket.id
    return column.in_(select(tagged.c.ticket_id))


def _name_match(column: str, value: str) -> str | None:
    expr = phrase(value, prefix=True)
    return column_filter(column, expr) if expr else None


def _resolve(query: TicketQuery, config: dict, now: dt.datetime, tz: dt.tzinfo) -> _Spec:
    parsed = parse_query(query.q)
    problems = list(parsed.problems)
    keys = priority_keys(config)

    statuses = None
    if query.statuses:
        statuses = set(STATUS_KEYS) if "all" in query.statuses else set(query.statuses)
    typed = set()
    for status in parsed.statuses:
        if status in ("all", "any"):
            typed |= set(STATUS_KEYS)
        elif status in STATUS_KEYS:
            typed.add(status)
        else:
            problems.append(
                f"There is no status {parsed.typed(status)!r}; use one of "
                f"{', '.join(STATUS_KEYS)}, or all."
            )
    if typed:
        # What the user typed in the box is their latest word: it replaces the status boxes
        # (which the page then shows ticked to match) rather than narrowing them to nothing.
        statuses = typed
    if statuses is None:
        statuses = set(ACTIVE_STATUSES)

    conditions: list[ColumnElement[bool]] = []
    status_filter = statuses != set(STATUS_KEYS)
    status_condition = None
    # Filters on the ticket's own columns, each with its probe form (see _Spec.probing).
    column_probes: list[tuple[ColumnElement[bool], ColumnElement[bool]]] = []
    if status_filter:
        shown = sorted(statuses, key=STATUS_KEYS.index)
        status_condition = Ticket.status.in_(shown)
        conditions.append(status_condition)
        column_probes.append((status_condition, _probed(Ticket.status).in_(shown)))

    for prio in parsed.priorities:
        if prio not in keys:
            # Still filter: tickets may keep a priority that config.json no longer lists,
            # and this is how the user finds them to give them another one.
            problems.append(
                f"The priority {parsed.typed(prio)!r} is not in your configuration (it has "
                f"{', '.join(keys)}); showing the tickets that still have it."
            )
    priorities: frozenset[str] | None = None
    for group in (query.priorities, list(parsed.priorities)):
        if group:
            conditions.append(Ticket.priority.in_(group))
            column_probes.append((conditions[-1], _probed(Ticket.priority).in_(group)))
            priorities = frozenset(group) if priorities is None else priorities & set(group)
    simple_count = len(conditions)

    groups = [[tag] for tag in query.tags] if query.tag_mode == "all" else [query.tags]
    groups += [list(group) for group in parsed.tags]
    tag_condition = tag_probe = None
    if any(groups):
        tag_groups = [g for g in groups if g]
        tag_condition = _tags_condition(tag_groups)
        tag_probe = _tags_condition(tag_groups, probe=True)
        conditions.append(tag_condition)

    for due in filter(None, [query.due, parsed.due]):
        conditions.append(due_condition(due, now, tz))
        column_probes.append((conditions[-1], due_condition(due, now, tz, probe=True)))

    matches = [column_filter(TEXT_COLUMNS, parsed.match)] if parsed.match else []
    for fts_column, label, values in (
        ("requester", "requester", [query.requester, *parsed.requesters]),
        ("watchers", "watcher", [query.watcher, *parsed.watchers]),
    ):
        for value in filter(None, values):
            expr = _name_match(fts_column, value)
            if expr is None:
                problems.append(f"The {label} {value!r} has no letters or digits to look for.")
            else:
                matches.append(expr)
    fts_condition = fts_probe = None
    if matches and status_filter:
        # The index knows each ticket's status: filter there instead of reading ticket rows.
        states = " OR ".join(f'"{_state_token(s)}"' for s in sorted(statuses))
        matches.append(column_filter("state", states))
        conditions.remove(status_condition)
        column_probes = [pair for pair in column_probes if pair[0] is not status_condition]
        status_condition = None
    match = and_all(matches)
    if match:
        # A named CTE, not a plain subquery: the urgency sort names the matches once per
        # status and priority, and SQLite then runs the search once instead of each time.
        matched = (
            select(_FTS.c.rowid)
            .where(text("ticket_fts MATCH :fts_match").bindparams(fts_match=match))
            .cte("matched")
        )
        fts_rows = select(matched.c.rowid)
        fts_condition = Ticket.id.in_(fts_rows)
        # "+id" keeps SQLite from driving the query by the matches: the sort's index is
        # walked instead and each id is looked up in the match list (see DRIVE_LIMIT).
        fts_probe = literal_column("+tickets.id").in_(fts_rows)
        conditions.append(fts_condition)

    sort = parsed.sort or query.sort
    if sort and sort not in SORTS:
        problems.append(f"There is no sort {parsed.typed(sort)!r}; use one of {', '.join(SORTS)}.")
        sort = query.sort if query.sort in SORTS else ""
    has_text = parsed.match is not None
    if not sort or (sort == "relevance" and not has_text):
        sort = "relevance" if has_text else DEFAULT_SORT
    order = parsed.order or query.order
    if order not in ("asc", "desc"):
        if order:
            problems.append(f"order must be asc or desc, not {parsed.typed(order)!r}.")
        order = DEFAULT_ORDER[sort]
    return _Spec(
        conditions,
        match,
        has_text,
        sort,
        order == "desc",
        problems,
        frozenset(statuses),
        priorities,
        simple=len(conditions) == simple_count and not match,
        status_condition=status_condition,
        fts_condition=fts_condition,
        fts_probe=fts_probe,
        tag_condition=tag_condition,
        tag_probe=tag_probe,
        column_probes=tuple(column_probes),
    )


# --- sorting: each order is a sequence of groups, each group walks one index ------------------


@dataclass
class _Group:
    """Tickets meeting `where`, in the order of `keys` (the last key is always the id)."""

    where: ColumnElement[bool] | None
    keys: list[Any]
    descending: bool
    # The same condition on a row of ticket_counts: (status, priority, has a due date).
    test: Callable[[str, str, bool], bool] = lambda status, priority, has_due: True


def _groups(spec: _Spec, config: dict) -> list[_Group]:
    desc = spec.descending
    if spec.sort in ("updated", "created"):
        column = Ticket.updated_at if spec.sort == "updated" else Ticket.created_at
        return [_Group(None, [column, Ticket.id], desc)]
    if spec.sort == "due":
        # No due date last, whichever the direction.
        return [
            _Group(Ticket.due_at.is_not(None), [Ticket.due_at, Ticket.id], desc, lambda s, p, d: d),
            _Group(Ticket.due_at.is_(None), [Ticket.id], desc, lambda s, p, d: not d),
        ]
    if spec.sort == "priority":
        keys = priority_keys(config)
        ordered = list(reversed(keys)) if desc else keys
        groups = [
            _Group(Ticket.priority == key, [Ticket.id], desc, lambda s, p, d, k=key: p == k)
            for key in ordered
        ]
        # A priority no longer in the configuration sorts last (issue 4).
        unknown = _Group(
            Ticket.priority.not_in(keys), [Ticket.id], desc, lambda s, p, d: p not in keys
        )
        return [*groups, unknown]
    raise AssertionError(spec.sort)


def _apply_order(stmt, keys: list[Any], descending: bool):
    return stmt.order_by(*[k.desc() if descending else k.asc() for k in keys])


def _count(session: Session, spec: _Spec, group: _Group | None = None) -> int:
    """How many tickets meet `spec` (and `group`), reading as little as possible.

    Filtered by status and priority only (the default list): from ticket_counts, a few
    dozen rows kept by triggers, whatever the backlog. A search with at most a status
    filter: the full-text index alone. Otherwise a count over the narrowest index SQLite
    finds. (Counts per group are only needed on pages that start past a group.)
    """
    if spec.simple:
        total = 0
        for status, priority, has_due, n in session.execute(text(_COUNTS_SQL)):
            if status not in spec.statuses:
                continue
            if spec.priorities is not None and priority not in spec.priorities:
                continue
            if group is None or group.test(status, priority, bool(has_due)):
                total += n
        return total
    if spec.fts_only and group is None:
        stmt = select(func.count()).select_from(_FTS).where(_match_clause(spec.match))
        return session.scalar(stmt) or 0
    where = [] if group is None or group.where is None else [group.where]
    stmt = select(func.count()).select_from(Ticket).where(*spec.conditions, *where)
    return session.scalar(stmt) or 0


def _match_clause(match: str | None):
    return text("ticket_fts MATCH :page_match").bindparams(page_match=match)


def _walk_groups(
    session: Session, spec: _Spec, counting: _Spec, groups: list[_Group], offset: int, limit: int
) -> list[int]:
    """Fill the page from each group in turn, each down its own index."""
    ids: list[int] = []
    skip = offset
    for group in groups:
        if len(ids) >= limit:
            break
        stmt = select(Ticket.id).where(*spec.conditions)
        if group.where is not None:
            stmt = stmt.where(group.where)
        stmt = _apply_order(stmt, group.keys, group.descending)
        rows = list(session.scalars(stmt.limit(limit - len(ids)).offset(skip)))
        ids.extend(rows)
        if skip:  # the page starts in a later group: skip what this one holds
            skip = 0 if rows else skip - _count(session, counting, group)
    return ids


def _urgency_page(
    session: Session,
    spec: _Spec,
    counting: _Spec,
    config: dict,
    now: dt.datetime,
    offset: int,
    limit: int,
) -> list[int]:
    """SLA urgency order (as sla.py computes it) without computing it for the whole backlog.

    Urgency is the share of the SLA used up: with a due date, 1 - (due - now) / window;
    without one, the SLA clock's age over the priority's target (an unknown priority gets
    the default's target). The clock starts at creation and, with `pause_on_hold`, stops
    while the ticket is on hold. Resolved, closed and cancelled tickets are not urgent and
    follow, by id. Sorting uses urgency before it is capped at 1, so the most overdue come
    first, and breaks ties by id.

    Within each class (status, and due date or priority) urgency falls as the due date or
    the clock start grows, so each class is walked in index order, LIMIT page end, all in
    one UNION ALL statement, and the walks are merged here.
    """
    desc = spec.descending
    urgent = Ticket.status.in_(URGENT_STATUSES)
    # Most urgent first: the urgent tier, then the rest by id; ascending is the exact reverse.
    parts = ["urgent", "rest"] if desc else ["rest", "urgent"]
    ids: list[int] = []
    skip = offset
    for part in parts:
        if len(ids) >= limit:
            break
        want = limit - len(ids)
        if part == "rest":
            stmt = select(Ticket.id).where(*spec.conditions, not_(urgent))
            stmt = _apply_order(stmt, [Ticket.id], not desc).limit(want).offset(skip)
            rows = list(session.scalars(stmt))
            if skip and not rows:
                rest = _Group(not_(urgent), [], desc, lambda s, p, d: s not in URGENT_STATUSES)
                skip -= _count(session, counting, rest)
                continue
        else:
            merged = _merge_classes(session, spec, config, now, skip + want, desc)
            rows = merged[skip : skip + want]
            if skip and not rows:
                skip -= len(merged)  # fewer than skip + want: that is the whole tier
                continue
        ids.extend(rows)
        skip = 0
    return ids


@dataclass
class _Class:
    """Tickets of one status whose urgency is a + b * key, walked in key order."""

    status: str
    where: list[ColumnElement[bool]]
    key: Any  # SQL expression: urgency = a + b * key
    a: float
    b: float
    order: Any = None  # what the index holds, in the same order as `key` (default: key)


def _urgency_classes(session: Session, config: dict, now: dt.datetime) -> list[_Class]:
    sla = config["sla"]
    jnow = _julian(now)
    window_days = float(sla["due_window_hours"]) / 24.0
    keys = priority_keys(config)
    default_target = priority_target_hours(config, config["default_priority"])
    targets = {key: priority_target_hours(config, key) for key in keys}
    # Priorities no longer configured still sort, with the default's target (sla.py).
    for (priority,) in session.execute(text(_PRIORITIES_SQL)):
        targets.setdefault(priority, default_target)
    classes = []
    for status in URGENT_STATUSES:
        # Due date: urgency = 1 - (due - now) / window.
        due = func.julianday(Ticket.due_at)
        where = [Ticket.status == status, Ticket.due_at.is_not(None)]
        classes.append(
            _Class(status, where, due, 1.0 + jnow / window_days, -1.0 / window_days, Ticket.due_at)
        )
        # No due date: urgency = (now - clock start) / target.
        clock, clock_now = _CLOCK_START, jnow
        if not sla["pause_on_hold"]:
            clock = func.julianday(Ticket.created_at)  # no index: only with the switch off
        elif status == "on_hold":
            # The clock stands still: urgency = (hold start - clock start) / target.
            clock, clock_now = _HOLD_CLOCK, 0.0
        for priority, target_hours in targets.items():
            target_days = target_hours / 24.0
            where = [
                Ticket.status == status,
                Ticket.due_at.is_(None),
                Ticket.priority == priority,
            ]
            classes.append(
                _Class(status, where, clock, clock_now / target_days, -1.0 / target_days)
            )
    return classes


def _merge_classes(
    session: Session, spec: _Spec, config: dict, now: dt.datetime, need: int, desc: bool
) -> list[int]:
    """The first `need` urgent tickets, in urgency order."""
    classes = [c for c in _urgency_classes(session, config, now) if c.status in spec.statuses]
    # Each class fixes the status itself; the status filter beside it (status IN ...) made
    # SQLite sort some walks instead of following the index.
    conditions = [c for c in spec.conditions if c is not spec.status_condition]
    arms = []
    for index, cls in enumerate(classes):
        # Each arm walks an index with equality on its leading columns: no sorting.
        arm = select(literal(index).label("c"), Ticket.id.label("i"), cls.key.label("k")).where(
            *conditions, *cls.where
        )
        order = cls.order if cls.order is not None else cls.key
        arm = _apply_order(arm, [order, Ticket.id], not desc).limit(need)
        arms.append(select(arm.subquery()))
    if not arms:
        return []
    walks: list[list[tuple[float, int]]] = [[] for _ in classes]
    for index, ticket_id, key in session.execute(union_all(*arms)):
        cls = classes[index]
        urgency = cls.a + cls.b * key if key is not None else 0.0
        walks[index].append((urgency, ticket_id))
    if desc:  # urgency high to low, ties by id ascending
        merged = heapq.merge(*walks, key=lambda item: (-item[0], item[1]))
    else:
        merged = heapq.merge(*walks, key=lambda item: (item[0], -item[1]))
    return [tid for _, tid in itertools.islice(merged, need)]


def _relevance_page(session: Session, spec: _Spec, offset: int, limit: int) -> list[int]:
    # bm25 is lower for better matches.
    if spec.fts_only:  # the index alone: no ticket row is read
        rank, rowid = _FTS.c.rank, _FTS.c.rowid
        stmt = select(rowid).where(_match_clause(spec.match))
    else:  # the join does the matching (an IN list as well would run the search twice)
        others = [c for c in spec.conditions if c is not spec.fts_condition]
        rank, rowid = _FTS.c.rank, Ticket.id
        stmt = (
            select(Ticket.id)
            .join(_FTS, _FTS.c.rowid == Ticket.id)
            .where(*others, _match_clause(spec.match))
        )
    order = [rank.desc(), rowid.desc()] if not spec.descending else [rank, rowid]
    return list(session.scalars(stmt.order_by(*order).limit(limit).offset(offset)))


def list_tickets(
    session: Session,
    query: TicketQuery,
    *,
    config: dict,
    now: dt.datetime | None = None,
    tz: dt.tzinfo | None = None,
    full: bool = True,
) -> TicketPage:
    """One page of the ticket list for `query`, with the total and anything to tell the user.

    `full` loads what the API shows of each ticket; the list page needs less."""
    now = now or dt.datetime.now(dt.timezone.utc)
    tz = tz or now.astimezone().tzinfo or dt.timezone.utc
    query.check()
    spec = _resolve(query, config, now, tz)
    offset, limit = (query.page - 1) * query.per_page, query.per_page
    counting = spec.driven_by_matches()
    total = _count(session, counting)
    notice = ""
    if spec.sort == "relevance" and total > RANK_LIMIT:
        notice = (
            f"{total:,} tickets match: too many to rank by relevance, so the most recently "
            "updated come first. Add words or filters to narrow the search."
        )
        spec = dataclasses.replace(spec, sort="updated", descending=True)
    # Many matches: walk the sort's index and look each id up in the matches, rather than
    # read every matching ticket and sort them.
    if total > DRIVE_LIMIT:
        walking = spec.probing(columns=spec.sort in ("updated", "created"))
    else:  # few matches: read them all (by the match list, if any) and sort them
        walking = spec if spec.sort == "urgency" else counting
    if spec.sort == "relevance":
        ids = _relevance_page(session, spec, offset, limit)
    elif spec.sort == "urgency":
        ids = _urgency_page(session, walking, counting, config, now, offset, limit)
    else:
        ids = _walk_groups(session, walking, counting, _groups(spec, config), offset, limit)
    return TicketPage(
        items=load_tickets(session, ids, full=full),
        total=total,
        page=query.page,
        per_page=query.per_page,
        sort=spec.sort,
        order="desc" if spec.descending else "asc",
        text=parse_query(query.q).text,
        problems=spec.problems,
        notice=notice,
        statuses=[s for s in STATUS_KEYS if s in spec.statuses],
    )


def load_tickets(session: Session, ids: list[int], *, full: bool = True) -> list[ListRow]:
    """The tickets with these ids, in this order, as plain rows (not ORM objects: building
    50 tracked tickets with their collections cost a page more than its queries).

    `full`: everything the API's list shows (TicketRow); else what the list page shows."""
    if not ids:
        return []
    cls = TicketRow if full else ListRow
    columns = _FULL_COLUMNS if full else _ROW_COLUMNS
    by_id: dict[int, Any] = {
        row.id: cls(**row._asdict())
        for row in session.execute(select(*columns).where(Ticket.id.in_(ids)))
    }
    tagged = (
        select(ticket_tags.c.ticket_id, Tag.name)
        .join(Tag, Tag.id == ticket_tags.c.tag_id)
        .where(ticket_tags.c.ticket_id.in_(ids))
        .order_by(Tag.name)  # as Ticket.tags
    )
    for ticket_id, name in session.execute(tagged):
        by_id[ticket_id].tag_names.append(name)
    if full:
        watchers = (
            select(Watcher.ticket_id, Watcher.name)
            .where(Watcher.ticket_id.in_(ids))
            .order_by(Watcher.position, Watcher.id)  # as Ticket.watchers
        )
        for ticket_id, name in session.execute(watchers):
            by_id[ticket_id].watcher_names.append(name)
        # The ticket's own links, not its notes' (filtered here: "update_id IS NULL" in SQL
        # made SQLite walk every ticket-level link of the backlog in the update_id index).
        links = (
            select(Link.ticket_id, Link.update_id, Link.url, Link.title)
            .where(Link.ticket_id.in_(ids))
            .order_by(Link.id)  # as Ticket.links
        )
        for link in session.execute(links):
            if link.update_id is None:
                by_id[link.ticket_id].links.append(link)
        files = (
            select(*_ATTACHMENT_COLUMNS)
            .where(Attachment.ticket_id.in_(ids), Attachment.removed_at.is_(None))
            .order_by(Attachment.id)  # as Ticket.attachments
        )
        for attachment in session.execute(files):
            by_id[attachment.ticket_id].live_attachments.append(attachment)
    return [by_id[i] for i in ids if i in by_id]


# --- the dashboard strip ------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardCount:
    key: str
    label: str
    count: int
    params: dict[str, str]  # the list filter this count links to


def dashboard(
    session: Session, *, now: dt.datetime | None = None, tz: dt.tzinfo | None = None
) -> list[DashboardCount]:
    """Counts of overdue, due today, due this week, on hold and open tickets (whole list)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    tz = tz or now.astimezone().tzinfo or dt.timezone.utc
    out = []
    for key, label in (("overdue", "Overdue"), ("today", "Due today"), ("week", "Due this week")):
        stmt = select(func.count()).select_from(Ticket).where(due_condition(key, now, tz))
        out.append(DashboardCount(key, label, session.scalar(stmt) or 0, {"due": key}))
    by_status: dict[str, int] = {}
    for status, _priority, _has_due, n in session.execute(text(_COUNTS_SQL)):
        by_status[status] = by_status.get(status, 0) + n
    for status, label in (("on_hold", "On hold"), ("open", "Open")):
        out.append(DashboardCount(status, label, by_status.get(status, 0), {"status": status}))
    return out


class DashboardCache:
    """The dashboard counts, worked out again only when they may have changed.

    Every list page shows them, and counting the overdue and soon-due tickets grows with how
    many there are (about 20 ms a page at 1,000,000 tickets). They can change when a ticket is
    written (this app's commits are counted by `wrote`; another process's writes show in the
    newest updated_at or in ticket_counts) and when the clock passes a due time or midnight:
    the minute is part of the key, so a ticket that falls due is counted within a minute.
    """

    def __init__(self) -> None:
        self._writes = 0
        self._entry: tuple[tuple, list[DashboardCount]] | None = None

    def wrote(self) -> None:
        self._writes += 1

    def clear(self) -> None:
        """Forget the counts: the whole database was replaced (a restore)."""
        self._writes += 1
        self._entry = None

    def counts(
        self, session: Session, *, now: dt.datetime | None = None, tz: dt.tzinfo | None = None
    ) -> list[DashboardCount]:
        now = now or dt.datetime.now(dt.timezone.utc)
        key = (
            self._writes,
            session.scalar(select(func.max(Ticket.updated_at))),
            tuple(tuple(row) for row in session.execute(text(_COUNTS_SQL))),
            now.replace(second=0, microsecond=0),
            tz,
        )
        entry = self._entry
        if entry is not None and entry[0] == key:
            return entry[1]
        counts = dashboard(session, now=now, tz=tz)
        self._entry = (key, counts)
        return counts
