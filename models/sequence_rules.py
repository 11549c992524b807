"""What a sequence's settings and steps must be, in the user's words: pure checks that raise
ValueError with the message to show, for the web forms and any other caller; and the
per-field collections of those messages the pages render."""

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from models.templating import template_problem
from models.text import has_control_chars

MAX_NAME, MAX_SUBJECT, MAX_BODY, MAX_DELAY_DAYS = 120, 250, 20_000, 365
MAX_SENDER_NAME = 100
MAX_FOOTER = 1_000
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})


# ---- A step ----------------------------------------------------------------------------------

def check_subject(subject: str, first: bool) -> None:
    if has_control_chars(subject):
        raise ValueError("The subject must be a single line, without line breaks.")
    if first and not subject.strip():
        raise ValueError("The first email needs a subject.")
    if len(subject) > MAX_SUBJECT:
        raise ValueError(f"Keep the subject under {MAX_SUBJECT} characters.")
    _check_template(subject)


def check_body(body: str) -> None:
    if not body.strip():
        raise ValueError("Write the email's text.")
    if len(body) > MAX_BODY:
        raise ValueError(f"Keep the email under {MAX_BODY:,} characters.")
    _check_template(body)


def check_delay(delay_days: int | None, delay_hours: int | None) -> None:
    """The wait before a step; None stands for a value that was not a whole number."""
    if delay_days is None or not 0 <= delay_days <= MAX_DELAY_DAYS:
        raise ValueError(f"Wait between 0 and {MAX_DELAY_DAYS} days.")
    if delay_hours is None or not 0 <= delay_hours <= 23:
        raise ValueError("Hours go from 0 to 23.")


def check_footer(footer: str) -> None:
    """The optional unsubscribe footer: a few lines below every email, e.g. "Not interested?
    {{unsubscribe_url}}". Empty is fine (no footer)."""
    if len(footer) > MAX_FOOTER:
        raise ValueError(f"Keep the footer under {MAX_FOOTER:,} characters.")
    _check_template(footer)


def _check_template(text: str) -> None:
    problem = template_problem(text)
    if problem:
        raise ValueError(problem)


def step_problems(subject, body, delay_days, delay_hours, first: bool) -> dict:
    """What is wrong with a step, per field ({} when it can be saved)."""
    return _problems(subject=lambda: check_subject(subject, first),
                     body=lambda: check_body(body),
                     delay=lambda: check_delay(delay_days, delay_hours))


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
