"""The sender: one mailbox's due emails over one SMTP connection reused across the batch, and
the reconciler that settles sends a crash left unknown by looking in the Sent folder.

It runs under the mailbox's sender lease (kept here, with the mailbox's wake-ups), so one
sender per mailbox at a time however many consumers there are. Every write is a short
transaction of the outbox's own rules; network I/O happens between them, never inside one.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from imapclient.exceptions import IMAPClientError
from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, fn

import clock
from mail import send
from mail.connect import Login, imap_login, smtp_login
from mail.failures import Failure, Kind, MailError, from_imap_error, from_network_error
from models import changes, leases, outbox, replies
from models.base import BaseModel, write_transaction
from models.credentials import Busy, Credentials
from models.mailboxes import CONNECTED, Mailbox, limit_on
from models.outbox import LEASE, QUEUED, SENDING, OutboxEmail, day_start
from models.sequences import Enrollment, Sequence

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)   # a failed connection: the mailbox's emails wait this long
READ_FIRST_RETRY = timedelta(seconds=5)  # the INBOX could not be read yet (a check in progress)
BUSY_RETRY = timedelta(seconds=5)    # a check holds the token: look again shortly
TELL_EVERY = timedelta(seconds=1)    # open pages hear of a batch's sends at most this often


class OutboxSender(BaseModel):
    """Per mailbox: the sender lease (one sender, one SMTP connection at a time) and the
    scheduled wake-up. `wake` numbers the scheduled task: an older one that fires finds a
    newer number and stands down, so rescheduling never multiplies tasks."""

    mailbox = ForeignKeyField(Mailbox, primary_key=True, on_delete="CASCADE")
    lease_owner = CharField(default="")
    lease_until = DateTimeField(null=True)   # while leased: its expiry; then: the last pass's end
    wake = IntegerField(default=0)
    wake_at = DateTimeField(null=True)
    pause_until = DateTimeField(null=True)   # after a connection failure: retry from then


# ---- The sender lease and the wake-ups ------------------------------------------------------

def acquire_sender(mailbox_id: int, owner: str, now: datetime) -> bool:
    """Take the mailbox's sender lease if it is free or expired. One UPDATE: atomic."""
    OutboxSender.insert(mailbox=mailbox_id).on_conflict_ignore().execute()
    taken = (OutboxSender.update(lease_owner=owner, lease_until=now + LEASE)
             .where((OutboxSender.mailbox == mailbox_id)
                    & ((OutboxSender.lease_owner == "") | OutboxSender.lease_until.is_null()
                       | (OutboxSender.lease_until < now)))
             .execute())
    return taken == 1


def renew_sender(mailbox_id: int, owner: str, now: datetime) -> None:
    """The sender lease and the leases of the rows it holds (claimed or transmitting)."""
    (OutboxSender.update(lease_until=now + LEASE)
     .where((OutboxSender.mailbox == mailbox_id) & (OutboxSender.lease_owner == owner)).execute())
    (OutboxEmail.update(lease_until=now + LEASE)
     .where((OutboxEmail.lease_owner == owner) & (OutboxEmail.status == SENDING)).execute())


def release_sender(mailbox_id: int, owner: str) -> None:
    """Free the lease; `lease_until` then keeps when the last pass ended."""
    (OutboxSender.update(lease_owner="", lease_until=clock.now())
     .where((OutboxSender.mailbox == mailbox_id) & (OutboxSender.lease_owner == owner)).execute())


def pause_sender(mailbox_id: int, until: datetime) -> None:
    OutboxSender.update(pause_until=until).where(OutboxSender.mailbox == mailbox_id).execute()


def current_wake(mailbox_id: int) -> int | None:
    return OutboxSender.select(OutboxSender.wake).where(OutboxSender.mailbox == mailbox_id).scalar()


def set_wake(mailbox_id: int, at: datetime) -> int:
    """Record the next wake-up and return its number (the scheduled task's argument)."""
    with write_transaction():
        OutboxSender.insert(mailbox=mailbox_id).on_conflict_ignore().execute()
        (OutboxSender.update(wake=OutboxSender.wake + 1, wake_at=at)
         .where(OutboxSender.mailbox == mailbox_id).execute())
        return OutboxSender.select(OutboxSender.wake).where(OutboxSender.mailbox == mailbox_id).scalar()


def wake_times(now: datetime, mailbox_ids=None) -> dict[int, datetime]:
    """When each connected mailbox next has sending work: a due step or a queued row, inside
    its sequence's window and the daily limit; or a row to reconcile. One pass of grouped
    queries for all mailboxes (the sweep) or a few (a sender's next wake-up)."""
    boxes = Mailbox.select(Mailbox.id, Mailbox.daily_limit, Mailbox.warmup_start,
                           Mailbox.warmup_step, Mailbox.warmup_since).where(
        Mailbox.deleted_at.is_null() & (Mailbox.status == CONNECTED))
    if mailbox_ids is not None:
        boxes = boxes.where(Mailbox.id.in_(list(mailbox_ids)))
    limits = {mid: limit_on(*ramp, now) for mid, *ramp in boxes.tuples()}
    if not limits:
        return {}
    sequences = list(Sequence.select().where(Sequence.mailbox.in_(list(limits))
                                             & (Sequence.paused == False)))  # noqa: E712
    sequence_ids = [s.id for s in sequences]
    steps_due = dict(Enrollment.select(Enrollment.sequence, fn.MIN(Enrollment.next_due_at))
                     .where(Enrollment.sequence.in_(sequence_ids) & (Enrollment.status == "active")
                            & Enrollment.next_due_at.is_null(False))
                     .group_by(Enrollment.sequence).tuples()) if sequence_ids else {}
    rows_due = dict(OutboxEmail.select(OutboxEmail.sequence, fn.MIN(OutboxEmail.due_at))
                    .where(OutboxEmail.sequence.in_(sequence_ids) & (OutboxEmail.status == QUEUED))
                    .group_by(OutboxEmail.sequence).tuples()) if sequence_ids else {}
    attempted, waiting = outbox.attempted_today(limits, now), outbox.waiting_rows(limits)
    paused = dict(OutboxSender.select(OutboxSender.mailbox, OutboxSender.pause_until)
                  .where(OutboxSender.mailbox.in_(list(limits))
                         & (OutboxSender.pause_until > now)).tuples())
    tomorrow = day_start(now) + timedelta(days=1)
    found: dict[int, datetime] = {}

    def consider(mailbox_id, moment):
        if moment is not None and (mailbox_id not in found or moment < found[mailbox_id]):
            found[mailbox_id] = moment

    for sequence in sequences:
        mid = sequence.mailbox_id
        sent = attempted.get(mid, 0)
        for moment, full in ((steps_due.get(sequence.id), sent + waiting.get(mid, 0)),
                             (rows_due.get(sequence.id), sent)):
            if moment is None:
                continue
            if full >= limits[mid]:
                moment = max(moment, tomorrow)
            moment = max(moment, now, paused.get(mid, now))
            consider(mid, sequence.next_send_time(moment))
    for mid, moment in (OutboxEmail.select(OutboxEmail.mailbox, fn.MIN(OutboxEmail.lease_until))
                        .where(OutboxEmail.mailbox.in_(list(limits))
                               & (OutboxEmail.status == SENDING))
                        .group_by(OutboxEmail.mailbox).tuples()):
        consider(mid, max(moment, paused.get(mid, moment)))
    return found


def wakes_due(now: datetime, grace: timedelta) -> list[tuple[int, datetime]]:
    """The sweep's question: mailboxes with sending work and no wake-up on its way — none
    scheduled, one that should have fired more than `grace` ago, or one later than the work
    (new enrollments). A mailbox whose sender is at work reschedules itself."""
    times = wake_times(now)
    if not times:
        return []
    senders = {s.mailbox_id: s for s in OutboxSender.select().where(
        OutboxSender.mailbox.in_(list(times)))}
    due = []
    for mailbox_id, at in sorted(times.items()):
        sender = senders.get(mailbox_id)
        if sender and sender.lease_owner and sender.lease_until and sender.lease_until > now:
            continue
        if (sender is None or sender.wake_at is None or sender.wake_at < now - grace
                or at < sender.wake_at - timedelta(seconds=1)):
            due.append((mailbox_id, at))
    return due


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
        """One pass for one mailbox: settle orphans, plan due steps, send what is due."""
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
            batch = _Batch(self, mailbox, owner)
            # The sender lease and the rows it claimed stay ours however slow the server is.
            with leases.Heartbeat(lambda: renew_sender(mailbox_id, owner, clock.now())):
                batch.reconcile()
                if batch.read_inbox():
                    batch.send()
        finally:
            if batch is not None:
                batch.close()
            release_sender(mailbox_id, owner)
        next_at = wake_times(clock.now(), [mailbox_id]).get(mailbox_id)
        return Run(next_at=next_at, check=batch.check)


class _Batch:
    """One run's connections and credentials for one mailbox."""

    def __init__(self, sender: Sender, mailbox: Mailbox, owner: str):
        self.sender, self.mailbox, self.owner = sender, mailbox, owner
        self.smtp = self.imap = None
        self.login: Login | None = None
        self.sent_folder = ""
        self.no_copy = False   # appending to Sent failed once: not again in this batch
        self.check = False
        self.stopped = False
        self.reconnected = False
        self.steps = outbox.StepCache()
        self.told_at = clock.now()     # open pages were last told of a send (changes.bump)
        self.untold = False

    # -- credentials and connections ------------------------------------------------------------

    def _signed_in(self, connect):
        """`connect(login)`, signed in by the one credentials path (models/credentials.py)."""
        def use(login: Login):
            self.login = login
            return connect(login)

        return self.sender.credentials.signed_in(self.mailbox, use, leased=False)

    def _open_smtp(self):
        _, server = self.sender.credentials.servers(self.mailbox)
        return self._signed_in(lambda login: smtp_login(server, login))

    def _open_imap(self):
        if self.imap is None:
            server, _ = self.sender.credentials.servers(self.mailbox)
            self.imap = self._signed_in(lambda login: imap_login(server, login))
            self.sent_folder = send.sent_folder(self.imap)
        return self.imap

    def close(self) -> None:
        if self.untold:  # the last sends of the batch reach open pages too
            changes.bump(self.mailbox.team_id)
            self.untold = False
        send.close(self.smtp)
        send.logout(self.imap)
        self.smtp = self.imap = None

    def _give_up(self, failure: Failure | None, retry: timedelta = RETRY_AFTER) -> None:
        """Stop this batch: what it still holds goes back to the queue, in order."""
        self.stopped = True
        outbox.requeue(self.owner)
        pause_sender(self.mailbox.id, clock.now() + retry)
        if failure is not None and (failure.kind is not Kind.TRANSIENT or failure.stale_token):
            self.check = True  # the health engine decides: reconnect needed, or a blip
        if failure is not None:
            log.info("sending from mailbox %s stopped: %s %s", self.mailbox.id, failure.code,
                     failure.cause)

    def read_inbox(self) -> bool:
        """Before sending after a (re)connect: read the INBOX, so a contact who answered while
        the mailbox was away gets no further step. True when sending may go on."""
        if replies.fresh_for_sending(self.mailbox):
            return True
        try:
            replies.fetch_into(self.mailbox.id)(self._open_imap())
        except MailError as e:
            # The operator's to fix (undecryptable, provider gone): no use looking in seconds.
            self._give_up(e.failure, RETRY_AFTER if e.failure.kind is Kind.APP
                          else READ_FIRST_RETRY)
            return False
        except (IMAPClientError, OSError) as e:
            self._give_up(from_imap_error(e) if isinstance(e, IMAPClientError)
                          else from_network_error(e, "IMAP"), READ_FIRST_RETRY)
            return False
        except Busy:
            self._give_up(None, BUSY_RETRY)
            return False
        if replies.fresh_for_sending(Mailbox.get_by_id(self.mailbox.id)):
            return True
        self._give_up(None, READ_FIRST_RETRY)  # read, but not fully: try again shortly, not at once
        return False

    def _connect_or_give_up(self) -> bool:
        try:
            self.smtp = self._open_smtp()
            return True
        except MailError as e:
            self._give_up(e.failure)
        except Busy:
            self._give_up(None, BUSY_RETRY)
        return False

    # -- sending --------------------------------------------------------------------------------

    def send(self) -> None:
        while not self.stopped:
            now = clock.now()
            outbox.plan(self.mailbox, now)
            rows = outbox.claim(self.mailbox, self.owner, now)
            if not rows:
                return
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
        if self.smtp is None and not self._connect_or_give_up():
            return
        verdict = outbox.begin_transmit(row, self.owner, self.mailbox.id, email.subject, now)
        if verdict != outbox.GO:
            self.stopped = verdict == outbox.STOP
            return
        try:
            reply = self._deliver(row, data)
        except send.Refused as e:
            if e.recipient:
                outbox.bounce(row, self.owner, e.shown, now)
            elif e.too_big:
                outbox.fail(row, self.owner, f"it is larger than the mail server accepts "
                            f"({e.shown}).", now, e.shown)
            else:
                outbox.fail(row, self.owner, f"the mail server refused it ({e.shown}).", now,
                            e.shown)
        except send.Deferred as e:
            outbox.defer(row, self.owner, e.shown, now)
        except send.OutcomeUnknown:
            outbox.hold_for_reconcile(row, self.owner, now)
            send.close(self.smtp)  # that connection is gone; the next email opens another
            self.smtp = None
        except MailError as e:
            outbox.requeue(self.owner, [row.id])
            self._give_up(e.failure)
        except Busy:
            outbox.requeue(self.owner, [row.id])
            self._give_up(None, BUSY_RETRY)
        else:
            # The 250 is the fact: commit it first. Only a crash in this very instant is left
            # for the reconciler (the copy in Sent below is for people, and for that case).
            now = clock.now()
            tell = now - self.told_at >= TELL_EVERY
            outbox.mark_sent(row, self.owner, reply, now, steps=self.steps, bump=tell)
            self.told_at, self.untold = (now, False) if tell else (self.told_at, True)
            if not self.mailbox.is_oauth:
                self._file_copy(data)

    def _deliver(self, row, data: bytes) -> str:
        """Send on the open connection; if it broke before the message was complete, open
        another once per batch and send again (nothing went out the first time)."""
        fresh, oauth = self.login.fresh, self.login.oauth
        try:
            return send.deliver(self.smtp, self.mailbox.email, row.contact.email, data,
                                fresh=fresh, oauth=oauth)
        except MailError:
            send.close(self.smtp)
            self.smtp = None
            if self.reconnected:
                raise
        self.reconnected = True
        # The row stays `transmitting`: should this consumer die during the second try, the
        # reconciler must look in Sent rather than assume nothing went out.
        self.smtp = self._open_smtp()  # MailError / Busy propagate: the batch stops
        return send.deliver(self.smtp, self.mailbox.email, row.contact.email, data,
                            fresh=self.login.fresh, oauth=self.login.oauth)

    def _file_copy(self, data: bytes) -> None:
        """Other Provider servers keep no copy of what is sent over SMTP: file ours in Sent,
        as people expect, and so an interrupted send can be looked up there."""
        if self.no_copy:
            return
        try:
            send.append_sent(self._open_imap(), self.sent_folder, data, clock.now())
        except (MailError, Busy) as e:
            self.no_copy = True
            log.warning("mailbox %s: could not file a copy in Sent: %s", self.mailbox.id, e)

    # -- reconciling ----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Settle the rows a dead sender left `sending` for this mailbox."""
        now = clock.now()
        rows = outbox.adopt_orphans(self.mailbox.id, self.owner, now)
        if not rows:
            return
        try:
            imap = self._open_imap()
            found = send.find_in_sent(imap, self.sent_folder, [r.message_id for r in rows])
        except (MailError, Busy) as e:
            outbox.release_orphans(self.owner, now + RETRY_AFTER)
            failure = getattr(e, "failure", None)
            if failure is not None and (failure.kind is not Kind.TRANSIENT or failure.stale_token):
                self.check = True
            send.logout(self.imap)
            self.imap = None
            return
        for row in rows:
            outbox.settle(row, self.owner, found=row.message_id in found,
                          provider_files_sent=self.mailbox.is_oauth, now=clock.now())
