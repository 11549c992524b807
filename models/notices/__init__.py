"""Notices: who is told what when a mailbox's connection changes, and how — in this package only.

The rule: **exactly once per occasion per channel per person.** An occasion is an incident (a
mailbox entered reconnect_required), its one reminder, its recovery, or an operator alert
(the deployment's own problem, once per provider, cause and day for the whole instance).
Where it is enforced:
- decide.py decides who is told what and builds every key: the occasion's, and the dedupe
  key `<occasion>:<channel>:<person>`;
- channels.py is the one path to every channel, for transitions and reminders alike: each
  (event, channel) and each (incident, "reminder:<channel>") is claimed in EventDelivery
  (models/events.py) before it runs, so one worker runs it, and a crash hands it on;
- each channel stores its dedupe key uniquely — the bell in Notification.dedupe_key, email
  in EmailSent.dedupe_key (and a kept email in WaitingEmail.dedupe_key) — which catches a
  delivery retried after a crash.

The modules: links (the reconnect link), people (recipients, operators), wording (what each
notice says), decide, channels, bell, emails (sent now, or kept until a mailer works), alerts
(a team's chat and webhook destinations: one per occasion per destination, queued for the
worker), banner (the operators' "no mailer" banner). The bell's and the emails' tables live in
models/notifications.py and models/notice_emails.py.
"""

from mail.system_mailer import relay
from models.notice_emails import EmailSent, WaitingEmail
from models.notices import alerts, bell, emails  # noqa: F401  (registers the channels)
from models.notices.alerts import destination_paused, expiring_soon, outcome_unknown
from models.notices.banner import mailer_banner
from models.notices.channels import remind
from models.notices.decide import Notice, due_reminders, for_event
from models.notices.emails import send_waiting, waiting_count
from models.notices.links import read_reconnect_link, reconnect_link, reconnect_token
from models.notices.people import operators, recipients

__all__ = ["EmailSent", "Notice", "WaitingEmail", "destination_paused", "due_reminders",
           "expiring_soon", "for_event", "mailer_banner", "outcome_unknown",
           "operators", "read_reconnect_link", "recipients", "reconnect_link", "reconnect_token",
           "relay", "remind", "send_waiting", "waiting_count"]
