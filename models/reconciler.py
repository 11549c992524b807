"""The reconciler: settles the sends a dead sender left `sending` for a mailbox by looking for
their Message-IDs in its Sent folder (DESIGN §4). The outbox decides what a find, or its
absence, means (models/outbox.py: settle); this module only looks.
"""

import clock
from mail import send
from mail.failures import MailError
from models import outbox
from models.credentials import Busy, needs_check
from models.mail_session import MailSession
from models.sender_lease import RETRY_AFTER


def reconcile(session: MailSession, owner: str) -> bool:
    """Adopt and settle the mailbox's orphaned rows. Returns True when the IMAP sign-in failed
    in a way the health engine must look at now."""
    mailbox = session.mailbox
    now = clock.now()
    rows = outbox.adopt_orphans(mailbox.id, owner, now)
    if not rows:
        return False
    try:
        imap = session.mailbox_imap()
        found = send.find_in_sent(imap, session.sent_folder, [r.message_id for r in rows])
    except (MailError, Busy) as e:
        outbox.release_orphans(owner, now + RETRY_AFTER)  # looked at again after the pause
        session.drop_imap()
        return isinstance(e, MailError) and needs_check(e.failure)
    for row in rows:
        outbox.settle(row, owner, found=row.message_id in found,
                      provider_files_sent=mailbox.is_oauth, now=clock.now())
    return False
