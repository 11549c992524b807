"""The test send's task: the worker sends what a person asked for on the preview page
(models/test_send.py). It takes the test send's id, nothing else."""

from mail import providers
from models import test_send
from tasks import huey, with_db
from tasks.checks import request_check

BUSY_RETRY_SECONDS = 5  # a health check holds the mailbox's token for a moment


@huey.task()
@with_db
def send_test(test_id: int):
    """Send one test email; a refused sign-in asks the health engine for a check at once."""
    status, mailbox, check = test_send.deliver(test_id, providers.current())
    if status == test_send.BUSY:
        send_test.schedule((test_id,), delay=BUSY_RETRY_SECONDS)
    if check and mailbox is not None:
        request_check(mailbox.id)
    return status
