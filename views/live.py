"""Live pages: one poll per page that answers "nothing changed" (204, no body) in one query.

A live partial carries the team's change counter it was rendered at; htmx re-requests the same
URL every few seconds with `since=<counter>`. Until the counter moves the answer is a bodiless
204, which htmx does not swap. Relative times ("2 min ago") are re-rendered once a minute.
"""

import functools
import time

from flask import render_template, request
from flask_login import current_user

from models import changes
from views.common import render, wants_partial

POLL_SECONDS = 3
STALE_AFTER_SECONDS = 60


def unchanged() -> bool:
    """True when this request is a live poll and nothing the page shows has changed."""
    since, rendered_at = request.args.get("since"), request.args.get("rendered_at", "0")
    if since is None or not since.isdigit():
        return False
    try:
        fresh = time.time() - float(rendered_at) < STALE_AFTER_SECONDS
    except ValueError:
        fresh = False
    return fresh and int(since) == changes.version(current_user.team_id)


def live_page(view):
    """Answer a poll that finds nothing new before the view runs any of its queries."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if unchanged():
            return "", 204
        return view(*args, **kwargs)

    return wrapper


def render_live(page: str, partial: str, **context):
    """The page, or its partial for htmx, or 204 when a poll finds nothing new."""
    if unchanged():
        return "", 204
    context.setdefault("live_version", changes.version(current_user.team_id))
    context.setdefault("live_rendered_at", int(time.time()))
    context.setdefault("live_every", POLL_SECONDS)
    response = render(page, partial, **context)
    if wants_partial():  # the bell rides along out of band: still one poll per page
        response += render_template("notifications/_bell.html", oob=True)
    return response
