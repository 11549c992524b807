"""`make run` as a newcomer runs it, on ports that are not the defaults: the demo's reconnect
works through the sandbox, OAuth secrets never reach the logs, and Ctrl-C stops everything
gracefully. (Before, the sandbox registered the worker's honcho port as Tether's address, so
every connect and reconnect ended in "redirect_uri_mismatch".)"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from sandbox.control import SandboxControl, sign_in_and_consent
from tests.chromium_fixtures import screenshot
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.sandbox]

DEMO, DEMO_PW, MAILBOX_PW = "demo@tether.test", "tether-demo", "demo-mailbox-pw"
SAM, ALEX = "sam@contoso.test", "alex@acme.test"


def row_status(session, base_url, email):
    page = session.get(base_url + "/settings/email-accounts", timeout=10).text
    match = re.search(rf'data-mailbox-id="(\d+)" data-status="(\w+)"[^>]*>(?:(?!data-mailbox-id).)*?'
                      rf'{re.escape(email)}', page, re.S)
    return (int(match.group(1)), match.group(2)) if match else None


def test_the_demo_prints_its_address_and_login(product):
    output = product.output()
    assert f"Tether is starting at {product.base_url}/" in output
    assert f"Demo login: {DEMO} / {DEMO_PW}" in output


def test_reconnect_sam_in_chromium_as_the_readme_says(product, page):
    base = product.base_url
    page.goto(base + "/")
    page.get_by_label("Email").fill(DEMO)
    page.get_by_label("Password").fill(DEMO_PW)
    page.get_by_role("button", name="Sign in").click()
    page.goto(base + "/settings/email-accounts")
    sam = page.locator("[data-mailbox-id]", has_text=SAM)
    expect(sam).to_have_attribute("data-status", "reconnect_required", timeout=60_000)
    box_id = sam.get_attribute("data-mailbox-id")

    sam.hover()
    page.locator(f"#reconnect-{box_id}").click()
    expect(page.get_by_text("You'll be asked to sign in to")).to_contain_text(SAM)
    page.get_by_role("button", name=re.compile("Continue to Microsoft")).click()
    expect(page.locator("#email")).to_have_value(SAM)  # the sandbox's sign-in, not an error page
    page.locator("#password").fill(MAILBOX_PW)
    page.get_by_role("button", name="Next").click()
    # Sam consented before: Microsoft (asked to let the person pick the account, not to
    # consent again) sends the browser straight back.
    expect(page.get_by_text(f"Done! {SAM} is connected.")).to_be_visible()
    expect(page.locator(f'[data-mailbox-id="{box_id}"]')).to_have_attribute("data-status", "connected")
    screenshot(page, "make-run-sam-reconnected")
    page.goto(base + "/sequences")
    toggle = page.get_by_role("button", name=re.compile("Contoso follow-up"))
    expect(toggle).to_have_attribute("data-state", "active", timeout=15_000)


def test_connect_a_new_mailbox_and_no_oauth_secret_reaches_any_log(product):
    control = SandboxControl(product.sandbox_url + "/control")
    control.create_user("riley@acme.test", MAILBOX_PW, kind="google")
    http = requests.Session()
    sign_in(http, product.base_url, DEMO, DEMO_PW)
    html = http.get(product.base_url + "/settings/email-accounts/add", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    start = http.post(product.base_url + "/settings/email-accounts/connect/google-sandbox",
                      data={"csrf_token": token, "email": "riley@acme.test"},
                      allow_redirects=False, timeout=10)
    assert start.status_code == 303, start.text[:300]
    callback = sign_in_and_consent(start.headers["Location"], "riley@acme.test", MAILBOX_PW,
                                   session=http)
    assert callback.startswith(product.base_url + "/oauth/callback?")
    query = parse_qs(urlsplit(callback).query)
    done = http.get(callback, timeout=20)
    assert "Done! riley@acme.test is connected." in done.text
    assert row_status(http, product.base_url, "riley@acme.test")[1] == "connected"

    # gunicorn's own access log (the web process's lines in honcho's output) shows the
    # callback, and neither it nor any other process printed the code or the state.
    web = product.lines_of("web")
    assert any('"GET /oauth/callback"' in line and " 302 " in line for line in web), web[-20:]
    output = product.output()
    for secret in (query["code"][0], query["state"][0]):
        assert secret not in output


def test_ctrl_c_stops_every_process_and_the_worker_finishes_its_tasks_first(product):
    product.stop()
    worker = "\n".join(product.lines_of("worker"))
    assert "Shutting down gracefully" in worker, worker[-2000:]
    assert "Received request to shut down now" not in worker
