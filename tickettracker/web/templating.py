"""Jinja filters and globals: local times, status and priority labels."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote_plus

from flask import Flask, g, request, url_for

from ..config import hold_reasons, priority_keys, priority_label
from ..fields import link_href
from ..workflow import STATUSES, allowed_transitions
from . import state


def localtime(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return moment.astimezone().strftime(fmt)


def due_text(ticket) -> str:
    if ticket.due_date is not None:
        return ticket.due_date.isoformat()
    if ticket.due_at is not None:
        return localtime(ticket.due_at)
    return ""


def due_value(value: str | None) -> str:
    """A due date as the update log stores it ("YYYY-MM-DD" or ISO with offset), shown local."""
    if not value or "T" not in value:
        return value or ""
    try:
        return localtime(dt.datetime.fromisoformat(value))
    except ValueError:
        return value


def url_with(**changes) -> str:
    """The current page's URL with some query parameters changed (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [value]
    return url_for(request.endpoint or "pages.index", **(request.view_args or {}), **args)


_TAG_SLOT = "TAGSLOT0x7f"


def tag_filter_url(name: str) -> str:
    """The current list URL filtered by tag `name` instead (other filters kept).

    Built once per request and filled in per chip: url_for per chip cost a list page of 50
    rows several milliseconds.
    """
    base = g.get("_tag_filter_url")
    if base is None:
        base = g._tag_filter_url = url_with(tag=_TAG_SLOT, tag_mode=None, page=None)
    return base.replace(_TAG_SLOT, quote_plus(name))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["due_value"] = due_value
    app.jinja_env.filters["link_line"] = lambda link: f"{link.url} {link.title}".strip()
    app.jinja_env.filters["link_href"] = link_href
    app.jinja_env.globals.update(
        STATUSES=STATUSES,
        allowed_transitions=allowed_transitions,
        due_text=due_text,
        url_with=url_with,
        tag_filter_url=tag_filter_url,
    )

    @app.context_processor
    def config_helpers():
        cfg = state().config
        theme = request.cookies.get("tt_theme", "system")
        return {
            "theme": theme if theme in ("dark", "light") else "system",
            "cfg": cfg,
            "priority_label": lambda key: priority_label(cfg, key),
            "priority_keys": priority_keys(cfg),
            "hold_reasons": hold_reasons(cfg),
            "config_problems": state().loaded.problems,
        }
