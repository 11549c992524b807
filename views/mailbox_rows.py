"""What each Email Accounts row shows, worked out in Python before the template runs: with a
thousand mailboxes, every call made inside the template costs more than the row's markup."""

from dataclasses import dataclass

import clock
from models.mailboxes import OTHER
from views.common import ago


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    email: str
    status: str
    status_label: str
    icon: str           # google / microsoft / other (the sprite's symbol)
    provider_label: str
    detail: str         # the line under the status, in words
    warning: str
    sends: int
    daily_limit: int
    manage: bool
    is_oauth: bool
    toggle: str         # Enable / Disable


def _detail(mailbox) -> str:
    if mailbox.status == "reconnect_required":
        return mailbox.status_cause
    if mailbox.status == "degraded":
        return f"Delayed since {mailbox.status_since:%H:%M} UTC — {mailbox.status_cause}"
    if mailbox.status == "checking":
        return "First check pending"
    if mailbox.status == "disabled":
        return "Sending is off"
    return f"Checked {ago(mailbox.last_success_at)}"


def rows(mailboxes, user, providers: dict, warnings: dict, sends: dict) -> list[Row]:
    result, now = [], clock.now()
    for m in mailboxes:
        kind = m.provider.split("-")[0]
        label = (providers[m.provider].label if m.provider in providers
                 else "Other provider" if m.provider == OTHER else kind.capitalize())
        result.append(Row(
            id=m.id, email=m.email, status=m.status, status_label=m.status_label,
            icon=kind if kind in ("google", "microsoft") else "other", provider_label=label,
            detail=_detail(m), warning=warnings.get(m.id, ""), sends=sends.get(m.id, 0),
            daily_limit=m.limit_on(now), manage=user.is_admin or m.connected_by_id == user.id,
            is_oauth=m.is_oauth, toggle="Enable" if m.status == "disabled" else "Disable"))
    return result
