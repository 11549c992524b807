"""The demo's second half: connect the demo mailboxes once the sandbox answers (make run)."""

from huey.exceptions import RetryTask

import config
from models import demo, events
from tasks import huey, with_db


@huey.task(retries=120)
@with_db
def seed_demo_mailboxes():
    """Retried every second until the sandbox is up; then connects the mailboxes once."""
    try:
        seeded = demo.seed_mailboxes(config.current())
    except demo.SandboxNotReady as e:
        raise RetryTask(f"waiting for the sandbox: {e}", delay=1) from e
    if seeded:
        events.dispatch()  # the expired Microsoft mailbox's notices and logs
    demo.register_signal_streams(config.current())  # every start: BASE_URL may have moved
