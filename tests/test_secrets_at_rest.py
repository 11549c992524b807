"""Tokens and passwords never sit in the database readable, and keys can rotate."""

import base64

import pytest
from cryptography.fernet import Fernet

from config import ConfigError
from models import crypto
from models.base import db
from models.checks import Checker
from models.mailboxes import DEGRADED, Mailbox
from tests import factories

TOKEN, REFRESH, PASSWORD = "ya29.live-access-token", "1//0g-live-refresh-token", "hunter2-password"


def _raw_row(mailbox_id):
    cursor = db.execute_sql("SELECT access_token, refresh_token, password FROM mailbox "
                            f"WHERE id = {int(mailbox_id)}")
    return " ".join(str(v) for v in cursor.fetchone())


def test_the_raw_row_holds_no_token_no_password_and_not_their_base64(accounts):
    accounts.sign_up()
    box = factories.mailbox(access_token=TOKEN, refresh_token=REFRESH, password=PASSWORD)
    raw = _raw_row(box.id)
    for secret in (TOKEN, REFRESH, PASSWORD):
        assert secret not in raw
        assert base64.b64encode(secret.encode()).decode()[:16] not in raw
        assert base64.urlsafe_b64encode(secret.encode()).decode()[:16] not in raw
    again = Mailbox.get_by_id(box.id)
    assert again.access_token.reveal() == TOKEN and again.password.reveal() == PASSWORD


def test_rotation_re_encrypts_every_row_under_the_new_key_and_keeps_them_readable(accounts, app):
    accounts.sign_up()
    boxes = [factories.mailbox(email=f"m{n}@acme.test", access_token=f"{TOKEN}-{n}",
                               refresh_token=f"{REFRESH}-{n}") for n in range(3)]
    old = app.config["TETHER_ENCRYPTION_KEYS"]
    new = f"k2:{Fernet.generate_key().decode()}," + old
    previous = crypto.vault()
    try:
        crypto.use_vault(crypto.Vault.from_config(new))
        result = app.test_cli_runner().invoke(args=["rotate-keys"])
        assert result.exit_code == 0 and "Re-encrypted 6 secret(s)" in result.output
        only_new = crypto.Vault.from_config(new.split(",")[0])
        for n, box in enumerate(boxes):
            row = Mailbox.get_by_id(box.id)
            assert row.access_token.startswith("k2:")
            assert only_new.decrypt(row.refresh_token) == f"{REFRESH}-{n}"
    finally:
        crypto.use_vault(previous)


def test_a_malformed_key_fails_closed_at_start():
    from app import create_app

    with pytest.raises(ConfigError):
        create_app({"TETHER_ENCRYPTION_KEYS": "k1:not-a-fernet-key"})


def test_an_undecryptable_row_degrades_the_mailbox_for_the_operator_and_crashes_nothing(accounts):
    accounts.sign_up()
    foreign = crypto.Vault.from_config(f"k1:{Fernet.generate_key().decode()}")
    box = factories.mailbox(provider="other", imap_host="127.0.0.1", smtp_host="127.0.0.1")
    Mailbox.update(password=crypto._Sealed(foreign.encrypt(PASSWORD))).where(Mailbox.id == box.id).execute()
    Checker(catalog=None).check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == DEGRADED
    assert "encryption keys" in row.status_cause and row.status_code == "secret undecryptable"
