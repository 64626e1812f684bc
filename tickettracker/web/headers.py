"""Security headers on every response the app sends (issue 7).

Applied as WSGI middleware rather than an after_request hook so that nothing escapes them:
pages, the JSON API, static files, downloads, redirects, the 401/403 refusals and every error
page, including a 500 raised while another error was being handled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# No inline script and no inline style anywhere: scripts and stylesheets come from our own
# static files only (a script that must be inline would go in by its sha256 hash). Images may
# be data:/blob: URLs so that pasted or dropped pictures can be previewed before upload.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)

FIXED_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Other origins (another local web app on a different port counts: cookies ignore ports)
    # may neither embed our responses nor keep a handle on our windows.
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Types that carry the user's data as a page or as JSON: never stored by any cache.
_DATA_TYPES = ("text/html", "application/json")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.I)


def _must_not_store(path: str, content_type: str, disposition: bool, cache: str | None) -> bool:
    if content_type in _DATA_TYPES or disposition:  # pages, API answers, the user's files
        return True
    if path.startswith("/static/"):  # our own CSS, JS and icons: no user data
        return False
    # Anything else is stored only where the view chose a lifetime on purpose (a
    # content-addressed stylesheet built from the configuration, say).
    match = _MAX_AGE.search(cache or "")
    return not (match and int(match.group(1)) > 0)


def security_headers(path: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return `headers` with ours added, replacing any the view set under the same names."""
    names = {name.lower() for name in FIXED_HEADERS}
    out = [(k, v) for k, v in headers if k.lower() not in names]
    out.extend(FIXED_HEADERS.items())

    found = {k.lower(): v for k, v in out}
    disposition = "content-disposition" in found
    if disposition:
        # A download opened directly still runs in a unique, script-less origin.
        out = [(k, f"{v}; sandbox" if k == "Content-Security-Policy" else v) for k, v in out]
    content_type = found.get("content-type", "").split(";")[0].strip().lower()
    if _must_not_store(path, content_type, disposition, found.get("cache-control")):
        out = [(k, v) for k, v in out if k.lower() not in ("cache-control", "expires")]
        out.append(("Cache-Control", "no-store"))
    return out


class SecurityHeadersMiddleware:
    """Wraps the Flask WSGI app and adds `security_headers` to whatever it answers."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")

        def secured_start_response(status, headers, exc_info=None):
            return start_response(status, security_headers(path, headers), exc_info)

        return self.wsgi_app(environ, secured_start_response)
