"""Access: only the user who holds the data folder's token gets in (see ARCHITECTURE.md)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

from flask import Flask, Response, current_app, g, redirect, render_template, request

from . import state

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def app_path(target: str) -> str:
    """`target` if it is a path inside this app, else "/": never a way out to another site.

    Browsers drop tabs and line breaks from addresses and read a backslash as a slash, so
    "/<tab>/evil.example" or "/\\evil.example" would otherwise become "//evil.example".
    """
    unsafe = any(ch < " " or ch in "\x7f\\" for ch in target)
    if unsafe or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def cookie_name(token: str) -> str:
    # Cookies ignore ports, so two data folders open at once need distinct cookie names.
    return "tt_" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _token_ok(candidate: str | None, token: str) -> bool:
    return bool(candidate) and hmac.compare_digest(candidate.encode(), token.encode())


def _host_ok() -> bool:
    # The raw header, not request.host: with no Host header that falls back to the server's
    # own name. A page on another name that resolves to 127.0.0.1 (DNS rebinding) sends that
    # name here and is refused.
    host = request.headers.get("Host", "").strip().lower()
    port = current_app.config.get("TICKETTRACKER_PORT")
    if port is None:  # not bound to a port (test client): any port on a local name
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        return name in LOCAL_HOSTS
    return host in {f"{name}:{port}" for name in LOCAL_HOSTS}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def refuse(status: int, message: str) -> Response:
    """A 401/403 answer: the message only, no data and no details."""
    if wants_json():
        resp = current_app.json.response({"error": message, "field": None})
        resp.status_code = status
    else:
        resp = Response(render_template("denied.html", message=message), status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="TicketTracker"'
    return resp


def check_access() -> Response | None:
    """Let in the holder of the token; set `g.auth` to how they proved it (bearer or cookie)."""
    g.auth = None
    if not _host_ok():
        return refuse(
            403,
            "This address is not TicketTracker's own. Open the app from the tickettracker "
            "command, which opens http://127.0.0.1:PORT/.",
        )
    if request.path.startswith("/static/"):
        return None
    token = state().token
    given = request.args.get("token")
    if given is not None and request.method == "GET":
        if not _token_ok(given, token):
            return refuse(403, "That link's access token is not valid for this data folder.")
        args = {k: v for k, v in request.args.items(multi=True) if k != "token"}
        # The path as it came in, re-quoted (a decoded tab or backslash could turn it into
        # "//host/..."), with one leading slash: the browser stays on this site.
        path = "/" + quote(request.path.lstrip("/"))
        clean = app_path(path) + ("?" + urlencode(args) if args else "")
        resp = redirect(clean, code=303)
        resp.set_cookie(
            cookie_name(token), token, httponly=True, samesite="Strict", path="/", secure=False
        )
        return resp
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and _token_ok(auth[7:].strip(), token):
        g.auth = "bearer"
        return None
    if _token_ok(request.cookies.get(cookie_name(token)), token):
        g.auth = "cookie"
        return None
    return refuse(
        401,
        "TicketTracker only opens for the person who started it. Run the tickettracker command "
        "(or its desktop launcher) to open it; scripts send the token from the data folder as "
        "'Authorization: Bearer TOKEN'.",
    )


def init_app(app: Flask) -> None:
    app.before_request(check_access)
