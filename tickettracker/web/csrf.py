"""Cross-site request forgery: a changing request must prove it comes from our own pages.

The session cookie is SameSite=Strict, but "site" ignores ports: a page served by any other
program on 127.0.0.1 is same-site and its form posts would carry our cookie. So a POST, PUT,
PATCH or DELETE authenticated by the cookie needs one of:

- the CSRF token: the hidden field `csrf_token` that `csrf_field()` puts in every form, or the
  `X-CSRF-Token` header that our scripts send (they read it from
  `<meta name="csrf-token">` in base.html);
- an `Origin` header naming our own origin (or, with no Origin, a `Referer` on it).

The token is an HMAC of the data folder's secret, so it needs no server-side state, survives
restarts, and reveals nothing about the secret. Requests carrying `Authorization: Bearer` are
exempt: a browser cannot add that header to a cross-site request.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from markupsafe import Markup

from . import state
from .auth import LOCAL_HOSTS, refuse

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    """The CSRF token for this data folder; empty for a request that is not let in."""
    if not g.get("auth"):
        return ""
    secret = state().token.encode()
    return hmac.new(secret, b"tickettracker csrf v1", hashlib.sha256).hexdigest()


def csrf_field() -> Markup:
    """The hidden input every POST form carries."""
    token = csrf_token()
    if not token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, token)


def _own_origins() -> set[str]:
    port = current_app.config.get("TICKETTRACKER_PORT")
    if port is None:  # not bound (test client): the host the request was sent to
        return {f"http://{request.host.lower()}"}
    return {f"http://{name}:{port}" for name in LOCAL_HOSTS}


def _origin_ok() -> bool:
    origin = request.headers.get("Origin")
    if origin is not None:
        # Our pages send no referrer, which makes browsers send "Origin: null" on their own
        # form posts: that is never a match, those forms carry the token instead.
        return origin.lower() in _own_origins()
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}".lower() in _own_origins()
    return False


def _token_ok() -> bool:
    expected = csrf_token()
    given = request.headers.get(HEADER)
    if given is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # Parses the body the way the view will (files spool to disk), so uploads pass too.
        given = request.form.get(FORM_FIELD)
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def check_csrf() -> Response | None:
    if request.method not in UNSAFE_METHODS or g.get("auth") != "cookie":
        return None
    if _origin_ok() or _token_ok():
        return None
    return refuse(
        403,
        "This change was sent from outside TicketTracker, so it was refused and nothing was "
        "saved. If you sent it from TicketTracker itself, reload the page and try again.",
    )


def init_app(app: Flask) -> None:
    """Register the check; it runs after the access check in auth.py has set `g.auth`."""
    app.before_request(check_csrf)
    app.jinja_env.globals.update(csrf_field=csrf_field, csrf_token=csrf_token)
