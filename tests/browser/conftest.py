"""Tether served on a free port for Chromium (the browser itself: tests/chromium_fixtures.py)."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from mail import providers
from mail.providers import Catalog
from tests.chromium_fixtures import screenshot  # noqa: F401 — the browser tests import it from here


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def sandbox_at_live_server(app, sandbox, live_server):
    """The sandbox's clients send the browser back to this live server, as in a real install."""
    target = os.environ["TETHER_SANDBOX_CONFIG"]
    shutil.copy(sandbox.folder / "sandbox.json", target)
    saved = dict(app.config)
    app.config.update(SANDBOX_CONFIG=target, BASE_URL=live_server)
    providers.use(Catalog(app.config))
    for client in ("google", "microsoft"):
        sandbox.control.set_redirect_uris(client, [live_server + "/oauth/callback"])
    yield sandbox
    app.config.update(saved)
