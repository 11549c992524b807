"""The sender: one pass sends one mailbox's due emails over one SMTP connection reused across
the batch, after settling what a crash left unknown (models/reconciler.py) and reading the
INBOX for replies.

A pass runs under the mailbox's sender lease (models/sender_lease.py), so one sender per
mailbox at a time however many consumers there are, and reschedules itself by its next wake-up
(models/wakeups.py). Its connections and sign-ins are models/mail_session.py's. Every write is
a short transaction of the outbox's own rules; network I/O happens between them, never inside
one.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from imapclient.exceptions import IMAPClientError

import clock
from mail import send
from mail.failures import Failure, Kind, MailError, from_imap_error, from_network_error
from models import changes, leases, outbox, replies
from models.credentials import Busy, Credentials, needs_check
from models.mail_session import MailSession
from models.mailboxes import Mailbox
from models.reconciler import reconcile
from models.sender_lease import (
    RETRY_AFTER,
    acquire_sender,
    pause_sender,
    release_sender,
    renew_sender,
)
from models.unsubscribes import prepare_handles
from models.wakeups import current_wake, wake_times

log = logging.getLogger(__name__)
READ_FIRST_RETRY = timedelta(seconds=5)  # the INBOX could not be read yet (a check in progress)
BUSY_RETRY = timedelta(seconds=5)    # a check holds the token: look again shortly
TELL_EVERY = timedelta(seconds=1)    # open pages hear of a batch's sends at most this often


@dataclass
class Run:
    next_at: datetime | None = None  # when the mailbox next has work (None: nothing, or not ours)
    check: bool = False              # an authentication failure: ask for an immediate check


class Sender:
    """Sends with a provider catalog (mail.providers.Catalog); signs in through
    models/credentials.py, as the health check does."""

    def __init__(self, catalog):
        self.credentials = Credentials(catalog)

    def run(self, mailbox_id: int, wake: int | None = None) -> Run:
        """One pass for one mailbox: settle orphans, read replies, plan due steps, send."""
        if wake is not None and current_wake(mailbox_id) != wake:
            return Run()  # a newer wake-up was scheduled; that one does the work
        owner = leases.new_owner()
        if not acquire_sender(mailbox_id, owner, clock.now()):
            return Run()  # another consumer sends for this mailbox now; it reschedules
        batch = None
        try:
            mailbox = Mailbox.get_or_none(Mailbox.id == mailbox_id)
            if mailbox is None or not mailbox.can_send:
                return Run()  # waits quietly; a reconnect wakes it up again
            batch = _Batch(MailSession(self.credentials, mailbox), owner)
            # The sender lease and the rows it claimed stay ours however slow the server is.
            with leases.Heartbeat(lambda: renew_sender(mailbox_id, owner, clock.now())):
                batch.check = reconcile(batch.session, owner)
                if batch.read_inbox():
                    batch.send()
        finally:
            if batch is not None:
                batch.close()
            release_sender(mailbox_id, owner)
        next_at = wake_times(clock.now(), [mailbox_id]).get(mailbox_id)
        return Run(next_at=next_at, check=batch.check)


class _Batch:
    """One pass's sending for one mailbox, over its session's connections."""

    def __init__(self, session: MailSession, owner: str):
        self.session, self.mailbox, self.owner = session, session.mailbox, owner
        self.no_copy = False   # appending to Sent failed once: not again in this batch
        self.check = False
        self.stopped = False
        self.reconnected = False
        self.steps = outbox.StepCache()
        self.told_at = clock.now()     # open pages were last told of a send (changes.bump)
        self.untold = False

    def close(self) -> None:
        if self.untold:  # the last sends of the batch reach open pages too
            changes.bump(self.mailbox.team_id)
            self.untold = False
        self.session.close()

    def _give_up(self, failure: Failure | None, retry: timedelta = RETRY_AFTER) -> None:
        """Stop this batch: what it still holds goes back to the queue, in order."""
        self.stopped = True
        outbox.requeue(self.owner)
        pause_sender(self.mailbox.id, clock.now() + retry)
        if failure is not None and needs_check(failure):
            self.check = True  # the health engine decides: reconnect needed, or a blip
        if failure is not None:
            log.info("sending from mailbox %s stopped: %s %s", self.mailbox.id, failure.code,
                     failure.cause)

    def _stopped_by(self, error: MailError | Busy, retry: timedelta = RETRY_AFTER) -> None:
        """Give up for a sign-in or connection error: a check holding the token is looked at
        again shortly; a failure the operator must fix, after the usual pause."""
        if isinstance(error, Busy):
            self._give_up(None, BUSY_RETRY)
        else:
            self._give_up(error.failure, RETRY_AFTER if error.failure.kind is Kind.APP else retry)

    def read_inbox(self) -> bool:
        """Before sending after a (re)connect: read the INBOX, so a contact who answered while
        the mailbox was away gets no further step. True when sending may go on."""
        if replies.fresh_for_sending(self.mailbox):
            return True
        try:
            replies.fetch_into(self.mailbox.id)(self.session.mailbox_imap())
        except (MailError, Busy) as e:
            self._stopped_by(e, READ_FIRST_RETRY)
            return False
        except (IMAPClientError, OSError) as e:
            self._give_up(from_imap_error(e) if isinstance(e, IMAPClientError)
                          else from_network_error(e, "IMAP"), READ_FIRST_RETRY)
            return False
        if replies.fresh_for_sending(Mailbox.get_by_id(self.mailbox.id)):
            return True
        self._give_up(None, READ_FIRST_RETRY)  # read, but not fully: try again shortly, not at once
        return False

    def send(self) -> None:
        while not self.stopped:
            now = clock.now()
            # Steps read afresh for each claim: an email claimed from here on carries the
            # content saved by now; one claimed before keeps the version it was rendered from.
            self.steps = outbox.StepCache()
            outbox.plan(self.mailbox, now)
            rows = outbox.claim(self.mailbox, self.owner, now)
            if not rows:
                return
            # Each email carries an unsubscribe link: the batch's new handles in one statement.
            prepare_handles(self.mailbox.team_id, [row.contact.email for row in rows])
            for row in rows:
                if self.stopped:
                    break
                self._one(row)
        outbox.requeue(self.owner)

    def _one(self, row) -> None:
        now = clock.now()
        try:
            email = outbox.outgoing(row, self.mailbox, now, self.steps)
            data = send.compose(email)
        except outbox.Unsendable as e:
            outbox.fail(row, self.owner, str(e), now)
            return
        except ValueError as e:  # a line break in a header, an address SMTP cannot carry
            outbox.fail(row, self.owner, f"it cannot be written as an email ({e}).", now)
            return
        if self.session.smtp is None and not self._connected():
            return
        verdict = outbox.begin_transmit(row, self.owner, self.mailbox.id, email.subject, now)
        if verdict != outbox.GO:
            self.stopped = verdict == outbox.STOP
            return
        try:
            reply = self._deliver(row, data)
        except (send.Refused, send.Deferred, send.OutcomeUnknown) as e:
            self._not_accepted(row, e, now)
        except (MailError, Busy) as e:
            outbox.requeue(self.owner, [row.id])
            self._stopped_by(e)
        else:
            # The 250 is the fact: commit it first. Only a crash in this very instant is left
            # for the reconciler (the copy in Sent below is for people, and for that case).
            now = clock.now()
            tell = now - self.told_at >= TELL_EVERY
            outbox.mark_sent(row, self.owner, reply, now, steps=self.steps, bump=tell)
            self.told_at, self.untold = (now, False) if tell else (self.told_at, True)
            if not self.mailbox.is_oauth:
                self._file_copy(data)

    def _connected(self) -> bool:
        """Open the SMTP connection for the batch, or give up the batch."""
        try:
            self.session.open_smtp()
            return True
        except (MailError, Busy) as e:
            self._stopped_by(e)
        return False

    def _not_accepted(self, row, e: Exception, now: datetime) -> None:
        """What the server's answer (or its absence) means for the row."""
        if isinstance(e, send.OutcomeUnknown):
            outbox.hold_for_reconcile(row, self.owner, now)
            self.session.drop_smtp()  # that connection is gone; the next email opens another
        elif isinstance(e, send.Deferred):
            outbox.defer(row, self.owner, e.shown, now)
        elif e.recipient:
            outbox.bounce(row, self.owner, e.shown, now)
        elif e.too_big:
            outbox.fail(row, self.owner, f"it is larger than the mail server accepts "
                        f"({e.shown}).", now, e.shown)
        else:
            outbox.fail(row, self.owner, f"the mail server refused it ({e.shown}).", now, e.shown)

    def _deliver(self, row, data: bytes) -> str:
        """Send on the open connection; if it broke before the message was complete, open
        another once per batch and send again (nothing went out the first time)."""
        try:
            return self._deliver_once(row, data)
        except MailError:
            self.session.drop_smtp()
            if self.reconnected:
                raise
        self.reconnected = True
        # The row stays `transmitting`: should this consumer die during the second try, the
        # reconciler must look in Sent rather than assume nothing went out.
        self.session.open_smtp()  # MailError / Busy propagate: the batch stops
        return self._deliver_once(row, data)

    def _deliver_once(self, row, data: bytes) -> str:
        login = self.session.sending_login  # a refusal mid-session is classified by it
        return send.deliver(self.session.smtp, self.mailbox.email, row.contact.email, data,
                            fresh=login.fresh, oauth=login.oauth)

    def _file_copy(self, data: bytes) -> None:
        """Other Provider servers keep no copy of what is sent over SMTP: file ours in Sent,
        as people expect, and so an interrupted send can be looked up there."""
        if self.no_copy:
            return
        try:
            imap = self.session.mailbox_imap()
            send.append_sent(imap, self.session.sent_folder, data, clock.now())
        except (MailError, Busy) as e:
            self.no_copy = True
            log.warning("mailbox %s: could not file a copy in Sent: %s", self.mailbox.id, e)
