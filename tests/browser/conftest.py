"""Real Chromium (Debian's, driven by Playwright) against Tether served on a free port."""

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from mail.providers import Catalog
from models import notices

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "screenshots")


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def screenshot(page, name):
    """Keep a picture of what the user saw, for a person to look at (tests/screenshots/)."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def sandbox_at_live_server(app, sandbox, live_server):
    """The sandbox's clients send the browser back to this live server, as in a real install."""
    target = os.environ["TETHER_SANDBOX_CONFIG"]
    shutil.copy(sandbox.folder / "sandbox.json", target)
    saved = dict(app.config)
    app.config.update(SANDBOX_CONFIG=target, BASE_URL=live_server)
    app.extensions["tether_providers"] = Catalog(app.config)
    notices.use_settings(app.config)
    for client in ("google", "microsoft"):
        sandbox.control.set_redirect_uris(client, [live_server + "/oauth/callback"])
    yield sandbox
    app.config.update(saved)
    notices.use_settings(app.config)
