"""A secret no configured key opens is the operator's problem, found at run time by a real
worker: the mailbox is degraded, never reconnect_required; the operator's email and bell name
the missing key; nothing blames the provider and nobody is asked to reconnect."""

import email
from email import policy

import pytest
from cryptography.fernet import Fernet
from imapclient import IMAPClient

from models import crypto
from models.mailboxes import DEGRADED, Mailbox
from models.notifications import Notification
from models.processes import ProcessReport
from tests.integration.conftest import sandbox_mailbox
from tests.support import wait_for

pytestmark = pytest.mark.sandbox

OPERATOR = "owner@acme.test"  # the instance's first owner: its operator


def inbox(sandbox, address):
    token = sandbox.control.issue_tokens(address, client="google")["access_token"]
    with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
        imap.oauth2_login(address, token)
        imap.select_folder("INBOX", readonly=True)
        fetched = imap.fetch(imap.search("ALL"), ["RFC822"])
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default) for f in fetched.values()]


def test_a_key_missing_at_run_time_tells_the_operator_which_key_and_asks_nobody_to_reconnect(
        accounts, tether_sandbox, worker):
    from tasks.checks import request_check

    tether_sandbox.control.create_user(OPERATOR, "mailbox-pw-1", kind="google")
    accounts.sign_up(email=OPERATOR)
    box = sandbox_mailbox(tether_sandbox, "google")
    wait_for(lambda: ProcessReport.get_or_none(ProcessReport.pid == worker.pid), "the worker's start")
    # Written by a process that already had a new key, k9, that this worker never got (the
    # stranding rotate-keys now refuses): this worker started fine and meets it at a check.
    k9 = crypto.Vault.from_config(f"k9:{Fernet.generate_key().decode()}")
    tokens = Mailbox.get_by_id(box.id)
    Mailbox.update(access_token=crypto._Sealed(k9.encrypt(tokens.access_token.reveal())),
                   refresh_token=crypto._Sealed(k9.encrypt(tokens.refresh_token.reveal()))
                   ).where(Mailbox.id == box.id).execute()

    request_check(box.id)
    row = wait_for(lambda: (m := Mailbox.get_by_id(box.id)).status == DEGRADED and m, "degraded")

    assert row.status_code == "secret undecryptable"
    assert "encryption key k9 is missing from TETHER_ENCRYPTION_KEYS" in row.status_cause
    assert "Nobody needs to reconnect." in row.status_cause and "Google" not in row.status_cause
    messages = wait_for(lambda: inbox(tether_sandbox, OPERATOR), "the operator's email")
    assert [m["Subject"] for m in messages] == [
        "[Tether operator] Tether cannot decrypt stored mailbox credentials"]
    body = messages[0].get_body(("plain",)).get_content()
    assert "encryption key k9 is missing" in body and "put k9 back" in body
    assert "Reconnect now" not in body and "rejected" not in body and "client secret" not in body
    assert "Google" not in body
    bell = [(n.kind, n.title) for n in Notification.select()]
    assert bell == [("operator", "Tether cannot decrypt stored mailbox credentials")]
    assert "k9" in Notification.get().body
    assert Mailbox.get_by_id(box.id).status == DEGRADED  # and it stays so: no reconnect prompt
