"""The template language of a step's subject and body: merge fields like {{first_name}}, with
a fallback for contacts without one ({{first_name|there}}), checked when saved and filled in
for each contact when sent."""

import re

# The fields a subject or body may use: a contact's own columns, and the links Tether fills
# in for each email it sends (a preview without them shows the fallback).
CONTACT_FIELDS = ("first_name", "last_name", "email", "company", "title")
LINK_FIELDS = ("unsubscribe_url",)
FIELDS = CONTACT_FIELDS + LINK_FIELDS
_FIELD = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}")


def template_problem(text: str) -> str | None:
    """Why a subject or body template cannot be saved, naming the field; None if fine."""
    for match in _FIELD.finditer(text):
        if match.group(1) not in FIELDS:
            return (f"Unknown field {{{{{match.group(1)}}}}}. "
                    f"Use one of: {', '.join('{{' + f + '}}' for f in FIELDS)}.")
    rest = _FIELD.sub("", text)
    if "{{" in rest or "}}" in rest:
        return "A field is not closed. Write fields like {{first_name}}."
    return None


def render_template_text(text: str, contact, links: dict | None = None) -> str:
    """Fill a template's fields from a contact and `links` ({"unsubscribe_url": …}); an empty
    field takes its fallback."""
    def value(match):
        name = match.group(1)
        found = ((links or {}).get(name) if name in LINK_FIELDS
                 else getattr(contact, name, "")) or ""
        return found or (match.group(2) or "").strip()

    return _FIELD.sub(value, text)


def render_subject(text: str, contact) -> str:
    """A subject is one header line: never let a line break through (header injection)."""
    return re.sub(r"[\r\n]+", " ", render_template_text(text, contact))
