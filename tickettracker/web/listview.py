"""The list page's rows, worked out in Python once per row.

A template cell that calls a helper or a macro costs a Jinja call per row; at 50 rows and a
dozen cells that was most of the page's rendering time. Here each row is computed once into
plain strings, and what repeats across rows (status badges, labels) once per page.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from ..config import priority_label
from ..search import ListRow
from ..sla import SlaState
from .slastyle import sla_class
from .slaview import sla_of
from .templating import due_text, localtime, tag_filter_url

# A row shows at most this many tag chips, then "+N more" linking to the ticket: a ticket
# with hundreds of tags would otherwise make its row thousands of pixels tall.
MAX_ROW_TAGS = 8


@dataclass(slots=True)
class RowView:
    ticket: ListRow
    sla: SlaState
    sla_class: str
    priority: str
    status_badge: Markup
    due: str
    updated_iso: str
    updated: str
    tags: list[tuple[str, str]]  # (name, URL of the list filtered by it), at most MAX_ROW_TAGS
    more_tags: int  # tags not shown as chips


def row_views(rows: list[ListRow], config: dict, status_badge) -> list[RowView]:
    """`status_badge` is the template macro, called once per status on the page."""
    badges: dict[str, Markup] = {}
    labels: dict[str, str] = {}
    views = []
    for row in rows:
        badge = badges.get(row.status)
        if badge is None:
            badge = badges[row.status] = Markup(status_badge(row.status))
        label = labels.get(row.priority)
        if label is None:
            label = labels[row.priority] = priority_label(config, row.priority)
        sla = sla_of(row)
        names = row.tag_names
        views.append(
            RowView(
                ticket=row,
                sla=sla,
                sla_class=sla_class(sla),
                priority=label,
                status_badge=badge,
                due=due_text(row),
                updated_iso=row.updated_at.isoformat(),
                updated=localtime(row.updated_at),
                tags=[(name, tag_filter_url(name)) for name in names[:MAX_ROW_TAGS]],
                more_tags=max(0, len(names) - MAX_ROW_TAGS),
            )
        )
    return views
