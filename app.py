"""Tether's web app: create_app() binds configuration, extensions, blueprints and CLI."""

import logging
from datetime import timedelta

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

import clock
import commands
import config
import logs
from logs import RedactSecrets
from models import db, init_db
from models.base import refuse_newer_database
from views.extensions import csrf, htmx, login_manager
from views.limits import limiter, storage_uri


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=None)
    settings = config.start(overrides, into=app.config)  # config.current() is app.config now
    logs.setup(settings["LOG_FORMAT"])
    _behind_proxies(app, settings["TRUSTED_PROXIES"])
    secure = settings["BASE_URL"].startswith("https://")
    app.config.update(
        # Its own cookie name: the sandbox on another port of 127.0.0.1 shares the cookie jar.
        SESSION_COOKIE_NAME="tether_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # Strict would drop the cookie on the provider's redirect
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_NAME="tether_remember",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_DURATION=timedelta(days=30),  # a lost laptop stays signed in no longer
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead; a long-open tab still works
        # Flask-WTF's own Referer check (https only) refuses a request without a Referer and
        # knows nothing of BASE_URL; views/origin.py checks Origin/Referer on every scheme.
        WTF_CSRF_SSL_STRICT=False,
        RATELIMIT_STORAGE_URI=storage_uri(settings),  # shared by every web process
        RATELIMIT_HEADERS_ENABLED=True,
        # CSRF reads the form before any view runs: refuse huge uploads (CSV) before that.
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )

    clock.configure(settings["TETHER_CLOCK_FILE"])
    init_db(settings["DATABASE_URL"])
    refuse_newer_database()  # a newer Tether's schema: refuse in words, before reading it
    _check_encryption_keys(settings)

    login_manager.init_app(app)
    from views import access_log, origin

    access_log.register(app)  # first: a request the Origin check refuses is logged too
    origin.register(app)  # before the CSRF check: a foreign page is refused first
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)

    from mail import providers

    providers.use(providers.Catalog(app.config))
    from mail import system_mailer

    system_mailer.warn_if_missing(app.config)  # once per process: notices would wait
    _register_request_hooks(app)
    from views.inputs import IdConverter

    app.url_map.converters["id"] = IdConverter  # before any route uses it
    _register_blueprints(app)
    _register_template_helpers(app)
    _register_errors(app)

    commands.register(app)
    logging.getLogger("werkzeug").addFilter(RedactSecrets())
    return app


def _behind_proxies(app, trusted: int) -> None:
    """Believe the X-Forwarded-For/-Proto/-Host/-Port that the `trusted` proxies in front set
    (each appends to or overwrites what the client sent, so ProxyFix reads the value `trusted`
    hops from the right). Then the client's address (rate limits, access log), the scheme and
    the host (links, the Origin check) are the public ones. None trusted: nothing changes, so a
    client's own X-Forwarded-For is ignored. gunicorn.conf.py makes gunicorn trust no header,
    so this is the one place that decides."""
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted,
                                x_port=trusted)


def _check_encryption_keys(settings):
    """A malformed key, or one the database still uses but the configuration lost, fails
    closed at start, not at the first token read (the worker checks the same)."""
    from models.crypto import open_vault

    open_vault(settings["TETHER_ENCRYPTION_KEYS"])


def _register_request_hooks(app):
    @app.before_request
    def _connect():
        if request.blueprint == "system":  # /healthz, /readyz: answer even without a database
            return
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()

    @app.after_request
    def _security_headers(response):
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        # htmx is vendored, so scripts and styles come only from us. form-action is left
        # open on purpose: Chrome applies it to the redirect to the provider's consent page.
        h.setdefault("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                     "base-uri 'self'; frame-ancestors 'none'")
        if htmx or g.get("varies_on_htmx"):
            response.vary.add("HX-Request")
        return response


def _register_blueprints(app):
    from views import (
        alerts,
        auth,
        contacts,
        health,
        mailboxes,
        notifications,
        oauth,
        preview,
        reconnect_all,
        sequence_move,
        sequences,
        settings,
        signals,
        suppressions,
        system,
        team,
        unsubscribe,
    )

    for module in (auth, settings, mailboxes, oauth, reconnect_all, sequences, sequence_move,
                   preview, contacts, team, notifications, suppressions, unsubscribe, alerts,
                   signals, health, system):
        app.register_blueprint(module.bp)
    csrf.exempt(signals.bp)  # a provider's push: no session, the SET's signature authenticates


def _register_template_helpers(app):
    from flask_login import current_user

    from models import notices
    from models.notifications import Notification
    from views.common import ago

    app.add_template_filter(ago)

    @app.template_global()
    def unread_notifications() -> int:
        return Notification.unread_count(current_user.id) if current_user.is_authenticated else 0

    app.add_template_global(notices.reconnect_token)
    from models import instance

    app.add_template_global(instance.paused_why, "sending_paused")  # the banner, base.html

    @app.template_global()
    def mailer_banner():
        return notices.mailer_banner(current_user)


def _register_errors(app):
    from views import errors

    errors.register(app)

    @app.errorhandler(CSRFError)
    def _csrf_error(e):
        return render_template("errors/error.html", code=403, title="This form has expired",
                               message="Reload the page and try again."), 403  # refused, not malformed

    @app.errorhandler(404)
    def _not_found(e):
        return render_template("errors/error.html", code=404, title="Not found",
                               message="There is nothing here, or it is not yours to see."), 404

    @app.errorhandler(429)
    def _too_many(e):
        return render_template("errors/error.html", code=429, title="Too many attempts",
                               message="Wait a minute, then try again."), 429
