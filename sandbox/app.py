"""The sandbox provider's Flask app: OAuth/OIDC endpoints, the user's pages, the controls."""

import secrets

from flask import Flask, jsonify, redirect, url_for

from sandbox import admin, oauth, pages, signal_api, store, tokens


def create_app(base_url: str) -> Flask:
    """Build the app; ``store.init`` must have opened the database first."""
    app = Flask(__name__)
    with store.db.connection_context():
        secret_key = store.kept_secret("cookie_secret", lambda: secrets.token_urlsafe(32))
    app.config.update(
        SECRET_KEY=secret_key,
        # Its own cookie: cookies are shared across ports of 127.0.0.1, and Tether has its own.
        SESSION_COOKIE_NAME="sandbox_session",
        SANDBOX_BASE_URL=base_url.rstrip("/"),
        JSON_SORT_KEYS=False,
    )

    @app.before_request
    def _connect():
        store.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not store.db.is_closed():
            store.db.close()

    oauth.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(signal_api.bp)

    @app.get("/")
    def index():
        return redirect(url_for("admin.page"))

    @app.get("/error")
    def error_info():
        """Where Microsoft-shaped errors' ``error_uri`` points."""
        return jsonify({"message": "See ../shared/PROVIDERS.md for what each code means."})

    with app.app_context(), store.db.connection_context():
        tokens.signing_key()  # generate (once) before the first request needs it
    return app
