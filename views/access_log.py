"""One access line per request, written by the app rather than by gunicorn.

The app knows what gunicorn does not: the client's address as Tether decided it (behind
TETHER_TRUSTED_PROXIES, ProxyFix's answer; otherwise the socket's peer) — the very address the
rate limiter counts. The path is logged without its query, and a `token` in the path is
redacted, so an OAuth code or a link's token never reaches a log.
"""

import logging
import time

from flask import g, request

log = logging.getLogger("tether.access")


def register(app) -> None:
    """Register before every other hook: a request refused by a before_request hook (the
    Origin check) is timed too, and this after_request hook runs last, on the final status
    (Flask runs them in reverse order, error pages included)."""
    app.before_request(_start)
    app.after_request(_log)


def _start():
    g.access_started = time.perf_counter()


def _log(response):
    started = g.get("access_started")
    fields = {"client_ip": request.remote_addr or "-", "method": request.method,
              "path": _path(), "status": response.status_code,
              "bytes": response.content_length,
              "ms": round((time.perf_counter() - started) * 1000) if started else None}
    log.info('%s "%s %s" %s %s %sms', fields["client_ip"], fields["method"], fields["path"],
             fields["status"], _or_dash(fields["bytes"]), _or_dash(fields["ms"]),
             extra={"fields": fields})
    return response


def _or_dash(value) -> str:
    return "-" if value is None else str(value)


def _path() -> str:
    token = (request.view_args or {}).get("token")
    return request.path.replace(token, "[redacted]") if token else request.path
