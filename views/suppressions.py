"""Settings → Suppression list: the addresses the team never writes to again. Everyone in the
team sees it, searches it, exports it and adds to it; owners and admins remove entries."""

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_login import current_user, login_required

from models.suppressions import Suppression, add_by_hand, as_csv
from views.common import admin_required, render, team_object_or_404
from views.forms.suppressions import SuppressionForm
from views.inputs import page_number

bp = Blueprint("suppressions", __name__, url_prefix="/settings/suppression-list")
PER_PAGE = 50


def _listing(form, status=200):
    q = request.args.get("q", "").strip()
    page = page_number()
    entries = Suppression.search(current_user.team_id, q)
    return render("suppressions/index.html", "suppressions/_table.html", q=q, form=form,
                  current_page=page, per_page=PER_PAGE, total=entries.count(),
                  entries=list(entries.paginate(page, PER_PAGE))), status


@bp.route("/")
@login_required
def index():
    """The team's list, newest first, with a search and pages."""
    return _listing(SuppressionForm(formdata=None))


@bp.route("/", methods=["POST"])
@login_required
def add():
    """Add an address by hand: it is skipped by every later enrollment and import."""
    form = SuppressionForm()
    if form.validate_on_submit():
        address, problem = add_by_hand(current_user.team_id, form.email.data)
        if address:
            flash(f"{address} is on the suppression list: no sequence of this team will "
                  "write to it.", "success")
            return redirect(url_for("suppressions.index"))
        form.email.errors.append(problem)
    return _listing(form, 422)


@bp.route("/<id:entry_id>/remove", methods=["POST"])
@login_required
@admin_required
def remove(entry_id):
    """Take an address off the list: later enrollments may include it again."""
    entry = team_object_or_404(Suppression, entry_id)
    entry.delete_instance()
    flash(f"{entry.email} is off the suppression list. Sequences it was stopped in stay "
          "stopped; enroll it again to write to it.", "info")
    return redirect(url_for("suppressions.index", q=request.form.get("q") or None))


@bp.route("/export.csv")
@login_required
def export():
    """The whole list as a CSV file."""
    return Response(as_csv(current_user.team_id), mimetype="text/csv",
                    headers={"Content-Disposition":
                             'attachment; filename="suppression-list.csv"',
                             "Cache-Control": "no-store"})
