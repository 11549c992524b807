"""What a notice says: the words of an incident, a reminder, a recovery and an operator alert
(DESIGN §1, Notifications). Who is told, and when, is decide.py's business."""

from dataclasses import dataclass

from mail import providers
from mail.failures import SMTP_AUTH_DISABLED
from models.notices.links import reconnect_link
from models.sequences import Sequence

UNDECRYPTABLE = "secret undecryptable"  # mail.failures.undecryptable()'s code


@dataclass(frozen=True)
class Words:
    title: str     # the bell's line
    summary: str   # the bell's second line
    subject: str   # the email's
    text: str      # the email's body, after the greeting


def _provider_label(mailbox) -> str:
    provider = providers.current().get(mailbox.provider) if mailbox.is_oauth else None
    return provider.label if provider else ("your mail provider" if not mailbox.is_oauth else
                                            mailbox.provider.split("-")[0].capitalize())


def incident(mailbox, cause: str, reminder: bool = False) -> Words:
    """Reconnect this mailbox (or, for Microsoft's SMTP switch, ask an administrator)."""
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
    return Words(title=prefix + title, summary=f"{cause} Sequences blocked: {len(blocked)}.",
                 subject=prefix + subject, text=text)


def recovery(mailbox) -> Words:
    blocked = list(Sequence.using_mailbox(mailbox))
    return Words(title=f"{mailbox.email} is connected again",
                 summary=f"{len(blocked)} sequence(s) resume by themselves.",
                 subject=f"{mailbox.email} is reconnected to Tether",
                 text=(f"{mailbox.email} is connected again. The sequences that send from it "
                       "resume by themselves, starting with the emails that were waiting.\n"))


def operator_alert(mailbox, event) -> Words:
    """The deployment's problem (a client secret, an encryption key), worded for an operator."""
    if event.code == UNDECRYPTABLE:
        title = "Tether cannot decrypt stored mailbox credentials"
        fix = ("An encryption key that stored secrets were written with is missing from "
               "TETHER_ENCRYPTION_KEYS: put it back (any order after the first) on every web and "
               "worker process and restart them.")
    else:
        title = f"{_provider_label(mailbox)} rejected Tether's app credentials"
        fix = ("Update the client secret (GOOGLE_CLIENT_SECRET / MICROSOFT_CLIENT_SECRET) and "
               "restart Tether.")
    return Words(
        title=title,
        summary=f"{event.cause} Mailboxes keep retrying; their owners were not asked to reconnect.",
        subject=f"[Tether operator] {title}",
        text=(f"{event.cause}\n\nCode: {event.code}\nFirst seen with: {mailbox.email}\n\n"
              f"This is the deployment's problem, not the mailbox owners': {fix} "
              "Affected mailboxes show as Degraded and recover by themselves at their next "
              "check. Nobody was asked to reconnect.\n"))


# --- alerts (a team's chat and webhook destinations) -------------------------------------------

@dataclass(frozen=True)
class AlertWords:
    title: str
    data: dict  # the payload's data: the mailbox by address, the cause in words; never a secret


def _mailbox_data(mailbox) -> dict:
    return {"email": mailbox.email, "provider": _provider_label(mailbox),
            "status": mailbox.status}


_MAILBOX_TITLES = {
    "mailbox.reconnect_required": "{email} needs reconnecting",
    "mailbox.degraded": "{email} is degraded: Tether keeps retrying",
    "mailbox.recovered": "{email} works again",
    "mailbox.expiring_soon": "{email}'s connection expires soon",
}


def mailbox_alert(mailbox, kind: str, cause: str) -> AlertWords:
    data = {"team": mailbox.team.name, "mailbox": _mailbox_data(mailbox),
            "cause": cause or ("It works again." if kind == "mailbox.recovered" else ""),
            "sequences": [s.name for s in Sequence.using_mailbox(mailbox)]}
    if kind in ("mailbox.reconnect_required", "mailbox.expiring_soon"):
        data["reconnect_url"] = reconnect_link(mailbox)
    return AlertWords(_MAILBOX_TITLES[kind].format(email=mailbox.email), data)


def sequence_alert(sequence, mailbox, kind: str, cause: str) -> AlertWords:
    blocked = kind == "sequence.blocked"
    title = (f"Sequence “{sequence.name}” is blocked: {mailbox.email} needs attention" if blocked
             else f"Sequence “{sequence.name}” is unblocked")
    data = {"team": mailbox.team.name, "sequence": {"name": sequence.name},
            "mailbox": _mailbox_data(mailbox),
            "cause": cause if blocked else f"{mailbox.email} works again; sending resumes."}
    if blocked and mailbox.deleted_at is None:
        data["reconnect_url"] = reconnect_link(mailbox)
    return AlertWords(title, data)


def outcome_unknown(row, mailbox, cause: str) -> AlertWords:
    """An email that may or may not have gone out (DESIGN §4: never resent by itself)."""
    return AlertWords(
        f"Email {row.number} to {row.to_email} may or may not have been sent",
        {"team": mailbox.team.name, "mailbox": _mailbox_data(mailbox),
         "sequence": {"name": row.sequence.name}, "recipient": row.to_email,
         "cause": f"{cause} Tether does not send it again by itself: check the Sent folder or "
                  "ask the contact, and press “Send again” in the sequence only if it did not "
                  "arrive."})


def destination_paused(destination) -> Words:
    what = f"{destination.service} destination {destination.shown_as}"
    return Words(
        title=f"Alerts to {destination.service} paused",
        summary=(f"The {what} failed many times in a row, so Tether stopped sending to it. "
                 "Fix it, then resume it on Settings → Alerts."),
        subject=f"Alerts to {destination.service} paused",
        text=f"The {what} failed many times in a row; resume it on Settings → Alerts.\n")
