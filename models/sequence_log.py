"""What the sequence log says: the wording of its entries, in the user's words. Pure: the
writing itself (models/sequences.py) decides when; this module decides the words."""

from models.mailboxes import DISABLED, RECONNECT_REQUIRED

REMOVED = "deleted"  # the status log_mailbox_transition() is given for a deleted mailbox


# ---- What people do ----------------------------------------------------------------------------

def created_by(user) -> str:
    return f"Created by {user.display_name}, paused until started"


def paused_by(user) -> str:
    return f"Paused by {user.display_name}"


def started_by(user, mailbox_problem: str) -> str:
    """Started again; a blocked mailbox still holds it, and the entry says so."""
    note = f" — blocked: mailbox {mailbox_problem}" if mailbox_problem else ""
    return f"Started by {user.display_name}{note}"


def moved(user, old_email: str, new_email: str, reason: str, finishing: int) -> str:
    """A sequence moved to another mailbox (models/sequence_move.py): who, why, what follows."""
    tail = (f"; {finishing} email{'s' if finishing != 1 else ''} already on its way from "
            f"{old_email} finish{'es' if finishing == 1 else ''} there" if finishing else "")
    return (f"Moved from {old_email} to {new_email} by {user.display_name}: “{reason}” — "
            f"waiting emails go from {new_email}, follow-ups start a new thread{tail}")


def settings_changed(user) -> str:
    return f"Settings changed by {user.display_name}"


def step_edited(user, position: int, verb: str) -> str:
    """`verb` is added, changed or removed; `position` is 0-based."""
    return f"Step {position + 1} {verb} by {user.display_name}"


def step_moved(user, old: int, new: int) -> str:
    """Positions are 0-based."""
    return f"Step {old + 1} moved to place {new + 1} by {user.display_name}"


def rescheduled(count: int) -> str:
    """What a change did to contacts waiting for an email ("" when none)."""
    if not count:
        return ""
    who = "1 contact's" if count == 1 else f"{count:,} contacts'"
    return f" — {who} next email rescheduled"


def enrolled(user, count: int) -> str:
    who = "1 contact" if count == 1 else f"{count:,} contacts"
    return f"{who} enrolled by {user.display_name}"


def contacts_left(user, count: int, verb: str, cancelled: int, email: str = "") -> str:
    """Contacts deleted or removed from the sequence (`verb`), and their emails that will
    not go out; `email` names a single contact (the contact row itself may be gone)."""
    who = email or ("1 contact" if count == 1 else f"{count:,} contacts")
    waiting = f"; {cancelled:,} waiting email{'s' if cancelled != 1 else ''} cancelled" \
        if cancelled else ""
    return f"{who} {verb} by {user.display_name}{waiting}"


# ---- The mailbox's transitions, as the sequences see them ---------------------------------------

def mailbox_problem(mailbox) -> str:
    """Why the mailbox stops sending, in plain words ("" when it does not)."""
    if mailbox.deleted_at:
        return f"{mailbox.email} was removed"
    if mailbox.status == RECONNECT_REQUIRED:
        cause = f" ({mailbox.status_cause})" if mailbox.status_cause else ""
        return f"{mailbox.email} needs reconnecting{cause}"
    if mailbox.status == DISABLED:
        return f"{mailbox.email} is disabled"
    return ""


def blocking(status: str) -> bool:
    return status in (RECONNECT_REQUIRED, DISABLED, REMOVED)


def transition_kind(old: str, new: str) -> str | None:
    """The log entry's kind for a mailbox moving from `old` to `new`; None when the move
    neither blocks nor unblocks nor changes why (e.g. connected → degraded)."""
    if blocking(old) == blocking(new) and (not blocking(new) or old == new):
        return None
    if not blocking(old):
        return "mailbox_blocked"
    return "mailbox_unblocked" if not blocking(new) else "mailbox_changed"


def what_happened(email: str, old: str, new: str, cause: str) -> str:
    if new == RECONNECT_REQUIRED:
        return f"Mailbox {email} needs reconnecting" + (f" ({cause})" if cause else "")
    if new == DISABLED:
        return f"Mailbox {email} disabled"
    if new == REMOVED:
        return f"Mailbox {email} removed"
    return {RECONNECT_REQUIRED: f"Mailbox {email} reconnected",
            DISABLED: f"Mailbox {email} enabled again",
            REMOVED: f"Mailbox {email} added back"}[old]


def outcome(kind: str, paused: bool, waiting: int) -> str:
    """What the transition does to one sequence; `waiting` is its emails held meanwhile."""
    if paused:
        return "sequence stays paused"
    if kind == "mailbox_blocked":
        return "sequence blocked"
    if kind == "mailbox_changed":
        return "sequence stays blocked"
    return "sequence unblocked" + (
        f", {waiting} waiting email{'s' if waiting != 1 else ''} will be sent" if waiting else "")


def test_sent(who: str, number, contact: str, to_email: str, error: str = "") -> str:
    """A test send's outcome: it counts for nothing, but the team sees that it happened."""
    what = f"Test of email {number} (as {contact} would get it) "
    if error:
        return what + f"to {to_email}, asked by {who}, was not sent: {error}"
    return what + f"sent to {to_email}, asked by {who}"
