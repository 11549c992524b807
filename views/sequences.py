"""Sequences: the list with each sequence's toggle (built out in the Sequences issue)."""

from flask import Blueprint, redirect, url_for
from flask_login import login_required

from views.common import render

bp = Blueprint("sequences", __name__)


@bp.route("/")
@login_required
def home():
    return redirect(url_for("sequences.index"))


@bp.route("/sequences")
@login_required
def index():
    """The team's sequences."""
    return render("sequences/index.html")
