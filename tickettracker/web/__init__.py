"""The Flask application factory."""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter

from .. import __version__, db
from ..attachments import UploadStore
from ..config import LoadedConfig, ensure_user_config, load_config
from ..datadir import CONFIG_NAME, DB_NAME, ensure_data_dir, load_or_create_token, make_private
from ..search import DashboardCache

log = logging.getLogger("tickettracker")


@dataclass
class AppState:
    """What the running app holds: its data folder, database, configuration and token."""

    data_dir: Path
    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    loaded: LoadedConfig
    token: str
    dashboard: DashboardCache = field(default_factory=DashboardCache)

    @property
    def config(self) -> dict[str, Any]:
        return self.loaded.config


def state() -> AppState:
    from flask import current_app

    return current_app.extensions["tickettracker"]


def get_session() -> Session:
    """The request's database session: one write transaction for POST and friends."""
    if "db" not in g:
        st = state()
        writing = request.method not in ("GET", "HEAD", "OPTIONS")
        g.db = (st.write_sessions if writing else st.read_sessions)()
    return g.db


class RowIdConverter(IntegerConverter):
    """`<int:...>` in our routes: at most 18 digits, a number SQLite's integers can hold.

    A longer number in an address is no ticket or file of ours: the address matches no
    route (404, whatever the method) instead of overflowing deep in the database driver.
    """

    regex = r"\d{1,18}"


class OneLineFormatter(logging.Formatter):
    """Each message stays one line: control characters in it (a %0a or %00 in an address
    someone requested) are written escaped, so no one can forge a line or break the file.
    Tracebacks, appended after the message, keep their lines."""

    _CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = self._CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", record.message)
        return super().formatMessage(record)


def _setup_file_log(data_dir: Path) -> None:
    log_file = data_dir / "logs" / "tickettracker.log"
    for handler in log.handlers:
        if getattr(handler, "baseFilename", None) == str(log_file):
            return
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def create_app(data_dir: Path | str, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app on a data folder (created if needed). `test_config` overrides settings."""
    data_dir = ensure_data_dir(Path(data_dir))
    ensure_user_config(data_dir / CONFIG_NAME)
    loaded = load_config(data_dir / CONFIG_NAME)

    _setup_file_log(data_dir)  # first, so a failed upgrade leaves its details in the log
    db_path = data_dir / DB_NAME
    engine = db.make_engine(db_path)
    try:
        db.init_db(engine, backups_dir=data_dir / "backups")
    except Exception:
        engine.dispose()
        raise
    make_private(db_path)

    app = Flask(__name__.rsplit(".", 1)[0])
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    app.config.update(
        TICKETTRACKER_PORT=None,  # set by the launcher once the server is bound
        MAX_CONTENT_LENGTH=None,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["tickettracker"] = AppState(
        data_dir=data_dir,
        engine=engine,
        read_sessions=db.make_sessionmaker(engine),
        write_sessions=db.make_sessionmaker(engine, write=True),
        loaded=loaded,
        token=app.config.get("TICKETTRACKER_TOKEN") or load_or_create_token(data_dir),
    )
    event.listen(
        app.extensions["tickettracker"].write_sessions,
        "after_commit",
        lambda _session: app.extensions["tickettracker"].dashboard.wrote(),
    )
    # Temp files of uploads cut short by a crash (never of one still arriving: a day old).
    UploadStore(data_dir / "uploads", 0).sweep_temp(dt.datetime.now(dt.timezone.utc))

    from . import api, auth, csrf, dataview, errors, headers, pages, slaview, templating, uploads

    uploads.init_app(app)

    auth.init_app(app)
    csrf.init_app(app)  # after auth: it reads how the request was let in
    templating.init_app(app)
    errors.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(dataview.bp)
    slaview.init_app(app)

    @app.after_request
    def log_request(response):
        # The path only: query strings may carry the access token.
        log.info("%s %s %s", request.method, request.path, response.status_code)
        return response

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    app.wsgi_app = headers.SecurityHeadersMiddleware(app.wsgi_app)
    app.json.sort_keys = False
    app.jinja_env.globals["app_version"] = __version__
    return app
