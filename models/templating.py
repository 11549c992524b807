"""The template language of a step's subject and body: merge fields like {{first_name}}, with
a fallback for contacts without one ({{first_name|there}}), checked when saved and filled in
for each contact when sent. `field_uses` says, field by field, what a contact gets: the one
rule the preview's flags and the start check (models/preview.py) read."""

import re
from dataclasses import dataclass

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


def _value(contact, name: str, links: dict | None = None) -> str:
    """The value of a field: a link's from `links`, a contact's own from the contact; "" for
    an empty one and for a name that is no field (never another attribute of the contact)."""
    if name in LINK_FIELDS:
        return (links or {}).get(name) or ""
    return (getattr(contact, name, "") or "") if name in FIELDS else ""


def render_template_text(text: str, contact, links: dict | None = None) -> str:
    """Fill a template's fields from a contact and `links` ({"unsubscribe_url": …}); an empty
    field takes its fallback."""
    def value(match):
        return _value(contact, match.group(1), links) or (match.group(2) or "").strip()

    return _FIELD.sub(value, text)


# What one field gives one contact.
FILLED, FALLBACK, MISSING, UNKNOWN = "filled", "fallback", "missing", "unknown"


@dataclass(frozen=True)
class FieldUse:
    name: str
    fallback: str | None  # None: the field has no fallback
    value: str            # what the contact gets in its place ("" for nothing)
    state: str            # FILLED, FALLBACK, MISSING (empty, no fallback) or UNKNOWN


def field_uses(text: str, contact) -> list[FieldUse]:
    """Each field of a template, once, in order, with what `contact` gets for it."""
    uses, seen = [], set()
    for match in _FIELD.finditer(text):
        name, fallback = match.group(1), match.group(2)
        fallback = fallback.strip() if fallback is not None else None
        if (name, fallback) in seen:
            continue
        seen.add((name, fallback))
        own = _value(contact, name)
        if name not in FIELDS:
            state, value = UNKNOWN, ""
        elif name in LINK_FIELDS:  # Tether fills it in for every contact when sending
            state, value = FILLED, "(a link of this contact's own)"
        elif own:
            state, value = FILLED, own
        elif fallback:
            state, value = FALLBACK, fallback
        else:
            state, value = MISSING, ""
        uses.append(FieldUse(name, fallback, value, state))
    return uses


def render_subject(text: str, contact) -> str:
    """A subject is one header line: never let a line break through (header injection)."""
    return re.sub(r"[\r\n]+", " ", render_template_text(text, contact))
