"""A refresh refused because another process rotated the token meanwhile is not a reason to
ask anyone to reconnect: Tether re-reads the stored token and tries the newer one once.

The race is staged with a plain HTTP hop in front of the sandbox's token endpoint: while this
check's request is on its way, "another process" refreshes at the sandbox (Microsoft rotates,
and the old token dies) and stores the new token. Every answer comes from the sandbox.
"""

import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import clock
from mail import oauth
from models.base import db
from models.checks import Checker
from models.health import MailboxEvent
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from tests.integration.conftest import sandbox_mailbox

pytestmark = pytest.mark.sandbox


class TokenEndpointHop:
    """Forwards token requests to `target`; before the first, runs `meanwhile()`."""

    def __init__(self, target: str, meanwhile=None):
        self.target, self.meanwhile, self.refresh_tokens = target, meanwhile, []
        hop = self

        class Forward(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                form = dict(p.split("=", 1) for p in body.decode().split("&"))
                hop.refresh_tokens.append(requests.utils.unquote(form.get("refresh_token", "")))
                if hop.meanwhile is not None:
                    meanwhile, hop.meanwhile = hop.meanwhile, None
                    meanwhile()
                answer = requests.post(hop.target, data=body, timeout=10, headers={
                    "Content-Type": self.headers["Content-Type"], "Accept": "application/json"})
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Through:
    """The app's provider catalog, with one provider's token endpoint behind the hop."""

    def __init__(self, catalog, provider):
        self.settings, self._catalog, self._provider = catalog.settings, catalog, provider

    def get(self, key):
        return self._provider if key == self._provider.key else self._catalog.get(key)


@pytest.fixture
def hop():
    started = []

    def start(target, meanwhile=None):
        started.append(TokenEndpointHop(target, meanwhile))
        return started[-1]

    yield start
    for h in started:
        h.stop()


def _due_for_refresh(box):
    Mailbox.update(access_expires_at=clock.now()).where(Mailbox.id == box.id).execute()


def test_a_token_rotated_by_another_process_meanwhile_is_retried_not_reported(
        accounts, tether_sandbox, checker, hop):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    _due_for_refresh(box)
    provider = checker.catalog.get("microsoft-sandbox")
    first = Mailbox.get_by_id(box.id).refresh_token.reveal()

    def another_process_refreshes():
        rotated = oauth.refresh(provider, first)  # the sandbox rotates; `first` dies
        with db.connection_context():
            Mailbox.update(refresh_token=rotated.refresh_token,
                           access_token=rotated.access_token,
                           access_expires_at=clock.now() + timedelta(seconds=rotated.expires_in),
                           ).where(Mailbox.id == box.id).execute()
        another_process_refreshes.stored = rotated.refresh_token

    between = hop(provider.token_url, another_process_refreshes)
    racing = Checker(Through(checker.catalog, replace(provider, token_url=between.url)))
    racing.check(box.id, force=True)

    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED
    assert not MailboxEvent.select().where(MailboxEvent.to_status == RECONNECT_REQUIRED).exists()
    # Refused with the token it read, then once more with the one the other process stored.
    assert between.refresh_tokens == [first, another_process_refreshes.stored]
    newest = row.refresh_token.reveal()
    assert newest not in between.refresh_tokens
    assert oauth.refresh(provider, newest).access_token  # the newest is the one kept


def test_a_refusal_of_the_token_still_stored_is_reported_after_one_try(
        accounts, tether_sandbox, checker, hop):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    _due_for_refresh(box)
    tether_sandbox.control.remove_access(box.email)
    provider = checker.catalog.get("microsoft-sandbox")
    between = hop(provider.token_url)
    Checker(Through(checker.catalog, replace(provider, token_url=between.url))).check(
        box.id, force=True)
    assert Mailbox.get_by_id(box.id).status == RECONNECT_REQUIRED
    assert len(between.refresh_tokens) == 1
