"""Operational endpoints: /healthz (the process is alive) and /readyz (it can do its job)."""

from flask import Blueprint, jsonify

import clock
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
