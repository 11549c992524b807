"""Sign up (and its emailed confirmation), sign in, sign out."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from models import signups
from models.accounts import User, normalize_email, password_problem
from models.base import db
from models.text import name_problem
from views.common import safe_next
from views.limits import attempts_limit, limiter, per_address

bp = Blueprint("auth", __name__)


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(attempts_limit, methods=["POST"])
@limiter.limit(attempts_limit, methods=["POST"], key_func=per_address("signup"))
def signup():
    """Create a team and its owner: at once on an empty instance, else through an emailed
    link. The answer never says whether the address has an account (models/signups.py)."""
    if current_user.is_authenticated:
        return redirect(url_for("sequences.index"))
    errors, form = {}, request.form
    if request.method == "POST":
        email = normalize_email(form.get("email", ""))
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            errors["email"] = "Enter your email address."
        problem = password_problem(form.get("password", ""))
        if problem:
            errors["password"] = problem
        for field, what in (("name", "name"), ("team_name", "team name")):
            problem = name_problem(form.get(field, "").strip(), what)
            if problem:
                errors[field] = problem
        if not errors and signups.opens_at_once():
            with db.atomic():
                user = User.sign_up(email, form["password"], form.get("name", ""),
                                    form.get("team_name", ""))
            login_user(user)
            flash("Welcome to Tether. Connect a mailbox to start.", "success")
            return redirect(url_for("settings.email_accounts"))
        if not errors:
            from tasks.signups import email_sign_up_attempt, email_sign_up_link

            kind, row_id = signups.start(email, form["password"], form.get("name", ""),
                                         form.get("team_name", ""))
            if kind == "confirm":
                email_sign_up_link(row_id)
            else:
                email_sign_up_attempt(row_id)
            return render_template("auth/signup_sent.html", email=email)
    return render_template("auth/signup.html", errors=errors, form=form), 422 if errors else 200


_LINK_PROBLEMS = {
    "invalid": (404, "This link is not valid. Copy the whole link from the email, or sign up "
                     "again for a new one."),
    "expired": (410, "This link has expired. Sign up again to get a new one."),
    "used": (410, "This link was used already, or it has expired. Sign in, or sign up again "
                  "for a new link."),
    "taken": (410, "This address has a Tether account already. Sign in instead."),
}


@bp.route("/signup/confirm", methods=["GET", "POST"])
@limiter.limit(attempts_limit, methods=["POST"])
def confirm_signup():
    """The emailed link: type the password chosen at sign-up, and the team is created."""
    token = request.values.get("token", "")
    pending, problem = signups.read_link(token)
    errors = {}
    if pending is not None and request.method == "POST":
        user, problem = signups.complete(pending, request.form.get("password", ""))
        if problem == "password":
            errors["password"] = "That is not the password you chose when you signed up."
            problem = None
        elif user is not None:
            if current_user.is_authenticated:
                logout_user()
            login_user(user)
            flash("Welcome to Tether. Connect a mailbox to start.", "success")
            return redirect(url_for("settings.email_accounts"))
    if problem:
        code, reason = _LINK_PROBLEMS[problem]
        return render_template("auth/signup_link_invalid.html", reason=reason), code
    return (render_template("auth/signup_confirm.html", pending=pending, token=token,
                            errors=errors), 422 if errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(attempts_limit, methods=["POST"])
@limiter.limit(attempts_limit, methods=["POST"], key_func=per_address("login"))
def login():
    """Sign in. The error never says whether the address has an account."""
    next_url = safe_next(request.values.get("next"), url_for("sequences.index"))
    if current_user.is_authenticated:
        return redirect(next_url)
    error = None
    if request.method == "POST":
        user = User.authenticate(request.form.get("email", ""), request.form.get("password", ""))
        if user:
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(next_url)
        error = "That email and password don't match an account."
    return (render_template("auth/login.html", error=error, next_url=next_url,
                            email=request.form.get("email", "")), 401 if error else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out (POST only: a link or image must not sign anyone out).

    The session generation is per person, so this ends their other sessions too: a copy of
    this browser's cookies must stop working, and the server cannot tell a copy from another
    device."""
    current_user.end_sessions()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def stay_signed_in(user) -> None:
    """Keep this browser signed in after its person's sessions ended (a password change),
    with its "Keep me signed in" cookie renewed if it had one."""
    remembered = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
    login_user(user, remember=remembered)
