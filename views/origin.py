"""Refuse a state-changing request sent from another site's page: the Origin check.

The CSRF token is the main defence; this one does not depend on it. Browsers send `Origin`
with every cross-site POST, so a request whose `Origin` (or, without one, `Referer`) names
another site is refused before any view runs — over http too, where Flask-WTF never looks.
A request with neither header passes (privacy settings and extensions strip them): the token
still decides.

"Own" means BASE_URL's origin or the request's own (its Host and scheme, as the trusted proxies
tell them: app.py). A refusal is also how a wrong BASE_URL or a proxy that hides the public
Host shows itself, so it logs one line with everything an operator needs, and its page says
what to set.
"""

import logging

from flask import current_app, render_template, request
from werkzeug.exceptions import Forbidden

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


_PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
                  "X-Forwarded-Port", "X-Real-IP", "Forwarded")


class ForeignOrigin(Forbidden):
    """A state-changing request from a page on another site: what it said, what Tether
    expected (BASE_URL's origin) and how the request reached it."""

    def __init__(self, refusal: dict):
        super().__init__()
        self.refusal = refusal


def origin_of(url: str) -> str | None:
    """`url`'s origin as `scheme://host[:port]` (lower case, default port left out), or None
    when it names none — `null`, `about:client`, a typo."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def own_origins() -> set[str]:
    """This request's own host, and the public address (BASE_URL) — behind a TLS proxy the
    browser's origin is https://… while the request reaching Tether says http."""
    return {origin for origin in (origin_of(request.host_url),
                                  origin_of(current_app.config["BASE_URL"])) if origin}


def check_origin() -> None:
    """before_request hook: raise ForeignOrigin for a cross-site state change."""
    if request.method not in STATE_CHANGING:
        return
    if request.blueprint == "unsubscribe":
        return  # RFC 8058's one-click POST comes from mail apps and providers: any origin
    header = "Origin" if "Origin" in request.headers else "Referer"
    sent = request.headers.get(header)
    if sent is None:
        return
    origin = origin_of(sent)
    if origin in own_origins():
        return
    refusal = {"header": header, "sent": origin or repr(sent[:40]),
               "public": origin_of(current_app.config["BASE_URL"]) or "(none)",
               "reached": origin_of(request.host_url) or repr(request.host_url[:60])}
    # One line with what an operator needs to fix a proxy or BASE_URL. Only the origin is
    # logged, never a Referer's path or query (they may carry tokens).
    log.warning("Refused %s %s: its %s is %s, but BASE_URL is %s and the request reached "
                "Tether as %s (%s). From a foreign site this refusal is right; if people do "
                "open Tether at %s, set BASE_URL to it and, behind a proxy, "
                "TETHER_TRUSTED_PROXIES and `proxy_set_header Host $host`.",
                request.method, request.path, header, refusal["sent"], refusal["public"],
                refusal["reached"], _forwarding(), refusal["sent"])
    raise ForeignOrigin(refusal)


def _forwarding() -> str:
    """The Host the request named, and what became of the proxy headers it carried."""
    trusted = current_app.config.get("TRUSTED_PROXIES", 0)
    came = [name for name in _PROXY_HEADERS if name in request.headers]
    said = f"Host: {request.host[:100]}"
    if not came:
        return said + "; no proxy headers"
    verdict = f"trusted from {trusted} proxy(ies)" if trusted else \
        "ignored: TETHER_TRUSTED_PROXIES=0"
    return f"{said}; {', '.join(came)} {verdict}"


def register(app) -> None:
    """Check every request before Flask-WTF's CSRF hook (so register this first), and answer
    a refusal in words."""
    app.before_request(check_origin)
    app.register_error_handler(ForeignOrigin, _refused)


def _refused(error):
    """In words for the person, and for whoever runs Tether what to check: the same page
    answers an attack and a proxy that hides the public address."""
    return render_template("errors/refused_origin.html", **error.refusal), 403
