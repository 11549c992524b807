"""Sign up (and its emailed confirmation), sign in, sign out, reset a forgotten password."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from models import password_reset, signups
from models.accounts import User
from models.base import db
from views.common import safe_next
from views.forms.auth import (
    ConfirmSignupForm,
    ForgotPasswordForm,
    LoginForm,
    ResetPasswordForm,
    SignupForm,
)
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
    if not signups.allowed():
        return _by_invitation()
    form = SignupForm()
    if not form.validate_on_submit():
        return render_template("auth/signup.html", form=form), 422 if form.errors else 200
    fields = (form.email.data, form.password.data, form.name.data, form.team_name.data)
    if signups.opens_at_once():
        with db.atomic():
            user = User.sign_up(*fields)
        login_user(user)
        flash("Welcome to Tether. Connect a mailbox to start.", "success")
        return redirect(url_for("settings.email_accounts"))
    from tasks.signups import email_sign_up_attempt, email_sign_up_link

    kind, row_id = signups.start(*fields)
    if kind == "confirm":
        email_sign_up_link(row_id)
    else:
        email_sign_up_attempt(row_id)
    return render_template("auth/signup_sent.html", email=form.email.data)


def _by_invitation():
    """The answer while sign-up is closed (TETHER_SIGNUP), the same for every request and
    address: nothing is created, nothing is sent, and a POST is refused as such."""
    return (render_template("auth/signup_closed.html"),
            403 if request.method == "POST" else 200)


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
    """The emailed link: type the password chosen at sign-up, and the team is created —
    unless sign-ups closed (TETHER_SIGNUP) since the link was sent."""
    if not signups.allowed():
        return _by_invitation()
    form = ConfirmSignupForm(token=request.args.get("token", ""))
    pending, problem = signups.read_link(form.token.data)
    if pending is not None and form.validate_on_submit():
        user, problem = signups.complete(pending, form.password.data or "")
        if problem == "password":
            form.password.errors.append(
                "That is not the password you chose when you signed up.")
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
    return (render_template("auth/signup_confirm.html", pending=pending, form=form),
            422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(attempts_limit, methods=["POST"])
@limiter.limit(attempts_limit, methods=["POST"], key_func=per_address("login"))
def login():
    """Sign in. The error never says whether the address has an account."""
    form = LoginForm(next=request.args.get("next"))
    next_url = safe_next(form.next.data, url_for("sequences.index"))
    if current_user.is_authenticated:
        return redirect(next_url)
    error = None
    if form.validate_on_submit():
        user = User.authenticate(form.email.data, form.password.data)
        if user:
            login_user(user, remember=form.remember.data)
            return redirect(next_url)
        error = "That email and password don't match an account."
    form.next.data = next_url
    return (render_template("auth/login.html", form=form, error=error,
                            signup_open=signups.allowed()), 401 if error else 200)


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


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(attempts_limit, methods=["POST"])
@limiter.limit(attempts_limit, methods=["POST"], key_func=per_address("reset"))
def forgot_password():
    """Ask for a reset link. The answer is the same whether or not the address has an
    account: the worker decides whether an email goes out (models/password_reset.py)."""
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        return (render_template("auth/forgot_password.html", form=form),
                422 if form.errors else 200)
    from tasks.password_reset import email_password_reset

    email_password_reset(form.email.data)
    return render_template("auth/forgot_password_sent.html")


_RESET_PROBLEMS = {
    "invalid": (404, "This link is not valid. Copy the whole link from the email, or ask for "
                     "a new one."),
    "expired": (410, "This link has expired: it works for an hour. Ask for a new one."),
    "used": (410, "This link was used already, or your password changed since it was sent. "
                  "Sign in, or ask for a new link."),
}


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(attempts_limit, methods=["POST"])
def reset_password():
    """The emailed link: choose a new password (twice). It ends every other session and
    signs this browser in."""
    form = ResetPasswordForm(token=request.args.get("token", ""))
    user, problem = password_reset.read_link(form.token.data)
    if user is not None and form.validate_on_submit():
        if password_reset.reset(user, form.password.data):
            if current_user.is_authenticated:
                logout_user()
            login_user(user)
            flash("Your password is changed, and you are signed out everywhere else.",
                  "success")
            return redirect(url_for("sequences.index"))
        problem = "used"  # another request with the same link got there first
    if problem:
        code, reason = _RESET_PROBLEMS[problem]
        return render_template("auth/reset_link_invalid.html", reason=reason), code
    return (render_template("auth/reset_password.html", user=user, form=form),
            422 if form.errors else 200)
