"""A contact's custom fields are merge fields like its own columns: {{industry}} is filled in
for a contact who has it, takes its fallback or is flagged missing for one who does not, and a
name no contact of the team has is unknown. Names are compared folded: letter case, spaces and
hyphens aside ("Industry Name" is {{industry_name}})."""

import json
import re
from html import unescape
from types import SimpleNamespace

import pytest

from models.contacts import Contact, custom_field_names, parse_custom_fields
from models.sequences import Sequence, SequenceStep
from models.templating import (
    FALLBACK,
    FILLED,
    MISSING,
    UNKNOWN,
    field_name,
    field_uses,
    render_template_text,
    template_problem,
)
from tests.support import post_form
from tests.test_preview import _contact, _enroll, _sequence, _text
from tests.test_sequences import add_step, team_of, toggle


def person(**custom):
    return SimpleNamespace(first_name="Pat", last_name="", email="pat@example.com",
                           company="", title="", custom=custom)


@pytest.mark.parametrize("typed,folded", [
    ("industry", "industry"), (" Industry ", "industry"), ("Industry Name", "industry_name"),
    ("industry-name", "industry_name"), ("First  Name", "first_name"), ("plan_tier", "plan_tier"),
])
def test_field_names_fold_case_spaces_and_hyphens(typed, folded):
    assert field_name(typed) == folded


def test_a_custom_field_renders_with_the_same_fallback_syntax_as_a_contact_column():
    text = "{{first_name}} in {{industry|your field}}, plan {{ Plan Tier }}."
    assert render_template_text(text, person(industry="Retail", plan_tier="Gold")) == \
        "Pat in Retail, plan Gold."
    assert render_template_text(text, person()) == "Pat in your field, plan ."
    # A name is never read as some other attribute of the contact.
    assert render_template_text("{{custom}}{{__class__}}", person(industry="x")) == ""


def test_field_uses_flag_a_custom_field_filled_fallback_missing_or_unknown():
    text = "{{industry|your field}} {{plan_tier}} {{favourite_colour}}"
    team = {"industry", "plan_tier"}
    states = {u.name: (u.state, u.value) for u in field_uses(text, person(industry="Retail"), team)}
    assert states == {"industry": (FILLED, "Retail"), "plan_tier": (MISSING, ""),
                      "favourite_colour": (UNKNOWN, "")}
    states = {u.name: u.state for u in field_uses(text, person(), team)}
    assert states["industry"] == FALLBACK
    # A contact's own custom field is known, whatever the team list says.
    assert field_uses("{{plan_tier}}", person(plan_tier="Gold"))[0].state == FILLED


def test_saving_a_template_accepts_the_teams_custom_fields_and_names_the_unknown():
    assert template_problem("Hi {{industry}}").startswith("Unknown field {{industry}}")
    assert template_problem("Hi {{industry}} {{First Name}}", {"industry"}) is None
    problem = template_problem("Hi {{industri}}", {"industry"})
    assert "Unknown field {{industri}}" in problem and "{{industry}}" in problem


def test_custom_field_names_typed_are_stored_folded_and_never_shadow_a_built_in_field():
    assert parse_custom_fields("Industry Name: Retail\nPLAN-tier: Gold") == (
        {"industry_name": "Retail", "plan_tier": "Gold"}, None)
    assert "appears twice" in parse_custom_fields("Industry: a\nindustry: b")[1]
    assert "contact field of its own" in parse_custom_fields("First Name: Pat")[1]
    assert "filled in by Tether" in parse_custom_fields("unsubscribe url: x")[1]
    assert "write each field as name: value" in parse_custom_fields("9lives: x")[1]


def test_the_teams_custom_field_names_are_those_its_contacts_have(accounts):
    accounts.sign_up()
    accounts.log_out()
    accounts.sign_up(email="eve@evil.test", team_name="Evil")
    ours, theirs = team_of(), team_of("eve@evil.test")
    Contact.create(team=ours, email="a@x.test", custom_fields=json.dumps({"industry": "Retail"}))
    Contact.create(team=ours, email="b@x.test",
                   custom_fields=json.dumps({"industry": "Health", "plan_tier": "Gold"}))
    Contact.create(team=ours, email="c@x.test")
    Contact.create(team=theirs, email="d@x.test", custom_fields=json.dumps({"secret": "x"}))
    assert custom_field_names(ours) == {"industry", "plan_tier"}
    assert custom_field_names(theirs) == {"secret"}


def _custom(email, **custom):
    return _contact(email, first_name=email.split("@")[0].title(),
                    custom_fields=json.dumps(custom))


def test_a_step_may_use_a_custom_field_once_a_contact_of_the_team_has_it(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Hello", "Body"))
    refused = add_step(client, sequence, "", "How is {{industry}}?")
    assert refused.status_code == 422
    assert "Unknown field {{industry}}" in unescape(refused.get_data(as_text=True))
    _custom("ada@client.test", industry="Retail")
    saved = add_step(client, sequence, "", "How is {{Industry}}?")
    assert saved.status_code == 200 and SequenceStep.select().count() == 2
    page = unescape(client.get(f"/sequences/{sequence.id}/edit").get_data(as_text=True))
    assert "{{industry}}" in page  # offered beside the built-in fields
    footer = post_form(client, f"/sequences/{sequence.id}/edit",
                       {"name": "Q3 outreach", "mailbox": sequence.mailbox_id, "days": ["0"],
                        "window_start": "09:00", "window_end": "17:00",
                        "timezone": "Europe/Berlin",
                        "unsubscribe_footer": "{{industry}} {{nope}} {{unsubscribe_url}}"},
                       page=f"/sequences/{sequence.id}/edit")
    assert footer.status_code == 422 and "Unknown field {{nope}}" in unescape(
        footer.get_data(as_text=True))


def test_the_preview_shows_a_custom_field_filled_or_missing_per_contact(accounts, client):
    accounts.sign_up()
    ada = _custom("ada@client.test", industry="Retail")
    bob = _custom("bob@client.test")
    sequence = _sequence(client, ("Hello {{first_name}}",
                                  "How is {{industry}}? {{industry|your field}}"))
    _enroll(sequence, ada, bob)
    text = _text(client.get(f"/sequences/{sequence.id}/preview?contact={ada.id}"))
    assert "How is Retail? Retail" in text and "Missing" not in text
    text = _text(client.get(f"/sequences/{sequence.id}/preview?contact={bob.id}"))
    assert "How is ? your field" in text
    assert "Missing: empty, no fallback" in text and "Fallback used" in text
    assert "Unknown field" not in text


def test_the_start_check_treats_a_missing_custom_field_like_a_missing_column(accounts, client):
    accounts.sign_up()
    ada = _custom("ada@client.test", industry="Retail")
    bob = _custom("bob@client.test")
    cy = _custom("cy@client.test", industry="  ")  # blank is missing too
    sequence = _sequence(client, ("{{industry}}", "Body {{industry}}"))
    _enroll(sequence, ada, bob, cy)
    words = unescape(toggle(client, sequence).get_data(as_text=True))
    assert "Not started: 2 problems" in words
    assert "bob@client.test: email 1, {{industry}}" in words
    assert "cy@client.test: email 1, {{industry}}" in words and "ada@client.test" not in words
    page = _text(client.get(f"/sequences/{sequence.id}/preview?contact={ada.id}"))
    row = re.search(r"bob@client\.test\s+Email 1\s+\{\{industry\}\}\s+([^\n]+)", page)
    assert row and "subject is empty" in row.group(1)
    assert Sequence.get_by_id(sequence.id).state == "paused"

    # A missing field in the body holds nothing, as with {{title}}: the subject gets a fallback.
    SequenceStep.update(subject="{{industry|Hello}}").execute()
    assert toggle(client, sequence).status_code == 200
    assert Sequence.get_by_id(sequence.id).state == "active"


def test_a_custom_field_no_contact_has_any_more_is_unknown_and_holds_the_start(accounts, client):
    accounts.sign_up()
    ada = _custom("ada@client.test", industry="Retail")
    sequence = _sequence(client, ("Hello", "In {{industry|your field}}"))
    _enroll(sequence, ada)
    Contact.update(custom_fields="{}").execute()  # the field was removed from every contact
    words = unescape(toggle(client, sequence).get_data(as_text=True))
    assert "ada@client.test: email 1, {{industry}} is not a field Tether knows" in words
    assert Sequence.get_by_id(sequence.id).state == "paused"
