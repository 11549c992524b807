"""What a sequence's settings and steps must be, in the user's words: pure checks that raise
ValueError with the message to show, for the web forms and any other caller; and the
per-field collections of those messages the pages render."""

import re
from collections.abc import Collection
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from models.templating import template_problem
from models.text import has_control_chars

MAX_NAME, MAX_SUBJECT, MAX_BODY, MAX_DELAY_DAYS = 120, 250, 20_000, 365
# A step's wait is stored in minutes and typed in one of these units.
DELAY_UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
MAX_SENDER_NAME = 100
MAX_FOOTER = 1_000
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})


# ---- A step ----------------------------------------------------------------------------------

# `custom` below: the team's custom field names (models/contacts.py custom_field_names), the
# fields a template may use beyond a contact's own columns.

def check_subject(subject: str, first: bool, custom: Collection[str] = ()) -> None:
    if has_control_chars(subject):
        raise ValueError("The subject must be a single line, without line breaks.")
    if first and not subject.strip():
        raise ValueError("The first email needs a subject.")
    if len(subject) > MAX_SUBJECT:
        raise ValueError(f"Keep the subject under {MAX_SUBJECT} characters.")
    _check_template(subject, custom)


def check_body(body: str, custom: Collection[str] = ()) -> None:
    if not body.strip():
        raise ValueError("Write the email's text.")
    if len(body) > MAX_BODY:
        raise ValueError(f"Keep the email under {MAX_BODY:,} characters.")
    _check_template(body, custom)


def check_delay(amount: int | None, unit: str) -> None:
    """The wait before a step, as typed; None stands for a value that was not a whole number."""
    if unit not in DELAY_UNITS:
        raise ValueError("Choose minutes, hours or days.")
    if amount is None or not 0 <= amount * DELAY_UNITS[unit] <= MAX_DELAY_DAYS * 24 * 60:
        raise ValueError(f"Wait a whole number between 0 and {MAX_DELAY_DAYS} days.")


def delay_minutes(amount: int, unit: str) -> int:
    return amount * DELAY_UNITS[unit]


def delay_as_typed(minutes: int) -> tuple[int, str]:
    """A stored wait in the largest unit that says it exactly: 4320 → (3, "days")."""
    for unit in ("days", "hours"):
        if minutes and minutes % DELAY_UNITS[unit] == 0:
            return minutes // DELAY_UNITS[unit], unit
    return minutes, "minutes"


def delay_words(minutes: int) -> str:
    """ "3 days", "1 hour 30 minutes", "no wait"."""
    if not minutes:
        return "no wait"
    days, rest = divmod(minutes, DELAY_UNITS["days"])
    hours, mins = divmod(rest, 60)
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}"
                    for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute")) if n)


def check_footer(footer: str, custom: Collection[str] = ()) -> None:
    """The optional unsubscribe footer: a few lines below every email, e.g. "Not interested?
    {{unsubscribe_url}}". Empty is fine (no footer)."""
    if len(footer) > MAX_FOOTER:
        raise ValueError(f"Keep the footer under {MAX_FOOTER:,} characters.")
    _check_template(footer, custom)


def _check_template(text: str, custom: Collection[str]) -> None:
    problem = template_problem(text, custom)
    if problem:
        raise ValueError(problem)


def step_problems(subject, body, delay_amount, delay_unit, first: bool,
                  custom: Collection[str] = ()) -> dict:
    """What is wrong with a step, per field ({} when it can be saved)."""
    return _problems(subject=lambda: check_subject(subject, first, custom),
                     body=lambda: check_body(body, custom),
                     delay=lambda: check_delay(delay_amount, delay_unit))


# ---- Settings: name, mailbox, sender name, window, time zone ----------------------------------

def check_name(name: str) -> None:
    if not name.strip():
        raise ValueError("Give the sequence a name.")
    if len(name) > MAX_NAME or has_control_chars(name):
        raise ValueError(f"Use one line of at most {MAX_NAME} characters, without control or "
                         "text-direction characters.")


def check_mailbox(mailbox) -> None:
    if mailbox is None:
        raise ValueError("Choose the mailbox this sequence sends from.")


def check_sender_name(sender_name: str) -> None:
    if has_control_chars(sender_name):
        raise ValueError("The sender name must be one line, without line breaks.")
    # It goes into the From header as a display name: keep it plain.
    if len(sender_name) > MAX_SENDER_NAME or any(c in sender_name for c in '<>"'):
        raise ValueError(f"Use a plain name of at most {MAX_SENDER_NAME} characters, "
                         "without < > \".")


def check_window(days, start: int | None, end: int | None) -> None:
    """Sending days and minutes after midnight; None for a time that did not parse."""
    if not days:
        raise ValueError("Choose at least one day to send on.")
    if start is None or end is None:
        raise ValueError("Give the hours to send between, like 09:00 and 17:00.")
    if end <= start:
        raise ValueError("The window must end after it starts.")


def check_timezone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
        if timezone not in TIMEZONES:
            raise ZoneInfoNotFoundError(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("Choose a time zone from the list.") from None


def settings_problems(name, mailbox, sender_name, days, start, end, timezone) -> dict:
    """What is wrong with a sequence's settings, per field, in the user's words."""
    return _problems(name=lambda: check_name(name),
                     mailbox=lambda: check_mailbox(mailbox),
                     sender_name=lambda: check_sender_name(sender_name),
                     window=lambda: check_window(days, start, end),
                     timezone=lambda: check_timezone(timezone))


def minutes(value: str) -> int | None:
    """'09:30' → 570; None when it is not a time of day."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return int(match.group(1)) * 60 + int(match.group(2))


def _problems(**checks) -> dict:
    """Run each field's check; {field: message} for those that refuse."""
    errors = {}
    for field, check in checks.items():
        try:
            check()
        except ValueError as refusal:
            errors[field] = str(refusal)
    return errors
