"""What an incident says, to whom, and the email that carries it (DESIGN §1, Notifications).

The reconnect link is signed and expiring but carries no secret: it only names the mailbox.
Authorization always comes from the signed-in session that opens it.
"""

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from peewee import CharField, DateTimeField, IntegrityError

import clock
import config
from mail import providers, system_mailer
from mail.failures import SMTP_AUTH_DISABLED
from models.base import BaseModel, db
from models.mailboxes import Mailbox
from models.sequences import Sequence

LINK_MAX_AGE = timedelta(days=7)
UNDECRYPTABLE = "secret undecryptable"  # mail.failures.undecryptable()'s code
class EmailSent(BaseModel):
    """One row per notice email: a retried handler never sends the same notice twice."""

    dedupe_key = CharField(unique=True)
    sent_at = DateTimeField(default=clock.now)


@dataclass(frozen=True)
class Notice:
    kind: str
    key: str
    title: str
    summary: str
    subject: str
    text: str


# --- reconnect links -------------------------------------------------------------------------

def _signer():
    return URLSafeTimedSerializer(config.current()["SECRET_KEY"], salt="reconnect-link")


def reconnect_token(mailbox_id: int) -> str:
    return _signer().dumps({"m": mailbox_id})


def reconnect_link(mailbox: Mailbox) -> str:
    return f"{config.current()['BASE_URL']}/reconnect/{reconnect_token(mailbox.id)}"


def read_reconnect_link(token: str) -> tuple[int | None, bool]:
    """(mailbox id, expired) for a genuine link; (None, False) for a tampered one."""
    try:
        return _signer().loads(token, max_age=LINK_MAX_AGE.total_seconds())["m"], False
    except SignatureExpired as e:
        return (e.payload or {}).get("m") if isinstance(e.payload, dict) else None, True
    except (BadSignature, KeyError, TypeError):
        return None, False


# --- composing -------------------------------------------------------------------------------

def _provider_label(mailbox) -> str:
    provider = providers.current().get(mailbox.provider) if mailbox.is_oauth else None
    return provider.label if provider else ("your mail provider" if not mailbox.is_oauth else
                                            mailbox.provider.split("-")[0].capitalize())


def for_event(event, mailbox) -> list[tuple]:
    """[(person, Notice)] for a transition event: incident, recovery or operator alert."""
    from models.notifications import _is_app_problem, _is_incident, operators, recipients

    if _is_app_problem(event):
        # One alert for the whole instance, however many teams' mailboxes hit the problem.
        day = event.at.strftime("%Y-%m-%d")
        notice = _operator_notice(mailbox, event, key=f"app:{mailbox.provider}:{event.code}:{day}")
        return [(person, notice) for person in operators(config.current().get("OPERATOR_EMAILS", ""))]
    if _is_incident(event):
        notice = incident_notice(mailbox, event.cause, key=f"incident:{event.incident}")
    else:
        notice = _recovery_notice(mailbox, key=f"recovered:{event.id}")
    return [(user, notice) for user in recipients(mailbox)]


def incident_notice(mailbox, cause: str, key: str, reminder: bool = False) -> Notice:
    label = _provider_label(mailbox)
    blocked = list(Sequence.using_mailbox(mailbox))
    blocked_text = ("\n".join(f"  - {s.name}" for s in blocked) if blocked
                    else "  (no sequence sends from it right now)")
    admin_fix = (mailbox.status_code or "").endswith(SMTP_AUTH_DISABLED)
    if admin_fix:
        steps = [  # no reconnect helps: the provider's admin setting does
            f"Ask your Microsoft 365 administrator to turn on Authenticated SMTP for {mailbox.email} "
            "(Microsoft 365 admin center → Users → the user → Mail → Manage email apps), or "
            "for the whole organization.",
            "Nothing to do in Tether: it checks again every hour and resumes the blocked "
            "sequences by itself once sending is allowed.",
        ]
    elif mailbox.is_oauth:
        steps = [
            "Open Tether: Settings → Email Accounts (or use the link below).",
            f"Hover over {mailbox.email} (or move to it with the keyboard).",
            "Click the Reconnect icon.",
            f"Confirm the address: {mailbox.email}.",
            "Sign in to Tether if it asks.",
            f"Sign in to {label} as {mailbox.email} and allow access — keep mail access ticked.",
            "Back in Tether you see a green dot; blocked sequences resume by themselves.",
        ]
    else:
        steps = [
            "Open Tether: Settings → Email Accounts (or use the link below).",
            f"Hover over {mailbox.email} (or move to it with the keyboard).",
            "Click the edit icon (Update credentials).",
            "Enter the new password (or app password) and click Test connection.",
            "Both IMAP and SMTP should say “Connected and signed in”.",
            "Click Save. (Deleting the mailbox and adding it again also works.)",
            "Back in Tether you see a green dot; blocked sequences resume by themselves.",
        ]
    numbered = "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))
    prefix = "Reminder: " if reminder else ""
    text = (
        f"Tether can no longer use the mailbox {mailbox.email} ({label}).\n\n"
        f"Why: {cause}\n\n"
        f"Sequences blocked until it is {'allowed to send' if admin_fix else 'reconnected'}:\n"
        f"{blocked_text}\n\n"
        "Nothing is lost: emails waiting to go out will be sent once the mailbox is back.\n\n"
        + (f"To fix it:\n{numbered}\n" if admin_fix else
           f"To fix it, about 30 seconds:\n{numbered}\n\n"
           f"Reconnect now: {reconnect_link(mailbox)}\n\n"
           "The link only opens Tether at the right place; you sign in as usual.\n")
    )
    title = (f"SMTP sign-in is switched off for {mailbox.email}" if admin_fix
             else f"Reconnect {mailbox.email}")
    subject = (f"Action needed: an administrator must allow SMTP for {mailbox.email}" if admin_fix
               else f"Action needed: reconnect {mailbox.email} to Tether")
    return Notice(kind="reminder" if reminder else "reconnect_required", key=key,
                  title=prefix + title, summary=f"{cause} Sequences blocked: {len(blocked)}.",
                  subject=prefix + subject, text=text)


def _recovery_notice(mailbox, key: str) -> Notice:
    blocked = list(Sequence.using_mailbox(mailbox))
    return Notice(kind="recovered", key=key, title=f"{mailbox.email} is connected again",
                  summary=f"{len(blocked)} sequence(s) resume by themselves.",
                  subject=f"{mailbox.email} is reconnected to Tether",
                  text=(f"{mailbox.email} is connected again. The sequences that send from it "
                        "resume by themselves, starting with the emails that were waiting.\n"))


def _operator_notice(mailbox, event, key: str) -> Notice:
    if event.code == UNDECRYPTABLE:
        title = "Tether cannot decrypt stored mailbox credentials"
        fix = ("An encryption key that stored secrets were written with is missing from "
               "TETHER_ENCRYPTION_KEYS: put it back (any order after the first) on every web and "
               "worker process and restart them.")
    else:
        title = f"{_provider_label(mailbox)} rejected Tether's app credentials"
        fix = ("Update the client secret (GOOGLE_CLIENT_SECRET / MICROSOFT_CLIENT_SECRET) and "
               "restart Tether.")
    return Notice(
        kind="operator", key=key, title=title,
        summary=f"{event.cause} Mailboxes keep retrying; their owners were not asked to reconnect.",
        subject=f"[Tether operator] {title}",
        text=(f"{event.cause}\n\nCode: {event.code}\nFirst seen with: {mailbox.email}\n\n"
              f"This is the deployment's problem, not the mailbox owners': {fix} "
              "Affected mailboxes show as Degraded and recover by themselves at their next "
              "check. Nobody was asked to reconnect.\n"))


# --- sending ---------------------------------------------------------------------------------

def relay() -> system_mailer.Relay:
    """The operator's SMTP relay; in the demo, the sandbox's system mailer account."""
    s = config.current()
    if s["MAIL_SMTP_HOST"]:
        return system_mailer.Relay(s["MAIL_SMTP_HOST"], s["MAIL_SMTP_PORT"], s["MAIL_SMTP_SECURITY"],
                                   s["MAIL_SMTP_USERNAME"], s["MAIL_SMTP_PASSWORD"], s["MAIL_FROM"])
    path = Path(s.get("SANDBOX_CONFIG") or "")
    if path.is_file():
        box = json.loads(path.read_text()).get("system_smtp") or {}
        return system_mailer.Relay(box.get("host", ""), int(box.get("port", 0) or 0), "none",
                                   box.get("username", ""), box.get("password", ""),
                                   box.get("from") or s["MAIL_FROM"])
    return system_mailer.Relay("")


def send_email(user, notice: Notice, key: str) -> bool:
    """Send once per key. Returns False when already sent or no relay is configured."""
    if EmailSent.select().where(EmailSent.dedupe_key == key).exists():
        return False
    mail_relay = relay()
    if not mail_relay.configured:
        return False
    greeting = f"Hi {user.name},\n\n" if user.name else "Hi,\n\n"
    message = system_mailer.compose(mail_relay, user.email, notice.subject, greeting + notice.text)
    system_mailer.send(mail_relay, message)  # errors propagate: the delivery is retried
    try:
        with db.atomic():
            EmailSent.create(dedupe_key=key)
    except IntegrityError:
        pass
    return True

