"""What a sequence's forms accept, straight from the rules the forms call: each check refuses
with the words the page shows, and the per-field collection gathers them."""

import pytest

from models import sequence_log as says
from models.sequence_log import REMOVED
from models.sequence_rules import (
    check_body,
    check_delay,
    check_name,
    check_sender_name,
    check_subject,
    check_timezone,
    check_window,
    delay_as_typed,
    delay_minutes,
    delay_words,
    minutes,
    settings_problems,
    step_problems,
)


@pytest.mark.parametrize("check, args, words", [
    (check_subject, ("Hi\nthere", True), "single line"),
    (check_subject, ("  ", True), "first email needs a subject"),
    (check_subject, ("x" * 251, False), "under 250 characters"),
    (check_subject, ("Hi {{nickname}}", False), "Unknown field {{nickname}}"),
    (check_body, (" \n",), "Write the email's text"),
    (check_body, ("Hi {{first_name", ), "not closed"),
    (check_delay, (None, "days"), "between 0 and 365 days"),
    (check_delay, (366, "days"), "between 0 and 365 days"),
    (check_delay, (365 * 24 + 1, "hours"), "between 0 and 365 days"),
    (check_delay, (3, "weeks"), "Choose minutes, hours or days"),
    (check_name, ("",), "Give the sequence a name"),
    (check_name, ("a\u202eb",), "without control"),
    (check_sender_name, ('Alex "A" <a@b>',), "without < >"),
    (check_window, ([], 540, 1020), "at least one day"),
    (check_window, ([0], None, 1020), "like 09:00 and 17:00"),
    (check_window, ([0], 1020, 540), "end after it starts"),
    (check_timezone, ("Mars/Olympus",), "time zone from the list"),
    (check_timezone, ("../etc",), "time zone from the list"),
])
def test_each_check_refuses_in_the_users_words(check, args, words):
    with pytest.raises(ValueError) as refused:
        check(*args)
    assert words in str(refused.value)


def test_what_is_fine_passes_every_check():
    check_subject("", first=False)  # a later step may keep the thread's subject
    check_body("Hi {{first_name|there}}")
    check_delay(365, "days")
    check_delay(0, "minutes")
    check_name("Q3 outreach")
    check_sender_name("Alex from Acme")
    check_window([0, 4], 540, 1020)
    check_timezone("Europe/Paris")
    assert step_problems("Hi", "Body", 0, "minutes", first=True) == {}


@pytest.mark.parametrize("minutes, typed, words", [
    (0, (0, "minutes"), "no wait"), (30, (30, "minutes"), "30 minutes"),
    (90, (90, "minutes"), "1 hour 30 minutes"), (120, (2, "hours"), "2 hours"),
    (3 * 1440, (3, "days"), "3 days"), (1440 + 60, (25, "hours"), "1 day 1 hour")])
def test_a_wait_is_shown_in_the_unit_that_says_it_exactly(minutes, typed, words):
    assert delay_as_typed(minutes) == typed and delay_words(minutes) == words
    assert delay_minutes(*typed) == minutes


def test_the_pages_get_one_message_per_field():
    errors = settings_problems("", None, "a\nb", [], 540, 1020, "nowhere")
    assert set(errors) == {"name", "mailbox", "sender_name", "window", "timezone"}
    assert step_problems("", "", -1, "days", first=True) == {
        "subject": "The first email needs a subject.", "body": "Write the email's text.",
        "delay": "Wait a whole number between 0 and 365 days."}


@pytest.mark.parametrize("text, value", [("09:30", 570), (" 9:05 ", 545), ("24:00", None),
                                         ("9:60", None), ("nine", None), ("", None)])
def test_a_time_of_day_is_read_as_minutes(text, value):
    assert minutes(text) == value


@pytest.mark.parametrize("old, new, kind", [
    ("connected", "degraded", None), ("connected", "reconnect_required", "mailbox_blocked"),
    ("reconnect_required", "connected", "mailbox_unblocked"),
    ("reconnect_required", REMOVED, "mailbox_changed"), (REMOVED, REMOVED, None),
])
def test_the_log_names_a_mailbox_transition_by_what_it_does_to_sequences(old, new, kind):
    assert says.transition_kind(old, new) == kind


def test_the_log_counts_the_emails_an_unblocked_sequence_sends():
    assert says.outcome("mailbox_unblocked", False, 1) == \
        "sequence unblocked, 1 waiting email will be sent"
    assert says.outcome("mailbox_unblocked", False, 0) == "sequence unblocked"
    assert says.outcome("mailbox_blocked", True, 3) == "sequence stays paused"
