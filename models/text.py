"""Rules for one-line text people type: names of people, teams, sequences and contacts.

One place decides what a one-line value may hold, so a name that would break a header, a log
line or the page's reading direction is refused the same way everywhere.
"""

import re

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
