"""Operational endpoints: /healthz (the process is alive), /readyz (it can do its job) and
/metrics (Prometheus' figures, behind a bearer token)."""

import hmac

from flask import Blueprint, Response, abort, jsonify, request
from peewee import PeeweeException
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

import clock
import config
from models import readiness

bp = Blueprint("system", __name__)


@bp.route("/healthz")
def healthz():
    """Alive: answers without touching the database or the queue (and says the time the
    app's clock reads)."""
    return jsonify(ok=True, now=clock.now().isoformat())


@bp.route("/readyz")
def readyz():
    """Ready: the database answers and is migrated, the queue answers, a worker ran its sweep
    in the last 3 minutes, the system mailer is configured, and every stored mailbox secret
    names a configured key. 503 names what is not."""
    from models.crypto import vault
    from models.notices import relay
    from tasks import huey

    checks = [*readiness.database(), readiness.queue(huey), readiness.sweep(),
              readiness.mailer(relay()), readiness.secrets(vault().keys)]
    ok = all(c.ok for c in checks)
    body = {"ok": ok, "checks": {c.name: {"ok": c.ok, **({"reason": c.reason} if c.reason else {})}
                                 for c in checks}}
    return jsonify(body), 200 if ok else 503


@bp.route("/metrics")
def metrics():
    """Prometheus' scrape: not there (404) unless TETHER_METRICS_TOKEN is set, then only for
    `Authorization: Bearer <token>`. A machine asks, so no session and no CSRF token."""
    token = config.current()["METRICS_TOKEN"]
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time: how long a refusal takes tells nothing about the token.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("The metrics token is missing or wrong.\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="tether metrics"'})
    from models.metrics import exposition

    try:
        body = exposition()
    except PeeweeException as e:  # Prometheus records a failed scrape; the reason is for people
        return Response(f"The database cannot be reached: {e}\n", 503,
                        mimetype="text/plain")
    return Response(body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4, "Cache-Control": "no-store"})


@bp.record_once
def _no_csrf_for_scrapers(state):
    state.app.extensions["csrf"].exempt(metrics)
