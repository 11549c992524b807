"""Operational endpoints: /healthz for load balancers and monitoring."""

from flask import Blueprint, jsonify

import clock
from models.base import db

bp = Blueprint("system", __name__)


@bp.route("/healthz")
def healthz():
    """Up, and the database answers. Also tells the time the app's clock reads."""
    try:
        db.execute_sql("SELECT 1")
        ok = True
    except Exception:  # any database failure means unhealthy
        ok = False
    return jsonify(ok=ok, now=clock.now().isoformat()), 200 if ok else 503
