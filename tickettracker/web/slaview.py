"""SLA colours and the configuration in the web app: /sla.css, /settings, GET /api/v1/config."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, url_for
from sqlalchemy.orm import Session

from ..config import DEFAULTS_SOURCE, Problem, load_defaults, problems_for_unknown_priorities
from ..sla import SlaState, compute_sla
from ..tickets import priority_usage
from . import get_session, state
from .slastyle import sla_class, stylesheet

bp = Blueprint("sla", __name__)


@dataclass
class SlaWeb:
    """What this module keeps per app: the colour stylesheet and the problems found at start."""

    css: str
    digest: str
    startup_problems: list[Problem] = field(default_factory=list)


def _web() -> SlaWeb:
    return current_app.extensions["tickettracker.sla"]


def request_now() -> dt.datetime:
    """One `now` per request, so every ticket on a page is judged at the same moment."""
    if "sla_now" not in g:
        g.sla_now = dt.datetime.now(dt.timezone.utc)
    return g.sla_now


def sla_of(ticket: Any) -> SlaState:
    """The ticket's SLA state now, by the running configuration."""
    return compute_sla(ticket, request_now(), state().config)


def sla_json(ticket: Any) -> dict[str, Any]:
    """The API's `sla` object for a ticket."""
    return sla_of(ticket).to_dict()


def _unknown_priority_problems(session: Session) -> list[Problem]:
    st = state()
    file = str(st.loaded.path or "config.json")
    return problems_for_unknown_priorities(st.config, priority_usage(session), file=file)


def current_problems() -> list[Problem]:
    """Problems in the configuration file, plus priorities that tickets use and it lacks."""
    startup = _web().startup_problems
    problems = [p for p in state().loaded.problems if p not in startup]
    return problems + _unknown_priority_problems(get_session())


@bp.get("/sla.css")
def sla_css():
    resp = Response(_web().css, mimetype="text/css")
    # The URL carries a digest of the content (see init_app), so it may be cached for good.
    resp.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return resp


def pretty_json(value: Any, indent: int = 0, width: int = 76) -> str:
    """JSON for people: anything that fits on a line stays on one (a gradient stop, a priority)."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {pretty_json(v, indent + 2, width)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [f"{inner}{pretty_json(v, indent + 2, width)}" for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


@bp.get("/settings")
def settings():
    loaded = state().loaded
    defaults = load_defaults()
    sections = [
        {
            "key": key,
            "json": pretty_json(value),
            "from_user": loaded.sources.get(key, DEFAULTS_SOURCE) != DEFAULTS_SOURCE,
            "is_default": value == defaults.get(key),
        }
        for key, value in loaded.config.items()
    ]
    return render_template(
        "settings.html",
        sections=sections,
        problems=current_problems(),
        config_path=loaded.path,
        config_exists=bool(loaded.path and loaded.path.is_file()),
    )


@bp.get("/api/v1/config")
def api_config():
    return {
        "config": state().config,
        "problems": [p.to_dict() for p in current_problems()],
    }


def init_app(app: Flask) -> None:
    """Register the routes and template helpers; note unknown priorities found at start."""
    st = app.extensions["tickettracker"]
    css = stylesheet(st.config)
    web = SlaWeb(css=css, digest=hashlib.sha256(css.encode()).hexdigest()[:12])
    with st.read_sessions() as session:
        file = str(st.loaded.path or "config.json")
        web.startup_problems = problems_for_unknown_priorities(
            st.config, priority_usage(session), file=file
        )
    # The banner and the CLI show what was found at start; /settings and the API look again.
    st.loaded.problems.extend(web.startup_problems)
    app.extensions["tickettracker.sla"] = web
    app.register_blueprint(bp)

    # Globals, not a context processor: imported macros (_sla.html) see only globals.
    app.jinja_env.globals.update(sla_of=sla_of, sla_class=sla_class)

    @app.context_processor
    def sla_stylesheet() -> dict[str, Any]:
        return {"sla_css_url": url_for("sla.sla_css", v=web.digest)}
