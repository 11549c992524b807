"""A user-entered mail host is vetted at every connection, not only when it was typed.

Health checks and the sender re-check a stored Other Provider host against the settings in
force now, and every connection goes to exactly the address that was vetted: a name whose DNS
answer changes after the check (rebinding) cannot steer a password elsewhere. TLS is still
verified against the host's name. The servers are tiny capturing ones on loopback.
"""

import datetime
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import clock
from mail.connect import Login, Server, imap_login
from mail.failures import MailError
from mail.hosts import HostPolicy
from mail.providers import Catalog
from models.accounts import User
from models.checks import Checker
from models.contacts import Contact
from models.mailboxes import RECONNECT_REQUIRED, Mailbox
from models.outbox import SENT, OutboxEmail
from models.replies import InboxCursor
from models.sender import Sender
from models.sequences import create_sequence, enroll, save_step
from tests import factories
from tests.capture_servers import CaptureServer
from tests.support import post_form

PASSWORD = "stored-mailbox-pw"


@pytest.fixture
def capture():
    started = []

    def start(protocol, **kwargs):
        server = CaptureServer(protocol, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _stored_mailbox(imap, smtp):
    return factories.mailbox(email="pat@example.com", provider="other", access_token=None,
                             refresh_token=None, password=PASSWORD, username="pat@example.com",
                             imap_host="127.0.0.1", imap_port=imap.port, imap_security="none",
                             smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none")


def _forbidding_loopback(app):
    """The deployment as it is configured now: loopback mail hosts are not allowed any more."""
    return Catalog({**app.config, "ALLOW_LOOPBACK_MAIL_HOSTS": False})


def test_a_stored_loopback_host_fails_its_check_once_the_settings_forbid_it(accounts, app, capture):
    accounts.sign_up()
    imap, smtp = capture("imap"), capture("smtp")
    box = _stored_mailbox(imap, smtp)
    Checker(_forbidding_loopback(app)).check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == RECONNECT_REQUIRED and row.status_code == "host refused"
    assert "this machine's own address" in row.status_cause
    assert imap.connections == 0 and smtp.connections == 0


@pytest.mark.parametrize("inbox_read", [False, True], ids=["reading replies first", "sending"])
def test_the_sender_connects_nowhere_the_settings_now_refuse(accounts, app, capture, inbox_read):
    accounts.sign_up()
    imap, smtp = capture("imap"), capture("smtp")
    box = _stored_mailbox(imap, smtp)
    owner = User.get()
    sequence = create_sequence(owner.team_id, owner, name="Outreach", mailbox=box,
                               window_days="0,1,2,3,4,5,6", window_start=0, window_end=1440)
    save_step(sequence, owner, subject="Hello", body="Hello there")
    Contact.create(team=owner.team_id, email="jordan@globex.test")
    enroll(sequence, Contact.select(), owner)
    sequence.resume(owner)
    if inbox_read:  # replies already read since it connected: straight to SMTP
        InboxCursor.create(mailbox=box.id, fetched_at=clock.now() + datetime.timedelta(seconds=1))

    run = Sender(_forbidding_loopback(app)).run(box.id)

    assert run.check  # the health engine is asked to decide, and says why in words
    assert imap.connections == 0 and smtp.connections == 0
    assert not OutboxEmail.select().where(OutboxEmail.status == SENT).exists()


def test_a_name_whose_answer_changes_after_the_check_reaches_only_the_vetted_address(
        accounts, client, capture, monkeypatch):
    """DNS rebinding: the first answer passes the rules, a later one points elsewhere. The
    DNS is the test's own (no resolver can be run here); the servers and sockets are real."""
    accounts.sign_up()
    vetted = {"imap": capture("imap"), "smtp": capture("smtp")}
    elsewhere = {"imap": capture("imap", host="127.0.0.2", port=vetted["imap"].port),
                 "smtp": capture("smtp", host="127.0.0.2", port=vetted["smtp"].port)}
    asked = {"imap.rebind.test": 0, "smtp.rebind.test": 0}
    real_getaddrinfo = socket.getaddrinfo

    def rebinding_dns(host, *args, **kwargs):
        if host in asked:
            asked[host] += 1
            host = "127.0.0.1" if asked[host] == 1 else "127.0.0.2"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    form = {"email": "pat@example.com", "username": "", "password": PASSWORD,
            "imap_host": "imap.rebind.test", "imap_port": str(vetted["imap"].port),
            "imap_security": "none", "smtp_host": "smtp.rebind.test",
            "smtp_port": str(vetted["smtp"].port), "smtp_security": "none"}
    response = post_form(client, "/settings/email-accounts/other/test", form,
                         page="/settings/email-accounts/other/new")
    assert response.status_code == 200
    assert vetted["imap"].heard(PASSWORD) and vetted["smtp"].heard(PASSWORD)
    assert elsewhere["imap"].connections == 0 and elsewhere["smtp"].connections == 0
    assert asked == {"imap.rebind.test": 1, "smtp.rebind.test": 1}


def _certificate_for(name, folder):
    """A self-signed certificate for `name` (no IP address in it), and a context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


def test_tls_is_verified_against_the_host_name_not_the_address_connected_to(capture, tmp_path):
    server_tls, trusting = _certificate_for("localhost", tmp_path)
    imap = capture("imap", tls=server_tls)
    policy = HostPolicy(allow_loopback=True)
    login = Login(address="pat@example.com", password=PASSWORD)

    with pytest.raises(MailError) as by_name:  # the certificate names "localhost": TLS holds
        imap_login(Server("localhost", imap.port, "ssl", policy), login, trusting)
    assert by_name.value.failure.code == "IMAP AUTHENTICATIONFAILED"
    assert imap.heard(PASSWORD)

    heard_before = len(imap.lines)
    with pytest.raises(MailError) as by_address:  # the same server by its bare address: no
        imap_login(Server("127.0.0.1", imap.port, "ssl", policy), login, trusting)
    assert by_address.value.failure.code == "TLS certificate"
    assert len(imap.lines) == heard_before
