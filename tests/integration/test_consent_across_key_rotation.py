"""A consent that spans a key rotation: the operator rotates keys while someone is at the
provider's consent page. The round trip finishes normally after a proper rotation, and ends in
the plain "expired" words — never an error page — when its saved verifier cannot be read."""

import pytest
from cryptography.fernet import Fernet

from models import crypto
from models.mailboxes import CONNECTED, Mailbox
from sandbox.control import sign_in_and_consent
from tests.integration.conftest import finish_at_tether, start_consent

pytestmark = pytest.mark.sandbox


@pytest.fixture
def keep_vault():
    previous = crypto.vault()
    yield
    crypto.use_vault(previous)


def _at_the_consent_page(client, sandbox):
    sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind="google")
    url = start_consent(client, "/settings/email-accounts/connect/google-sandbox")
    return sign_in_and_consent(url, "alex@acme.test", "mailbox-pw-1")


def test_a_consent_started_before_a_key_rotation_completes_after_it(
        accounts, client, app, tether_sandbox, keep_vault):
    accounts.sign_up()
    callback = _at_the_consent_page(client, tether_sandbox)
    new = f"k2:{Fernet.generate_key().decode()}"
    crypto.use_vault(crypto.Vault.from_config(new + "," + app.config["TETHER_ENCRYPTION_KEYS"]))
    assert app.test_cli_runner().invoke(args=["rotate-keys"]).exit_code == 0
    crypto.use_vault(crypto.Vault.from_config(new))  # the old key is gone
    response = finish_at_tether(client, callback)
    assert response.status_code == 302
    assert Mailbox.get().status == CONNECTED


def test_a_consent_whose_saved_verifier_cannot_be_read_is_treated_as_expired(
        accounts, client, tether_sandbox, keep_vault):
    accounts.sign_up()
    callback = _at_the_consent_page(client, tether_sandbox)
    crypto.use_vault(crypto.Vault.from_config(f"k1:{Fernet.generate_key().decode()}"))
    response = finish_at_tether(client, callback)
    assert response.status_code == 400
    assert "took too long and expired" in response.get_data(as_text=True)
    assert Mailbox.select().count() == 0
