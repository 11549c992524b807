"""Rules for one-line text people type: names of people, teams, sequences and contacts, and
email addresses.

One place decides what a one-line value may hold, so a name that would break a header, a log
line or the page's reading direction is refused the same way everywhere, and an address is
checked and written the same way by sign-up, invites, mailboxes, contacts and CSV imports.
"""

import re

from email_validator import EmailNotValidError, validate_email

MAX_NAME = 120
# C0 and C1 controls, line and paragraph separators, and the bidi embeddings, overrides and
# isolates that make a name display reversed or spoof what follows it ("Trojan Source").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def has_control_chars(text: str) -> bool:
    """Line breaks, other control characters and bidi overrides: never in a one-line value."""
    return bool(_CONTROL.search(text or ""))


def name_problem(text: str, what: str = "name") -> str | None:
    """Why `text` cannot be a name (already stripped), in the person's words; None if fine."""
    if len(text or "") > MAX_NAME:
        return f"Keep the {what} to {MAX_NAME} characters or fewer."
    if has_control_chars(text):
        return f"The {what} must be one line, without control or text-direction characters."
    return None


NO_ADDRESS = "no email address"
NOT_AN_ADDRESS = "not a valid email address"


def email_address(raw: str) -> str:
    """`raw` as the one form Tether stores and compares an address in: trimmed, checked and
    lower case. Raises ValueError, with NO_ADDRESS or NOT_AN_ADDRESS as its message.

    The syntax is email-validator's (RFC 5321/5322 with internationalised domains). Nothing is
    looked up: `check_deliverability=False`, since a DNS query per address would make a CSV
    import of 50,000 rows take minutes, and the app must work offline. `test_environment`
    lets `.test` through (RFC 2606 reserves it for testing): the demo team and the sandbox
    provider use it, and nobody types one by mistake, since no real mailbox has such an
    address. `.local`, `.localhost`, `.invalid` and the like stay refused. `strict` keeps RFC
    5321's 64-character limit before the @, which mail servers enforce. The whole address
    is lower-cased, as Tether always compared it: no mail provider tells Pat@ from pat@.
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError(NO_ADDRESS)
    if has_control_chars(text):
        raise ValueError(NOT_AN_ADDRESS)
    try:
        checked = validate_email(text, check_deliverability=False, test_environment=True,
                                 strict=True)  # strict: at most 64 characters before the @
    except EmailNotValidError as e:
        raise ValueError(NOT_AN_ADDRESS) from e
    if "." not in checked.ascii_domain:  # test_environment would also let a bare "@test" in
        raise ValueError(NOT_AN_ADDRESS)
    return checked.normalized.lower()
