"""One place that turns domain errors and HTTP errors into pages or JSON."""

from __future__ import annotations

from flask import Flask, Response, current_app, render_template
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from . import log
from .auth import wants_json

CRASH_MESSAGE = (
    "Something went wrong inside TicketTracker and your last action was not saved. "
    "The details are in the log file in the data folder."
)
CRASH_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>TicketTracker</title>'
    f"</head><body><h1>Something went wrong</h1><p>{CRASH_MESSAGE}</p></body></html>"
)


def _error(
    status: int, message: str, field: str | None = None, more: list[DomainError] = ()
) -> Response:
    if wants_json():
        body = {"error": message, "field": field}
        if more:  # every problem, the first one included
            body["errors"] = [{"error": message, "field": field}] + [
                {"error": p.message, "field": p.field} for p in more
            ]
        resp = current_app.json.response(body)
        resp.status_code = status
        return resp
    return Response(render_template("error.html", status=status, message=message), status)


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        return _error(exc.status, exc.message, exc.field, exc.more)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code is not None and exc.code < 400:  # routing redirects
            return exc.get_response()
        messages = {
            404: "There is nothing at this address.",
            405: "This address does not accept that kind of request.",
            413: "That upload is too large.",
        }
        return _error(exc.code or 500, messages.get(exc.code or 500, exc.description or ""))

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        # The traceback goes to <data>/logs/tickettracker.log only, never to the screen.
        log.exception("Unhandled error")
        try:
            return _error(500, CRASH_MESSAGE)
        except Exception:  # the error page itself failed (a broken template, say)
            log.exception("The error page could not be shown")
            return Response(CRASH_PAGE, 500, mimetype="text/html")
