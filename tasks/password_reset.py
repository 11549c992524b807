"""The password reset email. The task takes the address typed, never a link: the link is made
when the email is sent, so no working link waits in the queue."""

from models import password_reset
from tasks import huey, with_db


@huey.task(retries=3, retry_delay=60)
@with_db
def email_password_reset(address: str) -> bool:
    return password_reset.send_link(address)
