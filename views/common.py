"""What every view shares: page-or-partial rendering, team scoping, safe redirects, roles."""

import functools
from urllib.parse import urljoin, urlsplit

from flask import abort, g, render_template, request
from flask_login import current_user

from views.extensions import htmx


def wants_partial() -> bool:
    """An htmx request that swaps part of a page — not a boosted navigation or a history
    restore, which both need the whole page."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(page: str, partial: str | None = None, **context):
    """The full page for a normal request, its partial for an htmx one. The page template
    includes the partial, so both show the same markup."""
    g.varies_on_htmx = True  # caches and back/forward must tell the two answers apart
    if partial and wants_partial():
        return render_template(partial, **context)
    return render_template(page, **context)


def team_object_or_404(model, object_id):
    """`model` row `object_id` if it belongs to the current user's team; otherwise 404, so
    another team's object is indistinguishable from one that does not exist."""
    from views.inputs import object_id as parse_id

    object_id = parse_id(object_id)
    if object_id is None:
        abort(404)
    obj = model.get_or_none((model.id == object_id) & (model.team == current_user.team_id))
    if obj is None:
        abort(404)
    return obj


def step_or_404(sequence, step_id):
    """A step of `sequence` (one already checked to be the team's); otherwise 404."""
    from models.sequences import SequenceStep

    step = SequenceStep.get_or_none((SequenceStep.id == step_id)
                                    & (SequenceStep.sequence == sequence))
    if step is None:
        abort(404)
    return step


def admin_required(view):
    """Owners and admins only; members get 403 (the object is theirs to see, not to change)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str) -> str:
    """`target` if it stays on this site (a path, no scheme or host), else `default`."""
    if not target:
        return default
    target = target.strip()
    if target.startswith(("//", "\\")) or "\\" in target:
        return default
    parts = urlsplit(urljoin(request.host_url, target))
    if parts.scheme not in ("http", "https") or parts.netloc != urlsplit(request.host_url).netloc:
        return default
    if not target.startswith("/"):
        return default
    return target


def can_manage(mailbox) -> bool:
    """Whether the signed-in person manages `mailbox` (Mailbox.managed_by says who does)."""
    return mailbox.managed_by(current_user)


def providers():
    """The providers this deployment offers (the process's mail.providers catalog)."""
    from mail import providers as catalog

    return catalog.current()


def ago(moment) -> str:
    """"2 min ago", by the one clock; for status lines that people skim."""
    import clock

    if moment is None:
        return "never"
    seconds = int((clock.now() - moment).total_seconds())
    if seconds < 45:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return "just now"
