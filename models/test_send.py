"""Test sends: a step rendered for a chosen contact (models/preview.py, the sender's own
rendering) and sent to the person who asked, through the sequence's mailbox.

It is marked as a test — "[Test]" before the subject and an `X-Tether-Test` header — and
counted against nothing: no outbox row (so no daily limit, no Message-ID a reply could match),
no enrollment moves, no threading headers (a copy landing in the mailbox's own INBOX must not
read as a contact's reply). It is logged in the sequence log. The web asks (`request_test`),
the worker sends (`deliver`), given the row's id only.
"""

from dataclasses import replace
from datetime import timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, TextField

import clock
from mail import send
from mail.failures import MailError
from models import changes, instance
from models import sequence_log as says
from models.accounts import User
from models.base import Timestamped, db
from models.contacts import Contact
from models.credentials import Busy, Credentials, needs_check
from models.mail_session import MailSession
from models.mailboxes import CHECKING, CONNECTED, DEGRADED, Mailbox
from models.preview import render_step
from models.sequences import Sequence, SequenceStep, write_log

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
BUSY = "busy"  # not a stored status: deliver() asks to be called again shortly
BUSY_PATIENCE = timedelta(minutes=2)
TEST_HEADER = "X-Tether-Test"
SUBJECT_MARK = "[Test] "


class TestSend(Timestamped):
    __test__ = False  # a model, not a pytest class

    sequence = ForeignKeyField(Sequence, on_delete="CASCADE")
    step = ForeignKeyField(SequenceStep, null=True, on_delete="SET NULL")
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    to_email = CharField()
    status = CharField(default=QUEUED)
    error = TextField(default="")      # why it was not sent, in plain words
    message_id = CharField(default="")
    finished_at = DateTimeField(null=True)

    @property
    def done(self) -> bool:
        return self.status in (SENT, FAILED)


def mailbox_refusal(mailbox: Mailbox) -> str | None:
    """Why a test cannot go out through `mailbox` now, in words; None when it can."""
    if mailbox.deleted_at is not None:
        return (f"The mailbox {mailbox.email} was removed. Choose another mailbox in the "
                "sequence's settings, or add it back.")
    if mailbox.status == CONNECTED:
        return None
    if mailbox.status == DEGRADED:
        return (f"{mailbox.email} cannot reach its provider right now "
                f"({mailbox.status_cause or 'a temporary problem'}). Try again in a few minutes.")
    if mailbox.status == CHECKING:
        return f"{mailbox.email} is still being checked. Try again in a moment."
    return (f"{says.mailbox_problem(mailbox)}, so it cannot send. Fix it in Settings → Email "
            "Accounts, then send the test.")


def request_test(sequence, step, contact, user) -> tuple[TestSend | None, str]:
    """(the queued test send, "") or (None, why not). Checks what can be known now; the
    worker checks the mailbox again when it sends."""
    problem = mailbox_refusal(sequence.mailbox)
    if problem is None:
        _, why = render_step(sequence, step, contact, sequence.mailbox)
        problem = why or None
    if problem:
        return None, problem
    return TestSend.create(sequence=sequence, step=step, contact=contact, user=user,
                           to_email=user.email), ""


def _claim(test_id: int) -> TestSend | None:
    """queued → sending, once: a task delivered twice sends once."""
    taken = (TestSend.update(status=SENDING)
             .where((TestSend.id == test_id) & (TestSend.status == QUEUED)).execute())
    return TestSend.get_by_id(test_id) if taken else None


def _finish(test: TestSend, status: str, error: str = "") -> None:
    sequence, step = test.sequence, test.step
    number = step.position + 1 if step else "?"
    contact = test.contact.email if test.contact else "a removed contact"
    with db.atomic():
        (TestSend.update(status=status, error=error, message_id=test.message_id,
                         finished_at=clock.now()).where(TestSend.id == test.id).execute())
        who = test.user.display_name if test.user else "someone"
        write_log(sequence, "test_sent" if status == SENT else "test_failed",
                  says.test_sent(who, number, contact, test.to_email, error),
                  details={"test_send": test.id, "message_id": test.message_id})
        changes.bump(sequence.team_id)


def deliver(test_id: int, catalog) -> tuple[str, Mailbox | None, bool]:
    """Send test `test_id` (the worker's half). Returns (status, mailbox, whether the health
    engine should check the mailbox now: a refused sign-in)."""
    test = _claim(test_id)
    if test is None:
        return "", None, False  # already sent, or being sent by another worker
    mailbox = Mailbox.get_by_id(test.sequence.mailbox_id)
    if not instance.live():
        _finish(test, FAILED, "This copy of Tether is paused (a restored or copied database): "
                "it sends nothing until an operator confirms it.")
        return FAILED, mailbox, False
    problem = mailbox_refusal(mailbox)
    if problem is None and (test.step is None or test.contact is None):
        problem = "Its step or contact was removed before it went out."
    email = None
    if problem is None:
        email, problem = render_step(test.sequence, test.step, test.contact, mailbox)
    if problem:
        _finish(test, FAILED, problem)
        return FAILED, mailbox, False
    email = replace(email, to_address=test.to_email,
                    to_name=test.user.display_name if test.user else "",
                    subject=SUBJECT_MARK + email.subject, in_reply_to="", references=(),
                    list_unsubscribe="",  # it goes to a teammate, not a contact
                    extra_headers=((TEST_HEADER, f"yes; for {test.contact.email}"),))
    test.message_id = email.message_id
    return _send(test, mailbox, email, catalog)


def _send(test, mailbox, email, catalog) -> tuple[str, Mailbox, bool]:
    try:
        data = send.compose(email)
    except ValueError as e:
        _finish(test, FAILED, f"It cannot be written as an email ({e}).")
        return FAILED, mailbox, False
    session = MailSession(Credentials(catalog), mailbox)
    try:
        session.open_smtp()
        login = session.sending_login
        send.deliver(session.smtp, mailbox.email, test.to_email, data, fresh=login.fresh,
                     oauth=login.oauth)
    except MailError as e:
        _finish(test, FAILED, f"{mailbox.email} could not send it: {e.failure.cause}")
        return FAILED, mailbox, needs_check(e.failure)
    except Busy:  # a check holds the token (it may be rotating it): try again shortly
        if clock.now() - test.created_at < BUSY_PATIENCE:
            TestSend.update(status=QUEUED).where(TestSend.id == test.id).execute()
            return BUSY, mailbox, False
        _finish(test, FAILED, f"{mailbox.email} was being checked the whole time. Try again "
                "in a moment.")
        return FAILED, mailbox, False
    except (send.Refused, send.Deferred) as e:
        _finish(test, FAILED, f"The mail server did not take it ({e.shown}).")
        return FAILED, mailbox, False
    except send.OutcomeUnknown:
        _finish(test, FAILED, "The connection dropped as it went out: it may or may not "
                f"have arrived. Look in {test.to_email}'s inbox before sending another.")
        return FAILED, mailbox, False
    finally:
        session.close()
    _finish(test, SENT)
    return SENT, mailbox, False
