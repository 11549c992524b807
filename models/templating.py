"""The template language of a step's subject and body: merge fields like {{first_name}}, with
a fallback for contacts without one ({{first_name|there}}), checked when saved and filled in
for each contact when sent. `field_uses` says, field by field, what a contact gets: the one
rule the preview's flags and the start check (models/preview.py) read.

Which fields exist is this module's rule: a contact's own columns, the links Tether fills in,
and the team's custom fields — a name at least one of the team's contacts has
(models/contacts.py `custom_field_names` finds them). A contact without a custom field the
team has is like one with an empty first name: the fallback, or "missing"; a name no contact
of the team has is unknown (most often a typo).

Field names are compared folded (`field_name`): letter case and surrounding spaces aside, and
each run of spaces or hyphens inside as one "_". So {{First Name}} is {{first_name}}, and a
custom field typed as "Industry Name: Retail" is {{industry_name}} (stored under that name)."""

import re
from collections.abc import Collection
from dataclasses import dataclass

# A contact's own columns, and the links Tether fills in for each email it sends (a preview
# without them shows the fallback).
CONTACT_FIELDS = ("first_name", "last_name", "email", "company", "title")
LINK_FIELDS = ("unsubscribe_url",)
FIELDS = CONTACT_FIELDS + LINK_FIELDS
# A custom field's name, once folded: a word a template can write, at most 40 characters.
CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_FIELD = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}")


def field_name(text: str) -> str:
    """A field's name as compared and stored: "  Industry  Name " → "industry_name"."""
    return re.sub(r"[\s\-]+", "_", (text or "").strip()).lower()


def known_fields(custom: Collection[str] = ()) -> tuple[str, ...]:
    """Every field a template may use, given the team's custom field names."""
    return FIELDS + tuple(sorted(set(custom) - set(FIELDS)))


def is_field(name: str, custom: Collection[str] = ()) -> bool:
    """Is `name` (folded) a field for a team whose contacts have the `custom` fields?"""
    return name in FIELDS or name in custom


def template_problem(text: str, custom: Collection[str] = ()) -> str | None:
    """Why a subject or body template cannot be saved, naming the field; None if fine.
    `custom`: the team's custom field names."""
    for match in _FIELD.finditer(text):
        if not is_field(field_name(match.group(1)), custom):
            return (f"Unknown field {{{{{match.group(1)}}}}}. Use one of: "
                    f"{', '.join('{{' + f + '}}' for f in known_fields(custom))}. A custom "
                    "field can be used once one of your contacts has it.")
    rest = _FIELD.sub("", text)
    if "{{" in rest or "}}" in rest:
        return "A field is not closed. Write fields like {{first_name}}."
    return None


def names_used(text: str) -> set[str]:
    """The (folded) names of the fields a template uses."""
    return {field_name(match.group(1)) for match in _FIELD.finditer(text)}


def _value(contact, name: str, links: dict | None = None) -> str:
    """The value of a field (`name` folded): a link's from `links`, a contact's own from its
    columns, a custom field's from its `custom` dict; "" for an empty one and for a name that
    is no field (never another attribute of the contact)."""
    if name in LINK_FIELDS:
        return (links or {}).get(name) or ""
    if name in CONTACT_FIELDS:
        return getattr(contact, name, "") or ""
    return (getattr(contact, "custom", None) or {}).get(name) or ""


def render_template_text(text: str, contact, links: dict | None = None) -> str:
    """Fill a template's fields from a contact and `links` ({"unsubscribe_url": …}); an empty
    field takes its fallback."""
    def value(match):
        return (_value(contact, field_name(match.group(1)), links)
                or (match.group(2) or "").strip())

    return _FIELD.sub(value, text)


# What one field gives one contact.
FILLED, FALLBACK, MISSING, UNKNOWN = "filled", "fallback", "missing", "unknown"


@dataclass(frozen=True)
class FieldUse:
    name: str
    fallback: str | None  # None: the field has no fallback
    value: str            # what the contact gets in its place ("" for nothing)
    state: str            # FILLED, FALLBACK, MISSING (empty, no fallback) or UNKNOWN


def field_uses(text: str, contact, custom: Collection[str] = ()) -> list[FieldUse]:
    """Each field of a template, once, in order, with what `contact` gets for it; `custom`:
    the team's custom field names (a contact's own are known whatever is passed)."""
    uses, seen = [], set()
    for match in _FIELD.finditer(text):
        name, fallback = field_name(match.group(1)), match.group(2)
        fallback = fallback.strip() if fallback is not None else None
        if (name, fallback) in seen:
            continue
        seen.add((name, fallback))
        own = _value(contact, name)
        if not own and not is_field(name, custom):
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
