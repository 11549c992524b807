"""The unsubscribe link of every outreach email (RFC 8058): /u/<token>.

It is for the people Tether writes to, not for Tether's users: no sign-in, no session cookie,
no CSRF token and no Origin check (a mail provider's one-click POST comes from its servers and
carries none of them; views/origin.py lets this blueprint through). A GET only asks to confirm
— link scanners and previews fetch links, and must unsubscribe nobody; a POST unsubscribes, as
the confirm button or a mail app's one-click ("List-Unsubscribe=One-Click", form-encoded or
multipart) sends it, and is idempotent. The token is checked before anything is read or
written: a forged or damaged one gets a page saying so, and changes nothing.
"""

from flask import Blueprint, render_template, request

from models.accounts import Team
from models.suppressions import LINK, ONE_CLICK
from models.unsubscribes import read_token, unsubscribe
from views.extensions import csrf

bp = Blueprint("unsubscribe", __name__)
csrf.exempt(bp)


@bp.route("/u/<token>", methods=["GET", "POST"])
def link(token):
    """Confirm (GET), or unsubscribe the address the token names from its team (POST)."""
    found = read_token(token)
    if found is None:
        return _page("unsubscribe/invalid.html", status=400)
    team = Team.get_by_id(found.team_id)
    if request.method == "GET":
        return _page("unsubscribe/confirm.html", address=found.email, team=team, token=token)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    unsubscribe(found.team_id, found.email, ONE_CLICK if one_click else LINK)
    return _page("unsubscribe/done.html", address=found.email, team=team)


def _page(template, status=200, **context):
    # no-referrer: the token must not leak to whatever the page links to.
    return (render_template(template, **context), status,
            {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
             "X-Robots-Tag": "noindex"})
