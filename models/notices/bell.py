"""The bell channel: an entry in the person's in-app notifications (models/notifications.py)."""

from models.accounts import User
from models.notices.channels import channel
from models.notifications import notify


@channel("bell")
def bell(person, notice, key: str) -> bool:
    if not isinstance(person, User):  # an operator known only by address has no bell here
        return False
    return notify(person, notice.mailbox_id, notice.kind, notice.title, notice.summary,
                  key=key, incident=notice.incident) is not None
