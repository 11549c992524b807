"""The demo that `make run` tells: a team with a documented login, and — once the sandbox
answers — mailboxes in each interesting state, so a newcomer sees the whole story at once.

It drives the sandbox only through its HTTP control API, as an operator's script would drive a
provider's admin API. sandbox/control.py is the full client of that API, but product code never
imports sandbox/ (the product must run, and be installed, without it): so the few calls the
demo needs are made by `_control` below, and the sandbox's file is read by mail/sandbox_file.py.
"""

import logging
from datetime import timedelta

import requests

import clock
import config
from mail import oauth, providers, sandbox_file
from mail.oauth import Tokens
from models import connections
from models.accounts import User
from models.base import db
from models.checks import Checker
from models.mailboxes import Mailbox

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@tether.test"
DEMO_PASSWORD = "tether-demo"  # documented in the README; demo only
MAILBOX_PASSWORD = "demo-mailbox-pw"  # the sandbox mailboxes' password, for the consent pages
GOOGLE_BOX, MICROSOFT_BOX, OTHER_BOX = "alex@acme.test", "sam@contoso.test", "pat@example.test"


class SandboxNotReady(Exception):
    pass


class NotInProduction(Exception):
    """The demo's login is printed in the README: a production instance must never have it."""


def refuse_in_production(settings: dict) -> None:
    if settings["ENV"] == "production":
        raise NotInProduction(
            f"seed-demo refuses to run in production (TETHER_ENV=production): it would create "
            f"{DEMO_EMAIL} with the password the README prints. Nothing was created. Create "
            f"the first owner with `flask --app app users create-owner EMAIL` instead.")


def seed() -> tuple[str, str]:
    """Create the demo team and its owner unless they exist. Returns the login. Refuses in
    production (NotInProduction), whoever calls it."""
    refuse_in_production(config.current())
    with db.atomic():
        if not User.get_or_none(User.email == DEMO_EMAIL):
            User.sign_up(DEMO_EMAIL, DEMO_PASSWORD, name="Alex Demo", team_name="Acme Outreach")
    return DEMO_EMAIL, DEMO_PASSWORD


def _control(info: sandbox_file.SandboxFile, method: str, path: str, body: dict | None = None):
    """One call to the sandbox's control API; 409 (it exists already) is fine for a seed."""
    response = requests.request(method, info.control_url + path, json=body, timeout=10)
    if response.status_code >= 400 and response.status_code != 409:
        raise SandboxNotReady(f"{path}: {response.status_code} {response.text[:200]}")
    return response.json() if response.content else None


def seed_mailboxes(settings: dict) -> bool:
    """Connect the demo mailboxes through the sandbox. False if they were there already."""
    info = sandbox_file.read(settings.get("SANDBOX_CONFIG"))
    if info is None:
        raise SandboxNotReady("the sandbox has not written its sandbox.json yet")
    try:
        _control(info, "GET", "/health")
    except requests.RequestException as e:
        raise SandboxNotReady(str(e)) from e
    owner = User.get(User.email == DEMO_EMAIL)
    if Mailbox.select().where(Mailbox.team == owner.team_id).exists():
        return False
    # The contacts live at the sandbox too, so the demo's outreach really arrives somewhere.
    contacts = [(email, "other") for email, *_ in DEMO_CONTACTS]
    for email, kind in ((GOOGLE_BOX, "google"), (MICROSOFT_BOX, "microsoft"),
                        (OTHER_BOX, "other"), (DEMO_EMAIL, "other"), *contacts):
        _control(info, "POST", "/users", {"email": email, "password": MAILBOX_PASSWORD,
                                          "kind": kind, "name": email.split("@")[0].title()})
    catalog = providers.current()
    for email, key, client in ((GOOGLE_BOX, "google-sandbox", "google"),
                               (MICROSOFT_BOX, "microsoft-sandbox", "microsoft")):
        grant = _control(info, "POST", f"/users/{email}/tokens", {"client": client})
        tokens = Tokens(access_token=grant["access_token"], refresh_token=grant["refresh_token"],
                        expires_in=int(grant["expires_in"]), scope=grant["scope"])
        claims = oauth.verify_id_token(catalog.get(key), grant["id_token"], nonce=None)
        connections.save_oauth(owner.team, owner, catalog.get(key), email, tokens,
                               subject=(claims["iss"], claims["sub"]))  # push signals name it
    connections.save_other(owner.team, owner, OTHER_BOX, {
        "imap_host": info.imap_host, "imap_port": info.imap_port, "imap_security": "none",
        "smtp_host": info.smtp_host, "smtp_port": info.smtp_port, "smtp_security": "none",
        "username": OTHER_BOX}, MAILBOX_PASSWORD)

    _seed_sequences(owner)

    # The Microsoft mailbox's token has died (90 days unused): the next check finds out, for real.
    _control(info, "POST", f"/users/{MICROSOFT_BOX}/expire-tokens")
    sam = Mailbox.get(Mailbox.email == MICROSOFT_BOX)
    Mailbox.update(access_expires_at=clock.now() - timedelta(minutes=1)).where(Mailbox.id == sam.id).execute()
    Checker(catalog).check(sam.id, force=True)
    return True


def register_signal_streams(settings: dict) -> None:
    """Point the sandbox's push revocation signals at this Tether (what `flask signals
    register` does by hand): Remove access at the sandbox shows within seconds."""
    from models.signal_streams import RegistrationError, register
    from models.signals import PUSH_PATH

    for key, provider in providers.current().all().items():
        if key.endswith("-sandbox") and provider.signals_config_url:
            try:
                register(provider, settings["BASE_URL"].rstrip("/") + PUSH_PATH, settings)
            except RegistrationError as e:
                log.warning("push signals from %s not registered: %s", provider.label, e)


DEMO_CONTACTS = [("jordan@globex.test", "Jordan", "Lee", "Globex"),
                 ("riley@initech.test", "Riley", "Chen", "Initech"),
                 ("casey@umbrella.test", "Casey", "Park", "Umbrella")]
DEMO_SEQUENCES = [
    ("Q4 outreach", GOOGLE_BOX, [
        ("Quick question, {{first_name|there}}", "Hi {{first_name|there}},\n\nDoes {{company}} "
         "still plan its Q4 campaigns by hand?\n\nAlex", 0),
        ("", "Hi {{first_name|there}}, just bumping this up in your inbox.\n\nAlex", 3)]),
    ("Contoso follow-up", MICROSOFT_BOX, [
        ("Following up on our call", "Hi {{first_name|there}},\n\nThanks for the call — "
         "here is the summary I promised.\n\nSam", 0)]),
]


def _seed_sequences(owner) -> None:
    """Two running sequences: one sends from the healthy Google mailbox, the other from the
    Microsoft one that is about to need reconnecting (its toggle turns orange)."""
    from models.contacts import Contact
    from models.sequences import create_sequence, enroll, save_step

    for email, first, last, company in DEMO_CONTACTS:
        Contact.get_or_create(team=owner.team_id, email=email,
                              defaults={"first_name": first, "last_name": last, "company": company})
    for name, mailbox_email, steps in DEMO_SEQUENCES:
        mailbox = Mailbox.get(Mailbox.email == mailbox_email)
        # Any day, any hour: whenever someone tries the demo, its outreach really goes out.
        sequence = create_sequence(owner.team_id, owner, name=name, mailbox=mailbox,
                                   window_days="0,1,2,3,4,5,6", window_start=0,
                                   window_end=24 * 60 - 1)
        for subject, body, delay_days in steps:
            save_step(sequence, owner, subject=subject, body=body,
                      delay_minutes=delay_days * 24 * 60)
        enroll(sequence, Contact.select(), owner)
        sequence.resume(owner)

