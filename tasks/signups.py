"""Sign-up emails: the confirmation link for a new address, a heads-up to the owner of one that
has an account. They take ids; the link is made when the email is sent, never queued."""

from models import signups
from tasks import huey, with_db


@huey.task(retries=3, retry_delay=60)
@with_db
def email_sign_up_link(pending_id: int) -> bool:
    return signups.send_link(pending_id)


@huey.task(retries=3, retry_delay=60)
@with_db
def email_sign_up_attempt(user_id: int) -> bool:
    return signups.send_attempt_notice(user_id)
